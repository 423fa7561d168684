"""Plain DB-API access for the reading commands: SQL text, named parameters, UTC datetimes.

Why not SQLAlchemy here: ``aggregator digest``, ``show`` and ``search`` are whole processes
that a person waits for, and importing SQLAlchemy (core and ORM) alone costs ~160 ms of the
300 ms they may take on a year of news. Their queries are few and fixed, so they are written
once as SQL text that runs on both backends, through :class:`Sql`:

* on a SQLite file, over a ``sqlite3`` connection opened here (:func:`open_sqlite`), with
  no SQLAlchemy import at all;
* everywhere else, over the DB-API connection of the store's own SQLAlchemy engine
  (``Store.reader()``), so PostgreSQL and the daemon's code paths run the very same SQL.

The SQL uses ``:name`` parameters (psycopg's ``%(name)s`` is derived from them); a list or
tuple value expands in place (``id IN (:ids)``); aware datetimes are bound in each backend's
storage format (on SQLite, SQLAlchemy's naive-UTC text, so comparisons agree with what the
store wrote). This module must stay cheap to import: only the standard library.
"""

from __future__ import annotations

import os
import re
import sqlite3
from collections.abc import Iterator, Mapping
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

from aggregator.errors import StoreError

__all__ = [
    "SCHEMA_HEAD",
    "SQLITE_BUSY_TIMEOUT_MS",
    "SQLITE_DATETIME_STORAGE",
    "Array",
    "Dialect",
    "Sql",
    "SqliteUrl",
    "apply_sqlite_pragmas",
    "as_utc",
    "disk_full_note",
    "open_sqlite",
    "parse_sqlite_url",
    "short_error",
    "sqlite_path",
    "utc_naive",
]

# What the SQLAlchemy path (engine.py, tables.py) and this DB-API path must agree on is
# defined here, once: the schema head, the SQLite PRAGMAs, how datetimes are stored, how a
# SQLite URL names its file, and how a driver error is shortened for a StoreError.

# The newest migration (a test keeps it equal to Alembic's head). Kept here, not in
# engine.py, so that the reading commands can check a database without SQLAlchemy.
SCHEMA_HEAD = "0007"
SQLITE_BUSY_TIMEOUT_MS = 30_000
# How a datetime is stored in SQLite (naive UTC text, six fraction digits): SQLAlchemy's
# sqlite.DATETIME storage_format in tables.UTCDateTime, and the reading path's binds here.
SQLITE_DATETIME_STORAGE = (
    "%(year)04d-%(month)02d-%(day)02d %(hour)02d:%(minute)02d:%(second)02d.%(microsecond)06d"
)

Dialect = Literal["sqlite", "postgresql"]

# ":name" not preceded by ":" or a word character (PostgreSQL's "::type" casts stay).
_PARAM = re.compile(r"(?<![:\w]):([A-Za-z_]\w*)")
_SQLITE_URL = re.compile(r"^sqlite(?:\+\w+)?://(?:/(?P<path>[^?]*))?(?:\?(?P<query>.*))?$")


@dataclass(frozen=True, slots=True)
class SqliteUrl:
    """What a ``sqlite://`` URL says: its file (None for an in-memory database or a
    ``file:`` URI) and whether it carries query options (``?mode=ro``, ``?uri=true``)."""

    path: Path | None
    options: bool


def parse_sqlite_url(url: str) -> SqliteUrl | None:
    """The parts of a SQLite URL; None when ``url`` is not one (PostgreSQL and others)."""
    found = _SQLITE_URL.match(url.strip())
    if not found:
        return None
    raw = found["path"] or ""
    path = None if raw in ("", ":memory:") or raw.startswith("file:") else Path(raw).expanduser()
    return SqliteUrl(path, bool(found["query"]))


def sqlite_path(url: str) -> Path | None:
    """The file of a plain ``sqlite:///path`` URL; None for anything else (memory
    databases, URI options, other backends), which the full store handles."""
    parsed = parse_sqlite_url(url)
    if parsed is None or parsed.options:
        return None
    return parsed.path


