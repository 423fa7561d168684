"""The full-text search index, kept with the articles (ranked search itself is in
``reading_sql.py``, which the reading commands run without SQLAlchemy).

The tokens come from :mod:`aggregator.text.search` (character bigrams for Hangul and hanja,
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
from typing import TYPE_CHECKING

from sqlalchemy import Connection, bindparam, select, text
from sqlalchemy.orm import Session

from aggregator.errors import StoreError
from aggregator.store.base import StoreBase, chunks
from aggregator.store.dbapi import Sql
from aggregator.store.reading_sql import stems
from aggregator.store.tables import ArticleRow
from aggregator.text import search as tok

if TYPE_CHECKING:  # alembic is imported by migrations only, never by a search
    from alembic.runtime.environment import NameFilterParentNames, NameFilterType

__all__ = ["SEARCH_TABLES", "SearchQueries", "backfill", "include_name"]

SEARCH_TABLES = ("article_fts", "article_search")


def include_name(
    name: str | None, type_: NameFilterType, parent_names: NameFilterParentNames
) -> bool:
    """Alembic ``include_name`` filter: the search tables (and FTS5's shadow tables,
    ``article_fts_data`` etc.) are made by migration 0003, not by the ORM models."""
    if type_ == "table" and name is not None:
        return name not in SEARCH_TABLES and not name.startswith("article_fts_")
    return True


def _stems(conn: Session | Connection, words: set[str]) -> dict[str, list[str]]:
    """English lexemes of ``words`` (PostgreSQL), by the reading side's own query."""
    import psycopg

    dbapi = conn.connection().connection if isinstance(conn, Session) else conn.connection
    return stems(Sql(dbapi, "postgresql", (psycopg.Error,)), words)


def _index_rows(
    conn: Session | Connection, dialect: str, rows: Sequence[tuple[int, str, str]]
) -> None:
    """Index (or re-index) ``(article_id, title, body)`` rows."""
    _index_tokens(conn, dialect, [(i, *tok.index_text(title, body)) for i, title, body in rows])


def _index_tokens(
    conn: Session | Connection, dialect: str, tokenized: Sequence[tuple[int, str, str]]
) -> None:
    """Index ``(article_id, title tokens, body tokens)`` rows (of
    :func:`aggregator.text.search.article_tokens`)."""
    if not tokenized:
        return
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
    _index_rows(conn, dialect, [(i, title or "", tok.search_body(t, s)) for i, title, t, s in rows])
    return last, len(rows)


def backfill(conn: Connection, batch: int = 1000) -> int:
    """Index every article on ``conn`` (one transaction: the migration's); the count."""
    dialect = conn.dialect.name
    done = after = 0
    while (step := _index_batch(conn, dialect, after, batch)) is not None:
        after, n = step
        done += n
    return done


class SearchQueries(StoreBase):
    # -- index maintenance (inside the caller's write transaction) -----------------------

    def index_article(
        self, session: Session, article_id: int, title: str, text: str, summary: str = ""
    ) -> None:
        """Index or re-index one article; ``summary`` stands in for an empty text."""
        tokens = tok.article_tokens(title, text, summary)
        _index_tokens(session, self.dialect, [(article_id, *tokens)])

    def index_tokenized(
        self, session: Session | Connection, tokenized: Sequence[tuple[int, str, str]]
    ) -> None:
        """Index ``(article_id, title tokens, body tokens)`` rows in one batch of statements."""
        _index_tokens(session, self.dialect, tokenized)

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
