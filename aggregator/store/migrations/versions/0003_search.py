"""Full-text search: FTS5 table article_fts (SQLite) or article_search (PostgreSQL).

Neither is an ORM model (see aggregator.store.search_sql); both are filled here for the
articles already stored, in batches, with the tokenizer of this version of aggregator
(``Store.reindex_all`` rebuilds them should the tokenizer ever change).

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-28
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from aggregator.store.search_sql import backfill

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name == "sqlite":
        # Not contentless: SQLite 3.40 cannot delete rows from a contentless table.
        op.execute(
            "CREATE VIRTUAL TABLE article_fts USING fts5("
            "title, body, tokenize = 'porter unicode61 remove_diacritics 2')"
        )
    else:
        op.create_table(
            "article_search",
            sa.Column(
                "article_id",
                sa.Integer,
                sa.ForeignKey("articles.id", ondelete="CASCADE"),
                primary_key=True,
            ),
            sa.Column("doc", postgresql.TSVECTOR, nullable=False),
        )
        op.create_index("ix_article_search_doc", "article_search", ["doc"], postgresql_using="gin")
    backfill(bind)


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        op.execute("DROP TABLE IF EXISTS article_fts")
    else:
        op.drop_table("article_search")
