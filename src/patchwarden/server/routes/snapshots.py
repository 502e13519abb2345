"""Snapshots a fix took (R-F6): delete one (the agent deletes its files). A host's snapshots
are listed under its host (`GET /api/v1/hosts/{host_id}/snapshots`)."""

from __future__ import annotations

from fastapi import APIRouter

from patchwarden.server.deps import ClockDep, UowDep, UserDep
from patchwarden.server.params import PathId
from patchwarden.services import snapshots

router = APIRouter(prefix="/api/v1/snapshots", tags=["snapshots"])


@router.delete("/{snapshot_id}")
def delete_snapshot(
    snapshot_id: PathId, uow: UowDep, clock: ClockDep, user: UserDep
) -> snapshots.SnapshotDeletion:
    """Mark a snapshot deleted and queue its deletion on the host's agent (the snapshot
    permission); a rollback can no longer restore it."""
    return snapshots.delete_snapshot(uow, clock, user, snapshot_id)
