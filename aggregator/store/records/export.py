"""The records of the exports: the feeds and articles the generated feeds and OPML are made
of, and the stamp their validators (ETag, Last-Modified) come from.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

__all__ = [
    "ExportArticle",
    "ExportFeed",
    "ExportIndexRow",
    "ExportStamp",
]


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
