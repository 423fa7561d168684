"""Queries of the reading commands: the digest's rows, one article for ``show``, read/unread
marks, and small named state values (the time of the last digest, for ``--since last``).

The digest must stay fast on years of news (a million articles): its rows are found through
``ix_articles_published_at`` and only the opening of each text is loaded (the lead needs a
sentence or two), never the full text or HTML of articles the digest will not print.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import ScalarSelect, and_, case, exists, func, literal, or_, select, update
from sqlalchemy.orm import Session, aliased

from aggregator.store.base import StoreBase, chunks, clean
from aggregator.store.tables import ArticleRow, ArticleTagRow, EntryRow, FeedRow, StateRow

__all__ = ["LEAD_SOURCE_CHARS", "ArticleDetail", "DigestRow", "ReadingQueries"]

# Characters of text loaded per digest row: two sentences with a dateline before them fit
# well inside this; loading whole texts would make a day's digest read megabytes.
LEAD_SOURCE_CHARS = 800
SUMMARY_SOURCE_CHARS = 400


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


def _first_feed_id() -> ScalarSelect[int]:
    # The feed through which the article was first seen: the outlet shown for it. A
    # correlated lookup on ix_entries_article_id, per row, instead of a GROUP BY over every
    # entry in the database.
    return (
        select(EntryRow.feed_id)
        .where(EntryRow.article_id == ArticleRow.id)
        .order_by(EntryRow.id)
        .limit(1)
        .correlate(ArticleRow)
        .scalar_subquery()
    )


def _period(
    since: datetime, tags: Sequence[str], feeds: Sequence[str], by_first_seen: bool
) -> list[Any]:
    """The WHERE conditions of a digest period, shared by its rows and its counts."""
    if by_first_seen:
        conditions: list[Any] = [ArticleRow.first_seen_at >= since]
    else:
        # Both branches are answered from ix_articles_published_at (a range, and the
        # NULLs), so the query reads only the period, not the table.
        conditions = [
            or_(
                ArticleRow.published_at >= since,
                and_(ArticleRow.published_at.is_(None), ArticleRow.first_seen_at >= since),
            )
        ]
    if tags:
        conditions.append(
            exists()
            .where(ArticleTagRow.article_id == ArticleRow.id, ArticleTagRow.tag.in_(list(tags)))
            .correlate(ArticleRow)
        )
    if feeds:
        conditions.append(
            exists()
            .where(
                EntryRow.article_id == ArticleRow.id,
                EntryRow.feed_id.in_(select(FeedRow.id).where(FeedRow.url.in_(list(feeds)))),
            )
            .correlate(ArticleRow)
        )
    return conditions


class ReadingQueries(StoreBase):
    def digest_rows(
        self,
        since: datetime,
        *,
        tags: Sequence[str] = (),
        feeds: Sequence[str] = (),
        limit: int = 2000,
        by_first_seen: bool = False,
    ) -> list[DigestRow]:
        """Articles published since ``since`` (first seen since then when the feed gave no
        date), newest first, at most ``limit``; only those with one of ``tags`` / seen
        through one of the feed URLs ``feeds`` when given.

        ``by_first_seen`` selects what aggregator first saw since ``since`` instead: for
        "since the last digest", where an article published before the last digest but
        fetched after it must still come (ix_articles_first_seen_at answers it)."""
        when = func.coalesce(ArticleRow.published_at, ArticleRow.first_seen_at)
        stmt = (
            select(
                ArticleRow.id,
                ArticleRow.title,
                ArticleRow.url,
                ArticleRow.published_at,
                ArticleRow.first_seen_at,
                ArticleRow.read_at,
                func.substr(ArticleRow.text, 1, LEAD_SOURCE_CHARS),
                func.substr(ArticleRow.summary, 1, SUMMARY_SOURCE_CHARS),
                _first_feed_id(),
            )
            .where(*_period(since, tags, feeds, by_first_seen))
            .order_by(when.desc(), ArticleRow.id.desc())
            .limit(limit)
        )
        with self._read() as session:
            rows = session.execute(stmt).all()
            ids = [row[0] for row in rows]
            tag_map = self._tags(session, ids)
            feed_ids = {row[8] for row in rows}
            feed_rows = session.execute(
                select(FeedRow.id, FeedRow.url, FeedRow.title).where(FeedRow.id.in_(list(feed_ids)))
            ).all()
        feed_by_id = {fid: (url, title) for fid, url, title in feed_rows}
        out = []
        for aid, title, url, published, first_seen, read_at, text, summary, fid in rows:
            feed_url, feed_title = feed_by_id.get(fid, ("", None))
            out.append(
                DigestRow(
                    id=aid,
                    title=title,
                    url=url,
                    feed_url=feed_url,
                    feed_title=feed_title,
                    published_at=published,
                    first_seen_at=first_seen,
                    tags=tag_map.get(aid, ()),
                    text_start=text or "",
                    summary_start=summary or "",
                    read_at=read_at,
                )
            )
        return out

    def digest_counts(
        self,
        since: datetime,
        *,
        tag_order: Sequence[str],
        tags: Sequence[str] = (),
        feeds: Sequence[str] = (),
        by_first_seen: bool = False,
    ) -> dict[str | None, int]:
        """How many articles of the period fall under each tag, each counted once under its
        first tag in ``tag_order`` (None: none of them) — the digest's counts, computed in
        the database for periods with more articles than the digest loads."""
        ranked = list(dict.fromkeys(tag_order))
        # An alias: the period's own EXISTS on article_tags must not correlate to this join.
        tagged = aliased(ArticleTagRow)
        if ranked:
            rank: Any = func.min(
                case({t: i for i, t in enumerate(ranked)}, value=tagged.tag, else_=None)
            )
        else:
            rank = literal(None)
        per_article = (
            select(ArticleRow.id, rank.label("rank"))
            .select_from(ArticleRow)
            .outerjoin(tagged, tagged.article_id == ArticleRow.id)
            .where(*_period(since, tags, feeds, by_first_seen))
            .group_by(ArticleRow.id)
            .subquery()
        )
        stmt = select(per_article.c.rank, func.count()).group_by(per_article.c.rank)
        with self._read() as session:
            return {
                (None if r is None else ranked[int(r)]): int(n) for r, n in session.execute(stmt)
            }

    def _tags(self, session: Session, ids: Sequence[int]) -> dict[int, tuple[str, ...]]:
        found: dict[int, dict[str, None]] = {}
        for chunk in chunks(list(ids), 500):
            stmt = (
                select(ArticleTagRow.article_id, ArticleTagRow.tag)
                .where(ArticleTagRow.article_id.in_(chunk))
                .order_by(ArticleTagRow.article_id, ArticleTagRow.tag)
            )
            for article_id, tag in session.execute(stmt):
                found.setdefault(article_id, {})[tag] = None
        return {article_id: tuple(tags) for article_id, tags in found.items()}

    def article(self, article_id: int) -> ArticleDetail | None:
        """One article with its full text, for ``aggregator show``."""
        stmt = select(ArticleRow, _first_feed_id()).where(ArticleRow.id == article_id)
        with self._read() as session:
            found = session.execute(stmt).one_or_none()
            if found is None:
                return None
            row, feed_id = found
            feed = session.execute(
                select(FeedRow.url, FeedRow.title).where(FeedRow.id == feed_id)
            ).one_or_none()
            tags = self._tags(session, [article_id]).get(article_id, ())
            return ArticleDetail(
                id=row.id,
                title=row.title,
                url=row.url,
                feed_url=feed[0] if feed else "",
                feed_title=feed[1] if feed else None,
                author=row.author,
                published_at=row.published_at,
                updated_at=row.updated_at,
                first_seen_at=row.first_seen_at,
                tags=tags,
                text=row.text,
                summary=row.summary,
                text_source=row.text_source,
                read_at=row.read_at,
                starred=row.starred,
            )

    def mark_read(self, article_ids: Sequence[int], read: bool, now: datetime | None = None) -> int:
        """Mark articles read (keeping the first read time) or unread; returns how many of
        ``article_ids`` exist (already read or unread ones count: the state is as asked)."""
        ids = list(dict.fromkeys(article_ids))
        if not ids:
            return 0
        when = now or datetime.now(UTC)
        value = func.coalesce(ArticleRow.read_at, when) if read else None
        changed = 0
        with self._write() as session:
            for chunk in chunks(ids, 500):
                result = session.execute(
                    update(ArticleRow).where(ArticleRow.id.in_(chunk)).values(read_at=value)
                )
                changed += int(result.rowcount or 0)  # type: ignore[attr-defined]
        return changed

    def get_state(self, key: str) -> str | None:
        with self._read() as session:
            return session.scalar(select(StateRow.value).where(StateRow.key == key))

    def set_state(self, key: str, value: str, now: datetime | None = None) -> None:
        insert = self._insert(StateRow).values(
            key=key, value=clean(value) or "", updated_at=now or datetime.now(UTC)
        )
        with self._write() as session:
            session.execute(
                insert.on_conflict_do_update(
                    index_elements=["key"],
                    set_={"value": insert.excluded.value, "updated_at": insert.excluded.updated_at},
                )
            )
