"""Soak: ``aggregator run`` for N minutes against loopback feeds that publish steadily, with
faults injected at random, then everything published compared with the database.

A feed server in its own process serves ``--feeds`` RSS feeds (ETag / 304 aware). Feed i gains
an item every ``--publish-every`` seconds (phases spread over that period) and lists its last
50 items, so nothing scrolls out of a feed during an outage shorter than 50 periods. The first
``--full-text`` feeds are polled with full text: their article pages are served too.

Faults, each at random times (exponential waits with the given means):

- hostile episodes (``--hostile-every``): one feed serves, for 30-120 s, a case of the hostile
  catalogue instead of its document: a billion-laughs entity bomb, a 64 MiB gzip bomb, a
  10 MiB title, an invalid IDNA link, NUL and invalid UTF-8 bytes, 5,000 extra entries (the
  last four beside its real items, which must all be stored), 429 with Retry-After, 500, a
  redirect loop, a reset connection, an HTML page instead of a feed;
- server restarts (``--server-restart-every``): the feed server is SIGKILLed and comes back
  on the same port 1-5 s later;
- daemon kills (``--kill-every``): the daemon's process group is SIGKILLed and restarted 1-3 s
  later, as systemd would.

At the end, publication stops and the faults with it; the daemon gets up to ``--catch-up``
seconds to store what is still missing, then SIGTERM. Printed, never asserted: published,
stored, lost (must be 0), duplicated (must be 0), faults injected by kind, the daemon tree's
resident memory at start (after ``--warmup``) and at the end, and the log's error lines.

Usage: python bench/soak.py [--minutes 30] [--feeds 300] [--seed 1]
"""

from __future__ import annotations

import argparse
import gzip
import json
import multiprocessing
import os
import random
import re
import signal
import socket
import sqlite3
import struct
import subprocess
import sys
import tempfile
import time
from collections import Counter
from email.utils import formatdate
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

import yaml
from proctree import rss_bytes

REPO = Path(__file__).resolve().parent.parent
ITEMS_PER_DOCUMENT = 50
HOSTILE_KINDS = (
    "billion laughs",
    "gzip bomb",
    "10 MiB title",
    "invalid IDNA link",
    "NUL and invalid UTF-8",
    "5,000 extra entries",
    "429 Retry-After",
    "500",
    "redirect loop",
    "connection reset",
    "HTML instead of a feed",
)
# Served beside the feed's own items: those must all be stored all the same.
BESIDE_REAL_ITEMS = {
    "10 MiB title",
    "invalid IDNA link",
    "NUL and invalid UTF-8",
    "5,000 extra entries",
}


# -- the feed server (its own process, restarted by the faults) --------------------------------


