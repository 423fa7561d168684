"""Retention over a real database: periods per feed and tag, starred articles, tombstones."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest

from aggregator.config.schema import parse_config
from aggregator.models import TagAssignment
from aggregator.service.upkeep import keep_days_for, prune
from aggregator.store.records.service import PruneCandidate
from aggregator.store.sql import SqlStore
from tests.store.test_sql import NOW, article, entry, feed_id, write

CONFIG = parse_config(
    {
        "retention": {"keep_days": 30},
        "tags": {"archive": {"keep_days": 0}, "sports": {"keep_days": 60}, "news": {}},
        "feeds": [
            {"url": "https://a.example/rss"},
            {"url": "https://b.example/rss", "keep_days": 365},
        ],
    }
)


@pytest.fixture
def store(db_url: str) -> Iterator[SqlStore]:
    s = SqlStore.open(db_url)
    yield s
    s.close()


def test_longest_applicable_period_wins() -> None:
    def days(feeds: tuple[str, ...], tags: tuple[str, ...]) -> int:
        return keep_days_for(PruneCandidate(1, NOW, feeds, tags), CONFIG)

    assert days(("https://a.example/rss",), ()) == 30
    assert days(("https://a.example/rss",), ("sports",)) == 60
    assert days(("https://a.example/rss", "https://b.example/rss"), ("sports",)) == 365
    assert days(("https://a.example/rss",), ("archive",)) == 0  # forever


def test_prune_respects_periods_stars_and_leaves_tombstones(store: SqlStore) -> None:
    a = feed_id(store, "https://a.example/rss")
    b = feed_id(store, "https://b.example/rss")
    old = NOW - timedelta(days=45)
    arts = {
        "plain": article("https://a.example/plain", published_at=old),
        "sports": article(
            "https://a.example/sports",
            published_at=old,
            tags=(TagAssignment("sports", "rule"),),
        ),
        "starred": article("https://a.example/starred", published_at=old),
        "recent": article("https://a.example/recent", published_at=NOW - timedelta(days=3)),
        "b": article("https://b.example/long", published_at=old),
    }
    # Seen when they were published: the keep period runs from the later of the two.
    store.store_update(
        a, write(*(entry(k, v) for k, v in arts.items() if k not in ("b", "recent")), now=old)
    )
    store.store_update(a, write(entry("recent", arts["recent"])))
    store.store_update(b, write(entry("b", arts["b"]), now=old))
    starred = [v.id for v in store.list_articles() if v.url == "https://a.example/starred"]
    assert store.set_starred(starred, True) == 1

    dry = prune(store, CONFIG, NOW, dry_run=True)
    assert (dry.pruned, dry.dry_run) == (1, True)
    assert store.counts()["articles"] == 5

    report = prune(store, CONFIG, NOW)
    assert report.pruned == 1
    assert report.by_feed == {"https://a.example/rss": 1}
    urls = {v.url for v in store.list_articles(limit=100)}
    assert "https://a.example/plain" not in urls
    assert {
        "https://a.example/sports",
        "https://a.example/starred",
        "https://b.example/long",
    } <= urls
    # The pruned entry is tombstoned: the feed still carrying it does not bring it back.
    assert store.tombstoned(a, ["plain", "recent"]) == {"plain"}
    assert store.forget_tombstones(NOW + timedelta(days=1)) == 1
    assert store.tombstoned(a, ["plain"]) == set()


def test_keep_forever_prunes_nothing(store: SqlStore) -> None:
    config = parse_config({"retention": {"keep_days": 0}})
    a = feed_id(store, "https://a.example/rss")
    store.store_update(
        a,
        write(
            entry(
                "x", article("https://a.example/x", published_at=datetime(2001, 1, 1, tzinfo=UTC))
            )
        ),
    )
    assert prune(store, config, NOW).pruned == 0
    assert store.counts()["articles"] == 1


def test_prune_pages_through_many_candidates(
    store: SqlStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    import aggregator.service.upkeep as retention

    monkeypatch.setattr(retention, "BATCH", 3)  # page size, to exercise keyset paging
    a = feed_id(store, "https://a.example/rss")
    old = NOW - timedelta(days=100)
    store_old = write(
        *(
            entry(
                f"k{i}", article(f"https://a.example/{i}", published_at=old + timedelta(minutes=i))
            )
            for i in range(10)
        ),
        now=old,
    )
    store.store_update(a, store_old)
    assert prune(store, CONFIG, NOW).pruned == 10
    assert store.counts()["articles"] == 0


def test_a_feed_s_backlog_is_kept_from_when_it_was_first_seen(store: SqlStore) -> None:
    """A first poll stores the items a feed still carries from years ago: they are kept
    keep_days from that poll, not deleted by the next prune (a new user's whole database,
    a minute after starting the daemon), and an article dated after its first sight keeps
    its period from its date."""
    a = feed_id(store, "https://a.example/rss")
    ancient = datetime(2018, 10, 19, tzinfo=UTC)
    store.store_update(
        a,
        write(
            entry("old", article("https://a.example/old", published_at=ancient)),
            entry("undated", article("https://a.example/undated", published_at=None)),
            entry(
                "ahead", article("https://a.example/ahead", published_at=NOW + timedelta(days=20))
            ),
        ),
    )
    assert prune(store, CONFIG, NOW).pruned == 0
    assert prune(store, CONFIG, NOW + timedelta(days=29)).pruned == 0
    assert prune(store, CONFIG, NOW + timedelta(days=31)).pruned == 2
    assert {v.url for v in store.list_articles()} == {"https://a.example/ahead"}
    assert prune(store, CONFIG, NOW + timedelta(days=51)).pruned == 1
