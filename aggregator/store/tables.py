"""SQLAlchemy 2 typed tables. Imported only inside ``aggregator.store``.

Vocabulary: a *feed* is a configured source; an *entry* is one item of one feed; an *article*
is the page behind an entry's link. One article reached through several feeds (Korean
outlets' section feeds overlap heavily) is one ``articles`` row with one ``entries`` row per
feed. Unique constraints, not application code, are what make a duplicate impossible.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
)
from sqlalchemy.dialects import sqlite
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.sql.expression import false, true
from sqlalchemy.types import TypeEngine

from aggregator.store.dbapi import SQLITE_DATETIME_STORAGE, as_utc, utc_naive


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC datetimes on every backend (SQLite has no time zones)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> TypeEngine[Any]:
        if dialect.name == "sqlite":
            # The storage format the reading path (dbapi.py) binds and reads, named once.
            return dialect.type_descriptor(sqlite.DATETIME(storage_format=SQLITE_DATETIME_STORAGE))  # type: ignore[no-untyped-call]
        return dialect.type_descriptor(DateTime(timezone=True))

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if dialect.name == "sqlite":
            return utc_naive(value)
        if value.tzinfo is None:
            utc_naive(value)  # raises the same error as on SQLite
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        return as_utc(value)


class Base(DeclarativeBase):
    pass


class FeedRow(Base):
    __tablename__ = "feeds"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    url: Mapped[str] = mapped_column(String(2048), unique=True)
    title: Mapped[str | None] = mapped_column(Text)
    site_url: Mapped[str | None] = mapped_column(Text)
    etag: Mapped[str | None] = mapped_column(Text)
    last_modified: Mapped[str | None] = mapped_column(Text)
    last_checked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_success_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_status: Mapped[str | None] = mapped_column(String(32))
    last_http_status: Mapped[int | None] = mapped_column(Integer)
    last_error: Mapped[str | None] = mapped_column(Text)
    error_count: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    last_new: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    last_duration_ms: Mapped[int | None] = mapped_column(Integer)
    next_check_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    # In the current config: a feed removed from config.yaml stops being polled, its
    # articles stay.
    active: Mapped[bool] = mapped_column(Boolean, default=True, server_default=true())
    # Where the feed lives now, after a permanent redirect seen on several polls in a row.
    fetch_url: Mapped[str | None] = mapped_column(Text)
    redirect_candidate: Mapped[str | None] = mapped_column(Text)
    redirect_streak: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    interval_seconds: Mapped[int | None] = mapped_column(Integer)
    # HTTP 410: still checked daily, never dropped for good.
    gone: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    # Row lease: the instance polling the feed, and until when the claim holds.
    lease_owner: Mapped[str | None] = mapped_column(String(128))
    lease_until: Mapped[datetime | None] = mapped_column(UTCDateTime)

    __table_args__ = (Index("ix_feeds_due", "active", "next_check_at"),)


class ArticleRow(Base):
    __tablename__ = "articles"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    # SHA-256 of the article's identity: its canonical link, or for an entry without a usable
    # link "<feed url>#entry=<entry key>". Hashed because links have no length limit and a
    # unique index on arbitrarily long text does not work on every backend.
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    url: Mapped[str | None] = mapped_column(Text)
    title: Mapped[str] = mapped_column(Text, default="")
    author: Mapped[str | None] = mapped_column(Text)
    summary: Mapped[str] = mapped_column(Text, default="")
    published_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    text: Mapped[str] = mapped_column(Text, default="")
    html: Mapped[str] = mapped_column(Text, default="")
    text_source: Mapped[str] = mapped_column(String(32), default="none")
    extract_status: Mapped[str] = mapped_column(String(32), default="pending")
    extract_error: Mapped[str | None] = mapped_column(Text)
    language: Mapped[str | None] = mapped_column(String(35))
    image: Mapped[str | None] = mapped_column(Text)
    content_hash: Mapped[str] = mapped_column(String(64), default="")
    first_seen_at: Mapped[datetime] = mapped_column(UTCDateTime)
    changed_at: Mapped[datetime] = mapped_column(UTCDateTime)
    # Kept by the reader: retention never prunes it.
    starred: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    # When the reader marked it read (`aggregator read`); NULL: unread.
    read_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    __table_args__ = (
        Index("ix_articles_published_at", "published_at"),
        Index("ix_articles_first_seen_at", "first_seen_at"),
    )


class EntryRow(Base):
    __tablename__ = "entries"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    feed_id: Mapped[int] = mapped_column(ForeignKey("feeds.id", ondelete="CASCADE"))
    # SHA-256 of the entry's key within its feed (guid, else canonical link, else a hash).
    key_hash: Mapped[str] = mapped_column(String(64))
    entry_key: Mapped[str] = mapped_column(Text)
    article_id: Mapped[int] = mapped_column(ForeignKey("articles.id", ondelete="CASCADE"))
    guid: Mapped[str | None] = mapped_column(Text)
    content_hash: Mapped[str] = mapped_column(String(64), default="")
    first_seen_at: Mapped[datetime] = mapped_column(UTCDateTime)
    # The entry's raw <category> values, one per line (NULL: stored before 0007).
    categories: Mapped[str | None] = mapped_column(Text)

    __table_args__ = (
        UniqueConstraint("feed_id", "key_hash", name="uq_entries_feed_key"),
        Index("ix_entries_article_id", "article_id"),
    )


class TagModelRow(Base):
    """A tag model learned from the user's feeds (``aggregator tags learn``)."""

    __tablename__ = "tag_models"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    # JSON: the model's metadata, its scores, and where it is used.
    meta: Mapped[str] = mapped_column(Text)
    # An .npz archive (arrays only, loaded with allow_pickle=False).
    arrays: Mapped[bytes] = mapped_column(LargeBinary)


