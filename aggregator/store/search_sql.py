"""Full-text search queries: the index kept with the articles, and ranked search.

The tokens come from :mod:`aggregator.search` (character bigrams for Hangul and hanja,
words for the rest; why is explained there); the database only stores and matches them.

* SQLite: the FTS5 table ``article_fts(title, body)``, rowid = ``articles.id``, tokenizer
  ``porter unicode61 remove_diacritics 2`` (it splits the stored tokens on spaces and stems
  the English words). It keeps its content: on SQLite 3.40 a row of a contentless (or
  external-content) table can only be deleted by handing FTS5 its exact old tokens, so an
  article deleted or edited without that step, or a tokenizer change, would leave stale
  tokens behind for good. The price: the stored token text is most of the index
  (measured: 395 of 598 MB for 188 MB of article text). Ranked with ``bm25``, the title
  weighted above the body.
* PostgreSQL: ``article_search(article_id, doc tsvector)`` with a GIN index, rows removed
  with their article by ``ON DELETE CASCADE``. The tsvector and tsquery are built here as
  literals (title weight A, body B; English words replaced by their ``english_stem``
  lexemes from ``ts_lexize``), so neither depends on the text search parser or the
  database's ctype. Ranked with ``ts_rank_cd``.

Both are created by migration 0003 and maintained in the transaction that writes the
article (``Store.store_update``), so the index never disagrees with a committed article.
Neither is an ORM model (an FTS5 table cannot be one): :func:`include_name` keeps them out
of Alembic's autogenerate comparison.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, bindparam, func, select, text
from sqlalchemy.orm import Session

from aggregator import search as tok
from aggregator.errors import StoreError
from aggregator.store.base import StoreBase, chunks
from aggregator.store.tables import ArticleRow, EntryRow, FeedRow, UTCDateTime

if TYPE_CHECKING:  # alembic is imported by migrations only, never by a search
    from alembic.runtime.environment import NameFilterParentNames, NameFilterType

__all__ = ["SEARCH_TABLES", "SearchHit", "SearchQueries", "backfill", "include_name"]

SEARCH_TABLES = ("article_fts", "article_search")
# bm25 column weights (title, body): a title hit outranks body-only hits.
_BM25_WEIGHTS = (5.0, 1.0)
# ts_rank_cd weights for D, C, B (body), A (title); normalization 1 divides by 1 + log of
# the document length, as bm25 normalizes for length.
_PG_RANK = "ts_rank_cd('{0.1, 0.1, 0.2, 1.0}'::float4[], s.doc, q.q, 1)"
MAX_LIMIT = 1000
# Extra candidates ranked by score alone before dates break ties (see _sqlite_top).
_TIE_SLACK = 50


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


def include_name(
    name: str | None, type_: NameFilterType, parent_names: NameFilterParentNames
) -> bool:
    """Alembic ``include_name`` filter: the search tables (and FTS5's shadow tables,
    ``article_fts_data`` etc.) are made by migration 0003, not by the ORM models."""
    if type_ == "table" and name is not None:
        return name not in SEARCH_TABLES and not name.startswith("article_fts_")
    return True


def _body(text_: str | None, summary: str | None) -> str:
    # An article never extracted is still findable by its feed summary.
    return text_ if text_ and text_.strip() else summary or ""


def _stems(conn: Session | Connection, words: set[str]) -> dict[str, list[str]]:
    """English lexemes of ``words`` (PostgreSQL); a stop word maps to []."""
    out: dict[str, list[str]] = {}
    for chunk in chunks(sorted(words), 5000):
        rows = conn.execute(
            text("SELECT w, ts_lexize('english_stem', w) FROM unnest(CAST(:w AS text[])) AS w"),
            {"w": list(chunk)},
        )
        for word, lexemes in rows:
            out[word] = list(lexemes or [])
    return out


def _index_rows(
    conn: Session | Connection, dialect: str, rows: Sequence[tuple[int, str, str]]
) -> None:
    """Index (or re-index) ``(article_id, title, body)`` rows."""
    if not rows:
        return
    tokenized = [(i, *tok.index_text(title, body)) for i, title, body in rows]
    if dialect == "sqlite":
        conn.execute(
            text("DELETE FROM article_fts WHERE rowid IN :ids").bindparams(
                bindparam("ids", expanding=True)
            ),
            {"ids": [i for i, _, _ in tokenized]},
        )
        conn.execute(
            text("INSERT INTO article_fts (rowid, title, body) VALUES (:id, :title, :body)"),
            [{"id": i, "title": t, "body": b} for i, t, b in tokenized],
        )
        return
    if dialect != "postgresql":
        raise StoreError(f"unsupported database backend {dialect!r}")
    split = [(i, t.split(), b.split()) for i, t, b in tokenized]
    stems = _stems(conn, tok.word_tokens([ts for _, t, b in split for ts in (t, b)]))
    conn.execute(
        text(
            "INSERT INTO article_search (article_id, doc) VALUES (:id, CAST(:doc AS tsvector)) "
            "ON CONFLICT (article_id) DO UPDATE SET doc = EXCLUDED.doc"
        ),
        [{"id": i, "doc": tok.tsvector(t, b, stems)} for i, t, b in split],
    )


def _index_batch(
    conn: Session | Connection, dialect: str, after: int, batch: int
) -> tuple[int, int] | None:
    """Index the next ``batch`` articles with id > ``after``: ``(last id, count)``, or None
    when there are none left."""
    rows = conn.execute(
        select(ArticleRow.id, ArticleRow.title, ArticleRow.text, ArticleRow.summary)
        .where(ArticleRow.id > after)
        .order_by(ArticleRow.id)
        .limit(batch)
    ).all()
    if not rows:
        if dialect == "sqlite":  # index rows of articles deleted since
            conn.execute(text("DELETE FROM article_fts WHERE rowid > :a"), {"a": after})
        return None
    last = int(rows[-1][0])
    if dialect == "sqlite":
        # Rows of articles deleted without unindex_articles (gaps in the id range) go too;
        # safe because a SQLite write transaction excludes every other writer. PostgreSQL
        # has no such rows (ON DELETE CASCADE).
        conn.execute(
            text("DELETE FROM article_fts WHERE rowid > :a AND rowid <= :b"),
            {"a": after, "b": last},
        )
    _index_rows(conn, dialect, [(i, title or "", _body(t, s)) for i, title, t, s in rows])
    return last, len(rows)


def backfill(conn: Connection, batch: int = 1000) -> int:
    """Index every article on ``conn`` (one transaction: the migration's); the count."""
    dialect = conn.dialect.name
    done = after = 0
    while (step := _index_batch(conn, dialect, after, batch)) is not None:
        after, n = step
        done += n
    return done


def _sqlite_top(session: Session, match: str, limit: int) -> list[tuple[int, float]] | None:
    """The unfiltered ranking, fast: the best ``limit + slack`` by bm25 from FTS5 alone,
    then their dates. Joining every match to ``articles`` first costs a row lookup per
    match (measured on 100,000 articles: 85 ms instead of 33 ms for a term in half of
    them). None when ties at the cut-off could hide an equally scored, newer article: the
    caller then runs the exact query."""
    title_w, body_w = _BM25_WEIGHTS
    window = limit + _TIE_SLACK
    candidates = session.execute(
        text(
            f"SELECT rowid, -bm25(article_fts, {title_w}, {body_w}) AS score "
            "FROM article_fts WHERE article_fts MATCH :q ORDER BY score DESC LIMIT :k"
        ),
        {"q": match, "k": window},
    ).all()
    if not candidates:
        return []
    when = func.coalesce(ArticleRow.published_at, ArticleRow.first_seen_at)
    dates = {
        article_id: at
        for article_id, at in session.execute(
            select(ArticleRow.id, when).where(ArticleRow.id.in_([c[0] for c in candidates]))
        )
    }
    ranked = sorted(
        ((int(i), float(score)) for i, score in candidates if i in dates),
        key=lambda hit: (hit[1], dates[hit[0]], hit[0]),
        reverse=True,
    )[:limit]
    if len(candidates) < window:  # every match was a candidate
        return ranked
    if len(ranked) == limit and ranked[-1][1] > float(candidates[-1][1]):
        return ranked
    return None


class SearchQueries(StoreBase):
    # -- index maintenance (inside the caller's write transaction) -----------------------

    def index_article(
        self, session: Session, article_id: int, title: str, text: str, summary: str = ""
    ) -> None:
        """Index or re-index one article; ``summary`` stands in for an empty text."""
        _index_rows(session, self.dialect, [(article_id, title or "", _body(text, summary))])

    def index_stored_article(self, session: Session, article_id: int) -> None:
        """Re-index an article from what the session now holds for it (after an edit)."""
        row = session.execute(
            select(ArticleRow.title, ArticleRow.text, ArticleRow.summary).where(
                ArticleRow.id == article_id
            )
        ).one_or_none()
        if row is not None:
            self.index_article(session, article_id, row[0], row[1], row[2])

    def unindex_articles(self, session: Session, ids: Sequence[int]) -> None:
        """Drop the index rows of the articles among ``ids`` that no longer exist: call it
        after deleting them, in the same transaction. Articles still present (a starred one
        that retention kept) stay searchable. On PostgreSQL ON DELETE CASCADE has already
        done it."""
        if self.dialect != "sqlite":
            return
        for chunk in chunks(list(ids), 500):
            gone = set(chunk) - set(
                session.scalars(select(ArticleRow.id).where(ArticleRow.id.in_(chunk)))
            )
            if gone:
                session.execute(
                    text("DELETE FROM article_fts WHERE rowid IN :ids").bindparams(
                        bindparam("ids", expanding=True)
                    ),
                    {"ids": sorted(gone)},
                )

    def reindex_all(self, batch: int = 1000) -> int:
        """Rebuild the index of every article, ``batch`` articles per short transaction
        (the daemon may keep writing meanwhile); returns how many were indexed."""
        done, after = 0, 0
        while True:
            with self._write() as session:
                step = _index_batch(session, self.dialect, after, batch)
            if step is None:
                return done
            after, n = step
            done += n

    # -- search ------------------------------------------------------------------------------

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
        terms = tok.parse_query(query)
        if since is not None and since.tzinfo is None:
            raise StoreError("search: since must be an aware datetime")
        limit = max(0, min(limit, MAX_LIMIT))
        if limit == 0:
            return []
        with self._read() as session:
            ranked = self._ranked(session, terms, list(tags), since, limit)
            if not ranked:
                return []
            return self._hits(session, terms, ranked)

    def _ranked(
        self,
        session: Session,
        terms: Sequence[tok.Term],
        tags: list[str],
        since: datetime | None,
        limit: int,
    ) -> list[tuple[int, float]]:
        params: dict[str, Any] = {"limit": limit}
        filters = ""
        if tags:
            filters += " AND a.id IN (SELECT article_id FROM article_tags WHERE tag IN :tags)"
            params["tags"] = tags
        if since is not None:
            filters += " AND COALESCE(a.published_at, a.first_seen_at) >= :since"
            params["since"] = since
        when = "COALESCE(a.published_at, a.first_seen_at)"
        title_w, body_w = _BM25_WEIGHTS
        if self.dialect == "sqlite":
            params["q"] = tok.fts5_query(terms)
            if not filters:
                top = _sqlite_top(session, params["q"], limit)
                if top is not None:
                    return top
            # bm25 is negative, lower is better; the score is its negation.
            sql = (
                f"SELECT a.id, -bm25(article_fts, {title_w}, {body_w}) AS score "
                "FROM article_fts JOIN articles a ON a.id = article_fts.rowid "
                f"WHERE article_fts MATCH :q{filters} "
                f"ORDER BY score DESC, {when} DESC, a.id DESC LIMIT :limit"
            )
        elif self.dialect == "postgresql":
            words = tok.word_tokens([t.tokens for t in terms])
            query = tok.tsquery(terms, _stems(session, words) if words else {})
            if not query:  # only English stop words, which PostgreSQL does not index
                return []
            params["q"] = query
            sql = (
                f"SELECT a.id, {_PG_RANK} AS score "
                "FROM (SELECT CAST(:q AS tsquery) AS q) AS q "
                "JOIN article_search s ON s.doc @@ q.q "
                "JOIN articles a ON a.id = s.article_id "
                f"WHERE TRUE{filters} "
                f"ORDER BY score DESC, {when} DESC, a.id DESC LIMIT :limit"
            )
        else:
            raise StoreError(f"unsupported database backend {self.dialect!r}")
        stmt = text(sql)
        if tags:
            stmt = stmt.bindparams(bindparam("tags", expanding=True))
        if since is not None:
            stmt = stmt.bindparams(bindparam("since", type_=UTCDateTime))
        return [(int(i), float(score)) for i, score in session.execute(stmt, params)]

    def _hits(
        self, session: Session, terms: Sequence[tok.Term], ranked: list[tuple[int, float]]
    ) -> list[SearchHit]:
        ids = [i for i, _ in ranked]
        rows = {
            row.id: row
            for row in session.execute(
                select(
                    ArticleRow.id,
                    ArticleRow.title,
                    ArticleRow.url,
                    ArticleRow.text,
                    ArticleRow.summary,
                    ArticleRow.published_at,
                    ArticleRow.first_seen_at,
                ).where(ArticleRow.id.in_(ids))
            )
        }
        # The outlet: the feed of the article's first entry (as list_articles shows it).
        feeds: dict[int, str | None] = {}
        for article_id, title in session.execute(
            select(EntryRow.article_id, FeedRow.title)
            .join(FeedRow, FeedRow.id == EntryRow.feed_id)
            .where(EntryRow.article_id.in_(ids))
            .order_by(EntryRow.article_id, EntryRow.id)
        ):
            feeds.setdefault(article_id, title)
        hits = []
        for article_id, score in ranked:
            row = rows.get(article_id)
            if row is None:
                continue
            snippet, matched = tok.snippet(row.title or "", _body(row.text, row.summary), terms)
            hits.append(
                SearchHit(
                    article_id=article_id,
                    title=row.title or "",
                    url=row.url,
                    feed_title=feeds.get(article_id),
                    published_at=row.published_at or row.first_seen_at,
                    score=score,
                    snippet=snippet,
                    matched_terms=matched,
                )
            )
        return hits
