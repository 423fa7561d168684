"""Storage: SQLAlchemy models, Alembic migrations and the :class:`Store` facade."""

from __future__ import annotations

from aggregator.store.engine import ensure_schema, make_engine, schema_status, upgrade_schema
from aggregator.store.sql import (
    ArticleView,
    ArticleWrite,
    EntryWrite,
    FeedHealth,
    FeedState,
    FeedWrite,
    KnownEntry,
    ScheduleUpdate,
    Store,
    WriteCounts,
)

__all__ = [
    "ArticleView",
    "ArticleWrite",
    "EntryWrite",
    "FeedHealth",
    "FeedState",
    "FeedWrite",
    "KnownEntry",
    "ScheduleUpdate",
    "Store",
    "WriteCounts",
    "ensure_schema",
    "make_engine",
    "schema_status",
    "upgrade_schema",
]
