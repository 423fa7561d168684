"""Index articles by when they were first seen: `digest --since last` selects on it.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-27
"""

from __future__ import annotations

from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_articles_first_seen_at", "articles", ["first_seen_at"])


def downgrade() -> None:
    op.drop_index("ix_articles_first_seen_at", table_name="articles")
