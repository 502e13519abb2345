"""Remediation batches and their items: rows <-> `services.ports.Batch` (STYLE A5)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Optional

from sqlalchemy import Connection, insert, select

from patchwarden.services.ports import Batch, BatchItem
from patchwarden.storage.tables import action_batch_items, action_batches


class SqlBatchRepository:
    """`services.ports.BatchRepository` over `action_batches` and `action_batch_items`."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def add(self, action: str, requested_by: str, now: datetime, items: Sequence[BatchItem]) -> int:
        """Store a batch and its items in list order; its id."""
        batch_id = int(
            self.conn.execute(
                insert(action_batches)
                .values(action=action, requested_by=requested_by, created_at=now)
                .returning(action_batches.c.id)
            ).scalar_one()
        )
        if items:
            self.conn.execute(
                insert(action_batch_items),
                [
                    {
                        "batch_id": batch_id,
                        "position": position,
                        "record_id": item.record_id,
                        "host_id": item.host_id,
                        "job_id": item.job_id,
                        "code": item.code,
                        "reason": item.reason,
                    }
                    for position, item in enumerate(items)
                ],
            )
        return batch_id

    def get(self, batch_id: int) -> Optional[Batch]:
        """One batch with its items."""
        head = self.conn.execute(
            select(action_batches).where(action_batches.c.id == batch_id)
        ).first()
        if head is None:
            return None
        rows = self.conn.execute(
            select(action_batch_items)
            .where(action_batch_items.c.batch_id == batch_id)
            .order_by(action_batch_items.c.position)
        )
        items = tuple(
            BatchItem(
                record_id=int(r.record_id),
                host_id=r.host_id,
                job_id=int(r.job_id) if r.job_id is not None else None,
                code=r.code,
                reason=r.reason,
            )
            for r in rows
        )
        return Batch(int(head.id), head.action, head.requested_by, head.created_at, items)
