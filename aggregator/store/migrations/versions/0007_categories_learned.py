"""Raw feed categories on entries, and the tag models learned from the user's feeds.

``entries.categories`` holds each entry's ``<category>`` values, whether or not an alias
maps them (NULL for entries stored before: their categories that gave a tag stay in
``article_tags``). ``tag_models`` holds what ``aggregator tags learn`` fitted, in the
database so that every instance sharing it uses the same one.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from aggregator.store.tables import UTCDateTime

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("entries") as batch:
        batch.add_column(sa.Column("categories", sa.Text, nullable=True))
    op.create_table(
        "tag_models",
        sa.Column("name", sa.String(64), primary_key=True),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("meta", sa.Text, nullable=False),
        sa.Column("arrays", sa.LargeBinary, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("tag_models")
    with op.batch_alter_table("entries") as batch:
        batch.drop_column("categories")
