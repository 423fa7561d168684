"""Story clusters: stories, each article's MinHash print, and its LSH band hashes.

New tables only: a populated database upgrades in an instant and its articles belong to no
story until ``aggregator stories rebuild`` clusters them (new articles are clustered as they
are stored).

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-27
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from aggregator.store.tables import UTCDateTime

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "stories",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("first_at", UTCDateTime(), nullable=False),
        sa.Column("last_at", UTCDateTime(), nullable=False),
        sa.Column("article_count", sa.Integer, nullable=False, server_default="1"),
    )
    op.create_table(
        "story_articles",
        sa.Column(
            "article_id",
            sa.Integer,
            sa.ForeignKey("articles.id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column(
            "story_id",
            sa.Integer,
            sa.ForeignKey("stories.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("signature", sa.LargeBinary, nullable=False),
        sa.Column("size", sa.Integer, nullable=False),
        sa.Column("title_key", sa.Text, nullable=False),
        sa.Column("language", sa.String(8), nullable=False),
        sa.Column("seen_at", UTCDateTime(), nullable=False),
    )
    op.create_index("ix_story_articles_story_id", "story_articles", ["story_id", "seen_at"])
    op.create_table(
        "story_bands",
        sa.Column("band_hash", sa.BigInteger, primary_key=True),
        sa.Column(
            "article_id",
            sa.Integer,
            sa.ForeignKey("articles.id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column("seen_at", UTCDateTime(), nullable=False),
        sqlite_with_rowid=False,
    )
    op.create_index("ix_story_bands_article_id", "story_bands", ["article_id"])


def downgrade() -> None:
    op.drop_table("story_bands")
    op.drop_table("story_articles")
    op.drop_table("stories")
