"""The records of a feed update: what the pipeline reads of a feed's state and what it hands
the store to write in one transaction (:meth:`aggregator.store.sql.SqlStore.store_update`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from aggregator.models import StoryMatch, StoryPrint, TagAssignment

__all__ = [
    "ArticleWrite",
    "EntryWrite",
    "FeedState",
    "FeedWrite",
    "KnownEntry",
    "ScheduleUpdate",
    "WriteCounts",
]


@dataclass(frozen=True, slots=True)
class FeedState:
    id: int
    url: str
    etag: str | None
    last_modified: str | None
    error_count: int
    fetch_url: str | None = None
    interval_seconds: int | None = None
    redirect_candidate: str | None = None
    redirect_streak: int = 0
    gone: bool = False
    last_success_at: datetime | None = None
    next_check_at: datetime | None = None
    # When its entries were published, over the scheduler's history window; read with the
    # state when asked for (``feed_state(url, history_since=...)``), else None.
    publish_history: tuple[datetime, ...] | None = None
    # Whether the feed has stored entries, and entries retention pruned: a feed's first
    # update (most of a cold start) has neither to look up. True where unknown.
    has_entries: bool = True
    has_tombstones: bool = True

    @property
    def effective_url(self) -> str:
        """Where to fetch: the adopted permanent-redirect target, else the configured URL."""
        return self.fetch_url or self.url


@dataclass(frozen=True, slots=True)
class ScheduleUpdate:
    """The feed's schedule after an update; written with it, and the lease released."""

    next_check_at: datetime
    interval_seconds: int
    gone: bool = False
    fetch_url: str | None = None
    redirect_candidate: str | None = None
    redirect_streak: int = 0

    def values(self) -> dict[str, Any]:
        return {
            "next_check_at": self.next_check_at,
            "interval_seconds": self.interval_seconds,
            "gone": self.gone,
            "fetch_url": self.fetch_url,
            "redirect_candidate": self.redirect_candidate,
            "redirect_streak": self.redirect_streak,
            "lease_owner": None,
            "lease_until": None,
        }


@dataclass(frozen=True, slots=True)
class KnownEntry:
    article_id: int
    content_hash: str


@dataclass(frozen=True, slots=True)
class ArticleWrite:
    url_key: str
    url: str | None
    title: str
    summary: str
    author: str | None
    published_at: datetime | None
    updated_at: datetime | None
    text: str
    html: str
    text_source: str
    extract_status: str
    extract_error: str | None
    language: str | None
    image: str | None
    content_hash: str
    tags: tuple[TagAssignment, ...] = ()
    # Computed before the transaction (aggregator.ingest.stories.fingerprint); None: no story.
    story_print: StoryPrint | None = None
    # What the search index stores of it (aggregator.text.search.article_tokens of these very
    # title, text and summary), made off the write path by the parse workers; None: the
    # store makes them.
    search_tokens: tuple[str, str] | None = None


@dataclass(frozen=True, slots=True)
class EntryWrite:
    entry_key: str
    guid: str | None
    content_hash: str
    article: ArticleWrite
    # True when the feed edited an entry we already had: update the article in place.
    changed: bool = False
    # The entry's raw <category> values, kept whether or not an alias maps them: a retag
    # after a new alias, and `tags explain`, read them.
    categories: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class FeedWrite:
    now: datetime
    entries: tuple[EntryWrite, ...]
    title: str | None
    site_url: str | None
    etag: str | None
    last_modified: str | None
    http_status: int | None
    duration_ms: int
    # Feed-level tags given to an existing article newly reached through this feed.
    feed_tags: tuple[TagAssignment, ...] = ()
    schedule: ScheduleUpdate | None = None
    # Story clustering of new articles (config ``stories``); None: off.
    stories: StoryMatch | None = None
    # Every entry key of the fetched document: a stored entry still carried under its own
    # key is never taken for an entry whose guid changed.
    document_keys: frozenset[str] = frozenset()


@dataclass(frozen=True, slots=True)
class WriteCounts:
    new: int = 0
    updated: int = 0
    linked: int = 0
