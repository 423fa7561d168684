"""The plumbing every store query shares: engine, short transactions, dialect-aware inserts.

Every SQLAlchemy error leaves the store as a :class:`StoreError` (the one hierarchy); values
bound for the database lose NUL characters (PostgreSQL text cannot hold them); identities are
stored as SHA-256 digests (links have no length limit, index keys do).
"""

from __future__ import annotations

import hashlib
import sqlite3
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager, nullcontext
from typing import Any, Concatenate, ParamSpec, TypeVar

from sqlalchemy import Connection, Engine
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from aggregator.errors import StoreError
from aggregator.store.dbapi import Sql, disk_full_note, short_error
from aggregator.store.engine import READONLY
from aggregator.store.reading_sql import Reading

__all__ = [
    "ReadingQueries",
    "StoreBase",
    "chunks",
    "clean",
    "digest",
    "join_categories",
    "short_error",
    "split_categories",
]

P = ParamSpec("P")
R = TypeVar("R")


class StoreBase:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        # SQLite has one writer at a time per file. Left to its busy handler, threads waiting
        # for the lock sleep and poll (up to 100 ms a try): taking turns here instead hands
        # the lock over at once, so the feed threads fetch, parse and tag while one writes,
        # and none of them ever waits on the file. PostgreSQL writers run side by side.
        self._one_writer: AbstractContextManager[Any] = (
            threading.RLock() if engine.dialect.name == "sqlite" else nullcontext()
        )

    def close(self) -> None:
        self.engine.dispose()

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    @contextmanager
    def _write(self) -> Iterator[Session]:
        try:
            with self._one_writer, Session(self.engine) as session, session.begin():
                yield session
        except SQLAlchemyError as exc:
            note = disk_full_note(self.engine.url.render_as_string(hide_password=False))
            raise StoreError(f"database write failed ({short_error(exc)}){note}") from exc

    @contextmanager
    def _write_core(self) -> Iterator[Connection]:
        """A write transaction on a plain connection, for Core statements (a feed's fetch
        state after a 304 or an error: one UPDATE, no unit of work needed)."""
        try:
            with self._one_writer, self.engine.begin() as conn:
                yield conn
        except SQLAlchemyError as exc:
            note = disk_full_note(self.engine.url.render_as_string(hide_password=False))
            raise StoreError(f"database write failed ({short_error(exc)}){note}") from exc

    @contextmanager
    def _read(self) -> Iterator[Session]:
        try:
            with Session(self.engine.execution_options(**READONLY)) as session:
                yield session
        except SQLAlchemyError as exc:
            raise StoreError(f"database read failed ({short_error(exc)})") from exc

    @contextmanager
    def _read_core(self) -> Iterator[Connection]:
        """A read on a plain connection, for Core statements: the pipeline's reads before
        each feed update cost ~2 ms each through an ORM session, a fifth of a cold poll."""
        try:
            with self.engine.connect().execution_options(**READONLY) as conn:
                yield conn
        except SQLAlchemyError as exc:
            raise StoreError(f"database read failed ({short_error(exc)})") from exc

    @contextmanager
    def reader(self) -> Iterator[Reading]:
        """The reading queries (``reading_sql.Reading``) over a connection of this store's
        engine: the SQL the reading commands run on a bare sqlite3 connection."""
        errors: tuple[type[BaseException], ...]
        if self.dialect == "sqlite":
            errors = (sqlite3.Error,)
        elif self.dialect == "postgresql":
            import psycopg

            errors = (psycopg.Error,)
        else:
            raise StoreError(f"unsupported database backend {self.dialect!r}")
        try:
            raw = self.engine.raw_connection()
        except SQLAlchemyError as exc:
            raise StoreError(f"database read failed ({short_error(exc)})") from exc
        try:
            yield Reading(Sql(raw, self.dialect, errors))  # type: ignore[arg-type]
        finally:
            raw.close()  # back to the pool

    def _insert(self, table: Any) -> Any:
        # Imported here: the PostgreSQL dialect drags in asyncpg's (~15 ms) for every
        # SQLite user's every command otherwise.
        if self.dialect == "postgresql":
            from sqlalchemy.dialects import postgresql

            return postgresql.insert(table)
        if self.dialect == "sqlite":
            from sqlalchemy.dialects import sqlite

            return sqlite.insert(table)
        raise StoreError(f"unsupported database backend {self.dialect!r}")


def _reading(
    query: Callable[Concatenate[Reading, P], R],
) -> Callable[Concatenate[StoreBase, P], R]:
    def run(self: StoreBase, /, *args: P.args, **kwargs: P.kwargs) -> R:
        with self.reader() as reading:
            return query(reading, *args, **kwargs)

    run.__doc__ = query.__doc__
    return run


class ReadingQueries(StoreBase):
    """The reading queries as store methods, each on a pooled connection of its own."""

    digest_rows = _reading(Reading.digest_rows)
    with_text = _reading(Reading.with_text)
    digest_counts = _reading(Reading.digest_counts)
    article = _reading(Reading.article)
    mark_read = _reading(Reading.mark_read)
    get_state = _reading(Reading.get_state)
    set_state = _reading(Reading.set_state)
    search = _reading(Reading.search)
    story_info = _reading(Reading.story_info)
    story_members = _reading(Reading.story_members)


def digest(key: str) -> str:
    """The stored form of an identity: SHA-256 hex (fixed length, index-friendly)."""
    return hashlib.sha256(key.encode("utf-8", "surrogatepass")).hexdigest()


def clean(value: str | None) -> str | None:
    # PostgreSQL text cannot hold NUL, and a feed can contain one (&#0; or raw bytes).
    return value.replace("\x00", "") if value else value


# A feed's category values, as stored: one per line (a value never holds a line break once
# whitespace is collapsed), at most this many, each at most this long: a hostile feed's
# thousand categories do not bloat the table.
MAX_CATEGORIES = 50
MAX_CATEGORY_CHARS = 200


def join_categories(categories: Sequence[str]) -> str | None:
    """The stored form of an entry's raw ``<category>`` values (None when there are none)."""
    kept: list[str] = []
    for value in categories:
        line = " ".join((clean(value) or "").split())[:MAX_CATEGORY_CHARS]
        if line and line not in kept:
            kept.append(line)
        if len(kept) >= MAX_CATEGORIES:
            break
    return "\n".join(kept) or None


def split_categories(stored: str | None) -> list[str]:
    return [line for line in (stored or "").split("\n") if line]


def chunks(items: Sequence[Any], size: int) -> Iterator[Sequence[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]
