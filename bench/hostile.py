"""Hostile feeds: peak memory and time of one `aggregator poll` (a fresh process) of the
worst cases of the issue "Nothing a feed does can stop the others", and the time of an OPML
import of 10,000 feeds. Everything on loopback. Prints, never asserts. Goal: a poll's peak
memory under 200 MB whatever one feed holds; the import in <= 5 s.

Usage: python bench/hostile.py [--entries 50000]
"""

from __future__ import annotations

import argparse
import http.server
import os
import subprocess
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path
from xml.sax.saxutils import escape

REPO = Path(__file__).resolve().parent.parent
AGGREGATOR = [str(Path(sys.executable).parent / "aggregator")]


def feed(items: list[tuple[str, str]]) -> bytes:
    start = datetime(2026, 11, 1, tzinfo=UTC)
    body = "".join(
        f"<item><title>{escape(title)}</title><link>https://news.test/a/{i}</link>"
        f"<guid>{escape(guid)}</guid><pubDate>{format_datetime(start + timedelta(minutes=i))}"
        "</pubDate><description>요약</description></item>"
        for i, (guid, title) in enumerate(items)
    )
    return (
        '<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>t</title>'
        f"<link>https://news.test/</link>{body}</channel></rss>"
    ).encode()


def serve(documents: dict[str, bytes]) -> tuple[http.server.ThreadingHTTPServer, int]:
    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body = documents.get(self.path)
            self.send_response(200 if body is not None else 404)
            self.send_header("Content-Type", "application/rss+xml")
            self.send_header("Content-Length", str(len(body or b"")))
            self.end_headers()
            self.wfile.write(body or b"")

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, server.server_address[1]


def run_measured(args: list[str], cwd: Path) -> tuple[float, float, int]:
    """(seconds, peak RSS in MiB of that very child, exit code)."""
    started = time.monotonic()
    child = subprocess.Popen(args, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    _, status, usage = os.wait4(child.pid, 0)
    child.returncode = os.waitstatus_to_exitcode(status)
    return time.monotonic() - started, usage.ru_maxrss / 1024, child.returncode


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--entries", type=int, default=50_000)
    args = parser.parse_args()
    ten_mib = 10 * 1024 * 1024
    cases = {
        "/small.xml": feed([(f"g{i}", f"기사 {i}") for i in range(20)]),
        "/title-latin.xml": feed([("huge", "a" * ten_mib), ("g", "보통 기사")]),
        "/title-hangul.xml": feed([("huge", "가" * (ten_mib // 3)), ("g", "보통 기사")]),
        "/many.xml": feed([(f"g{i}", f"기사 {i}") for i in range(args.entries)]),
    }
    server, port = serve(cases)
    print(f"{'case':22} {'feed size':>10} {'seconds':>8} {'peak MiB':>9} exit")
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        for path, body in cases.items():
            config = root / f"{path.strip('/')}.yaml"
            config.write_text(
                f"database: sqlite:///{root}/{path.strip('/')}.db\n"
                "fetch: {allow_private_networks: true}\nextract: {workers: 1}\n"
                f'feeds:\n  - {{url: "http://127.0.0.1:{port}{path}", full_text: false}}\n',
                encoding="utf-8",
            )
            seconds, peak, code = run_measured([*AGGREGATOR, "poll", "--config", str(config)], REPO)
            print(f"{path:22} {len(body) / 1e6:>8.1f}MB {seconds:>8.1f} {peak:>9.0f} {code}")
        outlines = "".join(
            f'<outline type="rss" text="Feed {i}" xmlUrl="https://news{i}.example.com/rss"/>'
            for i in range(10_000)
        )
        opml = root / "big.opml"
        opml.write_text(f'<?xml version="1.0"?><opml version="2.0"><body>{outlines}</body></opml>')
        config = root / "import.yaml"
        config.write_text(f"database: sqlite:///{root}/i.db\nfeeds: []\n", encoding="utf-8")
        seconds, peak, code = run_measured(
            [*AGGREGATOR, "import", "opml", str(opml), "--config", str(config)], REPO
        )
        print(
            f"{'import 10,000 feeds':22} {opml.stat().st_size / 1e6:>8.1f}MB {seconds:>8.1f} "
            f"{peak:>9.0f} {code}"
        )
    server.shutdown()


if __name__ == "__main__":
    main()
