"""Records say who rated them, with the CVSS vector, a title and reference URLs (issue 8):
`records.severity_source` (`unrated` in the records made before), `cvss_vector`, `title` and
`references` (a JSON list of URLs; these three NULL in the records made before). The next scan
of a host fills them.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-30 12:00:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Union

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: Union[str, Sequence[str], None] = "0002"
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None

_COLUMNS = ("severity_source", "cvss_vector", "title", "references")


def upgrade() -> None:
    """Upgrade schema."""
    with op.batch_alter_table("records") as batch:
        batch.add_column(
            sa.Column(
                "severity_source", sa.String(length=32), server_default="unrated", nullable=False
            )
        )
        # NULL in the records there are (read as "" and []): no default to keep in step.
        batch.add_column(sa.Column("cvss_vector", sa.Text(), nullable=True))
        batch.add_column(sa.Column("title", sa.Text(), nullable=True))
        batch.add_column(sa.Column("references", sa.JSON(), nullable=True))


def downgrade() -> None:
    """Downgrade schema."""
    with op.batch_alter_table("records") as batch:
        for name in reversed(_COLUMNS):
            batch.drop_column(name)
