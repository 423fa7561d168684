"""Queries of the exports: which articles a generated feed holds, and what it shows of them.

A generated feed is the newest ``limit`` articles by the time aggregator first saw them
(``ix_articles_first_seen_at`` answers it without a sort), optionally only those with one of
some tags and first seen since some time. It is read in two steps so that a conditional
request (``If-None-Match``) costs a narrow query and no rendering:

- :meth:`ExportQueries.export_stamp`: one aggregate row over the selected articles (how
  many, the sums and extremes of their ids, their newest change, their entries and tags):
  it changes whenever the feed's content would, and costs a couple of milliseconds;
- :meth:`ExportQueries.export_rows`: the articles with their texts, HTML, feeds and tags,
  and the stamp from the same transaction (one snapshot), for rendering.

Nothing here decides what an export may show (the republish policy) or how it looks: that is
``aggregator.export``.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, case, cast, exists, func, select
from sqlalchemy.orm import Session

from aggregator.store.base import StoreBase
from aggregator.store.records.export import ExportArticle, ExportFeed, ExportIndexRow, ExportStamp
from aggregator.store.tables import (
    ArticleRow,
    ArticleTagRow,
    EntryRow,
    FeedRow,
    StoryArticleRow,
)

# Characters of text loaded for an article that has HTML: enough for its lead.
TEXT_PREFIX_CHARS = 1000

__all__ = ["ExportArticle", "ExportFeed", "ExportIndexRow", "ExportQueries", "ExportStamp"]


class ExportQueries(StoreBase):
    def export_feeds(self) -> dict[int, ExportFeed]:
        """Every known feed by id (a few hundred rows at most)."""
        with self._read() as session:
            return self._feeds(session)

    def _feeds(self, session: Session) -> dict[int, ExportFeed]:
        stmt = select(FeedRow.id, FeedRow.url, FeedRow.title, FeedRow.site_url)
        return {
            fid: ExportFeed(fid, url, title, site)
            for fid, url, title, site in session.execute(stmt)
        }

    def export_stamp(
        self, *, tags: Sequence[str] = (), since: datetime | None = None, limit: int = 100
    ) -> tuple[ExportStamp, dict[int, ExportFeed]]:
        """What changes whenever the generated feed's content would (one aggregate query over
        the selected rows, no texts), and the feeds, from one snapshot."""
        with self._read() as session:
            return self._stamp(session, tags, since, limit), self._feeds(session)

    def export_rows(
        self, *, tags: Sequence[str] = (), since: datetime | None = None, limit: int = 100
    ) -> tuple[ExportStamp, dict[int, ExportFeed], list[ExportArticle]]:
        """The selected articles, newest first seen first, with their feeds and tags, and
        :meth:`export_stamp`, from one snapshot."""
        columns = (
            ArticleRow.id,
            ArticleRow.key_hash,
            ArticleRow.url,
            ArticleRow.title,
            ArticleRow.author,
            ArticleRow.summary,
            # The text serves the lead (its opening) and stands in for missing HTML (whole).
            case(
                (ArticleRow.html == "", ArticleRow.text),
                else_=func.substr(ArticleRow.text, 1, TEXT_PREFIX_CHARS),
            ),
            ArticleRow.html,
            ArticleRow.language,
            ArticleRow.published_at,
            ArticleRow.updated_at,
            ArticleRow.first_seen_at,
            ArticleRow.changed_at,
        )
        with self._read() as session:
            stamp = self._stamp(session, tags, since, limit)
            feeds = self._feeds(session)
            index = self._index(session, tags, since, limit)
            ids = select(self._top(tags, since, limit).subquery().c.id)
            # Plain columns, not ORM objects: a thousand full texts load in a third of the time.
            loaded = {
                found[0]: found
                for found in session.execute(select(*columns).where(ArticleRow.id.in_(ids)))
            }
        articles = []
        for row in index:
            a = loaded.get(row.id)
            if a is None:
                continue
            articles.append(
                ExportArticle(
                    id=a[0],
                    key_hash=a[1],
                    url=a[2],
                    title=a[3],
                    author=a[4],
                    summary=a[5],
                    text=a[6],
                    html=a[7],
                    language=a[8],
                    published_at=a[9],
                    updated_at=a[10],
                    first_seen_at=a[11],
                    changed_at=a[12],
                    feed_ids=row.feed_ids,
                    tags=row.tags,
                )
            )
        return stamp, feeds, articles

    def _top(self, tags: Sequence[str], since: datetime | None, limit: int) -> Any:
        stmt = select(ArticleRow.id, ArticleRow.changed_at)
        if since is not None:
            stmt = stmt.where(ArticleRow.first_seen_at >= since)
        if tags:
            stmt = stmt.where(
                exists()
                .where(ArticleTagRow.article_id == ArticleRow.id, ArticleTagRow.tag.in_(list(tags)))
                .correlate(ArticleRow)
            )
        return stmt.order_by(ArticleRow.first_seen_at.desc(), ArticleRow.id.desc()).limit(limit)

    def _stamp(
        self, session: Session, tags: Sequence[str], since: datetime | None, limit: int
    ) -> ExportStamp:
        # A CTE: used three times, evaluated once (SQLite and PostgreSQL materialize it).
        top = self._top(tags, since, limit).cte("top")
        ids = select(top.c.id)
        big = cast(top.c.id, BigInteger)
        stmt = select(
            func.count(),
            func.max(top.c.changed_at),
            func.coalesce(func.sum(big), 0),
            func.coalesce(func.sum(big * big), 0),
            func.coalesce(func.min(top.c.id), 0),
            func.coalesce(func.max(top.c.id), 0),
            select(func.coalesce(func.max(EntryRow.id), 0))
            .where(EntryRow.article_id.in_(ids))
            .scalar_subquery(),
            select(func.count())
            .select_from(ArticleTagRow)
            .where(ArticleTagRow.article_id.in_(ids))
            .scalar_subquery(),
            # Story assignments (export.collapse_stories): `stories rebuild` changes them
            # without touching the articles.
            select(func.coalesce(func.sum(cast(StoryArticleRow.story_id, BigInteger)), 0))
            .where(StoryArticleRow.article_id.in_(ids))
            .scalar_subquery(),
        )
        count, newest, *numbers = session.execute(stmt).one()
        return ExportStamp(int(count), newest, tuple(int(n or 0) for n in numbers))

    def _index(
        self, session: Session, tags: Sequence[str], since: datetime | None, limit: int
    ) -> list[ExportIndexRow]:
        top = self._top(tags, since, limit)
        rows = session.execute(top).all()
        ids = select(top.subquery().c.id)
        feeds: dict[int, list[int]] = {}
        found_tags: dict[int, list[str]] = {}
        # Subqueries rather than IN lists of a thousand bound ids: compiling those costs more
        # than running the query.
        for aid, fid in session.execute(
            select(EntryRow.article_id, EntryRow.feed_id)
            .where(EntryRow.article_id.in_(ids))
            .order_by(EntryRow.article_id, EntryRow.id)
        ):
            if fid not in feeds.setdefault(aid, []):
                feeds[aid].append(fid)
        for aid, tag in session.execute(
            select(ArticleTagRow.article_id, ArticleTagRow.tag)
            .where(ArticleTagRow.article_id.in_(ids))
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
