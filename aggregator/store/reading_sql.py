"""Queries of the reading commands: the digest's rows and counts, one article for ``show``,
read/unread marks, small named state values (the time of the last digest, for
``--since last``), and ranked full-text search.

Plain SQL over :class:`aggregator.store.dbapi.Sql`, the same text on SQLite and PostgreSQL
(where they differ, search, both are spelled out): no SQLAlchemy import, so that ``digest``,
``show`` and ``search`` start fast (see dbapi.py). The store runs these same queries over its
engine's connection (``Store.reader()``).

The digest must stay fast on years of news (a million articles): its rows are found through
``ix_articles_published_at`` (or ``ix_articles_first_seen_at``) and only the opening of each
text is loaded (the lead needs a sentence or two), never the full text or HTML of articles
the digest will not print.

Search tokens come from :mod:`aggregator.text.search`; the index itself (FTS5 ``article_fts`` on
SQLite, ``article_search`` tsvectors on PostgreSQL) is kept by ``search_sql.py``, which
explains its design.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import replace
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from aggregator.errors import StoreError
from aggregator.models import StoryInfo, StoryMember
from aggregator.store.dbapi import Array, Sql, as_utc
from aggregator.store.records.reading import ArticleDetail, DigestRow, SearchHit

if TYPE_CHECKING:
    from aggregator.text.search import Term

__all__ = [
    "LEAD_SOURCE_CHARS",
    "MAX_LIMIT",
    "Reading",
    "stems",
]

# Characters of text loaded per digest row: two sentences with a dateline before them fit
# well inside this; loading whole texts would make a day's digest read megabytes.
LEAD_SOURCE_CHARS = 800
SUMMARY_SOURCE_CHARS = 400
MAX_LIMIT = 1000
# bm25 column weights (title, body): a title hit outranks body-only hits.
_BM25_WEIGHTS = (5.0, 1.0)
# ts_rank_cd weights for D, C, B (body), A (title); normalization 1 divides by 1 + log of
# the document length, as bm25 normalizes for length.
_PG_RANK = "ts_rank_cd('{0.1, 0.1, 0.2, 1.0}'::float4[], s.doc, q.q, 1)"
# A term found in more articles than this is ranked among its newest this many matches
# (by when aggregator stored them): scoring every one of 200,000 matches of a common word
# costs ~150 ms on SQLite, and among that many a news reader wants the recent ones anyway.
SEARCH_WINDOW = 10_000
# Extra candidates ranked by score alone before dates break ties (see _sqlite_top).
_TIE_SLACK = 50
_WHEN = "COALESCE(a.published_at, a.first_seen_at)"
_OPENINGS = f"substr(a.text, 1, {LEAD_SOURCE_CHARS}), substr(a.summary, 1, {SUMMARY_SOURCE_CHARS})"
# The feed through which the article was first seen: the outlet shown for it. A correlated
# lookup on ix_entries_article_id, per row, instead of a GROUP BY over every entry.
_FIRST_FEED = "(SELECT e.feed_id FROM entries e WHERE e.article_id = a.id ORDER BY e.id LIMIT 1)"


def _utc(value: Any) -> datetime:
    found = as_utc(value)
    if found is None:
        raise StoreError("a stored article has no first-seen time")
    return found


def _period(
    since: datetime, tags: Sequence[str], feeds: Sequence[str], by_first_seen: bool
) -> tuple[str, dict[str, Any]]:
    """The WHERE clause of a digest period (on ``articles a``), shared by rows and counts."""
    if by_first_seen:
        where = "a.first_seen_at >= :since"
    else:
        # Both branches are answered from ix_articles_published_at (a range, and the
        # NULLs), so the query reads only the period, not the table.
        where = (
            "(a.published_at >= :since OR (a.published_at IS NULL AND a.first_seen_at >= :since))"
        )
    params: dict[str, Any] = {"since": since}
    if tags:
        where += (
            " AND EXISTS (SELECT 1 FROM article_tags t WHERE t.article_id = a.id"
            " AND t.tag IN (:tags))"
        )
        params["tags"] = list(tags)
    if feeds:
        where += (
            " AND EXISTS (SELECT 1 FROM entries e WHERE e.article_id = a.id"
            " AND e.feed_id IN (SELECT f.id FROM feeds f WHERE f.url IN (:feeds)))"
        )
        params["feeds"] = list(feeds)
    return where, params


def stems(sql: Sql, words: set[str]) -> dict[str, list[str]]:
    """English lexemes of ``words`` (PostgreSQL's english_stem); a stop word maps to []."""
    out: dict[str, list[str]] = {}
    ordered = sorted(words)
    for start in range(0, len(ordered), 5000):
        rows = sql.rows(
            "SELECT w, ts_lexize('english_stem', w) FROM unnest(CAST(:w AS text[])) AS w",
            {"w": Array(ordered[start : start + 5000])},
        )
        for word, lexemes in rows:
            out[word] = list(lexemes or [])
    return out


class Reading:
    """The reading queries over one :class:`Sql` connection."""

    def __init__(self, sql: Sql, *, search_window: int = SEARCH_WINDOW) -> None:
        self.sql = sql
        self.search_window = search_window

    # -- digest -------------------------------------------------------------------------------

    def digest_rows(
        self,
        since: datetime,
        *,
        tags: Sequence[str] = (),
        feeds: Sequence[str] = (),
        limit: int = 2000,
        by_first_seen: bool = False,
        with_text: bool = True,
    ) -> list[DigestRow]:
        """Articles published since ``since`` (first seen since then when the feed gave no
        date), newest first, at most ``limit``; only those with one of ``tags`` / seen
        through one of the feed URLs ``feeds`` when given.

        ``by_first_seen`` selects what aggregator first saw since ``since`` instead: for
        "since the last digest", where an article published before the last digest but
        fetched after it must still come (ix_articles_first_seen_at answers it).

        ``with_text=False`` leaves ``text_start``/``summary_start`` empty: reading the
        openings of thousands of texts is most of the query's time, and a digest shows a
        few dozen stories; :meth:`with_text` then loads them for those alone."""
        where, params = _period(since, tags, feeds, by_first_seen)
        texts = f", {_OPENINGS}" if with_text else ""
        with self.sql.transaction():
            rows = self.sql.rows(
                f"SELECT a.id, a.title, a.url, a.published_at, a.first_seen_at, a.read_at{texts} "
                f"FROM articles a WHERE {where} "
                f"ORDER BY {_WHEN} DESC, a.id DESC LIMIT :limit",
                {**params, "limit": limit},
            )
            ids = [row[0] for row in rows]
            tag_map = self._tags(ids)
            first_feed = self._first_feeds(ids)
            feed_by_id = self._feeds(set(first_feed.values()))
        out = []
        for row in rows:
            aid, title, url, published, first_seen, read_at = row[:6]
            feed_url, feed_title = feed_by_id.get(first_feed.get(aid, -1), ("", None))
            out.append(
                DigestRow(
                    id=aid,
                    title=title or "",
                    url=url,
                    feed_url=feed_url,
                    feed_title=feed_title,
                    published_at=as_utc(published),
                    first_seen_at=_utc(first_seen),
                    tags=tag_map.get(aid, ()),
                    text_start=(row[6] or "") if with_text else "",
                    summary_start=(row[7] or "") if with_text else "",
                    read_at=as_utc(read_at),
                )
            )
        return out

    def with_text(self, rows: Sequence[DigestRow], ids: Iterable[int]) -> list[DigestRow]:
        """``rows`` with the text openings of the articles ``ids`` loaded (see
        :meth:`digest_rows`)."""
        wanted = sorted(set(ids))
        found: dict[int, tuple[str, str]] = {}
        with self.sql.transaction():
            for start in range(0, len(wanted), 500):
                for aid, text, summary in self.sql.rows(
                    f"SELECT a.id, {_OPENINGS} FROM articles a WHERE a.id IN (:ids)",
                    {"ids": wanted[start : start + 500]},
                ):
                    found[aid] = (text or "", summary or "")
        return [
            replace(row, text_start=found[row.id][0], summary_start=found[row.id][1])
            if row.id in found
            else row
            for row in rows
        ]

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
        where, params = _period(since, tags, feeds, by_first_seen)
        if ranked:
            cases = " ".join(f"WHEN :rank_{i} THEN {i}" for i in range(len(ranked)))
            rank = f"MIN(CASE r.tag {cases} ELSE NULL END)"
            params.update({f"rank_{i}": tag for i, tag in enumerate(ranked)})
        else:
            rank = "NULL"
        with self.sql.transaction():
            found = self.sql.rows(
                f"SELECT p.rank, count(*) FROM (SELECT a.id, {rank} AS rank FROM articles a "
                f"LEFT JOIN article_tags r ON r.article_id = a.id WHERE {where} "
                "GROUP BY a.id) p GROUP BY p.rank",
                params,
            )
        return {(None if r is None else ranked[int(r)]): int(n) for r, n in found}

    def _tags(self, ids: Sequence[int]) -> dict[int, tuple[str, ...]]:
        found: dict[int, dict[str, None]] = {}
        for start in range(0, len(ids), 500):
            for article_id, tag in self.sql.rows(
                "SELECT article_id, tag FROM article_tags WHERE article_id IN (:ids) "
                "ORDER BY article_id, tag",
                {"ids": list(ids[start : start + 500])},
            ):
                found.setdefault(article_id, {})[tag] = None
        return {article_id: tuple(tags) for article_id, tags in found.items()}

    def _first_feeds(self, ids: Sequence[int]) -> dict[int, int]:
        """The feed through which each article was first seen: the outlet shown for it."""
        found: dict[int, int] = {}
        for start in range(0, len(ids), 500):
            for article_id, feed_id in self.sql.rows(
                "SELECT article_id, feed_id FROM entries WHERE article_id IN (:ids) "
                "ORDER BY article_id, id",
                {"ids": list(ids[start : start + 500])},
            ):
                found.setdefault(article_id, feed_id)
        return found

    def _feeds(self, ids: set[int]) -> dict[int, tuple[str, str | None]]:
        if not ids:
            return {}
        return {
            fid: (url, title)
            for fid, url, title in self.sql.rows(
                "SELECT id, url, title FROM feeds WHERE id IN (:ids)", {"ids": sorted(ids)}
            )
        }

    # -- one article, marks, state -----------------------------------------------------------

    def article(self, article_id: int) -> ArticleDetail | None:
        """One article with its full text, for ``aggregator show``."""
        with self.sql.transaction():
            row = self.sql.one(
                "SELECT a.id, a.title, a.url, a.author, a.published_at, a.updated_at, "
                "a.first_seen_at, a.text, a.summary, a.text_source, a.read_at, a.starred, "
                f"{_FIRST_FEED} FROM articles a WHERE a.id = :id",
                {"id": article_id},
            )
            if row is None:
                return None
            feed = self._feeds({row[12]} if row[12] is not None else set()).get(row[12])
            tags = self._tags([article_id]).get(article_id, ())
        return ArticleDetail(
            id=row[0],
            title=row[1] or "",
            url=row[2],
            feed_url=feed[0] if feed else "",
            feed_title=feed[1] if feed else None,
            author=row[3],
            published_at=as_utc(row[4]),
            updated_at=as_utc(row[5]),
            first_seen_at=_utc(row[6]),
            tags=tags,
            text=row[7] or "",
            summary=row[8] or "",
            text_source=row[9] or "none",
            read_at=as_utc(row[10]),
            starred=bool(row[11]),
        )

    def mark_read(self, article_ids: Sequence[int], read: bool, now: datetime | None = None) -> int:
        """Mark articles read (keeping the first read time) or unread; returns how many of
        ``article_ids`` exist (already read or unread ones count: the state is as asked)."""
        ids = list(dict.fromkeys(article_ids))
        if not ids:
            return 0
        changed = 0
        with self.sql.transaction(write=True):
            for start in range(0, len(ids), 500):
                chunk = ids[start : start + 500]
                if read:
                    changed += self.sql.execute(
                        "UPDATE articles SET read_at = COALESCE(read_at, :now) WHERE id IN (:ids)",
                        {"now": now or datetime.now(UTC), "ids": chunk},
                    )
                else:
                    changed += self.sql.execute(
                        "UPDATE articles SET read_at = NULL WHERE id IN (:ids)", {"ids": chunk}
                    )
        return changed

    def set_starred(self, article_ids: Sequence[int], starred: bool) -> int:
        """Star (retention keeps them forever) or unstar; returns how many exist."""
        ids = list(dict.fromkeys(article_ids))
        if not ids:
            return 0
        with self.sql.transaction(write=True):
            return self.sql.execute(
                "UPDATE articles SET starred = :starred WHERE id IN (:ids)",
                {"starred": starred, "ids": ids},
            )

    def get_state(self, key: str) -> str | None:
        with self.sql.transaction():
            row = self.sql.one("SELECT value FROM state WHERE key = :key", {"key": key})
        return None if row is None else str(row[0])

    def set_state(self, key: str, value: str, now: datetime | None = None) -> None:
        with self.sql.transaction(write=True):
            self.sql.execute(
                "INSERT INTO state (key, value, updated_at) VALUES (:key, :value, :now) "
                "ON CONFLICT (key) DO UPDATE SET value = excluded.value, "
                "updated_at = excluded.updated_at",
                {"key": key, "value": value.replace("\x00", ""), "now": now or datetime.now(UTC)},
            )

    # -- stories ------------------------------------------------------------------------------

    def story_info(self, article_ids: Sequence[int]) -> dict[int, StoryInfo]:
        """The story of each article among ``article_ids`` that shares one with another
        article (a story of one is no story), with all of its members, earliest first."""
        ids = list(dict.fromkeys(article_ids))
        story_of: dict[int, int] = {}
        with self.sql.transaction():
            for start in range(0, len(ids), 500):
                story_of.update(
                    self.sql.rows(
                        "SELECT sa.article_id, sa.story_id FROM story_articles sa "
                        "JOIN stories s ON s.id = sa.story_id "
                        "WHERE sa.article_id IN (:ids) AND s.article_count > 1",
                        {"ids": ids[start : start + 500]},
                    )
                )
            members = self._members(sorted(set(story_of.values())))
        return {
            article_id: StoryInfo(story_id, tuple(members.get(story_id, ())))
            for article_id, story_id in story_of.items()
            if len(members.get(story_id, ())) > 1
        }

    def story_members(self, article_id: int) -> list[StoryMember]:
        """Every article of ``article_id``'s story (itself included), earliest first."""
        info = self.story_info([article_id]).get(article_id)
        return list(info.members) if info else []

    def _members(self, story_ids: Sequence[int]) -> dict[int, list[StoryMember]]:
        rows: list[tuple[Any, ...]] = []
        for start in range(0, len(story_ids), 500):
            rows += self.sql.rows(
                f"SELECT sa.story_id, a.id, a.title, a.url, sa.seen_at, {_FIRST_FEED} "
                "FROM story_articles sa JOIN articles a ON a.id = sa.article_id "
                "WHERE sa.story_id IN (:ids) ORDER BY sa.story_id, sa.seen_at, a.id",
                {"ids": list(story_ids[start : start + 500])},
            )
        feeds = self._feeds({row[5] for row in rows if row[5] is not None})
        out: dict[int, list[StoryMember]] = {}
        for story_id, article_id, title, url, seen_at, feed_id in rows:
            feed_url, feed_title = feeds.get(feed_id, ("", None))
            out.setdefault(story_id, []).append(
                StoryMember(
                    article_id=article_id,
                    outlet=feed_title or feed_url or "",
                    title=title or "",
                    url=url,
                    published=_utc(seen_at),
                )
            )
        return out

    # -- search ---------------------------------------------------------------------------------

    def search(
        self,
        query: str,
        *,
        tags: Sequence[str] = (),
        since: datetime | None = None,
        limit: int = 20,
    ) -> list[SearchHit]:
        """Articles matching every term of ``query``, best first (newest first among equal
        scores). ``tags``: any of them; ``since``: published (or first seen) at or after.
        Raises StoreError for a query with nothing to search for."""
        # Imported here: the tokenizer's patterns cost ~15 ms, which digest and show need not pay.
        from aggregator.text import search as tok

        terms = tok.parse_query(query)
        if since is not None and since.tzinfo is None:
            raise StoreError("search: since must be an aware datetime")
        limit = max(0, min(limit, MAX_LIMIT))
        if limit == 0:
            return []
        with self.sql.transaction():
            ranked = self._ranked(terms, list(tags), since, limit)
            return self._hits(terms, ranked) if ranked else []

    def _ranked(
        self, terms: Sequence[Term], tags: list[str], since: datetime | None, limit: int
    ) -> list[tuple[int, float]]:
        from aggregator.text import search as tok

        params: dict[str, Any] = {"limit": limit}
        filters = ""
        if tags:
            filters += " AND a.id IN (SELECT article_id FROM article_tags WHERE tag IN (:tags))"
            params["tags"] = tags
        if since is not None:
            filters += f" AND {_WHEN} >= :since"
            params["since"] = since
        if self.sql.dialect == "sqlite":
            params["q"] = tok.fts5_query(terms)
            if not filters:
                return self._sqlite_top(params["q"], limit)
            title_w, body_w = _BM25_WEIGHTS
            # bm25 is negative, lower is better; the score is its negation.
            sql = (
                f"SELECT a.id, -bm25(article_fts, {title_w}, {body_w}) AS score "
                "FROM article_fts JOIN articles a ON a.id = article_fts.rowid "
                f"WHERE article_fts MATCH :q{filters} "
                f"ORDER BY score DESC, {_WHEN} DESC, a.id DESC LIMIT :limit"
            )
        else:
            words = tok.word_tokens([t.tokens for t in terms])
            tsquery = tok.tsquery(terms, stems(self.sql, words) if words else {})
            if not tsquery:  # only English stop words, which PostgreSQL does not index
                return []
            params["q"] = tsquery
            sql = (
                f"SELECT a.id, {_PG_RANK} AS score "
                "FROM (SELECT CAST(:q AS tsquery) AS q) AS q "
                "JOIN article_search s ON s.doc @@ q.q "
                "JOIN articles a ON a.id = s.article_id "
                f"WHERE TRUE{filters} "
                f"ORDER BY score DESC, {_WHEN} DESC, a.id DESC LIMIT :limit"
            )
        return [(int(i), float(score)) for i, score in self.sql.rows(sql, params)]

    def _sqlite_top(self, match: str, limit: int) -> list[tuple[int, float]]:
        """The unfiltered ranking, fast: bm25 of the newest ``search_window`` matches from FTS5
        alone (in the index's own rowid order, so nothing else is scored or joined), then
        the dates of the best ones only, to break ties among equal scores."""
        title_w, body_w = _BM25_WEIGHTS
        scored = self.sql.rows(
            f"SELECT rowid, -bm25(article_fts, {title_w}, {body_w}) FROM article_fts "
            "WHERE article_fts MATCH :q ORDER BY rowid DESC LIMIT :window",
            {"q": match, "window": self.search_window},
        )
        scored.sort(key=lambda hit: hit[1], reverse=True)
        cut = limit + _TIE_SLACK
        candidates = scored[:cut]
        if len(scored) > cut:  # every match tied with the last candidate competes too
            edge = scored[cut - 1][1]
            candidates += [hit for hit in scored[cut:] if hit[1] == edge]
        if not candidates:
            return []
        dates = {
            article_id: as_utc(at)
            for article_id, at in self.sql.rows(
                f"SELECT a.id, {_WHEN} FROM articles a WHERE a.id IN (:ids)",
                {"ids": [c[0] for c in candidates]},
            )
        }
        return sorted(
            ((int(i), float(score)) for i, score in candidates if i in dates),
            key=lambda hit: (hit[1], dates[hit[0]], hit[0]),
            reverse=True,
        )[:limit]

    def _hits(self, terms: Sequence[Term], ranked: list[tuple[int, float]]) -> list[SearchHit]:
        from aggregator.text import search as tok

        ids = [i for i, _ in ranked]
        rows = {
            row[0]: row
            for row in self.sql.rows(
                "SELECT id, title, url, text, summary, published_at, first_seen_at "
                "FROM articles WHERE id IN (:ids)",
                {"ids": ids},
            )
        }
        # The outlet: the feed of the article's first entry (as list_articles shows it).
        feeds: dict[int, str | None] = {}
        for article_id, title in self.sql.rows(
            "SELECT e.article_id, f.title FROM entries e JOIN feeds f ON f.id = e.feed_id "
            "WHERE e.article_id IN (:ids) ORDER BY e.article_id, e.id",
            {"ids": ids},
        ):
            feeds.setdefault(article_id, title)
        hits = []
        for article_id, score in ranked:
            row = rows.get(article_id)
            if row is None:
                continue
            _, title, url, text, summary, published, first_seen = row
            snippet, matched = tok.snippet(title or "", tok.search_body(text, summary), terms)
            hits.append(
                SearchHit(
                    article_id=article_id,
                    title=title or "",
                    url=url,
                    feed_title=feeds.get(article_id),
                    published_at=as_utc(published) or _utc(first_seen),
                    score=score,
                    snippet=snippet,
                    matched_terms=matched,
                )
            )
        return hits
