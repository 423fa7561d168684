"""Queries of the exports: which articles a generated feed holds, and what it shows of them.

A generated feed is the newest ``limit`` articles by the time aggregator first saw them
(``ix_articles_first_seen_at`` answers it without a sort), optionally only those with one of
some tags and first seen since some time. It is read in two steps so that a conditional
request (``If-None-Match``) costs a narrow query and no rendering:

- :meth:`ExportQueries.export_index`: ids, change times, the feeds that carried each article
  and its tags: everything a change in the feed's content would change, without the texts;
- :meth:`ExportQueries.export_rows`: the same plus the articles' texts and HTML, read in the
  same transaction as the index (one snapshot), for rendering.

Nothing here decides what an export may show (the republish policy) or how it looks: that is
``aggregator.export``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import exists, select
from sqlalchemy.orm import Session

from aggregator.store.base import StoreBase, chunks
from aggregator.store.tables import ArticleRow, ArticleTagRow, EntryRow, FeedRow

__all__ = ["ExportArticle", "ExportFeed", "ExportIndexRow", "ExportQueries"]


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
class ExportArticle:
    id: int
    key_hash: str  # SHA-256 of the article's identity: the base of its stable export id
    url: str | None
    title: str
    author: str | None
    summary: str  # the feed's summary (sanitized HTML, as stored)
    text: str
    html: str  # the extracted article's HTML (sanitized at extraction; again at export)
    language: str | None
    published_at: datetime | None
    updated_at: datetime | None
    first_seen_at: datetime
    changed_at: datetime
    feed_ids: tuple[int, ...]
    tags: tuple[str, ...]


class ExportQueries(StoreBase):
    def export_feeds(self) -> dict[int, ExportFeed]:
        """Every known feed by id (a few hundred rows at most)."""
        stmt = select(FeedRow.id, FeedRow.url, FeedRow.title, FeedRow.site_url)
        with self._read() as session:
            return {
                fid: ExportFeed(fid, url, title, site)
                for fid, url, title, site in session.execute(stmt)
            }

    def export_index(
        self, *, tags: Sequence[str] = (), since: datetime | None = None, limit: int = 100
    ) -> list[ExportIndexRow]:
        """The articles of a generated feed, newest first seen first, without their texts."""
        with self._read() as session:
            return self._index(session, tags, since, limit)

    def export_rows(
        self, *, tags: Sequence[str] = (), since: datetime | None = None, limit: int = 100
    ) -> tuple[list[ExportIndexRow], list[ExportArticle]]:
        """:meth:`export_index` and the articles themselves, from one snapshot."""
        with self._read() as session:
            index = self._index(session, tags, since, limit)
            by_id = {row.id: row for row in index}
            loaded: dict[int, ArticleRow] = {}
            for chunk in chunks(list(by_id), 500):
                for article in session.scalars(select(ArticleRow).where(ArticleRow.id.in_(chunk))):
                    loaded[article.id] = article
            articles = []
            for row in index:
                a = loaded.get(row.id)
                if a is None:
                    continue
                articles.append(
                    ExportArticle(
                        id=a.id,
                        key_hash=a.key_hash,
                        url=a.url,
                        title=a.title,
                        author=a.author,
                        summary=a.summary,
                        text=a.text,
                        html=a.html,
                        language=a.language,
                        published_at=a.published_at,
                        updated_at=a.updated_at,
                        first_seen_at=a.first_seen_at,
                        changed_at=a.changed_at,
                        feed_ids=row.feed_ids,
                        tags=row.tags,
                    )
                )
            return index, articles

    def _index(
        self, session: Session, tags: Sequence[str], since: datetime | None, limit: int
    ) -> list[ExportIndexRow]:
        stmt = select(ArticleRow.id, ArticleRow.changed_at)
        if since is not None:
            stmt = stmt.where(ArticleRow.first_seen_at >= since)
        if tags:
            stmt = stmt.where(
                exists()
                .where(ArticleTagRow.article_id == ArticleRow.id, ArticleTagRow.tag.in_(list(tags)))
                .correlate(ArticleRow)
            )
        stmt = stmt.order_by(ArticleRow.first_seen_at.desc(), ArticleRow.id.desc()).limit(limit)
        rows = session.execute(stmt).all()
        ids = [aid for aid, _ in rows]
        feeds: dict[int, list[int]] = {}
        found_tags: dict[int, list[str]] = {}
        for chunk in chunks(ids, 500):
            for aid, fid in session.execute(
                select(EntryRow.article_id, EntryRow.feed_id)
                .where(EntryRow.article_id.in_(chunk))
                .order_by(EntryRow.article_id, EntryRow.id)
            ):
                if fid not in feeds.setdefault(aid, []):
                    feeds[aid].append(fid)
            for aid, tag in session.execute(
                select(ArticleTagRow.article_id, ArticleTagRow.tag)
                .where(ArticleTagRow.article_id.in_(chunk))
                .order_by(ArticleTagRow.article_id, ArticleTagRow.tag)
            ):
                if tag not in found_tags.setdefault(aid, []):
                    found_tags[aid].append(tag)
        return [
            ExportIndexRow(
                id=aid,
                changed_at=changed,
                feed_ids=tuple(feeds.get(aid, ())),
                tags=tuple(found_tags.get(aid, ())),
            )
            for aid, changed in rows
        ]
