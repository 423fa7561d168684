"""The records of the reading commands: digest rows, one article for ``show``, search hits
(the DB-API path, :mod:`aggregator.store.reading_sql`), and the rows of ``feeds`` and ``list``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

__all__ = [
    "ArticleDetail",
    "ArticleView",
    "DigestRow",
    "FeedHealth",
    "SearchHit",
]


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
    # The schedule: when the feed is polled next, and the interval it learned.
    next_check_at: datetime | None = None
    interval_seconds: int | None = None


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
