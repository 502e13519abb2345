"""Accepted inventory uploads, kept as received (gzip JSON) with their digest."""

from __future__ import annotations

import hashlib
from datetime import datetime
from typing import Optional

from sqlalchemy import Connection, insert, select

from patchwarden.storage.tables import inventories


class SqlInventoryRepository:
    """`services.ports.InventoryRepository` over the `inventories` table."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def find(self, host_id: str, report_id: str) -> Optional[int]:
        """The id of the host's upload with this report id, if any."""
        found = self.conn.execute(
            select(inventories.c.id).where(
                inventories.c.host_id == host_id, inventories.c.report_id == report_id
            )
        ).scalar()
        return int(found) if found is not None else None

    def add(self, host_id: str, report_id: str, body: bytes, received_at: datetime) -> int:
        """Store an upload; returns its id."""
        stmt = insert(inventories).values(
            host_id=host_id,
            report_id=report_id,
            digest=hashlib.sha256(body).hexdigest(),
            received_at=received_at,
            body=body,
        )
        return int(self.conn.execute(stmt.returning(inventories.c.id)).scalar_one())

    def latest(self, host_id: str) -> Optional[bytes]:
        """The body of the host's latest accepted upload, as sent, or None."""
        body = self.conn.execute(
            select(inventories.c.body)
            .where(inventories.c.host_id == host_id)
            .order_by(inventories.c.id.desc())
            .limit(1)
        ).scalar()
        return bytes(body) if body is not None else None
