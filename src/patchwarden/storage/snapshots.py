"""Snapshots agents took before fixes: rows <-> `services.ports.Snapshot` (STYLE A5)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any, Optional

from sqlalchemy import Connection, insert, select, update

from patchwarden.services.ports import NewSnapshot, Snapshot
from patchwarden.storage.tables import snapshots


def _snapshot(row: Any) -> Snapshot:
    return Snapshot(
        id=int(row.id),
        host_id=row.host_id,
        snapshot_id=row.snapshot_id,
        provider=row.provider,
        size_bytes=int(row.size_bytes),
        created_at=row.created_at,
        expires_at=row.expires_at,
        owner=row.owner,
        job_id=int(row.job_id) if row.job_id is not None else None,
        record_ids=tuple(int(i) for i in row.record_ids or ()),
        expired=bool(row.expired),
        deleted_at=row.deleted_at,
    )


class SqlSnapshotRepository:
    """`services.ports.SnapshotRepository` over the `snapshots` table."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def _id_of(self, host_id: str, snapshot_id: str) -> Optional[int]:
        found = self.conn.execute(
            select(snapshots.c.id).where(
                snapshots.c.host_id == host_id, snapshots.c.snapshot_id == snapshot_id
            )
        ).scalar()
        return int(found) if found is not None else None

    def add(self, new: NewSnapshot) -> int:
        """Store a snapshot an agent reported (once per host and snapshot id); its id."""
        known = self._id_of(new.host_id, new.snapshot_id)
        if known is not None:
            return known
        stmt = insert(snapshots).values(
            host_id=new.host_id,
            snapshot_id=new.snapshot_id,
            provider=new.provider,
            size_bytes=new.size_bytes,
            created_at=new.created_at,
            expires_at=new.expires_at,
            owner=new.owner,
            job_id=new.job_id,
            record_ids=list(new.record_ids),
            expired=False,
        )
        return int(self.conn.execute(stmt.returning(snapshots.c.id)).scalar_one())

    def get(self, snapshot_id: int) -> Optional[Snapshot]:
        """One snapshot by the console's id."""
        row = self.conn.execute(select(snapshots).where(snapshots.c.id == snapshot_id)).first()
        return _snapshot(row) if row is not None else None

    def of_host(self, host_id: str) -> list[Snapshot]:
        """A host's snapshots, newest first."""
        rows = self.conn.execute(
            select(snapshots)
            .where(snapshots.c.host_id == host_id)
            .order_by(snapshots.c.created_at.desc(), snapshots.c.id.desc())
        )
        return [_snapshot(r) for r in rows]

    def mark_deleted(self, ids: Sequence[int], now: datetime) -> None:
        """Mark snapshots deleted; those deleted before keep their time."""
        if ids:
            self.conn.execute(
                update(snapshots)
                .where(snapshots.c.id.in_(list(ids)), snapshots.c.deleted_at.is_(None))
                .values(deleted_at=now)
            )

    def expire(self, now: datetime) -> int:
        """Mark the snapshots past their expiry expired; how many were newly marked."""
        return int(
            self.conn.execute(
                update(snapshots)
                .where(
                    snapshots.c.expired.is_(False),
                    snapshots.c.deleted_at.is_(None),
                    snapshots.c.expires_at <= now,
                )
                .values(expired=True)
            ).rowcount
        )
