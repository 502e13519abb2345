"""Periodic work: scan cycle (R-D5), offline expiry (R-L1), stale job requeue.

Safe on several console replicas: each tick takes a database lease, so one replica does the
work at a time and a crashed one's lease simply runs out. Time comes from the injected clock.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Connection, Engine

from patchwarden.services import console_settings
from patchwarden.services.records import expire_offline
from patchwarden.storage import jobs, leases
from patchwarden.storage import repositories as repo
from patchwarden.storage.db import transaction

log = logging.getLogger(__name__)

LEASE = "scheduler"
STALE_CLAIM = timedelta(minutes=15)


@dataclass
class TickReport:
    """What one tick did (None fields: another replica holds the lease)."""

    ran: bool
    scans_queued: int = 0
    expired: int = 0
    requeued: int = 0
    failed_jobs: int = 0


def queue_periodic_scans(conn: Connection, now: datetime, cycle_hours: float) -> int:
    """A scan job for every host whose last inventory is older than the cycle (R-D5)."""
    n = 0
    for host in repo.list_hosts(conn):
        last = host.get("last_inventory_at")
        if last is not None and now - last < timedelta(hours=cycle_hours):
            continue
        if any(j.kind == "scan" for j in jobs.pending_for(conn, host["id"])):
            continue
        jobs.enqueue(conn, host["id"], "scan", {"types": ["linux"]}, "scheduler", now=now)
        n += 1
    return n


def tick(engine: Engine, now: datetime, holder: str, lease_ttl: timedelta) -> TickReport:
    """One round of periodic work, if this process gets the lease."""
    with transaction(engine) as conn:
        if not leases.acquire(conn, LEASE, holder, lease_ttl, now=now):
            return TickReport(ran=False)
    with transaction(engine) as conn:
        settings = console_settings.load(repo.get_settings(conn))
        report = TickReport(ran=True)
        report.scans_queued = queue_periodic_scans(conn, now, settings.scan_cycle_hours["linux"])
        report.expired = expire_offline(conn, now, settings)
        report.requeued, report.failed_jobs = jobs.requeue_stale(conn, STALE_CLAIM, now=now)
    if report.scans_queued or report.expired or report.requeued or report.failed_jobs:
        log.info("scheduler tick: %s", report)
    return report
