from __future__ import annotations

import hashlib
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import text

from aggregator.errors import SchemaOutdatedError, StoreError
from aggregator.models import TagAssignment
from aggregator.store.engine import ensure_schema, make_engine, schema_status, upgrade_schema
from aggregator.store.records.updates import ArticleWrite, EntryWrite, FeedWrite
from aggregator.store.sql import SqlStore

NOW = datetime(2026, 11, 26, 1, 2, 3, tzinfo=UTC)


def article(key: str, title: str = "제목", **changes: object) -> ArticleWrite:
    base = ArticleWrite(
        url_key=key,
        url=key,
        title=title,
        summary="요약",
        author="홍길동",
        published_at=NOW - timedelta(hours=1),
        updated_at=None,
        text="본문 " * 50,
        html="<p>본문</p>",
        text_source="trafilatura",
        extract_status="ok",
        extract_error=None,
        language="ko",
        image=None,
        content_hash=hashlib.sha256(f"{key}|{title}".encode()).hexdigest(),
        tags=(TagAssignment("politics", "feed"), TagAssignment("politics", "rule", 0.5, "국회")),
    )
    return replace(base, **changes)  # type: ignore[arg-type]


def write(*entries: EntryWrite, now: datetime = NOW) -> FeedWrite:
    return FeedWrite(
        now=now,
        entries=entries,
        title="피드",
        site_url="https://news.example/",
        etag='"v1"',
        last_modified=None,
        http_status=200,
        duration_ms=5,
        feed_tags=(TagAssignment("society", "feed"),),
    )


def entry(key: str, art: ArticleWrite, *, changed: bool = False) -> EntryWrite:
    return EntryWrite(key, key, art.content_hash, art, changed=changed)


@pytest.fixture
def store(db_url: str) -> SqlStore:
    s = SqlStore.open(db_url)
    yield s  # type: ignore[misc]
    s.close()


def feed_id(store: SqlStore, url: str) -> int:
    store.sync_feeds([(url, None)], NOW)
    state = store.feed_state(url)
    assert state is not None
    return state.id


def test_datetimes_round_trip_as_aware_utc(store: SqlStore) -> None:
    fid = feed_id(store, "https://a.example/rss")
    store.store_update(fid, write(entry("https://a.example/1", article("https://a.example/1"))))
    [view] = store.list_articles()
    assert view.published_at == NOW - timedelta(hours=1)
    assert view.published_at.tzinfo is not None
    assert view.first_seen_at == NOW


def test_repoll_does_not_duplicate_and_edit_updates_in_place(store: SqlStore) -> None:
    fid = feed_id(store, "https://a.example/rss")
    first = article("https://a.example/1")
    assert store.store_update(fid, write(entry("g1", first))).new == 1
    assert store.store_update(fid, write(entry("g1", first))).new == 0
    edited = article("https://a.example/1", title="고친 제목")
    counts = store.store_update(fid, write(entry("g1", edited, changed=True)))
    assert (counts.new, counts.updated) == (0, 1)
    assert store.counts() == {"feeds": 1, "articles": 1, "entries": 1}
    [view] = store.list_articles()
    assert view.title == "고친 제목"
    assert view.text.startswith("본문")  # extracted text is kept on a feed edit


def test_the_feed_state_says_whether_there_are_entries_and_tombstones_to_look_up(
    store: SqlStore,
) -> None:
    """A feed's first update skips the lookups of its entries and tombstones: the state
    read says it has none, and says so again once it has them."""
    url = "https://a.example/rss"
    fid = feed_id(store, url)
    other = feed_id(store, "https://b.example/rss")

    def flags(feed_url: str) -> tuple[bool, bool]:
        state = store.feed_state(feed_url, history_since=NOW - timedelta(days=30))
        assert state is not None
        return state.has_entries, state.has_tombstones

    assert flags(url) == (False, False)
    store.store_update(fid, write(entry("g1", article("https://a.example/1"))))
    assert flags(url) == (True, False)
    assert flags("https://b.example/rss") == (False, False)  # another feed's rows are not its
    [view] = store.list_articles()
    assert store.prune_articles([view.id], NOW) == 1
    assert flags(url) == (False, True)
    assert store.tombstoned(fid, ["g1"]) == {"g1"}
    assert store.tombstoned(other, ["g1"]) == set()


