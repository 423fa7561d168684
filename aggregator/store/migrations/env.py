"""Alembic environment: runs on the connection aggregator hands it (never from alembic.ini)."""

from __future__ import annotations

from alembic import context
from sqlalchemy import create_engine

from aggregator.store.search_sql import include_name
from aggregator.store.tables import Base

target_metadata = Base.metadata


def _run(connection: object) -> None:
    context.configure(
        connection=connection,  # type: ignore[arg-type]
        target_metadata=target_metadata,
        render_as_batch=True,  # SQLite cannot ALTER most things: batch mode copies tables
        compare_type=True,
        # The search tables are made by migration 0003, not by the models.
        include_name=include_name,
    )
    with context.begin_transaction():
        context.run_migrations()


connection = context.config.attributes.get("connection")
if connection is not None:
    _run(connection)
else:  # pragma: no cover - only for `alembic revision --autogenerate` during development
    url = context.config.get_main_option("sqlalchemy.url")
    assert url, "set sqlalchemy.url to autogenerate a migration"
    with create_engine(url).connect() as conn:
        _run(conn)
        conn.commit()
