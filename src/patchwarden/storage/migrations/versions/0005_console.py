"""Web console (issue 11): users' passwords and granted permissions, the audit log's index.

`users.password_hash` holds an argon2 hash (NULL: the user has no password and signs in with
API tokens only), `users.password_changed_at` when it was set, `users.permissions` the
permissions granted to the user on top of their role's (a JSON list, `[]` for existing
users). `ix_record_events_at` serves the audit log page (newest moves first) and the
overview's trend (the moves of the last days); `ix_records_status_type_bucket` covers the
overview's open counts.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-01 13:00:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Union

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: Union[str, Sequence[str], None] = "0004"
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    """Upgrade schema."""
    with op.batch_alter_table("users") as batch:
        batch.add_column(sa.Column("password_hash", sa.String(length=255), nullable=True))
        batch.add_column(
            sa.Column("password_changed_at", sa.DateTime(timezone=True), nullable=True)
        )
        batch.add_column(sa.Column("permissions", sa.JSON(), nullable=True))
    # No server default (PostgreSQL cannot compare JSON defaults): fill, then require it.
    op.execute("UPDATE users SET permissions = '[]'")
    with op.batch_alter_table("users") as batch:
        batch.alter_column("permissions", existing_type=sa.JSON(), nullable=False)
    op.create_index(
        "ix_record_events_at", "record_events", ["at", "from_state", "to_state"], unique=False
    )
    op.create_index(
        "ix_records_status_type_bucket",
        "records",
        ["status", "type", "bucket", "exploitable"],
        unique=False,
    )


def downgrade() -> None:
    """Downgrade schema."""
    op.drop_index("ix_records_status_type_bucket", table_name="records")
    op.drop_index("ix_record_events_at", table_name="record_events")
    with op.batch_alter_table("users") as batch:
        batch.drop_column("permissions")
        batch.drop_column("password_changed_at")
        batch.drop_column("password_hash")
