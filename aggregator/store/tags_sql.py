"""Queries of ``aggregator tags``: what re-tagging reads, and the batch write that replaces
every tag of some articles at once (one transaction per batch: an article is never seen
half-tagged, and an interrupted retag leaves each article with its old or its new tags).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime

from sqlalchemy import delete, func, insert, select, update

from aggregator.models import TagAssignment
from aggregator.store.base import StoreBase, clean, split_categories
from aggregator.store.records.service import ArticleToTag
from aggregator.store.tables import ArticleRow, ArticleTagRow, EntryRow, FeedRow, TagModelRow

__all__ = ["ArticleToTag", "TagQueries"]


class TagQueries(StoreBase):
    def count_articles_to_tag(self, since: datetime | None) -> int:
        stmt = select(func.count()).select_from(ArticleRow)
        if since is not None:
            stmt = stmt.where(ArticleRow.first_seen_at >= since)
        with self._read() as session:
            return session.scalar(stmt) or 0

    def articles_to_tag(
        self, since: datetime | None, after_id: int, limit: int
    ) -> list[ArticleToTag]:
        """The next ``limit`` articles by id after ``after_id`` (keyset paging: stable while
        the daemon adds articles)."""
        stmt = select(ArticleRow.id, ArticleRow.title, ArticleRow.text, ArticleRow.url)
        stmt = stmt.where(ArticleRow.id > after_id).order_by(ArticleRow.id).limit(limit)
        if since is not None:
            stmt = stmt.where(ArticleRow.first_seen_at >= since)
        with self._read() as session:
            rows = session.execute(stmt).all()
            ids = [r.id for r in rows]
            feeds: dict[int, list[tuple[str, str | None]]] = {i: [] for i in ids}
            categories: dict[int, list[str]] = {i: [] for i in ids}
            if ids:
                for article_id, url, title, stored in session.execute(
                    select(EntryRow.article_id, FeedRow.url, FeedRow.title, EntryRow.categories)
                    .join(FeedRow, FeedRow.id == EntryRow.feed_id)
                    .where(EntryRow.article_id.in_(ids))
                    .order_by(EntryRow.article_id, FeedRow.id)
                ):
                    if (url, title) not in feeds[article_id]:
                        feeds[article_id].append((url, title))
                    for value in split_categories(stored):
                        if value not in categories[article_id]:
                            categories[article_id].append(value)
                # Articles stored before the raw values were (schema 0007) still have the
                # values that gave them a tag.
                for article_id, detail in session.execute(
                    select(ArticleTagRow.article_id, ArticleTagRow.detail).where(
                        ArticleTagRow.article_id.in_(ids), ArticleTagRow.source == "category"
                    )
                ):
                    if detail and detail not in categories[article_id]:
                        categories[article_id].append(detail)
        return [
            ArticleToTag(
                id=r.id,
                title=r.title,
                text=r.text,
                url=r.url,
                feeds=tuple(feeds[r.id]),
                categories=tuple(categories[r.id]),
            )
            for r in rows
        ]

    def replace_tags(
        self, tags: Mapping[int, Sequence[TagAssignment]], now: datetime | None = None
    ) -> None:
        """Replace every tag of these articles, all in one transaction. An article whose set
        of tags changes counts as changed (``changed_at``): its exported entry now has other
        categories, and the exports' validators must say so."""
        if not tags:
            return
        with self._write() as session:
            before: dict[int, set[str]] = {article_id: set() for article_id in tags}
            for article_id, tag in session.execute(
                select(ArticleTagRow.article_id, ArticleTagRow.tag).where(
                    ArticleTagRow.article_id.in_(list(tags))
                )
            ):
                before[article_id].add(tag)
            changed = [
                article_id
                for article_id, assignments in tags.items()
                if {t.tag for t in assignments} != before[article_id]
            ]
            if changed:
                session.execute(
                    update(ArticleRow)
                    .where(ArticleRow.id.in_(changed))
                    .values(changed_at=now or datetime.now(UTC))
                )
            session.execute(delete(ArticleTagRow).where(ArticleTagRow.article_id.in_(list(tags))))
            rows = [
                {
                    "article_id": article_id,
                    "tag": t.tag,
                    "source": t.source,
                    "score": t.score,
                    "detail": clean(t.detail) or "",
                }
                for article_id, assignments in tags.items()
                for t in {(t.tag, t.source): t for t in assignments}.values()
            ]
            if rows:
                session.execute(insert(ArticleTagRow), rows)

    def save_tag_model(self, name: str, meta: str, arrays: bytes, now: datetime) -> None:
        """Store (or replace) a learned tag model, in one transaction."""
        with self._write() as session:
            session.execute(delete(TagModelRow).where(TagModelRow.name == name))
            session.add(TagModelRow(name=name, created_at=now, meta=meta, arrays=arrays))

    def load_tag_model(self, name: str) -> tuple[str, bytes] | None:
        """``(meta JSON, arrays)`` of a learned tag model, or None."""
        with self._read() as session:
            row = session.execute(
                select(TagModelRow.meta, TagModelRow.arrays).where(TagModelRow.name == name)
            ).first()
        return (row.meta, bytes(row.arrays)) if row is not None else None

    def delete_tag_model(self, name: str) -> bool:
        with self._write() as session:
            result = session.execute(delete(TagModelRow).where(TagModelRow.name == name))
            return bool(result.rowcount)  # type: ignore[attr-defined]
