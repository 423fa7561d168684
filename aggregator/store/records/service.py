"""The records of the service side: the daemon's claims and instances (``status``), retention's
candidates, and what re-tagging and the story rebuild read of stored articles.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

__all__ = [
    "ALIVE_SECONDS",
    "HEARTBEAT_SECONDS",
    "ArticleToTag",
    "ClaimedFeed",
    "FailingFeed",
    "InstanceInfo",
    "PruneCandidate",
    "StorySource",
]


@dataclass(frozen=True, slots=True)
class ClaimedFeed:
    id: int
    url: str
    next_check_at: datetime | None


@dataclass(frozen=True, slots=True)
class InstanceInfo:
    id: str
    hostname: str
    pid: int
    version: str
    started_at: datetime
    heartbeat_at: datetime
    last_cycle_at: datetime | None
    stopped_at: datetime | None


@dataclass(frozen=True, slots=True)
class FailingFeed:
    url: str
    title: str | None
    error_count: int
    last_error: str | None
    last_checked_at: datetime | None
    next_check_at: datetime | None
    gone: bool


@dataclass(frozen=True, slots=True)
class PruneCandidate:
    article_id: int
    when: datetime
    feed_urls: tuple[str, ...]
    tags: tuple[str, ...]


# How often a daemon writes its heartbeat row, and how old one may be before `aggregator
# status` calls that instance dead. Here, beside the instances table, so that `status` need
# not import the daemon (APScheduler, the pipeline) to read them.
HEARTBEAT_SECONDS = 10.0


ALIVE_SECONDS = 3 * HEARTBEAT_SECONDS


@dataclass(frozen=True, slots=True)
class StorySource:
    """What clustering reads of a stored article (``stories rebuild``)."""

    id: int
    title: str
    text: str
    language: str | None
    seen_at: datetime


@dataclass(frozen=True, slots=True)
class ArticleToTag:
    """What tagging reads of a stored article. ``categories`` are the raw ``<category>``
    values of its entries (for articles stored before schema 0007: the values that gave it
    a tag)."""

    id: int
    title: str
    text: str
    url: str | None
    feeds: tuple[tuple[str, str | None], ...]  # (url, title) of every feed carrying it
    categories: tuple[str, ...]
