"""Export benchmark: rendering all.atom for 1,000 full-text articles, and serving it.

Builds a SQLite database of N articles (default 1,000) through the store's own write path
(``SqlStore.store_update``, as a poll writes them): 10 feeds, Korean full texts of 8-14
paragraphs (about 1,500 characters, 5-8 KB of HTML each) with a byline, a link and an image,
1-2 tags each. Then prints:

- the time to render ``all.atom`` of all N articles, cold (no cache): load, sanitize with nh3,
  build and serialize (median of --runs after one warm-up; goal <= 200 ms), split into its
  parts; warm (the items of unchanged articles cached, as after a new article arrives); the
  cold time for RSS and JSON Feed; and the cost of a validator (all that a 304 costs);
- the request rate of ``GET /feeds/all.atom`` (export.limit = N) from 8 concurrent keep-alive
  clients on loopback, for --seconds each: without validators (200 with the cached gzip body)
  and with ``If-None-Match`` (304, no body), and with latencies. The clients run in a process
  of their own so that they do not share the server's interpreter lock.

Numbers are printed, never asserted. The database lives in a new directory under /tmp and is
deleted at the end. Usage:

    python bench/export.py [--articles 1000] [--runs 5] [--seconds 5] [--clients 8]
"""

from __future__ import annotations

import argparse
import hashlib
import http.client
import multiprocessing
import random
import shutil
import statistics
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime, timedelta
from html import escape
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from aggregator.config.schema import parse_config  # noqa: E402
from aggregator.export.items import Selection, build_items  # noqa: E402
from aggregator.export.server import start_server  # noqa: E402
from aggregator.export.service import Exporter  # noqa: E402
from aggregator.export.syndication import FeedMeta, render_atom  # noqa: E402
from aggregator.models import TagAssignment  # noqa: E402
from aggregator.store.records.updates import ArticleWrite, EntryWrite, FeedWrite  # noqa: E402
from aggregator.store.sql import SqlStore  # noqa: E402
from tests.sites import PARAGRAPHS  # noqa: E402

GOAL_MS = 200
FEEDS = 10
TAGS = ["politics", "economy", "society", "world", "it-science"]
EXTRA = [
    "서울중앙지법은 이날 관련 사건의 첫 공판을 열고 양측의 주장을 들었다.",
    "한편 정부는 다음 달 추가 대책을 발표할 계획이라고 밝혔다.",
    '업계 관계자는 "시장의 반응을 지켜봐야 한다"며 신중한 입장을 보였다.',
    "통계청이 발표한 자료에 따르면 지난달 소비자물가는 전년 동월 대비 2.3% 올랐다.",
    "국토교통부는 수도권 주택 공급 확대를 위한 세부 계획을 이번 주 공개한다.",
    "外 반도체 수요 회복에 힘입어 수출은 석 달 연속 증가세를 이어갔다.",
]


def article_text(rng: random.Random, site: str) -> tuple[str, str]:
    paragraphs = [rng.choice(PARAGRAPHS + EXTRA) for _ in range(rng.randint(8, 14))]
    text = "\n\n".join(paragraphs)
    html = "\n".join(f"<p>{escape(p)}</p>" for p in paragraphs)
    # Links as extraction writes them (absolute); an image as some feeds' own HTML has.
    html += f'\n<p><img src="{site}photo/1.jpg" alt="사진"> <a href="{site}related/2">관련</a></p>'
    return "(서울=연합뉴스) 홍길동 기자 = " + text, html


def build(db_url: str, n: int) -> Any:
    rng = random.Random(5)
    feeds = [f"https://news{i}.example/rss.xml" for i in range(FEEDS)]
    config = parse_config(
        {
            "export": {"limit": n, "base_url": "http://127.0.0.1:8080"},
            "tags": {t: {} for t in TAGS},
            "feeds": [{"url": u, "title": f"테스트일보 {i}"} for i, u in enumerate(feeds)],
        }
    )
    store = SqlStore.open(db_url)
    start = datetime(2026, 11, 1, tzinfo=UTC)
    store.sync_feeds([(u, None) for u in feeds], start)
    ids = {u: store.feed_state(u).id for u in feeds}  # type: ignore[union-attr]
    per_feed = n // FEEDS
    for f, url in enumerate(feeds):
        entries = []
        for i in range(per_feed):
            k = f * per_feed + i
            text, html = article_text(rng, f"https://news{f}.example/")
            link = f"https://news{f}.example/article/{k}"
            tags = tuple(TagAssignment(t, "rule") for t in rng.sample(TAGS, rng.randint(1, 2)))
            article = ArticleWrite(
                url_key=link,
                url=link,
                title=f"경제정책 방향 확정…수출 회복 과제 {k}번째 기사",
                summary="<p>정부는 내년 경제정책 방향을 확정했다.</p>",
                author="홍길동 기자",
                published_at=start + timedelta(minutes=k),
                updated_at=None,
                text=text,
                html=html,
                text_source="trafilatura",
                extract_status="ok",
                extract_error=None,
                language="ko",
                image=None,
                content_hash=hashlib.sha256(link.encode()).hexdigest(),
                tags=tags,
            )
            entries.append(EntryWrite(link, link, article.content_hash, article))
        store.store_update(
            ids[url],
            FeedWrite(
                now=start + timedelta(hours=f),
                entries=tuple(entries),
                title=f"테스트일보 {f}",
                site_url=f"https://news{f}.example/",
                etag=None,
                last_modified=None,
                http_status=200,
                duration_ms=1,
            ),
        )
    return store, config