def test_same_article_through_two_feeds_is_stored_once(store: SqlStore) -> None:
    a = feed_id(store, "https://a.example/rss")
    b = feed_id(store, "https://a.example/politics")
    art = article("https://a.example/1")
    assert store.store_update(a, write(entry("g1", art))).new == 1
    counts = store.store_update(b, write(entry("other-guid", art)))
    assert (counts.new, counts.linked) == (0, 1)
    assert store.counts() == {"feeds": 2, "articles": 1, "entries": 2}
    [view] = store.list_articles(feed_url="https://a.example/politics")
    assert set(view.tags) == {"politics", "society"}  # feed tags of the second feed added
    tags = {(t.tag, t.source) for t in store.article_tags(view.id)}
    assert ("society", "feed") in tags and ("politics", "rule") in tags


def test_update_is_one_transaction(store: SqlStore) -> None:
    fid = feed_id(store, "https://a.example/rss")
    good = article("https://a.example/1")
    bad = article("https://a.example/2", tags=(TagAssignment("x" * 100, "feed"),))
    # A naive datetime is refused while binding the second article, after the first is in.
    broken = replace(bad, published_at=datetime(2026, 1, 1))
    with pytest.raises(StoreError):
        store.store_update(fid, write(entry("g1", good), entry("g2", broken)))
    assert store.counts()["articles"] == 0
    assert store.counts()["entries"] == 0
    state = store.feed_state("https://a.example/rss")
    assert state is not None and state.etag is None  # fetch state not written either


def test_failure_and_not_modified_recorded(store: SqlStore) -> None:
    fid = feed_id(store, "https://a.example/rss")
    store.record_failure(fid, NOW, "HTTP 500 Internal Server Error", 500, 12)
    store.record_failure(fid, NOW, "HTTP 500 Internal Server Error", 500, 12)
    [health] = store.feed_health()
    assert (health.last_status, health.error_count, health.last_http_status) == ("error", 2, 500)
    store.record_not_modified(fid, NOW, '"v2"', None, 3)
    [health] = store.feed_health()
    assert (health.last_status, health.error_count, health.last_error) == ("not_modified", 0, None)
    state = store.feed_state("https://a.example/rss")
    assert state is not None and state.etag == '"v2"'


def test_list_filters(store: SqlStore) -> None:
    a = feed_id(store, "https://a.example/rss")
    older = article("https://a.example/old", published_at=NOW - timedelta(days=2))
    newer = article("https://a.example/new", tags=(TagAssignment("sports", "rule"),))
    store.store_update(a, write(entry("o", older), entry("n", newer)))
    assert [v.url for v in store.list_articles()] == [
        "https://a.example/new",
        "https://a.example/old",
    ]
    assert [v.url for v in store.list_articles(tag="sports")] == ["https://a.example/new"]
    assert store.list_articles(limit=1)[0].url == "https://a.example/new"
    assert store.list_articles(feed_url="https://nowhere.example/") == []


def test_migrations_match_models(db_url: str) -> None:
    from alembic.autogenerate import compare_metadata
    from alembic.runtime.migration import MigrationContext

    from aggregator.store.search_sql import include_name
    from aggregator.store.tables import Base

    engine = make_engine(db_url)
    upgrade_schema(engine)
    with engine.connect() as conn:
        # The search tables are not ORM models (migrations/env.py filters them the same way).
        context = MigrationContext.configure(conn, opts={"include_name": include_name})
        diff = compare_metadata(context, Base.metadata)
    engine.dispose()
    assert diff == []


