"""Ingest benchmark: one full poll with extraction against loopback feeds.

Serves N feeds x M items from a separate process on 127.0.0.1 (article links point at the real
pages in ../shared/corpus/pages, or at synthetic Korean pages when that folder is absent), runs
one poll through the same wiring as ``aggregator poll`` and prints:

- articles/s over the poll's wall time;
- the extraction lower bound: the sum of single-process extraction times of the same pages,
  divided by the cores; and the ratio of the poll's wall time to it (goal: <= 1.25 on 2 cores).

Numbers are printed, never asserted. Usage: python bench/ingest.py [--feeds 10] [--items 30]
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import sys
import tempfile
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from aggregator.config.schema import parse_config  # noqa: E402
from aggregator.ingest.extract.article import extract_article  # noqa: E402
from aggregator.ingest.pipeline import poll_feeds  # noqa: E402
from aggregator.service.runtime import open_services  # noqa: E402

CORPUS_PAGES = REPO.parent / "shared" / "corpus" / "pages"


def load_pages() -> list[bytes]:
    pages = sorted(CORPUS_PAGES.glob("*/*.html")) if CORPUS_PAGES.is_dir() else []
    if pages:
        return [p.read_bytes() for p in pages]
    sys.path.insert(0, str(REPO / "tests"))
    from sites import PARAGRAPHS, article_page

    return [article_page(f"기사 {i}", PARAGRAPHS * (1 + i % 4)).encode() for i in range(8)]


def feed_xml(port: int, feed: int, items: int) -> bytes:
    entries = "".join(
        f"<item><title>기사 {feed}-{i}</title><link>http://127.0.0.1:{port}/page/{feed}/{i}</link>"
        f"<guid>f{feed}-i{i}</guid><pubDate>Wed, 25 Nov 2026 10:{i % 60:02d}:00 +0900</pubDate>"
        f"<description>요약 {i}</description></item>"
        for i in range(items)
    )
    return (
        '<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel>'
        f"<title>벤치 피드 {feed}</title><link>http://127.0.0.1:{port}/</link>{entries}"
        "</channel></rss>"
    ).encode()


def page_for(feed: int, item: int, items: int, pages: list[bytes]) -> bytes:
    return pages[(feed * items + item) % len(pages)]


def serve(port_queue: multiprocessing.Queue[int], items: int) -> None:
    pages = load_pages()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            parts = self.path.strip("/").split("/")
            if parts[0].startswith("feed"):
                body, ctype = (
                    feed_xml(port, int(parts[0][4:].removesuffix(".xml")), items),
                    "application/rss+xml",
                )
            elif parts[0] == "page":
                body = page_for(int(parts[1]), int(parts[2]), items, pages)
                ctype = "text/html"
            else:
                self.send_error(404)
                return
            self.send_response(200)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    port = server.server_address[1]
    port_queue.put(port)
    server.serve_forever()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--feeds", type=int, default=10)
    parser.add_argument("--items", type=int, default=30)
    args = parser.parse_args()
    cores = os.cpu_count() or 1
    pages = load_pages()

    # Lower bound: every page the poll will extract, extracted here one after another.
    started = time.perf_counter()
    for feed in range(args.feeds):
        for item in range(args.items):
            extract_article(page_for(feed, item, args.items, pages), f"http://x/{feed}/{item}")
    extract_total = time.perf_counter() - started
    lower_bound = extract_total / cores

    ctx = multiprocessing.get_context("spawn")
    queue: multiprocessing.Queue[int] = ctx.Queue()
    server = ctx.Process(target=serve, args=(queue, args.items), daemon=True)
    server.start()
    port = queue.get(timeout=30)
    with tempfile.TemporaryDirectory() as tmp:
        config = parse_config(
            {
                "database": f"sqlite:///{tmp}/bench.db",
                "fetch": {"allow_private_networks": True, "per_host_limit": 8},
                "feeds": [
                    {"url": f"http://127.0.0.1:{port}/feed{f}.xml"} for f in range(args.feeds)
                ],
            }
        )
        with open_services(config) as services:
            # Warm the worker processes: a long-running daemon has them up already.
            warm = [
                services.pages.extractor.submit(pages[0], "http://warm/") for _ in range(cores * 2)
            ]
            for future in warm:
                future.result()
            started = time.perf_counter()
            results = poll_feeds(config.feeds, services)
            wall = time.perf_counter() - started
            stored = services.store.counts()["articles"]
    server.terminate()
    extracted = sum(r.extracted for r in results)
    failed = [r for r in results if r.status != "ok"]
    print(
        f"feeds x items          : {args.feeds} x {args.items} ({len(set(pages))} distinct pages)"
    )
    print(f"articles stored        : {stored} (extracted {extracted}, feed errors {len(failed)})")
    print(f"poll wall time         : {wall:.2f} s")
    print(f"articles/s             : {stored / wall:.1f}")
    per_page = 1000 * extract_total / max(1, stored)
    print(f"extraction, 1 process  : {extract_total:.2f} s ({per_page:.1f} ms/page)")
    print(f"lower bound ({cores} cores)  : {lower_bound:.2f} s")
    print(f"wall / lower bound     : {wall / lower_bound:.2f}  (goal <= 1.25)")


if __name__ == "__main__":
    main()