def apply_sqlite_pragmas(connection: Any, *, wal: bool) -> None:
    """The PRAGMAs every connection of ours runs on SQLite. ``wal``: also switch the file to
    WAL (the store's connections; a reading connection finds the file in WAL already)."""
    connection.execute(f"PRAGMA busy_timeout = {SQLITE_BUSY_TIMEOUT_MS}")
    if wal:
        connection.execute("PRAGMA journal_mode = WAL")
    # In WAL mode NORMAL is still crash-safe, and FULL would fsync on every commit of
    # `read`/`show`/the digest's state.
    connection.execute("PRAGMA synchronous = NORMAL")
    connection.execute("PRAGMA foreign_keys = ON")


def utc_naive(value: datetime) -> datetime:
    """``value`` in UTC without its tzinfo, as SQLite stores it; a naive value is refused
    (every datetime in aggregator is aware)."""
    if value.tzinfo is None:
        raise ValueError("naive datetime given to the database; all datetimes are UTC-aware")
    return value.astimezone(UTC).replace(tzinfo=None)


def as_utc(value: Any) -> datetime | None:
    """A stored datetime as aware UTC: SQLite gives naive-UTC text (or a naive datetime
    through SQLAlchemy), PostgreSQL an aware datetime."""
    if value is None:
        return None
    if isinstance(value, str):
        return datetime.fromisoformat(value).replace(tzinfo=UTC)
    if isinstance(value, datetime):
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
    raise StoreError(f"not a stored datetime: {value!r}")


class Array(list[Any]):
    """A list bound as one array value (PostgreSQL), not expanded into a parameter list."""


def _sqlite_datetime(value: datetime) -> str:
    try:
        naive = utc_naive(value)
    except ValueError as exc:
        raise StoreError(str(exc)) from None
    return SQLITE_DATETIME_STORAGE % {
        "year": naive.year,
        "month": naive.month,
        "day": naive.day,
        "hour": naive.hour,
        "minute": naive.minute,
        "second": naive.second,
        "microsecond": naive.microsecond,
    }


class Sql:
    """One DB-API connection and its dialect; every error leaves as :class:`StoreError`."""

    def __init__(
        self, connection: Any, dialect: Dialect, errors: tuple[type[BaseException], ...]
    ) -> None:
        self.connection = connection
        self.dialect: Dialect = dialect
        self._errors = errors

    def _bind(self, sql: str, params: Mapping[str, Any]) -> tuple[str, dict[str, Any]]:
        bound: dict[str, Any] = {}

        def expand(match: re.Match[str]) -> str:
            name = match[1]
            if name not in params:
                raise StoreError(f"SQL parameter :{name} not given")
            value = params[name]
            if isinstance(value, list | tuple) and not isinstance(value, Array):
                if not value:
                    return "NULL"  # "x IN (NULL)" matches nothing, as an empty list should
                names = [f"{name}__{i}" for i in range(len(value))]
                for item_name, item in zip(names, value, strict=True):
                    bound[item_name] = self._value(item)
                return ", ".join(self._placeholder(n) for n in names)
            bound[name] = self._value(value)
            return self._placeholder(name)

        if self.dialect == "postgresql":
            sql = sql.replace("%", "%%")
        return _PARAM.sub(expand, sql), bound

    def _placeholder(self, name: str) -> str:
        return f"%({name})s" if self.dialect == "postgresql" else f":{name}"

    def _value(self, value: Any) -> Any:
        if isinstance(value, datetime) and self.dialect == "sqlite":
            return _sqlite_datetime(value)
        if isinstance(value, Array):
            return list(value)
        return value

    def rows(self, sql: str, params: Mapping[str, Any] | None = None) -> list[tuple[Any, ...]]:
        text, bound = self._bind(sql, params or {})
        try:
            cursor = self.connection.cursor()
            try:
                cursor.execute(text, bound)
                return [tuple(row) for row in cursor.fetchall()]
            finally:
                cursor.close()
        except self._errors as exc:
            raise StoreError(f"database read failed ({short_error(exc)})") from exc

    def one(self, sql: str, params: Mapping[str, Any] | None = None) -> tuple[Any, ...] | None:
        found = self.rows(sql, params)
        return found[0] if found else None

    def execute(self, sql: str, params: Mapping[str, Any] | None = None) -> int:
        """Run a statement that returns no rows; how many rows it changed."""
        text, bound = self._bind(sql, params or {})
        try:
            cursor = self.connection.cursor()
            try:
                cursor.execute(text, bound)
                return int(cursor.rowcount or 0)
            finally:
                cursor.close()
        except self._errors as exc:
            raise StoreError(f"database write failed ({short_error(exc)})") from exc

    @contextmanager
    def transaction(self, *, write: bool = False) -> Iterator[Sql]:
        """One transaction: a consistent snapshot for several reads, or one atomic write.
        On SQLite a write takes the write lock up front (BEGIN IMMEDIATE), as the store's
        own writes do, so it waits on busy_timeout instead of failing to upgrade a lock."""
        try:
            if self.dialect == "sqlite":
                self.connection.execute("BEGIN IMMEDIATE" if write else "BEGIN")
        except self._errors as exc:
            raise StoreError(f"database busy or unreadable ({short_error(exc)})") from exc
        try:
            yield self
        except BaseException:
            with suppress(*self._errors):
                self.connection.rollback()
            raise
        try:
            self.connection.commit()
        except self._errors as exc:
            raise StoreError(f"database commit failed ({short_error(exc)})") from exc

    def close(self) -> None:
        with suppress(*self._errors):
            self.connection.close()


