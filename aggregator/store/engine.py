"""Engines and schema management: SQLite pragmas, IMMEDIATE write transactions, Alembic.

SQLite gets WAL (readers never block the writer), a busy timeout, foreign keys, and
``BEGIN IMMEDIATE`` for every transaction that may write: a deferred transaction that reads
and then writes fails at once with "database is locked" when another writer got there first,
and busy_timeout cannot help it. Read-only work asks for ``readonly=True`` and begins
deferred. PostgreSQL needs none of this.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import Engine, create_engine, event, inspect, text
from sqlalchemy.engine import Connection, make_url
from sqlalchemy.exc import ArgumentError, SQLAlchemyError

from aggregator.errors import SchemaOutdatedError, StoreError
from aggregator.store.dbapi import (
    SCHEMA_HEAD,
    SQLITE_BUSY_TIMEOUT_MS,
    apply_sqlite_pragmas,
    disk_full_note,
    parse_sqlite_url,
)

if TYPE_CHECKING:
    from alembic.config import Config as AlembicConfig

__all__ = ["READONLY", "SCHEMA_HEAD", "make_engine", "schema_status", "upgrade_schema"]

# SCHEMA_HEAD, the newest migration, lives in dbapi.py (no SQLAlchemy there): every command
# checks the database against it rather than asking Alembic, whose import and script scan
# (~0.2 s) only upgrades need.

MIGRATIONS_DIR = Path(__file__).parent / "migrations"
READONLY = {"aggregator_readonly": True}


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    # Let SQLAlchemy's "begin" hook, not the driver, decide how transactions begin.
    dbapi_connection.isolation_level = None
    apply_sqlite_pragmas(dbapi_connection, wal=True)


def _sqlite_begin(conn: Connection) -> None:
    readonly = conn.get_execution_options().get("aggregator_readonly", False)
    conn.exec_driver_sql("BEGIN" if readonly else "BEGIN IMMEDIATE")


def make_engine(url: str) -> Engine:
    """An engine for ``url``; creates the directory of a SQLite file if needed."""
    try:
        parsed = make_url(url)
    except Exception as exc:
        raise StoreError(f"not a database URL: {url!r}") from exc
    if parsed.get_backend_name() == "sqlite":
        sqlite = parse_sqlite_url(url)
        if sqlite is not None and sqlite.path is not None:
            try:
                sqlite.path.parent.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise StoreError(
                    f"cannot create the directory for the database {sqlite.path}"
                ) from exc
        engine = create_engine(
            parsed, connect_args={"timeout": SQLITE_BUSY_TIMEOUT_MS / 1000}, pool_pre_ping=False
        )
        event.listen(engine, "connect", _sqlite_pragmas)
        event.listen(engine, "begin", _sqlite_begin)
        return engine
    if parsed.get_backend_name() != "postgresql":
        raise StoreError(
            f"unsupported database {parsed.get_backend_name()!r} in "
            f"{parsed.render_as_string(hide_password=True)}: aggregator stores in SQLite "
            "(sqlite:///path/to/file.db) or PostgreSQL (postgresql+psycopg://user@host/db)"
        )
    try:
        return create_engine(parsed, pool_pre_ping=True)
    except (ImportError, ArgumentError) as exc:
        raise StoreError(f"cannot use the database URL: {exc}") from exc


def _alembic_config(connection: Connection) -> AlembicConfig:
    from alembic.config import Config as AlembicConfig

    config = AlembicConfig()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.attributes["connection"] = connection
    return config


def head_revision() -> str:
    """Alembic's head, from the migration scripts (slow: for upgrades and tests)."""
    from alembic.config import Config as AlembicConfig
    from alembic.script import ScriptDirectory

    config = AlembicConfig()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    head = ScriptDirectory.from_config(config).get_current_head()
    assert head is not None
    return head


def schema_status(engine: Engine) -> tuple[str | None, str, bool]:
    """``(current revision, head revision, database has tables at all)``."""
    try:
        with engine.connect().execution_options(**READONLY) as conn:
            current = _current_revision(conn)
            has_tables = current is not None or bool(inspect(conn).get_table_names())
    except (SQLAlchemyError, OSError) as exc:
        url = engine.url.render_as_string(hide_password=True)
        note = disk_full_note(engine.url.render_as_string(hide_password=False))
        raise StoreError(f"cannot open the database {url}{note}") from exc
    return current, SCHEMA_HEAD, has_tables


def _current_revision(conn: Connection) -> str | None:
    """What Alembic's version table says, read with plain SQL."""
    if not inspect(conn).has_table("alembic_version"):
        return None
    rows = conn.execute(text("SELECT version_num FROM alembic_version")).scalars().all()
    return rows[0] if len(rows) == 1 else None


def known_revisions() -> set[str]:
    from alembic.config import Config as AlembicConfig
    from alembic.script import ScriptDirectory

    config = AlembicConfig()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    return {script.revision for script in ScriptDirectory.from_config(config).walk_revisions()}


# pg_advisory_lock key for schema changes ("aggr" in ASCII): several daemons started at once
# on an empty database must not all run the migrations.
_SCHEMA_LOCK_KEY = 0x61676772


@contextmanager
def _schema_lock(engine: Engine) -> Iterator[None]:
    """Serialize schema creation/upgrades between processes (PostgreSQL; SQLite's write
    lock already does it)."""
    if engine.dialect.name != "postgresql":
        yield
        return
    try:
        conn = engine.connect()
        conn.execute(text("SELECT pg_advisory_lock(:key)"), {"key": _SCHEMA_LOCK_KEY})
    except SQLAlchemyError as exc:
        raise StoreError("cannot lock the database schema for an upgrade") from exc
    try:
        yield
    finally:
        try:
            conn.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": _SCHEMA_LOCK_KEY})
        finally:
            conn.close()


def _upgrade_unlocked(engine: Engine, revision: str) -> None:
    from alembic import command

    try:
        with engine.begin() as conn:
            command.upgrade(_alembic_config(conn), revision)
    except (SQLAlchemyError, OSError) as exc:
        raise StoreError("database upgrade failed") from exc


def upgrade_schema(engine: Engine, revision: str = "head") -> tuple[str | None, str]:
    """Run the Alembic migrations up to ``revision``; returns (before, after)."""
    with _schema_lock(engine):
        before, head, _ = schema_status(engine)
        _upgrade_unlocked(engine, revision)
    return before, head


def ensure_schema(engine: Engine, *, create: bool) -> None:
    """Refuse an outdated schema; create the schema of a brand-new, empty database."""
    current, head, has_tables = schema_status(engine)
    if current == head:
        return
    if current is None and not has_tables and create:
        with _schema_lock(engine):
            # Another process may have created it while we waited for the lock.
            current, head, has_tables = schema_status(engine)
            if current is None and not has_tables:
                _upgrade_unlocked(engine, "head")
                return
        if current == head:
            return
    if current is None and not has_tables:
        raise SchemaOutdatedError(
            "the database is empty: run `aggregator db upgrade` (or `aggregator poll`) first"
        )
    if current is not None and current not in known_revisions():
        raise SchemaOutdatedError(
            f"the database schema is at revision {current}, which this aggregator does not "
            f"know (it needs {head}): it was written by a newer aggregator; upgrade aggregator"
        )
    raise SchemaOutdatedError(
        f"the database schema is at revision {current or 'none'} but this aggregator needs "
        f"{head}: back up the database, then run `aggregator db upgrade`"
    )
