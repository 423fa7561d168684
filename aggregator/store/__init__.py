"""Storage: SQLAlchemy models, Alembic migrations and the :class:`Store` facade.

The names below are loaded on first use (PEP 562), not on import of the package: the
reading commands import ``aggregator.store.dbapi`` and ``reading_sql`` only, and importing
the package must not drag SQLAlchemy in with them (see dbapi.py).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from aggregator.store.engine import (
        ensure_schema,
        make_engine,
        schema_status,
        upgrade_schema,
    )
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

_HOMES = {
    "ensure_schema": "engine",
    "make_engine": "engine",
    "schema_status": "engine",
    "upgrade_schema": "engine",
    "ArticleView": "sql",
    "ArticleWrite": "sql",
    "EntryWrite": "sql",
    "FeedHealth": "sql",
    "FeedState": "sql",
    "FeedWrite": "sql",
    "KnownEntry": "sql",
    "ScheduleUpdate": "sql",
    "Store": "sql",
    "WriteCounts": "sql",
}

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


def __getattr__(name: str) -> Any:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{home}"), name)
    globals()[name] = value
    return value
