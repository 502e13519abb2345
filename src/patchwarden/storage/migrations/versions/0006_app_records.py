"""Application records (issue 12): `records.process` and `records.component` (JSON) hold the
running process instance and the component of an application record (R-D1, R-T4); NULL for
every other type of record, and so in every record made before.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-02 12:00:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Union

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: Union[str, Sequence[str], None] = "0005"
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None

_COLUMNS = ("process", "component")


def upgrade() -> None:
    """Upgrade schema."""
    with op.batch_alter_table("records") as batch:
        for name in _COLUMNS:
            batch.add_column(sa.Column(name, sa.JSON(), nullable=True))


def downgrade() -> None:
    """Downgrade schema."""
    with op.batch_alter_table("records") as batch:
        for name in reversed(_COLUMNS):
            batch.drop_column(name)
