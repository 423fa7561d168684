"""Every record that goes into the store or comes out of it: frozen dataclasses of the
standard library only, so that any layer may use them without importing SQLAlchemy (the
reading commands) and the store's callers never see an ORM row.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from aggregator.models import StoryMatch, StoryPrint, TagAssignment

__all__ = [
    "ALIVE_SECONDS",
    "HEARTBEAT_SECONDS",
    "ArticleDetail",
    "ArticleToTag",
    "ArticleView",
    "ArticleWrite",
    "ClaimedFeed",
    "DigestRow",
    "EntryWrite",
    "ExportArticle",
    "ExportFeed",
    "ExportIndexRow",
    "ExportStamp",
    "FailingFeed",
    "FeedHealth",
    "FeedState",
    "FeedWrite",
    "InstanceInfo",
    "KnownEntry",
    "PruneCandidate",
    "ScheduleUpdate",
    "SearchHit",
    "StorySource",
    "WriteCounts",
]


# -- feeds and their updates (the write path) ----------------------------------------------


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


@dataclass(frozen=True, slots=True)
class EntryWrite:
    entry_key: str
    guid: str | None
    content_hash: str
    article: ArticleWrite
    # True when the feed edited an entry we already had: update the article in place.
    changed: bool = False


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


@dataclass(frozen=True, slots=True)
class FeedHealth:
    url: str
    title: str | None
    last_checked_at: datetime | None
    last_success_at: datetime | None
    last_status: str | None
    last_http_status: int | None
    last_error: str | None
    error_count: int
    entries: int
    last_new: int
    last_duration_ms: int | None


@dataclass(frozen=True, slots=True)
class ArticleView:
    id: int
    feed_url: str
    feed_title: str | None
    url: str | None
    title: str
    author: str | None
    published_at: datetime | None
    first_seen_at: datetime
    tags: tuple[str, ...]
    text: str
    text_source: str
    extract_status: str
    extract_error: str | None


# -- the daemon: claims, instances, health, retention --------------------------------------


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


# -- exports -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ExportFeed:
    id: int
    url: str
    title: str | None
    site_url: str | None


@dataclass(frozen=True, slots=True)
class ExportIndexRow:
    """What identifies the exported state of one article (no text)."""

    id: int
    changed_at: datetime
    feed_ids: tuple[int, ...]  # the feeds that carried it, the first one first
    tags: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class ExportStamp:
    """Changes whenever the selection's content does: a new article (or one falling out:
    count, sums, min and max of ids), an edit (the newest change time), an article reached
    through another feed or given tags (its entries and tags), a story assignment."""

    count: int
    newest_change: datetime | None
    # id sum, id square sum, min id, max id, max entry id, tag rows, story id sum
    numbers: tuple[int, ...]


@dataclass(frozen=True, slots=True)
class ExportArticle:
    id: int
    key_hash: str  # SHA-256 of the article's identity: the base of its stable export id
    url: str | None
    title: str
    author: str | None
    summary: str  # the feed's summary (sanitized HTML, as stored)
    text: str  # whole when there is no HTML, else its first TEXT_PREFIX_CHARS characters
    html: str  # the extracted article's HTML (sanitized at extraction; again at export)
    language: str | None
    published_at: datetime | None
    updated_at: datetime | None
    first_seen_at: datetime
    changed_at: datetime
    feed_ids: tuple[int, ...]
    tags: tuple[str, ...]


# -- the reading commands ------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class DigestRow:
    id: int
    title: str
    url: str | None
    feed_url: str
    feed_title: str | None
    published_at: datetime | None
    first_seen_at: datetime
    tags: tuple[str, ...]
    text_start: str  # the first LEAD_SOURCE_CHARS characters of the text
    summary_start: str  # the feed's summary, shortened likewise (when there is no text)
    read_at: datetime | None


@dataclass(frozen=True, slots=True)
class ArticleDetail:
    id: int
    title: str
    url: str | None
    feed_url: str
    feed_title: str | None
    author: str | None
    published_at: datetime | None
    updated_at: datetime | None
    first_seen_at: datetime
    tags: tuple[str, ...]
    text: str
    summary: str
    text_source: str
    read_at: datetime | None
    starred: bool


@dataclass(frozen=True, slots=True)
class SearchHit:
    article_id: int
    title: str
    url: str | None
    feed_title: str | None
    # published_at, or first_seen_at for an article without a date: always aware UTC.
    published_at: datetime
    # Higher is better; comparable only within one search.
    score: float
    # About 160 characters of the text around the first match, on one line, already free
    # of control characters and escape sequences.
    snippet: str
    # The substrings of the title and snippet that matched, for highlighting.
    matched_terms: tuple[str, ...]


# -- stories -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class StorySource:
    """What clustering reads of a stored article (``stories rebuild``)."""

    id: int
    title: str
    text: str
    language: str | None
    seen_at: datetime


# -- re-tagging ----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ArticleToTag:
    """What tagging reads of a stored article. ``categories`` are the raw ``<category>``
    values that gave it a tag before (feeds' other categories are not stored)."""

    id: int
    title: str
    text: str
    url: str | None
    feeds: tuple[tuple[str, str | None], ...]  # (url, title) of every feed carrying it
    categories: tuple[str, ...]
