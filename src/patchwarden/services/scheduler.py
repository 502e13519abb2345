"""Periodic work: scan cycle (R-D5), offline expiry (R-L1), stale job requeue, records of jobs
that never got an answer (R-F1, R-L3), snapshot expiry (R-F6).

Safe on several console replicas: each tick takes a database lease, so one replica does the
work at a time and a crashed one's lease simply runs out. Time comes from the injected clock.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from patchwarden.core.clock import Clock
from patchwarden.core.vocabulary import VulnType
from patchwarden.services.actions import queue_scan
from patchwarden.services.ports import Job, JobStatus, Permission, Settings, UnitOfWork, User
from patchwarden.services.records import expire_offline
from patchwarden.services.remediation import settle_unanswered
from patchwarden.services.snapshots import expire_snapshots
from patchwarden.services.users import require

log = logging.getLogger(__name__)

LEASE = "scheduler"
STALE_CLAIM = timedelta(minutes=15)
MAX_CLAIMS = 3
"""A job claimed this many times without a result fails (`JobRepository.requeue_stale`)."""
UNANSWERED_AFTER = timedelta(hours=1)
"""A fix, rollback or restart still queued this long after it was requested, for an agent
that is offline, is cancelled: nobody should find a host changing hours after they asked."""
SETTLED_KINDS = ("verify", "fix", "rollback")
"""Jobs whose records wait for their result (`remediation.settle_unanswered`)."""
QUEUE_TIMEOUT_KINDS = ("fix", "rollback", "restart")
SCHEDULER_ACTOR = "scheduler"
"""Who requests the cycle's scans (jobs' `requested_by`)."""


@dataclass(frozen=True)
class TickSummary:
    """What one tick did; `ran` False when another replica holds the lease."""

    ran: bool
    scans_queued: int = 0
    expired: int = 0
    requeued: int = 0
    failed_jobs: int = 0
    cancelled_jobs: int = 0
    """Fixes, rollbacks and restarts their offline agent never picked up."""
    snapshots_expired: int = 0


def queue_periodic_scans(uow: UnitOfWork, now: datetime, cycle: timedelta) -> int:
    """A scan for every host whose last inventory is older than `cycle` and that has no scan
    waiting or running (R-D5); how many were queued. Inside the caller's transaction."""
    n = 0
    for host in uow.hosts.list():
        last = host.last_inventory_at
        if last is not None and now - last < cycle:
            continue
        if any(j.kind == "scan" for j in uow.jobs.pending_for(host.id)):
            continue
        queue_scan(uow, host.id, SCHEDULER_ACTOR, now)
        n += 1
    return n


def _requeue_stale(uow: UnitOfWork, now: datetime) -> tuple[int, int]:
    """Requeue stale claims; the records of those that fail go back through the lifecycle."""
    failing = [
        j
        for j in uow.jobs.unfinished(SETTLED_KINDS)
        if j.status is JobStatus.CLAIMED
        and j.claimed_at is not None
        and j.claimed_at < now - STALE_CLAIM
        and j.attempts >= MAX_CLAIMS
    ]
    requeued, failed = uow.jobs.requeue_stale(STALE_CLAIM, now, MAX_CLAIMS)
    for job in failing:
        settle_unanswered(uow, job, now, f"no result after {MAX_CLAIMS} claims (agent lost)")
    return requeued, failed


def _unanswered(job: Job, now: datetime, settings: Settings, seen: datetime | None) -> bool:
    return (
        job.status is JobStatus.QUEUED
        and now - job.created_at >= UNANSWERED_AFTER
        and not settings.agent_online(seen, now)
    )


def cancel_unanswered(uow: UnitOfWork, now: datetime, settings: Settings) -> int:
    """Cancel the fixes, rollbacks and restarts an offline agent has not picked up for
    `UNANSWERED_AFTER`, and put their records back (inside the caller's transaction)."""
    seen = uow.hosts.last_seen()
    n = 0
    for job in uow.jobs.unfinished(QUEUE_TIMEOUT_KINDS):
        if not _unanswered(job, now, settings, seen.get(job.host_id)):
            continue
        uow.jobs.cancel(job.id, now)
        hours = UNANSWERED_AFTER.total_seconds() / 3600
        settle_unanswered(
            uow, job, now, f"the agent was offline and did not pick it up within {hours:g} h"
        )
        n += 1
    return n


def tick(uow: UnitOfWork, clock: Clock, holder: str, lease_ttl: timedelta) -> TickSummary:
    """One round of periodic work, if this process gets the lease."""
    with uow:
        acquired = uow.leases.acquire(LEASE, holder, lease_ttl, clock.now())
        uow.commit()
    if not acquired:
        return TickSummary(ran=False)
    with uow:
        now = clock.now()
        settings = uow.settings.get()
        cycle = timedelta(hours=settings.scan_cycle_hours[VulnType.LINUX.value])
        queued = queue_periodic_scans(uow, now, cycle)
        expired = expire_offline(uow, now, settings)
        requeued, failed = _requeue_stale(uow, now)
        cancelled = cancel_unanswered(uow, now, settings)
        snapshots = expire_snapshots(uow, now)
        uow.commit()
    summary = TickSummary(True, queued, expired, requeued, failed, cancelled, snapshots)
    if summary != TickSummary(True):
        log.info("scheduler tick: %s", summary)
    return summary


def tick_now(
    uow: UnitOfWork, clock: Clock, user: User, holder: str, lease_ttl: timedelta
) -> TickSummary:
    """`tick` on a user's request (Forbidden without the maintenance permission)."""
    require(user, Permission.MAINTENANCE, "running maintenance")
    return tick(uow, clock, holder, lease_ttl)
