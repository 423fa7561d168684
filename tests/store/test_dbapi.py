"""The plain DB-API layer of the reading commands: parameters, datetimes, and opening a
SQLite file without SQLAlchemy (falling back to the store where it cannot)."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest

from aggregator.errors import StoreError
from aggregator.store.dbapi import SCHEMA_HEAD, Array, Sql, as_utc, open_sqlite, sqlite_path
from aggregator.store.reading_sql import Reading
from aggregator.store.sql import SqlStore
from tests.store.test_sql import NOW, article, entry, feed_id, write


def memory() -> Sql:
    return Sql(sqlite3.connect(":memory:", isolation_level=None), "sqlite", (sqlite3.Error,))


def test_named_parameters_lists_and_casts() -> None:
    sql = memory()
    assert sql.rows("SELECT :a, :b", {"a": 1, "b": "x"}) == [(1, "x")]
    assert sql.rows("SELECT 3 IN (:ids), 4 IN (:ids)", {"ids": [1, 2, 3]}) == [(1, 0)]
    # An empty list matches nothing instead of being a syntax error.
    assert sql.rows("SELECT 1 IN (:ids)", {"ids": []}) == [(None,)]
    with pytest.raises(StoreError, match=":missing not given"):
        sql.rows("SELECT :missing")
    with pytest.raises(StoreError, match="database read failed"):
        sql.rows("SELECT * FROM nowhere")


def test_postgresql_placeholders_keep_casts_and_percent_signs() -> None:
    sql = Sql(None, "postgresql", (Exception,))
    text, bound = sql._bind(
        "SELECT CAST(:q AS tsquery), '{0.1}'::float4[], 'x%' LIKE :p, a IN (:ids), :arr",
        {"q": "a & b", "p": "x%", "ids": [1, 2], "arr": Array(["w"])},
    )
    assert text == (
        "SELECT CAST(%(q)s AS tsquery), '{0.1}'::float4[], 'x%%' LIKE %(p)s, "
        "a IN (%(ids__0)s, %(ids__1)s), %(arr)s"
    )
    assert bound == {"q": "a & b", "p": "x%", "ids__0": 1, "ids__1": 2, "arr": ["w"]}


def test_datetimes_round_trip_in_sqlalchemy_storage_format() -> None:
    sql = memory()
    seoul = datetime(2026, 3, 10, 9, 0, 0, 5, tzinfo=timezone(timedelta(hours=9)))
    [(stored,)] = sql.rows("SELECT :t", {"t": seoul})
    assert stored == "2026-03-10 00:00:00.000005"
    assert as_utc(stored) == seoul and as_utc(stored).tzinfo is UTC  # type: ignore[union-attr]
    assert as_utc(datetime(2026, 1, 1)) == datetime(2026, 1, 1, tzinfo=UTC)
    assert as_utc(None) is None
    with pytest.raises(StoreError, match="naive datetime"):
        sql.rows("SELECT :t", {"t": datetime(2026, 1, 1)})


def test_transactions_commit_or_roll_back() -> None:
    sql = memory()
    sql.execute("CREATE TABLE t (x INTEGER)")
    with sql.transaction(write=True):
        assert sql.execute("INSERT INTO t VALUES (:x)", {"x": 1}) == 1
    with pytest.raises(RuntimeError), sql.transaction(write=True):
        sql.execute("INSERT INTO t VALUES (2)")
        raise RuntimeError("boom")
    assert sql.rows("SELECT x FROM t") == [(1,)]


def test_sqlite_path() -> None:
    assert sqlite_path("sqlite:////abs/a.db") == Path("/abs/a.db")
    assert sqlite_path("sqlite:///rel/a.db") == Path("rel/a.db")
    assert sqlite_path("sqlite+pysqlite:///a.db") == Path("a.db")
    for other in ("sqlite://", "sqlite:///:memory:", "sqlite:///a.db?mode=ro", "postgresql://h/d"):
        assert sqlite_path(other) is None


def test_open_sqlite_only_on_an_up_to_date_database(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'a.db'}"
    assert open_sqlite(url) is None  # no file: the store creates it
    (tmp_path / "empty.db").touch()
    assert open_sqlite(f"sqlite:///{tmp_path / 'empty.db'}") is None  # no schema yet
    with SqlStore.open(url) as store:
        fid = feed_id(store, "https://news.example/rss")
        store.store_update(fid, write(entry("g1", article("https://news.example/1", "첫 기사"))))
    sql = open_sqlite(url)
    assert sql is not None
    try:
        [row] = Reading(sql).digest_rows(NOW - timedelta(days=1))
        assert row.title == "첫 기사" and row.feed_url == "https://news.example/rss"
    finally:
        sql.close()
    # Another revision (older, or a newer aggregator's): the store explains, not this path.
    with sqlite3.connect(tmp_path / "a.db") as conn:
        conn.execute("UPDATE alembic_version SET version_num = '0001'")
    assert SCHEMA_HEAD != "0001" and open_sqlite(url) is None


def test_reading_over_the_store_and_over_sqlite3_agree(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'a.db'}"
    with SqlStore.open(url) as store:
        fid = feed_id(store, "https://news.example/rss")
        store.store_update(
            fid,
            write(
                entry(
                    "g1", article("https://news.example/1", "정책 발표", text="정부가 정책을 냈다.")
                ),
                entry("g2", article("https://news.example/2", "날씨", text="맑다.")),
            ),
        )
        through_store = store.digest_rows(NOW - timedelta(days=1))
        hits = store.search("정책")
    sql = open_sqlite(url)
    assert sql is not None
    try:
        reading = Reading(sql)
        assert reading.digest_rows(NOW - timedelta(days=1)) == through_store
        assert reading.search("정책") == hits
    finally:
        sql.close()
