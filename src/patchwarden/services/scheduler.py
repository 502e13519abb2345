"""Periodic work: scan cycle (R-D5), offline expiry (R-L1), stale job requeue.

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
from patchwarden.services.ports import Permission, UnitOfWork, User
from patchwarden.services.records import expire_offline
from patchwarden.services.users import require

log = logging.getLogger(__name__)

LEASE = "scheduler"
STALE_CLAIM = timedelta(minutes=15)
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
        requeued, failed = uow.jobs.requeue_stale(STALE_CLAIM, now)
        uow.commit()
    summary = TickSummary(True, queued, expired, requeued, failed)
    if summary.scans_queued or summary.expired or summary.requeued or summary.failed_jobs:
        log.info("scheduler tick: %s", summary)
    return summary


def tick_now(
    uow: UnitOfWork, clock: Clock, user: User, holder: str, lease_ttl: timedelta
) -> TickSummary:
    """`tick` on a user's request (Forbidden without the maintenance permission)."""
    require(user, Permission.MAINTENANCE, "running maintenance")
    return tick(uow, clock, holder, lease_ttl)
