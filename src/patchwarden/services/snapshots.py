"""Snapshots on the console (R-F6): recorded from fix results, listed per host, deleted on
request (the agent deletes the files: a `snapshot_delete` job), expired by the scheduler.

The agent keeps the snapshot itself and deletes it after its expiry; the console keeps what a
rollback needs to know: which records it belongs to, its owner, size, expiry, and whether it
was deleted. A snapshot the agent's latest facts no longer list is marked deleted too.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace
from datetime import datetime, timedelta, timezone
from typing import Optional

from patchwarden.core.clock import Clock
from patchwarden.core.inventory import RemediationFacts
from patchwarden.protocol import v1
from patchwarden.services.errors import Conflict, NotFound
from patchwarden.services.ports import (
    Job,
    NewSnapshot,
    Permission,
    Snapshot,
    UnitOfWork,
    User,
)
from patchwarden.services.users import require

log = logging.getLogger(__name__)


def _iso(value: Optional[datetime]) -> Optional[str]:
    return value.isoformat() if value is not None else None


@dataclass(frozen=True)
class SnapshotView:
    """A snapshot as the API shows it."""

    id: int
    snapshot_id: str
    """The agent's id of the snapshot."""
    host_id: str
    provider: str
    size_bytes: int
    created_at: Optional[str]
    expires_at: Optional[str]
    owner: str
    """The user whose fix took it."""
    job_id: Optional[int]
    record_ids: list[int]
    status: str
    """valid (a rollback can restore it), expired or deleted."""
    deleted_at: Optional[str]


@dataclass(frozen=True)
class SnapshotList:
    """A host's snapshots, newest first."""

    items: list[SnapshotView]
    total: int


@dataclass(frozen=True)
class SnapshotDeletion:
    """A snapshot marked deleted, and the job that deletes it on the agent."""

    snapshot: SnapshotView
    job_id: int


def snapshot_view(s: Snapshot, now: datetime) -> SnapshotView:
    """The public form of a snapshot at `now`."""
    status = "deleted" if s.deleted else "expired" if s.expired_at(now) else "valid"
    return SnapshotView(
        id=s.id,
        snapshot_id=s.snapshot_id,
        host_id=s.host_id,
        provider=s.provider,
        size_bytes=s.size_bytes,
        created_at=_iso(s.created_at),
        expires_at=_iso(s.expires_at),
        owner=s.owner,
        job_id=s.job_id,
        record_ids=list(s.record_ids),
        status=status,
        deleted_at=_iso(s.deleted_at),
    )


def host_snapshots(uow: UnitOfWork, clock: Clock, host_id: str) -> SnapshotList:
    """A host's snapshots (NotFound for an unknown host)."""
    with uow.read():
        if uow.hosts.get(host_id) is None:
            raise NotFound(f"unknown host {host_id}")
        found = uow.snapshots.of_host(host_id)
    now = clock.now()
    return SnapshotList([snapshot_view(s, now) for s in found], len(found))


def delete_snapshot(
    uow: UnitOfWork, clock: Clock, user: User, snapshot_id: int
) -> SnapshotDeletion:
    """Mark a snapshot deleted and queue its deletion on the agent (the snapshot permission;
    Conflict when it is deleted already)."""
    require(user, Permission.SNAPSHOT, "deleting a snapshot")
    with uow:
        now = clock.now()
        found = uow.snapshots.get(snapshot_id)
        if found is None:
            raise NotFound(f"unknown snapshot {snapshot_id}")
        if found.deleted_at is not None:
            raise Conflict(
                f"snapshot {snapshot_id} ({found.snapshot_id}) was deleted on"
                f" {found.deleted_at.isoformat()}"
            )
        uow.snapshots.mark_deleted([found.id], now)
        params = v1.validate_params("snapshot_delete", {"snapshot_id": found.snapshot_id})
        job_id = uow.jobs.enqueue(found.host_id, "snapshot_delete", params, user.name, now)
        uow.commit()
    return SnapshotDeletion(snapshot_view(replace(found, deleted_at=now), now), job_id)


def _parse_time(value: str, fallback: datetime) -> datetime:
    """An agent's ISO 8601 UTC time ("…Z" or with an offset); `fallback` when unreadable."""
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return fallback
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=timezone.utc)


def record_snapshot(uow: UnitOfWork, job: Job, info: v1.SnapshotInfo, now: datetime) -> int:
    """Store the snapshot a fix job reported (inside the caller's transaction); its id."""
    created = _parse_time(info.created_at, now)
    expiry_days = int(job.params.get("snapshot_expiry_days", v1.DEFAULT_SNAPSHOT_EXPIRY_DAYS))
    expires = _parse_time(info.expires_at, created + timedelta(days=expiry_days))
    return uow.snapshots.add(
        NewSnapshot(
            host_id=job.host_id,
            snapshot_id=info.id,
            provider=info.provider,
            size_bytes=max(0, info.size_bytes),
            created_at=created,
            expires_at=expires,
            owner=info.owner or job.requested_by,
            job_id=job.id,
            record_ids=tuple(int(i) for i in job.params.get("record_ids", [])),
        )
    )


def forget_deleted_on_agent(
    uow: UnitOfWork, host_id: str, facts: RemediationFacts, now: datetime
) -> int:
    """Mark deleted the host's snapshots its agent no longer keeps (deleted after expiry, or
    consumed by a volume rollback); inside the caller's transaction. How many."""
    kept = {s.id for s in facts.snapshots}
    gone = [
        s.id for s in uow.snapshots.of_host(host_id) if not s.deleted and s.snapshot_id not in kept
    ]
    uow.snapshots.mark_deleted(gone, now)
    return len(gone)


def mark_deleted_by_agent(
    uow: UnitOfWork, host_id: str, agent_snapshot_id: str, now: datetime
) -> None:
    """The agent deleted snapshot `agent_snapshot_id` (a `snapshot_delete` result)."""
    ids = [s.id for s in uow.snapshots.of_host(host_id) if s.snapshot_id == agent_snapshot_id]
    uow.snapshots.mark_deleted(ids, now)


def expire_snapshots(uow: UnitOfWork, now: datetime) -> int:
    """Mark snapshots past their expiry expired (the scheduler's sweep); how many."""
    return uow.snapshots.expire(now)
