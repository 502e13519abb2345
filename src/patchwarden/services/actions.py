"""Batch actions a user asks for: scan hosts, verify / ignore / unignore records, or fix /
restart / roll back records through their agents (`services.remediation`)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Literal, Union

from patchwarden.core.clock import Clock
from patchwarden.core.vocabulary import VulnType
from patchwarden.services.errors import InvalidRequest, NotFound
from patchwarden.services.ports import Permission, UnitOfWork, User
from patchwarden.services.records import USER_TRIGGERS, RecordOutcome, act_on_records
from patchwarden.services.remediation import PERMISSION_OF as REMEDIATION_PERMISSIONS
from patchwarden.services.remediation import (
    REMEDIATION_ACTIONS,
    RemediationBatch,
    run_remediation,
)
from patchwarden.services.users import require

ACTIONS = ("scan", *USER_TRIGGERS, *REMEDIATION_ACTIONS)
"""Every batch action."""

PERMISSION_OF = {
    "scan": Permission.SCAN,
    "verify": Permission.VERIFY,
    "ignore": Permission.IGNORE,
    "unignore": Permission.IGNORE,
    **REMEDIATION_PERMISSIONS,
}
"""The permission each batch action needs."""


@dataclass(frozen=True)
class QueuedScan:
    """A scan job of one host."""

    host_id: str
    job_id: int


@dataclass(frozen=True)
class ScanBatch:
    """The outcome of a scan action: one job per host."""

    action: str
    items: list[QueuedScan]


@dataclass(frozen=True)
class RecordBatch:
    """The outcome of a record action: one outcome per record, and the totals."""

    action: str
    items: list[RecordOutcome]
    ok: int
    refused: int


def queue_scan(uow: UnitOfWork, host_id: str, requested_by: str, now: datetime) -> int:
    """Queue a scan of the host (every type it has collectors for); the job id.

    Runs inside the caller's write transaction. Used by users' scan actions and by the
    scheduler's scan cycle alike; the scheduler also skips hosts with a scan already pending.
    """
    params = {"types": [VulnType.LINUX.value]}
    return uow.jobs.enqueue(host_id, "scan", params, requested_by, now)


def run_action(
    uow: UnitOfWork,
    clock: Clock,
    user: User,
    action: str,
    record_ids: Sequence[int] = (),
    host_ids: Union[Sequence[str], Literal["all"]] = (),
    reason: str = "",
    without_snapshot: bool = False,
    dry_run: bool = False,
) -> Union[ScanBatch, RecordBatch, RemediationBatch]:
    """Queue scans of `host_ids` ("all" for every host), or act on `record_ids`, as `user`
    (Forbidden when the user's role does not allow the action). `without_snapshot` and
    `dry_run` apply to fixes (and `dry_run` to restarts and rollbacks)."""
    if action not in PERMISSION_OF:
        raise InvalidRequest(f"unknown action {action!r} (known: {', '.join(ACTIONS)})")
    require(user, PERMISSION_OF[action], action)
    if action in REMEDIATION_ACTIONS:
        if without_snapshot and action != "fix":
            raise InvalidRequest("without_snapshot applies to fix only")
        return run_remediation(
            uow, clock, user, action, record_ids, reason, without_snapshot, dry_run
        )
    if without_snapshot or dry_run:
        raise InvalidRequest(
            f"without_snapshot and dry_run apply to {', '.join(REMEDIATION_ACTIONS)}"
        )
    if action == "scan":
        return _scan(uow, clock, user.name, host_ids)
    if not record_ids:
        raise InvalidRequest(f"{action} needs record_ids")
    outcomes = act_on_records(uow, clock, action, record_ids, user.name, reason)
    ok = sum(o.ok for o in outcomes)
    return RecordBatch(action, outcomes, ok, len(outcomes) - ok)


def _scan(
    uow: UnitOfWork, clock: Clock, actor: str, host_ids: Union[Sequence[str], Literal["all"]]
) -> ScanBatch:
    with uow:
        known = [h.id for h in uow.hosts.list()]
        wanted = known if host_ids == "all" else list(host_ids)
        unknown = [h for h in wanted if h not in set(known)]
        if unknown:
            raise NotFound(f"unknown hosts {unknown}")
        if not wanted:
            raise InvalidRequest('scan needs host_ids (a list or "all")')
        now = clock.now()
        queued = [QueuedScan(h, queue_scan(uow, h, actor, now)) for h in wanted]
        uow.commit()
    return ScanBatch("scan", queued)
