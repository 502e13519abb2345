"""Remediation (issue 10): the hosts' remediation facts, snapshots, remediation batches.

`hosts.remediation` holds the latest inventory's remediation facts (JSON; NULL in the hosts
there are until their agent reports again, and for agents that send none). `snapshots` keeps
the snapshots agents took before fixes (R-F6); `action_batches` and `action_batch_items` the
fix / restart / rollback requests on lists of records (R-F3), one item per record.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-01 12:00:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Union

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: Union[str, Sequence[str], None] = "0003"
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def _id() -> sa.types.TypeEngine:  # type: ignore[type-arg]
    return sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    """Upgrade schema."""
    with op.batch_alter_table("hosts") as batch:
        batch.add_column(sa.Column("remediation", sa.JSON(), nullable=True))
    op.create_table(
        "snapshots",
        sa.Column("id", _id(), autoincrement=True, nullable=False),
        sa.Column("host_id", sa.String(length=36), nullable=False),
        sa.Column("snapshot_id", sa.String(length=64), nullable=False),
        sa.Column("provider", sa.String(length=16), nullable=False),
        sa.Column("size_bytes", sa.BigInteger(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("owner", sa.String(length=200), nullable=False),
        sa.Column("job_id", _id(), nullable=True),
        sa.Column("record_ids", sa.JSON(), nullable=False),
        sa.Column("expired", sa.Boolean(), nullable=False),
        sa.Column("deleted_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["host_id"], ["hosts.id"], name=op.f("fk_snapshots_host_id_hosts"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_snapshots")),
        sa.UniqueConstraint("host_id", "snapshot_id", name="uq_snapshots_host_snapshot"),
    )
    op.create_table(
        "action_batches",
        sa.Column("id", _id(), autoincrement=True, nullable=False),
        sa.Column("action", sa.String(length=16), nullable=False),
        sa.Column("requested_by", sa.String(length=200), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_action_batches")),
    )
    op.create_table(
        "action_batch_items",
        sa.Column("id", _id(), autoincrement=True, nullable=False),
        sa.Column("batch_id", _id(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("record_id", _id(), nullable=False),
        sa.Column("host_id", sa.String(length=36), nullable=True),
        sa.Column("job_id", _id(), nullable=True),
        sa.Column("code", sa.String(length=32), nullable=True),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["batch_id"],
            ["action_batches.id"],
            name=op.f("fk_action_batch_items_batch_id_action_batches"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_action_batch_items")),
    )
    op.create_index(
        "ix_action_batch_items_batch",
        "action_batch_items",
        ["batch_id", "position"],
        unique=False,
    )


def downgrade() -> None:
    """Downgrade schema."""
    op.drop_index("ix_action_batch_items_batch", table_name="action_batch_items")
    op.drop_table("action_batch_items")
    op.drop_table("action_batches")
    op.drop_table("snapshots")
    with op.batch_alter_table("hosts") as batch:
        batch.drop_column("remediation")