class ArticleTagRow(Base):
    __tablename__ = "article_tags"

    article_id: Mapped[int] = mapped_column(
        ForeignKey("articles.id", ondelete="CASCADE"), primary_key=True
    )
    tag: Mapped[str] = mapped_column(String(64), primary_key=True)
    source: Mapped[str] = mapped_column(String(16), primary_key=True)
    score: Mapped[float] = mapped_column(Float, default=1.0)
    detail: Mapped[str] = mapped_column(Text, default="")

    __table_args__ = (Index("ix_article_tags_tag", "tag"),)


class InstanceRow(Base):
    """A running (or stopped) ``aggregator run``: its heartbeat says it is alive."""

    __tablename__ = "instances"

    id: Mapped[str] = mapped_column(String(128), primary_key=True)
    hostname: Mapped[str] = mapped_column(Text)
    pid: Mapped[int] = mapped_column(Integer)
    version: Mapped[str] = mapped_column(String(32))
    started_at: Mapped[datetime] = mapped_column(UTCDateTime)
    heartbeat_at: Mapped[datetime] = mapped_column(UTCDateTime)
    last_cycle_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    stopped_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class EntryTombstoneRow(Base):
    """An entry pruned by retention: while the feed still carries it, it is not stored again."""

    __tablename__ = "entry_tombstones"

    feed_id: Mapped[int] = mapped_column(
        ForeignKey("feeds.id", ondelete="CASCADE"), primary_key=True
    )
    key_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    pruned_at: Mapped[datetime] = mapped_column(UTCDateTime)


class StateRow(Base):
    """Small named values the commands keep between runs (the time of the last digest)."""

    __tablename__ = "state"

    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[str] = mapped_column(Text)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)


class StoryRow(Base):
    """A story: articles from one or several outlets about the same event."""

    __tablename__ = "stories"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    # Earliest and latest article time (published, else first seen) among its members.
    first_at: Mapped[datetime] = mapped_column(UTCDateTime)
    last_at: Mapped[datetime] = mapped_column(UTCDateTime)
    article_count: Mapped[int] = mapped_column(Integer, default=1, server_default="1")


class StoryArticleRow(Base):
    """An article's place in a story and its MinHash print (aggregator.ingest.stories)."""

    __tablename__ = "story_articles"

    article_id: Mapped[int] = mapped_column(
        ForeignKey("articles.id", ondelete="CASCADE"), primary_key=True
    )
    story_id: Mapped[int] = mapped_column(ForeignKey("stories.id", ondelete="CASCADE"))
    signature: Mapped[bytes] = mapped_column(LargeBinary)
    size: Mapped[int] = mapped_column(Integer)
    title_key: Mapped[str] = mapped_column(Text)
    language: Mapped[str] = mapped_column(String(8))
    seen_at: Mapped[datetime] = mapped_column(UTCDateTime)

    __table_args__ = (Index("ix_story_articles_story_id", "story_id", "seen_at"),)


class StoryBandRow(Base):
    """LSH band hashes of an article's print: candidates are the articles sharing a band."""

    __tablename__ = "story_bands"

    band_hash: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    article_id: Mapped[int] = mapped_column(
        ForeignKey("articles.id", ondelete="CASCADE"), primary_key=True
    )
    seen_at: Mapped[datetime] = mapped_column(UTCDateTime)

    # Looked up by band hash through the primary key; on SQLite the table *is* that B-tree
    # (WITHOUT ROWID): each article writes 32 rows, and every index more is 32 more random
    # B-tree inserts. The article_id index serves ON DELETE CASCADE (retention).
    __table_args__ = (
        Index("ix_story_bands_article_id", "article_id"),
        {"sqlite_with_rowid": False},
    )
