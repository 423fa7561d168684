"""Story clusters in the database: prints, LSH band hashes, and the queries that read them.

An article's story is decided as it is stored, inside the feed update's transaction
(``Store.store_update``): its band hashes find the candidate articles of the time window
through the primary key of ``story_bands`` (one indexed query), their prints are verified
in Python (:func:`aggregator.store.story_match.choose_story`), and the article joins the best story
or starts one. Nothing lives in memory, so it survives restarts; on PostgreSQL a transaction-scoped
advisory lock makes the assignments of several daemons take turns (two instances storing
the same wire story at once would otherwise each start a story). A crash rolls the
assignment back with the article.

This module does not import numpy: prints arrive computed (the pipeline
does it before the transaction) and signatures are compared as plain integers.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, delete, func, insert, select, text, update
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session

from aggregator.errors import StoreError
from aggregator.models import StoryMatch, StoryPrint, unpack_signature
from aggregator.store.base import StoreBase, chunks
from aggregator.store.records.service import StorySource
from aggregator.store.story_match import choose_story
from aggregator.store.tables import (
    ArticleRow,
    StoryArticleRow,
    StoryBandRow,
    StoryRow,
)

__all__ = ["StoryQueries", "StorySource"]

# pg_advisory_xact_lock key for story assignment ("stor" in ASCII).
_STORY_LOCK_KEY = 0x73746F72


def _rowcount(result: Any) -> int:
    return int(getattr(result, "rowcount", 0) or 0)


def _candidates_statement() -> Any:
    """Built once, with bound parameters only: SQLAlchemy then reuses its compiled form
    (a literal list of 32 band hashes would be coerced and cache-keyed on every call)."""
    shared = func.count().label("shared")
    hits = (
        select(StoryBandRow.article_id, shared)
        .where(
            StoryBandRow.band_hash.in_(bindparam("bands", expanding=True)),
            StoryBandRow.seen_at >= bindparam("start"),
            StoryBandRow.seen_at <= bindparam("end"),
        )
        .group_by(StoryBandRow.article_id)
        .order_by(shared.desc(), StoryBandRow.article_id)
        .limit(bindparam("limit"))
        .subquery()
    )
    return select(
        StoryArticleRow.story_id,
        StoryArticleRow.signature,
        StoryArticleRow.size,
        StoryArticleRow.title_key,
        StoryArticleRow.language,
        StoryArticleRow.seen_at,
    ).join(hits, hits.c.article_id == StoryArticleRow.article_id)


_CANDIDATES = _candidates_statement()
# The statements of an assignment, built once with bound parameters (as _CANDIDATES): an
# article's five statements, built per call, cost more Python than the SQL they ran.
_STORY_OF = select(StoryArticleRow.story_id).where(
    StoryArticleRow.article_id == bindparam("article_id")
)
_NEW_STORY = (
    insert(StoryRow)
    .values(
        created_at=bindparam("seen_at"), first_at=bindparam("seen_at"), last_at=bindparam("seen_at")
    )
    .returning(StoryRow.id)
)


def _story_grows(least: Any, greatest: Any) -> Any:
    return (
        update(StoryRow)
        .where(StoryRow.id == bindparam("story_id"))
        .values(
            article_count=StoryRow.article_count + 1,
            first_at=least(StoryRow.first_at, bindparam("seen_at", type_=StoryRow.first_at.type)),
            last_at=greatest(StoryRow.last_at, bindparam("seen_at", type_=StoryRow.last_at.type)),
        )
    )


_STORY_GROWS = {
    "sqlite": _story_grows(func.min, func.max),
    "postgresql": _story_grows(func.least, func.greatest),
}
_INSERT_STORY_ARTICLE = insert(StoryArticleRow)
_INSERT_BANDS = insert(StoryBandRow)
_PG_INSERT_BANDS = text(
    "INSERT INTO story_bands (band_hash, article_id, seen_at) "
    "SELECT unnest(CAST(:bands AS BIGINT[])), :article_id, :seen_at"
)


class StoryQueries(StoreBase):
    # -- writing ------------------------------------------------------------------------------

    def assign_story(
        self,
        session: Session,
        article_id: int,
        fp: StoryPrint,
        match: StoryMatch,
        *,
        inserted: bool = False,
    ) -> int:
        """Put article ``article_id`` in its story, in ``session``'s transaction; returns the
        story id. An article already assigned keeps its story; one ``inserted`` in this very
        transaction has none yet, and is not looked up."""
        # Core statements on the session's connection, bound by parameters: SQLAlchemy
        # caches their compiled form, and the ORM's bulk machinery is not needed here.
        conn = session.connection()
        if not inserted:
            current = conn.execute(_STORY_OF, {"article_id": article_id}).scalar_one_or_none()
            if current is not None:
                return int(current)
        self.lock_stories(session)
        story_id = choose_story(fp, self._candidates(conn, fp, match), match)
        if story_id is None:
            story_id = conn.execute(_NEW_STORY, {"seen_at": fp.seen_at}).scalar_one()
        else:
            grows = _STORY_GROWS.get(self.dialect)
            if grows is None:
                raise StoreError(f"unsupported database backend {self.dialect!r}")
            conn.execute(grows, {"story_id": story_id, "seen_at": fp.seen_at})
        conn.execute(
            _INSERT_STORY_ARTICLE,
            {
                "article_id": article_id,
                "story_id": story_id,
                "signature": fp.signature_bytes(),
                "size": fp.size,
                "title_key": fp.title_key,
                "language": fp.language,
                "seen_at": fp.seen_at,
            },
        )
        bands = list(dict.fromkeys(fp.bands))
        if self.dialect == "postgresql":
            # One statement, one round trip (an executemany of 32 rows is 32 of them).
            conn.execute(
                _PG_INSERT_BANDS,
                {"bands": bands, "article_id": article_id, "seen_at": fp.seen_at},
            )
        else:
            conn.execute(
                _INSERT_BANDS,
                [{"band_hash": b, "article_id": article_id, "seen_at": fp.seen_at} for b in bands],
            )
        return story_id

    def lock_stories(self, session: Session) -> None:
        """Take the story lock for the rest of ``session``'s transaction (PostgreSQL).

        Take it before writing anything else: a transaction that first inserted articles
        and then waited for the lock could deadlock with one that holds the lock and waits
        on those articles' unique keys.
        """
        if self.dialect == "postgresql" and not session.info.get("story_lock"):
            session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _STORY_LOCK_KEY})
            session.info["story_lock"] = True

    def _candidates(
        self, conn: Connection, fp: StoryPrint, match: StoryMatch
    ) -> list[tuple[int, StoryPrint]]:
        """``(story id, print)`` of the window's articles sharing a band with ``fp``, the
        ones sharing the most bands first."""
        rows = conn.execute(
            _CANDIDATES,
            {
                "bands": list(dict.fromkeys(fp.bands)),
                "start": fp.seen_at - match.window,
                "end": fp.seen_at + match.window,
                "limit": match.max_candidates,
            },
        )
        return [
            (
                story_id,
                StoryPrint(
                    signature=unpack_signature(signature),
                    bands=(),
                    size=size,
                    title_key=title_key,
                    language=language,
                    seen_at=seen_at,
                ),
            )
            for story_id, signature, size, title_key, language, seen_at in rows
        ]

    def assign_stories(self, prints: Sequence[tuple[int, StoryPrint]], match: StoryMatch) -> int:
        """Assign a batch of stored articles in one transaction (``stories rebuild``);
        articles deleted meanwhile are skipped. Returns how many were assigned."""
        done = 0
        with self._write() as session:
            ids = [article_id for article_id, _ in prints]
            present = set(session.scalars(select(ArticleRow.id).where(ArticleRow.id.in_(ids))))
            for article_id, fp in prints:
                if article_id in present:
                    self.assign_story(session, article_id, fp, match)
                    done += 1
        return done

    def clear_stories(self, since: datetime | None = None) -> int:
        """Forget the stories of articles seen since ``since`` (all when None), and the
        stories left empty; returns how many article assignments were removed."""
        with self._write() as session:
            if since is None:
                removed = _rowcount(session.execute(delete(StoryArticleRow)))
                session.execute(delete(StoryBandRow))
                session.execute(delete(StoryRow))
                return int(removed)
            session.execute(delete(StoryBandRow).where(StoryBandRow.seen_at >= since))
            removed = _rowcount(
                session.execute(delete(StoryArticleRow).where(StoryArticleRow.seen_at >= since))
            )
            session.execute(
                delete(StoryRow).where(
                    ~select(StoryArticleRow.article_id)
                    .where(StoryArticleRow.story_id == StoryRow.id)
                    .exists()
                )
            )
            # Stories that lost members: their counts and times follow what is left.
            left = (
                select(
                    StoryArticleRow.story_id,
                    func.count().label("n"),
                    func.min(StoryArticleRow.seen_at).label("first_at"),
                    func.max(StoryArticleRow.seen_at).label("last_at"),
                )
                .group_by(StoryArticleRow.story_id)
                .subquery()
            )
            for story_id, n, first_at, last_at in session.execute(select(left)):
                session.execute(
                    update(StoryRow)
                    .where(StoryRow.id == story_id, StoryRow.article_count != n)
                    .values(article_count=n, first_at=first_at, last_at=last_at)
                )
            return int(removed)

    def story_sources(
        self, *, since: datetime | None, after_id: int, limit: int
    ) -> list[StorySource]:
        """Stored articles without a story, by id, for ``stories rebuild``."""
        when = func.coalesce(ArticleRow.published_at, ArticleRow.first_seen_at)
        stmt = (
            select(
                ArticleRow.id,
                ArticleRow.title,
                ArticleRow.text,
                ArticleRow.summary,
                ArticleRow.language,
                when,
            )
            .where(
                ArticleRow.id > after_id,
                ~select(StoryArticleRow.article_id)
                .where(StoryArticleRow.article_id == ArticleRow.id)
                .exists(),
            )
            .order_by(ArticleRow.id)
            .limit(limit)
        )
        if since is not None:
            stmt = stmt.where(when >= since)
        with self._read() as session:
            return [
                StorySource(i, title, text or summary, language, seen_at)
                for i, title, text, summary, language, seen_at in session.execute(stmt)
            ]

    def count_story_sources(self, since: datetime | None) -> int:
        when = func.coalesce(ArticleRow.published_at, ArticleRow.first_seen_at)
        stmt = select(func.count()).select_from(ArticleRow)
        if since is not None:
            stmt = stmt.where(when >= since)
        with self._read() as session:
            return int(session.scalar(stmt) or 0)

    def count_stories(self, since: datetime | None = None) -> int:
        """Stories with an article seen since ``since`` (all when None)."""
        stmt = select(func.count(func.distinct(StoryArticleRow.story_id)))
        if since is not None:
            stmt = stmt.where(StoryArticleRow.seen_at >= since)
        with self._read() as session:
            return int(session.scalar(stmt) or 0)

    # -- exports ------------------------------------------------------------------------------

    def story_representatives(self, article_ids: Sequence[int]) -> dict[int, tuple[int, bool]]:
        """``article id → (story id, is the story's representative)`` for the articles of
        ``article_ids`` that belong to a story; the representative is the story's earliest
        article (lowest id among equals). For exports that show one article per story."""
        out: dict[int, tuple[int, bool]] = {}
        with self._read() as session:
            for chunk in chunks(list(dict.fromkeys(article_ids)), 500):
                rows = session.execute(
                    select(StoryArticleRow.article_id, StoryArticleRow.story_id).where(
                        StoryArticleRow.article_id.in_(chunk)
                    )
                )
                story_of: dict[int, int] = {a: b for a, b in rows}
                firsts = self._earliest(session, sorted(set(story_of.values())))
                for article_id, story_id in story_of.items():
                    out[article_id] = (story_id, firsts.get(story_id) == article_id)
        return out

    def _earliest(self, session: Session, story_ids: Sequence[int]) -> dict[int, int]:
        out: dict[int, int] = {}
        for chunk in chunks(list(story_ids), 500):
            rows = session.execute(
                select(
                    StoryArticleRow.story_id, StoryArticleRow.article_id, StoryArticleRow.seen_at
                )
                .where(StoryArticleRow.story_id.in_(chunk))
                .order_by(
                    StoryArticleRow.story_id, StoryArticleRow.seen_at, StoryArticleRow.article_id
                )
            )
            for story_id, article_id, _ in rows:
                out.setdefault(story_id, article_id)
        return out