class Control:
    """The faults the server is told of: a JSON file the bench rewrites, re-read when its
    modification time changes (the server is a separate process that is killed at random)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._mtime = -1.0
        self.frozen_at: float | None = None
        self.hostile: dict[int, tuple[str, float]] = {}

    def refresh(self) -> None:
        try:
            mtime = self.path.stat().st_mtime
        except OSError:
            return
        if mtime == self._mtime:
            return
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return  # caught mid-write: the next request reads it
        self._mtime = mtime
        self.frozen_at = data.get("frozen_at")
        self.hostile = {int(k): (v[0], float(v[1])) for k, v in data.get("hostile", {}).items()}

    @staticmethod
    def write(path: Path, frozen_at: float | None, hostile: dict[int, tuple[str, float]]) -> None:
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps({"frozen_at": frozen_at, "hostile": hostile}), encoding="utf-8")
        os.replace(tmp, path)


def published(feed: int, now: float, *, epoch: float, feeds: int, every: float) -> int:
    """How many items feed ``feed`` has published by ``now`` (5 at the epoch)."""
    phase = every * feed / feeds
    return 5 + int((now - epoch + phase) / every)


def guid(feed: int, n: int) -> str:
    return f"soak-{feed}-{n}"


def _laughs() -> bytes:
    entities = "".join(
        f'<!ENTITY lol{i} "{("&lol" + (str(i - 1) if i > 1 else "") + ";") * 10}">'
        for i in range(1, 10)
    )
    return (
        f'<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">{entities}]>'
        '<rss version="2.0"><channel><title>&lol9;</title><item><title>&lol9;</title>'
        "<link>http://127.0.0.1/bomb</link></item></channel></rss>"
    ).encode()


def serve(
    conn: Connection,
    port: int,
    epoch: float,
    feeds: int,
    every: float,
    control_path: str,
    log_path: str,
) -> None:
    """Serve /f<i>.xml and /a/<i>/<n>.html until killed; one log line per request."""
    control = Control(Path(control_path))
    log = open(log_path, "a", encoding="utf-8", buffering=1)  # noqa: SIM115 (lives with the process)
    laughs = _laughs()
    bomb = gzip.compress(b"<" + b"a" * (64 * 1024 * 1024), compresslevel=9)

    def item(feed: int, n: int, *, title: str | None = None, link: str | None = None) -> str:
        when = epoch - every * feed / feeds + (n - 4) * every
        return (
            f"<item><title>{title or f'소크 기사 {feed}-{n}: 정부 예산안 국회 통과'}</title>"
            f"<link>{link or f'http://127.0.0.1:{port}/a/{feed}/{n}.html'}</link>"
            f'<guid isPermaLink="false">{guid(feed, n)}</guid>'
            f"<pubDate>{formatdate(when, usegmt=True)}</pubDate>"
            f"<description>요약 {feed}-{n}: 국회는 내년도 예산안을 의결했다.</description></item>"
        )

    def document(feed: int, count: int, extra: str = "") -> bytes:
        items = [item(feed, n) for n in range(max(0, count - ITEMS_PER_DOCUMENT), count)]
        return (
            '<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel>'
            f"<title>소크 피드 {feed}</title><link>http://127.0.0.1:{port}/</link>"
            + "".join(reversed(items))
            + extra
            + "</channel></rss>"
        ).encode()

    def extra_items(kind: str, feed: int) -> str:
        if kind == "10 MiB title":
            return item(feed, 10**6, title="가" * (10 * 1024 * 1024 // 3))
        if kind == "invalid IDNA link":
            return item(feed, 10**6 + 1, link="http://xn--a-.example/x")
        if kind == "NUL and invalid UTF-8":
            return item(feed, 10**6 + 2, title="널\x00문자 @INVALID@")
        old = epoch - 86_400 * 30
        return "".join(
            f"<item><title>오래된 기사 {i}</title><link>http://127.0.0.1:{port}/old/{feed}/{i}"
            f"</link><guid>old-{feed}-{i}</guid><pubDate>{formatdate(old + i, usegmt=True)}"
            "</pubDate></item>"
            for i in range(5000)
        )

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_GET(self) -> None:
            now = time.time()
            control.refresh()
            status = self._answer(now)
            log.write(f"{now:.3f} {self.path} {status}\n")

        def _send(self, status: int, body: bytes, headers: dict[str, str] | None = None) -> int:
            self.send_response(status)
            for name, value in (headers or {}).items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
            return status

        def _answer(self, now: float) -> int | str:
            parts = self.path.strip("/").split("/")
            if len(parts) == 3 and parts[0] == "a":
                feed, n = int(parts[1]), int(parts[2].removesuffix(".html"))
                paragraphs = "".join(
                    f"<p>소크 기사 {feed}-{n}의 {k}번째 문단이다. 국회는 내년도 예산안을 "
                    "의결했고 정부는 집행 계획을 발표했다.</p>"
                    for k in range(8)
                )
                page = (
                    f"<html><head><title>소크 기사 {feed}-{n}</title></head><body><article>"
                    f"<h1>소크 기사 {feed}-{n}</h1>{paragraphs}</article></body></html>"
                )
                return self._send(200, page.encode(), {"Content-Type": "text/html"})
            name = parts[0] if len(parts) == 1 else ""
            if not (name.startswith("f") and name.endswith(".xml") and name[1:-4].isdigit()):
                return self._send(404, b"not found")
            feed = int(name[1:-4])
            until = control.frozen_at if control.frozen_at is not None else now
            count = published(feed, min(now, until), epoch=epoch, feeds=feeds, every=every)
            kind, ends = control.hostile.get(feed, ("", 0.0))
            kind = kind if now < ends else ""
            rss = {"Content-Type": "application/rss+xml; charset=utf-8"}
            if kind in BESIDE_REAL_ITEMS:
                body = document(feed, count, extra_items(kind, feed))
                if kind == "NUL and invalid UTF-8":
                    body = body.replace(b"@INVALID@", b"\xff\xfe\xc3(")
                return self._send(200, body, rss)
            if kind == "billion laughs":
                return self._send(200, laughs, rss)
            if kind == "gzip bomb":
                return self._send(200, bomb, {**rss, "Content-Encoding": "gzip"})
            if kind == "429 Retry-After":
                return self._send(429, b"slow down", {"Retry-After": "30"})
            if kind == "500":
                return self._send(500, b"internal server error")
            if kind == "redirect loop":
                return self._send(302, b"", {"Location": self.path})
            if kind == "HTML instead of a feed":
                return self._send(200, b"<html><body>maintenance</body></html>", {})
            if kind == "connection reset":
                # SO_LINGER 0: close() sends a RST, as a crashing server or a middlebox does.
                self.connection.setsockopt(
                    socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0)
                )
                self.close_connection = True
                return "reset"
            etag = f'"{feed}-{count}"'
            if self.headers.get("If-None-Match") == etag:
                self.send_response(304)
                self.send_header("ETag", etag)
                self.send_header("Content-Length", "0")
                self.end_headers()
                return 304
            return self._send(200, document(feed, count), {**rss, "ETag": etag})

        def log_message(self, format: str, *args: Any) -> None:
            pass

    class Server(ThreadingHTTPServer):
        allow_reuse_address = True

        def handle_error(self, request: Any, client_address: Any) -> None:
            # A daemon killed mid-request resets its connections: expected here, not news.
            if not isinstance(sys.exc_info()[1], OSError):
                super().handle_error(request, client_address)

    httpd = Server(("127.0.0.1", port), Handler)
    httpd.daemon_threads = True
    httpd.request_queue_size = 256
    conn.send(int(httpd.server_address[1]))
    httpd.serve_forever()


class FeedServer:
    def __init__(self, work: Path, feeds: int, every: float) -> None:
        self.args = (time.time(), feeds, every, str(work / "control.json"), str(work / "hits.log"))
        self.control = work / "control.json"
        self.port = 0
        self.process: multiprocessing.Process | None = None

    def start(self) -> None:
        parent, child = multiprocessing.Pipe()
        self.process = multiprocessing.Process(
            target=serve, args=(child, self.port, *self.args), daemon=True
        )
        self.process.start()
        if not parent.poll(30):
            raise SystemExit("the feed server did not start")
        self.port = parent.recv()

    def kill(self) -> None:
        assert self.process is not None
        self.process.kill()
        self.process.join()


# -- the daemon --------------------------------------------------------------------------------


class Daemon:
    def __init__(self, config: Path, log: Path) -> None:
        self.config = config
        self.log = log
        self.proc: subprocess.Popen[bytes] | None = None
        self.starts = 0

    def start(self) -> None:
        env = {k: v for k, v in os.environ.items() if k != "AGGREGATOR_DATABASE_URL"}
        with self.log.open("ab") as out:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "aggregator", "--config", str(self.config), "run"],
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                cwd=REPO,
            )
        self.starts += 1

    def kill(self) -> None:
        assert self.proc is not None
        os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait()

    def stop(self) -> int:
        assert self.proc is not None
        os.kill(self.proc.pid, signal.SIGTERM)
        try:
            return self.proc.wait(timeout=120)
        except subprocess.TimeoutExpired:
            self.kill()
            return -9


# -- accounting --------------------------------------------------------------------------------


def stored(database: Path, port_of: dict[str, int]) -> tuple[Counter[tuple[int, str]], int]:
    """Entries per (feed index, guid), and article URLs stored more than once."""
    uri = f"file:{database}?mode=ro"
    with sqlite3.connect(uri, uri=True, timeout=30) as conn:
        rows = conn.execute(
            "SELECT f.url, e.guid FROM entries e JOIN feeds f ON f.id = e.feed_id"
        ).fetchall()
        twice = conn.execute(
            "SELECT count(*) FROM (SELECT url FROM articles WHERE url IS NOT NULL "
            "GROUP BY url HAVING count(*) > 1)"
        ).fetchone()[0]
    entries: Counter[tuple[int, str]] = Counter()
    for url, entry_guid in rows:
        entries[(port_of[url], entry_guid or "")] += 1
    return entries, int(twice)


def missing(entries: Counter[tuple[int, str]], expected: dict[int, int]) -> list[tuple[int, str]]:
    return [
        (feed, guid(feed, n))
        for feed, count in expected.items()
        for n in range(count)
        if (feed, guid(feed, n)) not in entries
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--minutes", type=float, default=30.0)
    parser.add_argument("--feeds", type=int, default=300)
    parser.add_argument("--full-text", type=int, default=30, help="feeds polled with full text")
    parser.add_argument("--publish-every", type=float, default=60.0, help="per feed, seconds")
    parser.add_argument("--hostile-every", type=float, default=20.0, help="mean seconds")
    parser.add_argument("--server-restart-every", type=float, default=300.0, help="mean seconds")
    parser.add_argument("--kill-every", type=float, default=180.0, help="mean seconds")
    parser.add_argument("--warmup", type=float, default=60.0, help="seconds before RSS start")
    parser.add_argument("--catch-up", type=float, default=600.0, help="seconds at most")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--keep", type=Path, help="work in this directory and keep it")
    args = parser.parse_args()
    rng = random.Random(args.seed)

    with tempfile.TemporaryDirectory(prefix="aggregator-soak-") as tmp:
        work = args.keep or Path(tmp)
        work.mkdir(parents=True, exist_ok=True)
        Control.write(work / "control.json", None, {})
        server = FeedServer(work, args.feeds, args.publish_every)
        server.start()
        database = work / "aggregator.db"
        config = work / "config.yaml"
        urls = [f"http://127.0.0.1:{server.port}/f{i}.xml" for i in range(args.feeds)]
        config.write_text(
            yaml.safe_dump(
                {
                    "database": f"sqlite:///{database}",
                    "fetch": {
                        "allow_private_networks": True,
                        "concurrency": 8,
                        "per_host_limit": 8,
                        "timeout": 10,
                    },
                    "extract": {"workers": 1},
                    "schedule": {
                        "min_interval": "15s",
                        "max_interval": "60s",
                        "error_cap": "120s",
                        "tick": "1s",
                    },
                    "logging": {"level": "warning"},
                    "feeds": [
                        {"url": url, "full_text": i < args.full_text} for i, url in enumerate(urls)
                    ],
                },
                allow_unicode=True,
            ),
            encoding="utf-8",
        )
        port_of = {url: i for i, url in enumerate(urls)}
        daemon = Daemon(config, work / "daemon.log")
        daemon.start()
        print(
            f"soak: {args.feeds} feeds ({args.full_text} with full text), an item per feed "
            f"every {args.publish_every:g} s, {args.minutes:g} min; faults: a hostile episode "
            f"every ~{args.hostile_every:g} s, a server restart every "
            f"~{args.server_restart_every:g} s, a daemon SIGKILL every ~{args.kill_every:g} s",
            flush=True,
        )
        faults: Counter[str] = Counter()
        hostile: dict[int, tuple[str, float]] = {}
        started = time.time()
        ends = started + 60 * args.minutes
        next_hostile = started + rng.expovariate(1 / args.hostile_every)
        next_restart = started + rng.expovariate(1 / args.server_restart_every)
        next_kill = started + rng.expovariate(1 / args.kill_every)
        rss_start: int | None = None
        rss_peak = 0
        rss_last = 0
        try:
            while (now := time.time()) < ends:
                assert daemon.proc is not None
                if daemon.proc.poll() is not None:
                    faults["daemon exited by itself (restarted)"] += 1
                    daemon.start()
                rss_last = rss_bytes(daemon.proc.pid)
                rss_peak = max(rss_peak, rss_last)
                if rss_start is None and now >= started + args.warmup:
                    rss_start = rss_last
                if now >= next_hostile:
                    feed, kind = rng.randrange(args.feeds), rng.choice(HOSTILE_KINDS)
                    hostile = {f: v for f, v in hostile.items() if v[1] > now}
                    hostile[feed] = (kind, now + rng.uniform(30, 120))
                    Control.write(server.control, None, hostile)
                    faults[f"hostile: {kind}"] += 1
                    next_hostile = now + rng.expovariate(1 / args.hostile_every)
                if now >= next_restart:
                    server.kill()
                    time.sleep(rng.uniform(1, 5))
                    server.start()
                    faults["feed server SIGKILLed and restarted"] += 1
                    next_restart = time.time() + rng.expovariate(1 / args.server_restart_every)
                if now >= next_kill:
                    daemon.kill()
                    time.sleep(rng.uniform(1, 3))
                    daemon.start()
                    faults["daemon SIGKILLed and restarted"] += 1
                    next_kill = time.time() + rng.expovariate(1 / args.kill_every)
                time.sleep(1.0)

            frozen_at = time.time()
            Control.write(server.control, frozen_at, {})
            expected = {
                feed: published(
                    feed,
                    frozen_at,
                    epoch=server.args[0],
                    feeds=args.feeds,
                    every=args.publish_every,
                )
                for feed in range(args.feeds)
            }
            print(f"publication stopped after {(frozen_at - started) / 60:.1f} min", flush=True)
            deadline = frozen_at + args.catch_up
            while True:
                entries, _ = stored(database, port_of)
                lost = missing(entries, expected)
                if not lost or time.time() > deadline:
                    break
                time.sleep(5)
            caught_up = time.time() - frozen_at
            assert daemon.proc is not None
            rss_last = rss_bytes(daemon.proc.pid)
            code = daemon.stop()
        finally:
            if daemon.proc is not None and daemon.proc.poll() is None:
                daemon.kill()
            server.kill()

        entries, articles_twice = stored(database, port_of)
        lost = missing(entries, expected)
        published_total = sum(expected.values())
        stored_total = published_total - len(lost)
        beside = sum(1 for key in entries if key[1].startswith("soak-") and "-1000" in key[1])
        duplicated = sum(n - 1 for n in entries.values() if n > 1) + articles_twice
        log_lines = (work / "daemon.log").read_text(encoding="utf-8", errors="replace")
        levels = Counter(
            line.split(" ", 2)[1]
            for line in log_lines.splitlines()
            if line[:4].isdigit() and line.count(" ") >= 2
        )
        levels["Traceback"] = log_lines.count("Traceback")
        # The most frequent messages, without the feed's URL.
        messages = Counter(
            re.sub(r"https?://\S+", "<url>", line.split(" ", 3)[-1])[:90]
            for line in log_lines.splitlines()
            if " ERROR " in line or " WARNING " in line or " CRITICAL " in line
        )
        hits = (work / "hits.log").read_text(encoding="utf-8").splitlines()

        print(f"daemon starts               {daemon.starts}   final exit status {code}")
        print(f"feed requests served        {sum(1 for h in hits if '.xml ' in h)}")
        print(f"published (soak items)      {published_total:,}")
        print(f"stored (soak items)         {stored_total:,}   caught up {caught_up:.0f} s after")
        print(f"hostile items stored beside {beside}   (their titles cut, links refused)")
        print(f"lost                        {len(lost)}   (must be 0) {lost[:5] if lost else ''}")
        print(f"duplicated                  {duplicated}   (must be 0)")
        print("faults injected:")
        for kind, n in sorted(faults.items()):
            print(f"  {n:4d}  {kind}")
        start_mib = (rss_start or 0) / 1048576
        print(
            f"RSS of the daemon tree      after warm-up {start_mib:.1f} MiB, at the end "
            f"{rss_last / 1048576:.1f} MiB, peak {rss_peak / 1048576:.1f} MiB"
        )
        internal = sum(n for line, n in messages.items() if "internal error" in line)
        print(
            "daemon log                  "
            + ", ".join(f"{level} {levels[level]}" for level in sorted(levels))
            + f"; internal errors {internal}"
        )
        for line, n in messages.most_common(10):
            print(f"  {n:5d}  {line}")


if __name__ == "__main__":
    main()