def test_outdated_schema_is_refused(db_url: str) -> None:
    engine = make_engine(db_url)
    upgrade_schema(engine)
    with engine.begin() as conn:
        # Tables without a recorded revision: older than any migration this code has.
        conn.execute(text("DELETE FROM alembic_version"))
    with pytest.raises(SchemaOutdatedError, match="aggregator db upgrade"):
        ensure_schema(engine, create=True)
    engine.dispose()


def test_empty_database_is_created_on_first_use(db_url: str) -> None:
    engine = make_engine(db_url)
    with pytest.raises(SchemaOutdatedError, match="empty"):
        ensure_schema(engine, create=False)
    ensure_schema(engine, create=True)
    current, head, has_tables = schema_status(engine)
    assert current == head and has_tables
    engine.dispose()


def test_sqlite_pragmas(tmp_path: object) -> None:
    engine = make_engine(f"sqlite:///{tmp_path}/x.db")
    with engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
        assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() == 30000
    engine.dispose()


def test_long_urls_nul_bytes_and_long_language_are_stored(store: SqlStore) -> None:
    fid = feed_id(store, "https://a.example/rss")
    long_url = "https://a.example/" + "%EA%B0%80" * 1000  # 9 KB of percent-encoded Hangul
    art = article(long_url, title="널\x00바이트", language="ko-KR-x-" + "a" * 40)
    art = replace(art, text="본문\x00끝")
    assert store.store_update(fid, write(entry(long_url, art))).new == 1
    assert store.store_update(fid, write(entry(long_url, art))).new == 0
    assert store.known_articles([long_url]) != {}
    [view] = store.list_articles()
    assert view.url == long_url and view.title == "널바이트" and view.text == "본문끝"


def test_newer_schema_is_refused_with_the_right_advice(db_url: str) -> None:
    engine = make_engine(db_url)
    upgrade_schema(engine)
    with engine.begin() as conn:
        conn.execute(text("UPDATE alembic_version SET version_num = '9999'"))
    with pytest.raises(SchemaOutdatedError, match="newer aggregator"):
        ensure_schema(engine, create=True)
    engine.dispose()


def test_unusable_sqlite_path_is_a_store_error(tmp_path: object) -> None:
    with pytest.raises(StoreError, match="cannot"):
        SqlStore.open("sqlite:////proc/nope/x.db")


def test_schema_head_constant_matches_the_migrations() -> None:
    from aggregator.store.engine import SCHEMA_HEAD, head_revision

    assert head_revision() == SCHEMA_HEAD


def test_clamp_schedule_brings_far_checks_within_a_lowered_max_interval(store: SqlStore) -> None:
    """A SIGHUP after lowering schedule.max_interval rescheduled nothing: checks stayed
    5-6 h away. clamp_schedule (called by the daemon's reload) brings them in."""
    from aggregator.store.records.updates import ScheduleUpdate

    far = feed_id(store, "https://far.test/rss")
    near = feed_id(store, "https://near.test/rss")
    six_hours = ScheduleUpdate(next_check_at=NOW + timedelta(hours=6), interval_seconds=21600)
    soon = ScheduleUpdate(next_check_at=NOW + timedelta(minutes=10), interval_seconds=600)
    store.record_failure(far, NOW, "x", 500, 1, schedule=six_hours)
    store.record_failure(near, NOW, "x", 500, 1, schedule=soon)
    assert store.clamp_schedule(NOW, timedelta(hours=1)) == 1
    health = {h.url: h for h in store.feed_health()}
    assert health["https://far.test/rss"].next_check_at == NOW + timedelta(hours=1)
    assert health["https://far.test/rss"].interval_seconds == 3600
    assert health["https://near.test/rss"].next_check_at == NOW + timedelta(minutes=10)
    assert health["https://near.test/rss"].interval_seconds == 600
