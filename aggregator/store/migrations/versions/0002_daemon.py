"""Daemon: schedule state and leases on feeds, instances (heartbeats), tombstones, starred.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-27
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from aggregator.store.tables import UTCDateTime

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("feeds") as batch:
        batch.add_column(sa.Column("active", sa.Boolean, nullable=False, server_default=sa.true()))
        batch.add_column(sa.Column("fetch_url", sa.Text))
        batch.add_column(sa.Column("redirect_candidate", sa.Text))
        batch.add_column(
            sa.Column("redirect_streak", sa.Integer, nullable=False, server_default="0")
        )
        batch.add_column(sa.Column("interval_seconds", sa.Integer))
        batch.add_column(sa.Column("gone", sa.Boolean, nullable=False, server_default=sa.false()))
        batch.add_column(sa.Column("lease_owner", sa.String(128)))
        batch.add_column(sa.Column("lease_until", UTCDateTime()))
        batch.create_index("ix_feeds_due", ["active", "next_check_at"])
    with op.batch_alter_table("articles") as batch:
        batch.add_column(
            sa.Column("starred", sa.Boolean, nullable=False, server_default=sa.false())
        )
    op.create_table(
        "instances",
        sa.Column("id", sa.String(128), primary_key=True),
        sa.Column("hostname", sa.Text, nullable=False),
        sa.Column("pid", sa.Integer, nullable=False),
        sa.Column("version", sa.String(32), nullable=False),
        sa.Column("started_at", UTCDateTime(), nullable=False),
        sa.Column("heartbeat_at", UTCDateTime(), nullable=False),
        sa.Column("last_cycle_at", UTCDateTime()),
        sa.Column("stopped_at", UTCDateTime()),
    )
    op.create_table(
        "entry_tombstones",
        sa.Column(
            "feed_id",
            sa.Integer,
            sa.ForeignKey("feeds.id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column("key_hash", sa.String(64), primary_key=True),
        sa.Column("pruned_at", UTCDateTime(), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("entry_tombstones")
    op.drop_table("instances")
    with op.batch_alter_table("articles") as batch:
        batch.drop_column("starred")
    with op.batch_alter_table("feeds") as batch:
        batch.drop_index("ix_feeds_due")
        for column in (
            "lease_until",
            "lease_owner",
            "gone",
            "interval_seconds",
            "redirect_streak",
            "redirect_candidate",
            "fetch_url",
            "active",
        ):
            batch.drop_column(column)