# Below this much free space where a SQLite file lives, its errors are about the disk.
_LOW_SPACE = 256 * 1024


def disk_full_note(database_url: str) -> str:
    """``"; the disk holding /x.db is full (12 KiB free)"`` when it is, else ``""``: SQLite
    reports a full tmpfs as "disk I/O error" while it sets up the WAL, which says nothing."""
    path = sqlite_path(database_url)
    if path is None:
        return ""
    try:
        stat = os.statvfs(path.parent if path.parent.exists() else Path("/"))
    except OSError:
        return ""
    free = stat.f_bavail * stat.f_frsize
    if free >= _LOW_SPACE:
        return ""
    return f"; the disk holding {path} is full ({free // 1024} KiB free): free some space"


def short_error(exc: BaseException) -> str:
    """``Type: first line`` of a driver error (of the DB-API error SQLAlchemy wraps, when it
    is one): SQLAlchemy's own text carries the whole statement and its parameters."""
    detail = str(getattr(exc, "orig", None) or exc).strip().splitlines()
    return f"{type(exc).__name__}: {detail[0][:200] if detail else ''}"


def open_sqlite(url: str) -> Sql | None:
    """A reading connection to an existing, up-to-date SQLite database, without SQLAlchemy.

    None when the fast path does not apply (not a plain SQLite file URL, no file yet, or a
    schema other than :data:`SCHEMA_HEAD`): the caller then opens the full store, which
    creates a new database or explains what is wrong with an old one."""
    path = sqlite_path(url)
    if path is None or not path.is_file():
        return None
    try:
        connection = sqlite3.connect(
            str(path), timeout=SQLITE_BUSY_TIMEOUT_MS / 1000, isolation_level=None
        )
    except sqlite3.Error as exc:
        raise StoreError(f"cannot open the database {path}") from exc
    sql = Sql(connection, "sqlite", (sqlite3.Error,))
    try:
        apply_sqlite_pragmas(connection, wal=False)
        has_version = sql.one(
            "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'alembic_version'"
        )
        versions = sql.rows("SELECT version_num FROM alembic_version") if has_version else []
    except StoreError:
        sql.close()
        raise
    except sqlite3.Error as exc:
        sql.close()
        raise StoreError(f"cannot read the database {path}: {short_error(exc)}") from exc
    if [v for (v,) in versions] == [SCHEMA_HEAD]:
        return sql
    sql.close()
    return None