def median_ms(func: Any, runs: int) -> str:
    """Median wall time and median CPU time of this process (on a shared machine the wall
    time includes waiting for a core; the CPU time is what the work itself costs)."""
    func()
    wall, cpu = [], []
    for _ in range(runs):
        started, started_cpu = time.perf_counter(), time.process_time()
        func()
        wall.append((time.perf_counter() - started) * 1000)
        cpu.append((time.process_time() - started_cpu) * 1000)
    return f"{statistics.median(wall):7.1f} ms wall, {statistics.median(cpu):6.1f} ms CPU"


def _client(host: str, port: int, path: str, etag: str | None, stop_at: float, out: Any) -> None:
    connection = http.client.HTTPConnection(host, port, timeout=30)
    latencies: list[float] = []
    statuses: dict[int, int] = {}
    headers = {"Accept-Encoding": "gzip"}
    if etag:
        headers["If-None-Match"] = etag
    while time.monotonic() < stop_at:
        started = time.perf_counter()
        connection.request("GET", path, headers=headers)
        response = connection.getresponse()
        response.read()
        latencies.append(time.perf_counter() - started)
        statuses[response.status] = statuses.get(response.status, 0) + 1
    connection.close()
    out.put((latencies, statuses))


def load(host: str, port: int, path: str, etag: str | None, clients: int, seconds: float) -> Any:
    """Run in a process of its own: ``clients`` threads for ``seconds``."""
    import queue

    results: queue.Queue[Any] = queue.Queue()
    stop_at = time.monotonic() + seconds
    threads = [
        threading.Thread(target=_client, args=(host, port, path, etag, stop_at, results))
        for _ in range(clients)
    ]
    started = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - started
    latencies: list[float] = []
    statuses: dict[int, int] = {}
    while not results.empty():
        lat, st = results.get()
        latencies.extend(lat)
        for code, count in st.items():
            statuses[code] = statuses.get(code, 0) + count
    return len(latencies) / elapsed, latencies, statuses


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--articles", type=int, default=1000)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--clients", type=int, default=8)
    args = parser.parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="aggregator-bench-export-"))
    try:
        started = time.perf_counter()
        store, config = build(f"sqlite:///{workdir / 'bench.db'}", args.articles)
        print(
            f"database               : {args.articles:,} articles, {FEEDS} feeds, built in "
            f"{time.perf_counter() - started:.1f} s"
        )
        exporter = Exporter(store, config)
        everything = Selection(limit=args.articles)
        body = exporter.render_feed_uncached(everything, "atom").body
        print(
            f"all.atom               : {len(body) / 1024:,.0f} KiB, {body.count(b'<entry')} entries"
        )

        feeds = store.export_feeds()
        _, _, articles = store.export_rows(limit=args.articles)
        items = build_items(articles, feeds, config)
        meta = FeedMeta("urn:x", "t", "d", datetime.now(UTC), "aggregator")
        # Cold: a new Exporter each time, so that no article's item is cached.
        total = median_ms(
            lambda: Exporter(store, config).render_feed_uncached(everything, "atom"), args.runs
        )
        # Warm: the items of unchanged articles come from the cache, as after a new article.
        warm = median_ms(lambda: exporter.render_feed_uncached(everything, "atom"), args.runs)
        query = median_ms(lambda: store.export_rows(limit=args.articles), args.runs)
        sanitize = median_ms(lambda: build_items(articles, feeds, config), args.runs)
        serialize = median_ms(lambda: render_atom(meta, items), args.runs)
        validator = median_ms(lambda: exporter.feed_validator(everything, "atom"), args.runs)
        print(f"timings (median of {args.runs} after 1 warm-up, in process; goal <= {GOAL_MS} ms):")
        print(f"  render all.atom, cold     : {total}")
        print(f"    load from store         : {query}")
        print(f"    items (sanitize)        : {sanitize}")
        print(f"    serialize (lxml)        : {serialize}")
        print(f"  render all.atom, warm     : {warm}   (unchanged articles' items cached)")
        for fmt in ("rss", "json"):
            timing = median_ms(
                lambda f=fmt: Exporter(store, config).render_feed_uncached(everything, f),
                args.runs,
            )
            print(f"  render all.{fmt}, cold {' ' * (5 - len(fmt))}    : {timing}")
        print(f"  validator (ETag)          : {validator}   (all that a 304 costs)")

        server = start_server(config, store, listen="127.0.0.1:0").start()
        host, port = server.address
        try:
            first = http.client.HTTPConnection(host, port)
            first.request("GET", "/feeds/all.atom", headers={"Accept-Encoding": "gzip"})
            response = first.getresponse()
            gz = len(response.read())
            etag = response.getheader("ETag")
            first.close()
            print(
                f"serving /feeds/all.atom ({gz / 1024:,.0f} KiB gzipped), {args.clients} "
                f"keep-alive clients on loopback, {args.seconds:.0f} s each:"
            )
            ctx = multiprocessing.get_context("spawn")
            with ctx.Pool(1) as pool:
                for label, tag in (("unconditional (200)", None), ("If-None-Match (304)", etag)):
                    rate, latencies, statuses = pool.apply(
                        load, (host, port, "/feeds/all.atom", tag, args.clients, args.seconds)
                    )
                    latencies.sort()
                    p50 = latencies[len(latencies) // 2] * 1000
                    p95 = latencies[int(len(latencies) * 0.95)] * 1000
                    codes = ", ".join(f"{c}×{n}" for c, n in sorted(statuses.items()))
                    print(
                        f"  {label:<22}: {rate:8.0f} req/s   p50 {p50:5.1f} ms   "
                        f"p95 {p95:5.1f} ms   ({codes})"
                    )
        finally:
            server.stop()
            store.close()
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
