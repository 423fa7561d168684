"""A time-boxed mutation fuzz of ingest: the real feeds of ../shared/corpus/feeds, mutated
(byte flips, cuts, duplicated items, hostile snippets: NUL, entities, bad references, CDATA,
surrogate escapes, huge runs), each fed through the real pipeline (parse, limits, plan,
tagging, SQLite store) as one feed update. Prints executions and the crashes found: an
update that ends in "internal error" (an exception we did not turn into a clear error) or
an exception escaping it. Prints, never asserts.

The bytes come from memory instead of HTTP (a fetcher of our own that returns them): the
network is not what is fuzzed here; tests/hostile covers it.

Usage: python bench/fuzz.py [--seconds 60] [--seed 1]
"""

from __future__ import annotations

import argparse
import random
import sys
import tempfile
import time
from collections import Counter
from dataclasses import replace
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from aggregator.config.schema import parse_config  # noqa: E402
from aggregator.models import FetchResult  # noqa: E402

FEEDS = REPO.parent / "shared" / "corpus" / "feeds"
SNIPPETS = [
    b"\x00",
    b"&#0;",
    b"&#x110000;",
    b"&#xD800;",
    b"&bogus;",
    b"<![CDATA[",
    b"]]>",
    b"<!ENTITY x 'y'>",
    b"\\ud800",
    b"\xff\xfe",
    b"\xed\xa0\x80",
    b"<item>",
    b"</item>",
    b"<title>",
    b"<link>javascript:alert(1)</link>",
    b"<link>http://xn--a-.example/</link>",
    b"<pubDate>Thu, 99 Foo 20261 99:99:99 +9999</pubDate>",
    b"<category>" + b"c" * 5000 + b"</category>",
    b"\x1b[31m",
    b"\u202e".decode("unicode_escape").encode(),
]


class MemoryFetcher:
    """Returns the bytes it was given for any URL (the fuzz input)."""

    def __init__(self) -> None:
        self.body = b""

    def fetch(
        self,
        url: str,
        *,
        etag: str | None = None,
        last_modified: str | None = None,
        accept: str | None = None,
    ) -> FetchResult:
        return FetchResult(url, url, 200, {"content-type": "application/rss+xml"}, self.body)

    def close(self) -> None:
        pass


def mutate(data: bytes, rng: random.Random) -> bytes:
    out = bytearray(data)
    for _ in range(rng.randint(1, 8)):
        kind = rng.randrange(6)
        at = rng.randrange(len(out) + 1)
        if kind == 0 and out:
            out[min(at, len(out) - 1)] ^= 1 << rng.randrange(8)
        elif kind == 1:
            out[at:at] = rng.choice(SNIPPETS)
        elif kind == 2 and out:
            del out[at : at + rng.randint(1, 200)]
        elif kind == 3:
            start = out.find(b"<item", at)
            end = out.find(b"</item>", start)
            if 0 <= start < end:
                out[end + 7 : end + 7] = out[start : end + 7] * rng.randint(1, 3)
        elif kind == 4:
            out[at:at] = rng.choice(SNIPPETS) * rng.randint(100, 5000)
        else:
            out = out[: rng.randrange(len(out) + 1)]
    return bytes(out)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    seeds = [p.read_bytes() for p in sorted(FEEDS.glob("*.xml"))] if FEEDS.is_dir() else []
    if not seeds:
        print(f"no corpus feeds in {FEEDS}: nothing to fuzz")
        return
    from datetime import UTC, datetime

    from aggregator.ingest.pipeline import update_feed_safely
    from aggregator.service.runtime import open_services

    rng = random.Random(args.seed)
    outcomes: Counter[str] = Counter()
    crashes: list[str] = []
    with tempfile.TemporaryDirectory() as tmp:
        url = "https://fuzz.test/rss.xml"
        config = parse_config(
            {
                "database": f"sqlite:///{tmp}/fuzz.db",
                "extract": {"workers": 1},
                "feeds": [{"url": url, "full_text": False}],
            }
        )
        fetcher = MemoryFetcher()
        with open_services(config) as services:
            services = replace(services, fetcher=fetcher)
            services.store.sync_feeds([(url, None)], datetime.now(UTC))
            feed = config.feeds[0]
            deadline = time.monotonic() + args.seconds
            runs = 0
            while time.monotonic() < deadline:
                fetcher.body = mutate(rng.choice(seeds), rng)
                runs += 1
                try:
                    result = update_feed_safely(feed, services)
                except Exception as exc:
                    crashes.append(f"escaped: {type(exc).__name__}: {exc}"[:200])
                    continue
                if result.error and "internal error" in result.error:
                    crashes.append(result.error[:200])
                outcomes[result.status] += 1
    print(
        f"executions: {runs} in {args.seconds:g} s ({runs / args.seconds:.1f}/s), seed {args.seed}"
    )
    print("outcomes: " + ", ".join(f"{k} {v}" for k, v in outcomes.most_common()))
    print(f"crashes: {len(crashes)}")
    for crash, n in Counter(crashes).most_common(10):
        print(f"  {n} × {crash}")


if __name__ == "__main__":
    main()
