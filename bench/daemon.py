"""Daemon benchmark: ``aggregator run`` for a fixed time against feeds that publish steadily.

A feed server in a separate process serves N loopback RSS feeds (ETag / 304 aware); feed i
gains a new item every ``--publish-every`` seconds (phases spread over that period), and each
document lists its last 20 items. The daemon runs as a subprocess with a short schedule on a
SQLite file in a temporary directory, on the shipped config.yaml (its tags, rules and model),
``full_text: false`` unless ``--full-text`` (then every new article's page is fetched from
the server, the real pages of ../shared/corpus, and extracted by the shipped workers).
Every second the daemon's process tree is sampled from /proc: CPU time
(utime+stime of each live process of the tree, plus its cutime+cstime for the children it
has already reaped: the fork server reaps recycled workers) and resident memory, summed
over the tree two ways: VmRSS (a page shared by several processes counted in each) and
PSS (each shared page split among its sharers: what the unit's cgroup is charged, and
MemoryMax limits; see proctree.py).

Printed, never asserted:

- polls per minute (feed requests in the server's log) and how many were 304s;
- articles stored;
- CPU % overall, and CPU % in idle seconds: seconds after warm-up in which the server saw
  no request (the scheduler ticking between polls);
- the tree's peak and steady (median after warm-up) resident memory, RSS and PSS, the goal
  300 MiB, and each process's RSS and PSS at the PSS peak;
- RSS after warm-up (``--warmup``, default 20 s) and at the end, and the growth between.

Goals printed alongside: memory growth < 10 % after warm-up; idle CPU < 2 %.

Usage: python bench/daemon.py [--seconds 90] [--feeds 500] [--publish-every 10]
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections import Counter
from email.utils import formatdate
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from itertools import pairwise
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

import yaml
from proctree import compile_package, cpu_seconds, processes, pss_bytes, rss_bytes

REPO = Path(__file__).resolve().parent.parent
ITEMS_PER_DOCUMENT = 20


# -- the feed server (its own process) ---------------------------------------------------------


def _pages() -> list[bytes]:
    """Article pages for --full-text: the real ones of ../shared/corpus, else synthetic."""
    corpus = REPO.parent / "shared" / "corpus" / "pages"
    found = sorted(corpus.glob("*/*.html")) if corpus.is_dir() else []
    found = [p for p in found if "encoding-edge" not in p.parts]
    if found:
        return [p.read_bytes() for p in found]
    sys.path.insert(0, str(REPO / "tests"))
    from sites import PARAGRAPHS, article_page

    return [article_page(f"기사 {i}", PARAGRAPHS * (1 + i % 4)).encode() for i in range(8)]


def serve(conn: Connection, feeds: int, publish_every: float, log_path: str) -> None:
    """Serve /f<i>.xml until terminated; one log line per request: time, path, status."""
    started = time.time()
    log = open(log_path, "a", encoding="utf-8", buffering=1)  # noqa: SIM115 (lives with the process)

    def published(feed: int, now: float) -> int:
        phase = publish_every * feed / feeds
        return 5 + int((now - started + phase) / publish_every)

    def document(port: int, feed: int, count: int) -> bytes:
        items = []
        for i in range(max(0, count - ITEMS_PER_DOCUMENT), count):
            # when published() reached i + 1
            when = started - publish_every * feed / feeds + (i - 4) * publish_every
            items.append(
                f"<item><title>벤치 기사 {feed}-{i}</title>"
                f"<link>http://127.0.0.1:{port}/a/{feed}/{i}</link><guid>f{feed}-{i}</guid>"
                f"<pubDate>{formatdate(when, usegmt=True)}</pubDate>"
                f"<description>요약 {feed}-{i}: 정부는 정책 방향을 확정했다.</description></item>"
            )
        return (
            '<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel>'
            f"<title>벤치 피드 {feed}</title><link>http://127.0.0.1:{port}/</link>"
            + "".join(reversed(items))
            + "</channel></rss>"
        ).encode()

    pages = _pages()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            now = time.time()
            name = self.path.strip("/")
            if name.startswith("a/") and pages:
                page = pages[hash(name) % len(pages)]
                self.send_response(200)
                self.send_header("Content-Type", "text/html; charset=utf-8")
                self.send_header("Content-Length", str(len(page)))
                self.end_headers()
                self.wfile.write(page)
                log.write(f"{now:.3f} {self.path} page\n")
                return
            if not (name.startswith("f") and name.endswith(".xml") and name[1:-4].isdigit()):
                self.send_error(404)
                log.write(f"{now:.3f} {self.path} 404\n")
                return
            feed = int(name[1:-4])
            count = published(feed, now)
            etag = f'"{feed}-{count}"'
            if self.headers.get("If-None-Match") == etag:
                self.send_response(304)
                self.send_header("ETag", etag)
                self.end_headers()
                log.write(f"{now:.3f} {self.path} 304\n")
                return
            body = document(port, feed, count)
            self.send_response(200)
            self.send_header("Content-Type", "application/rss+xml; charset=utf-8")
            self.send_header("ETag", etag)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
            log.write(f"{now:.3f} {self.path} 200\n")

        def log_message(self, format: str, *args: Any) -> None:
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    port = int(httpd.server_address[1])
    httpd.daemon_threads = True
    httpd.request_queue_size = 256
    conn.send(port)
    httpd.serve_forever()


# -- the run -----------------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=90.0)
    parser.add_argument("--feeds", type=int, default=500)
    parser.add_argument("--publish-every", type=float, default=10.0, help="per feed, seconds")
    parser.add_argument("--warmup", type=float, default=20.0, help="seconds before RSS start")
    parser.add_argument("--min-interval", default="5s")
    parser.add_argument("--max-interval", default="30s")
    parser.add_argument(
        "--full-text",
        action="store_true",
        help="Fetch and extract every new article's page, as the shipped config does",
    )
    args = parser.parse_args()
    compile_package(REPO / "aggregator")

    with tempfile.TemporaryDirectory(prefix="aggregator-bench-") as tmp:
        work = Path(tmp)
        request_log = work / "requests.log"
        parent, child = multiprocessing.Pipe()
        server = multiprocessing.Process(
            target=serve,
            args=(child, args.feeds, args.publish_every, str(request_log)),
            daemon=True,
        )
        server.start()
        port = parent.recv()
        database = work / "aggregator.db"
        config = work / "config.yaml"
        # The shipped config (its tags, rules and model, extraction workers by core) with the
        # farm's feeds and a short schedule. One loopback host stands for many outlets:
        # allow as many connections to it as the daemon has feed workers.
        shipped = yaml.safe_load((REPO / "config.yaml").read_text(encoding="utf-8"))
        shipped.update(
            {
                "database": f"sqlite:///{database}",
                "fetch": {
                    **shipped.get("fetch", {}),
                    "allow_private_networks": True,
                    "concurrency": 8,
                    "per_host_limit": 8,
                },
                "schedule": {
                    **shipped.get("schedule", {}),
                    "min_interval": args.min_interval,
                    "max_interval": args.max_interval,
                    "tick": "1s",
                },
                "logging": {"level": "warning"},
                "feeds": [
                    {"url": f"http://127.0.0.1:{port}/f{i}.xml", "full_text": args.full_text}
                    for i in range(args.feeds)
                ],
            }
        )
        config.write_text(yaml.safe_dump(shipped, allow_unicode=True), encoding="utf-8")
        env = {k: v for k, v in os.environ.items() if k != "AGGREGATOR_DATABASE_URL"}
        daemon_log = (work / "daemon.log").open("wb")
        daemon = subprocess.Popen(
            [sys.executable, "-m", "aggregator", "--config", str(config), "run"],
            env=env,
            stdout=daemon_log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            cwd=REPO,
        )
        print(
            f"daemon pid {daemon.pid}: {args.feeds} feeds, a new item per feed every "
            f"{args.publish_every:g}s, schedule {args.min_interval}..{args.max_interval}, "
            f"{args.seconds:g}s run"
        )
        samples: list[tuple[float, float, int]] = []  # (wall time, cpu seconds, rss bytes)
        pss: list[int] = []
        peak_processes: list[tuple[int, str, int, int]] = []
        started = time.time()
        try:
            next_sample = started
            while time.time() < started + args.seconds:
                samples.append((time.time(), cpu_seconds(daemon.pid), rss_bytes(daemon.pid)))
                pss.append(pss_bytes(daemon.pid))
                if pss[-1] >= max(pss):
                    peak_processes = processes(daemon.pid)
                if daemon.poll() is not None:
                    raise SystemExit(f"the daemon exited ({daemon.returncode}); see its log")
                next_sample += 1.0
                time.sleep(max(0.0, next_sample - time.time()))
            os.kill(daemon.pid, signal.SIGTERM)
            code = daemon.wait(timeout=60)
        finally:
            if daemon.poll() is None:
                os.killpg(daemon.pid, signal.SIGKILL)
                daemon.wait()
            server.terminate()
            server.join()
            daemon_log.close()

        hits = []
        for line in request_log.read_text(encoding="utf-8").splitlines():
            at, path, status = line.split()
            hits.append((float(at), path, status))
        served = [h for h in hits if started <= h[0] <= samples[-1][0]]
        run = [h for h in served if h[2] != "page"]  # the feed polls; pages counted apart
        statuses = Counter(status for _, _, status in served)
        minutes = (samples[-1][0] - started) / 60
        with sqlite3.connect(database) as conn:
            articles = conn.execute("SELECT count(*) FROM articles").fetchone()[0]

        total_cpu = samples[-1][1] - samples[0][1]
        wall = samples[-1][0] - samples[0][0]
        idle_cpu = idle_wall = 0.0
        times = sorted(h[0] for h in served)
        position = 0
        after_warmup = [s for s in samples if s[0] >= started + args.warmup]
        for (t0, c0, _), (t1, c1, _) in pairwise(after_warmup):
            while position < len(times) and times[position] < t0:
                position += 1
            if position >= len(times) or times[position] >= t1:
                idle_cpu += c1 - c0
                idle_wall += t1 - t0
        warm = after_warmup[0] if after_warmup else samples[-1]
        end_rss = samples[-1][2]
        growth = 100.0 * (end_rss - warm[2]) / warm[2] if warm[2] else float("nan")
        errors = sum(
            1 for line in (work / "daemon.log").read_text().splitlines() if "ERROR" in line
        )

        print(f"daemon exit status          {code}")
        print(
            f"polls per minute            {len(run) / minutes:,.0f}  "
            f"({len(run)} requests: {statuses['200']} x 200, {statuses['304']} x 304)"
        )
        print(f"articles stored             {articles:,}")
        if args.full_text:
            print(f"article pages served        {statuses['page']:,}")
        print(f"CPU overall                 {100 * total_cpu / wall:.1f} %  (of one core)")
        if idle_wall:
            print(
                f"CPU in idle seconds         {100 * idle_cpu / idle_wall:.2f} %  "
                f"over {idle_wall:.0f} s after warm-up with no request   (goal < 2 %)"
            )
        else:
            print("CPU in idle seconds         n/a: the server saw requests in every second")
        steady = sorted(s[2] for s in after_warmup) or [end_rss]
        print(
            f"tree RSS peak               {max(s[2] for s in samples) / 1048576:.1f} MiB   "
            f"(the daemon and its extraction workers; goal <= 300 MiB)"
        )
        print(f"tree RSS steady (median)    {steady[len(steady) // 2] / 1048576:.1f} MiB")
        pss_steady = sorted(
            m for (at, _, _), m in zip(samples, pss, strict=True) if at >= started + args.warmup
        ) or [pss[-1]]
        print(
            f"tree PSS peak               {max(pss) / 1048576:.1f} MiB   "
            f"(shared pages split among their sharers: the cgroup's charge; goal <= 300 MiB)"
        )
        print(f"tree PSS steady (median)    {pss_steady[len(pss_steady) // 2] / 1048576:.1f} MiB")
        print("at the PSS peak, per process (RSS / PSS):")
        for pid, command, rss, share in peak_processes:
            print(f"  {pid:>7}  {rss / 1048576:6.1f} / {share / 1048576:6.1f} MiB  {command[:70]}")
        print(f"RSS after {args.warmup:g} s warm-up     {warm[2] / 1048576:.1f} MiB")
        print(f"RSS at the end              {end_rss / 1048576:.1f} MiB")
        print(f"memory growth after warm-up {growth:+.1f} %   (goal < 10 %)")
        print(f"daemon log ERROR lines      {errors}")


if __name__ == "__main__":
    main()
