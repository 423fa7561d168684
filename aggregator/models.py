"""Records passed between the stages. Frozen, slotted, datetimes timezone-aware UTC.

No behaviour lives here beyond trivial derived properties: the stages own the logic.
"""

from __future__ import annotations

import struct
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Literal

TextSource = Literal["trafilatura", "json-ld", "script-payload", "feed", "none"]
TagSource = Literal["feed", "category", "rule", "model"]


@dataclass(frozen=True, slots=True)
class FetchResult:
    """What one HTTP GET brought back (after redirects).

    ``not_modified`` is True for a 304: ``content`` is then empty and the caller keeps what
    it had. ``headers`` has lower-cased names. ``permanent_redirect`` is the final URL when
    every redirect on the way was permanent (301/308), else None.
    """

    url: str
    final_url: str
    status: int
    headers: Mapping[str, str]
    content: bytes
    etag: str | None = None
    last_modified: str | None = None
    not_modified: bool = False
    permanent_redirect: str | None = None
    elapsed_ms: int = 0

    @property
    def content_type(self) -> str:
        return self.headers.get("content-type", "")


@dataclass(frozen=True, slots=True)
class ParsedEntry:
    """One item of a feed, as the feed describes it.

    ``link`` is already canonical (tracking parameters dropped, host lower-cased, fragment
    removed) and absolute. ``key`` is the entry's identity within its feed: the guid/id,
    else the canonical link, else a hash of title and date.
    """

    key: str
    guid: str | None
    link: str | None
    title: str
    summary: str = ""
    content: str = ""
    author: str | None = None
    published: datetime | None = None
    updated: datetime | None = None
    categories: tuple[str, ...] = ()
    image: str | None = None


@dataclass(frozen=True, slots=True)
class FieldLimits:
    """How long a feed entry's fields may be (characters), and how many categories it keeps.
    A feed of strangers can put 10 MB into a title; cut here, nothing downstream (tagging,
    stories, the search index, the terminal) ever holds more."""

    title: int = 1_000
    author: int = 300
    category: int = 200
    categories: int = 50
    summary: int = 100_000
    content: int = 2_000_000


@dataclass(frozen=True, slots=True)
class ParsedFeed:
    """A whole feed document. ``kind`` is "rss", "atom", "rdf" or "json"."""

    title: str
    link: str | None
    entries: tuple[ParsedEntry, ...]
    kind: str = "rss"
    description: str = ""
    language: str | None = None
    encoding: str = "utf-8"
    ttl_minutes: int | None = None
    # sy:updatePeriod / sy:updateFrequency, as minutes between updates.
    update_period_minutes: float | None = None
    warnings: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class ExtractedArticle:
    """Full text of an article page.

    ``text`` is clean plain text (paragraphs separated by blank lines), ``html`` sanitized
    HTML of the same content. ``source`` says which step produced the text.
    """

    text: str
    html: str
    source: TextSource
    title: str | None = None
    author: str | None = None
    date: datetime | None = None
    image: str | None = None
    language: str | None = None
    categories: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class TagAssignment:
    tag: str
    source: TagSource
    score: float = 1.0
    detail: str = ""


@dataclass(frozen=True, slots=True)
class Assessment:
    """What a topic model says of one article: a probability per tag (empty when it
    abstains), which model said it, why it abstained (empty when it did not), and the
    language it read the article in (None: it did not read it), which the rules reuse."""

    scores: Mapping[str, float]
    model: str
    abstained: str = ""
    language: str | None = None


@dataclass(frozen=True, slots=True)
class FeedUpdateResult:
    """What one feed update did. ``status`` is ok | not_modified | error."""

    feed_url: str
    status: Literal["ok", "not_modified", "error"]
    new: int = 0
    updated: int = 0
    extracted: int = 0
    extract_failed: int = 0
    linked: int = 0
    ms: int = 0
    error: str | None = None
    http_status: int | None = None
    entries_seen: int = 0
    extra: Mapping[str, object] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class StoryMember:
    """One article of a story, as the digest and ``show`` list it."""

    article_id: int
    outlet: str
    title: str
    url: str | None
    published: datetime


@dataclass(frozen=True, slots=True)
class StoryInfo:
    """An article's story: every member (itself included), earliest first."""

    story_id: int
    members: tuple[StoryMember, ...]

    @property
    def outlets(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(m.outlet for m in self.members))


@dataclass(frozen=True, slots=True)
class StoryMatch:
    """When two articles are one story (config ``stories``)."""

    window: timedelta = timedelta(hours=48)
    # Estimated Jaccard of the texts' shingles, with a similar headline.
    threshold: float = 0.5
    title_threshold: float = 0.3
    # Texts this similar are one story whatever the headline says.
    text_only_threshold: float = 0.8
    # Shorter text almost wholly inside the longer one (a trimmed copy), with a similar
    # headline.
    containment_threshold: float = 0.85
    # Texts shorter than this (a title-only entry) get no print: a story of their own.
    min_text_chars: int = 60
    max_candidates: int = 200


@dataclass(frozen=True, slots=True)
class StoryPrint:
    """What the store keeps per article to find its story (computed by
    :func:`aggregator.ingest.stories.fingerprint`)."""

    signature: tuple[int, ...]  # NUM_PERM 32-bit MinHash values
    bands: tuple[int, ...]  # BANDS signed 64-bit hashes (band index included)
    size: int  # number of distinct shingles
    title_key: str
    language: str  # "ko", else the declared language or "other"
    seen_at: datetime  # published time, else first seen

    def signature_bytes(self) -> bytes:
        return struct.pack(f"<{len(self.signature)}I", *self.signature)


def unpack_signature(data: bytes) -> tuple[int, ...]:
    """The inverse of :meth:`StoryPrint.signature_bytes`."""
    return struct.unpack(f"<{len(data) // 4}I", data)
