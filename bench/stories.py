"""Story assignment benchmark: one new article against 100,000 articles in the window.

Fills a database (SQLite file by default, or --url) with N synthetic Korean articles spread
over the story window, each with its print and band hashes (a fifth of them copies of
another, so stories have several members), then stores M new articles the way a feed
update does (a transaction per feed of 20 articles: insert the article, then
``SqlStore.assign_story``) and prints:

- fingerprint ms/article (normalize + shingles + MinHash + band hashes; done by
  the pipeline before the transaction opens);
- assignment ms/article inside the transaction (band lookup, verification, writes), p50/p95,
  and its CPU time (on a shared machine wall time includes waiting for a core);
- how many new articles joined an existing story (the copies among them should).

Numbers are printed, never asserted. Usage: python bench/stories.py [--articles 100000]
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from sqlalchemy import insert  # noqa: E402

from aggregator.ingest.stories import fingerprint  # noqa: E402
from aggregator.models import StoryMatch, StoryPrint  # noqa: E402
from aggregator.store.base import digest  # noqa: E402
from aggregator.store.sql import SqlStore  # noqa: E402
from aggregator.store.tables import (  # noqa: E402
    ArticleRow,
    StoryArticleRow,
    StoryBandRow,
    StoryRow,
)

SYLLABLES = [chr(c) for c in range(0xAC00, 0xAC00 + 2000, 7)]
NOW = datetime(2026, 11, 27, 0, 0, tzinfo=UTC)


def make_vocabulary(rng: random.Random, size: int = 20_000) -> list[str]:
    return ["".join(rng.choices(SYLLABLES, k=rng.randint(2, 4))) for _ in range(size)]


def make_text(rng: random.Random, words: list[str], count: int = 140) -> str:
    sentences = []
    for _ in range(count // 14):
        sentences.append(" ".join(rng.choices(words, k=14)) + "다.")
    return "\n".join(sentences)


def edit(rng: random.Random, text: str) -> str:
    lines = text.splitlines()
    if len(lines) > 4:
        lines = lines[: max(4, int(len(lines) * 0.8))]
    return "(서울=뉴스1) 홍길동 기자 = " + "\n".join(lines) + "\nⓒ 뉴스1 무단전재 및 재배포 금지"


def fill(store: SqlStore, n: int, rng: random.Random, words: list[str]) -> list[tuple[str, str]]:
    """N articles in the window; returns (title, text) of the originals, for copies later."""
    originals: list[tuple[str, str]] = []
    window = StoryMatch().window
    started = time.perf_counter()
    articles, prints, bands, stories = [], [], [], []
    story_of_original: list[int] = []
    for index in range(n):
        when = NOW - window * rng.random()
        if originals and rng.random() < 0.2:
            which = rng.randrange(len(originals))
            title, base = originals[which]
            text, story_id = edit(rng, base), story_of_original[which]
        else:
            title = " ".join(rng.choices(words, k=6))
            text = make_text(rng, words)
            originals.append((title, text))
            story_id = len(originals)
            story_of_original.append(story_id)
            stories.append({"id": story_id, "created_at": when, "first_at": when, "last_at": when})
        fp = fingerprint(title, text, language="ko", seen_at=when)
        assert fp is not None
        article_id = index + 1
        articles.append(
            {
                "id": article_id,
                "key_hash": digest(f"https://bench.example/{index}"),
                "url": f"https://bench.example/{index}",
                "title": title,
                "summary": "",
                "text": text,
                "html": "",
                "text_source": "trafilatura",
                "extract_status": "ok",
                "language": "ko",
                "content_hash": "",
                "published_at": when,
                "first_seen_at": when,
                "changed_at": when,
            }
        )
        prints.append(
            {
                "article_id": article_id,
                "story_id": story_id,
                "signature": fp.signature_bytes(),
                "size": fp.size,
                "title_key": fp.title_key,
                "language": fp.language,
                "seen_at": when,
            }
        )
        bands.extend(
            {"band_hash": b, "article_id": article_id, "seen_at": when}
            for b in dict.fromkeys(fp.bands)
        )
        if len(articles) >= 5000 or index == n - 1:
            with store._write() as session:
                if stories:
                    session.execute(insert(StoryRow), stories)
                session.execute(insert(ArticleRow), articles)
                session.execute(insert(StoryArticleRow), prints)
                session.execute(insert(StoryBandRow), bands)
            articles, prints, bands, stories = [], [], [], []
            print(
                f"\r  filled {index + 1:,} articles ({time.perf_counter() - started:.0f} s)",
                end="",
                flush=True,
            )
    print()
    if store.dialect == "postgresql":
        # Rows were written with explicit ids: move the sequences past them.
        from sqlalchemy import text

        with store._write() as session:
            for table in ("articles", "stories"):
                session.execute(
                    text(
                        f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                        f"(SELECT max(id) FROM {table}))"
                    )
                )
    return originals


def _stored_originals(store: SqlStore) -> list[tuple[str, str]]:
    from sqlalchemy import select

    with store._read() as session:
        rows = session.execute(
            select(ArticleRow.title, ArticleRow.text)
            .where(ArticleRow.text.not_like("(서울=%"))
            .limit(20_000)
        )
        return [(title, text) for title, text in rows]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--articles", type=int, default=100_000)
    parser.add_argument("--new", type=int, default=1_000)
    parser.add_argument("--url", help="database URL (default: a temporary SQLite file)")
    parser.add_argument(
        "--keep",
        type=Path,
        metavar="FILE",
        help="SQLite file to fill once and reuse on later runs (filling takes minutes)",
    )
    args = parser.parse_args()
    rng = random.Random(7)
    words = make_vocabulary(rng)
    with tempfile.TemporaryDirectory() as tmp:
        url = args.url or f"sqlite:///{args.keep or Path(tmp) / 'bench.db'}"
        store = SqlStore.open(url)
        try:
            print(f"database {store.dialect}; {args.articles:,} articles in the window")
            stored = store.counts()["articles"]
            if stored:
                print(f"  reusing {stored:,} stored articles")
                originals = _stored_originals(store)
            else:
                originals = fill(store, args.articles, rng, words)
            match = StoryMatch()
            feed_url = "https://bench.example/rss"
            store.sync_feeds([(feed_url, "bench")], NOW)
            # New articles differ from run to run (a reused database holds the last run's).
            rng = random.Random(time.time_ns())
            fp_ms: list[float] = []
            assign_ms: list[float] = []
            assign_cpu_ms: list[float] = []
            joined = copies = 0
            new: list[tuple[str, str, bool]] = []
            for _ in range(args.new):
                if rng.random() < 0.5:
                    title, text = originals[rng.randrange(len(originals))]
                    new.append(("[속보] " + title, edit(rng, text), True))
                else:
                    new.append((" ".join(rng.choices(words, k=6)), make_text(rng, words), False))
            batch = 20
            for start in range(0, len(new), batch):
                group = new[start : start + batch]
                prints: list[tuple[StoryPrint, bool]] = []
                for title, text, is_copy in group:
                    t0 = time.perf_counter()
                    fp = fingerprint(title, text, language="ko", seen_at=NOW)
                    fp_ms.append((time.perf_counter() - t0) * 1000)
                    assert fp is not None
                    prints.append((fp, is_copy))
                with store._write() as session:
                    for fp, is_copy in prints:
                        article_id = session.execute(
                            insert(ArticleRow)
                            .values(
                                key_hash=digest(f"https://bench.example/new/{time.time_ns()}"),
                                title=fp.title_key,
                                summary="",
                                text="",
                                html="",
                                text_source="feed",
                                extract_status="ok",
                                content_hash="",
                                first_seen_at=NOW,
                                changed_at=NOW,
                            )
                            .returning(ArticleRow.id)
                        ).scalar_one()
                        before = session.get(StoryRow, 1) is not None  # keep the session warm
                        t0, c0 = time.perf_counter(), time.thread_time()
                        story_id = store.assign_story(session, article_id, fp, match)
                        assign_ms.append((time.perf_counter() - t0) * 1000)
                        assign_cpu_ms.append((time.thread_time() - c0) * 1000)
                        count = session.get(StoryRow, story_id)
                        joined += bool(before and count and count.article_count > 1)
                        copies += is_copy
            assign_ms.sort()
            print(
                f"fingerprint  {statistics.mean(fp_ms):.2f} ms/article "
                f"(p95 {sorted(fp_ms)[int(len(fp_ms) * 0.95)]:.2f})"
            )
            print(
                f"assignment   {statistics.mean(assign_ms):.2f} ms/article "
                f"(p50 {assign_ms[len(assign_ms) // 2]:.2f}, "
                f"p95 {assign_ms[int(len(assign_ms) * 0.95)]:.2f}) "
                f"with {args.articles:,} articles in the window"
            )
            print(
                f"             {statistics.mean(assign_cpu_ms):.2f} ms/article CPU time "
                "of this thread (on SQLite that is all of the database work)"
            )
            print(
                f"total        {statistics.mean(fp_ms) + statistics.mean(assign_ms):.2f} "
                "ms/article wall (goal: <= 5)"
            )
            print(f"joined a story: {joined} of {len(new)} new articles ({copies} were copies)")
        finally:
            store.close()


if __name__ == "__main__":
    main()
