"""Fix, restart and rollback of records through their agents (R-F1…R-F6), in batches (R-F3).

A request names records in the order of the console's list. Each record is checked with the
availability evaluation (`services.availability`): refused ones are answered at once, with a
code and a reason. The others become typed agent jobs, per host in list order:

* fix: one job per package, each installing exactly the fixed version (the highest fixed
  version of the request's records of that package), checked against the host's latest
  inventory; the agent runs its jobs one after another, one package-manager transaction at a
  time. Records move `fixing` → `fixed` / `fixed_pending_restart` (a kernel, or an advisory
  that needs a restart) / `fix_failed` when the job's result comes back;
* restart: one job per host (a delay and the reason); records of the host waiting for a
  restart get a `restarted` event when the agent reports a new boot afterwards;
* rollback: one job per snapshot; records move `rolling_back` → `rolled_back` /
  `rolled_back_pending_restart` / `rollback_failed`.

The request is kept as a batch (`GET /api/v1/actions/{batch_id}`): each record's outcome is
its job's (queued, running, succeeded, failed with the agent's error code) or its refusal.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from functools import cmp_to_key
from typing import Any, Optional

from patchwarden.core.clock import Clock
from patchwarden.core.errors import PatchwardenError
from patchwarden.core.inventory import Kernel, RemediationFacts
from patchwarden.core.records import IllegalTransition, State, Trigger, transition
from patchwarden.core.versions import compare
from patchwarden.core.vocabulary import VulnType
from patchwarden.protocol import v1
from patchwarden.services import availability
from patchwarden.services.admission import stored_inventory
from patchwarden.services.availability import Availability, Context, refused, snapshot_of
from patchwarden.services.errors import InvalidRequest, NotFound
from patchwarden.services.ports import (
    BatchItem,
    Host,
    Job,
    JobStatus,
    Permission,
    Settings,
    Snapshot,
    StoredRecord,
    UnitOfWork,
    User,
)
from patchwarden.services.records import abort_verify
from patchwarden.services.settings import lifecycle_policy
from patchwarden.services.snapshots import mark_deleted_by_agent, record_snapshot
from patchwarden.services.users import require

log = logging.getLogger(__name__)

REMEDIATION_ACTIONS = ("fix", "restart", "rollback")
"""Batch actions that become agent jobs on records."""
PERMISSION_OF = {
    "fix": Permission.FIX,
    "restart": Permission.RESTART,
    "rollback": Permission.ROLLBACK,
}
"""The permission each remediation action needs."""
RESTART_DELAY_SECONDS = 60
"""A restart waits a minute: logged-in users see shutdown's warning with the reason."""
DEFAULT_RESTART_REASON = "restart after a security fix"
FORMAT_OF_MANAGER = {"apt": "deb", "dnf": "rpm", "yum": "rpm", "apk": "apk"}
SCHEME_OF_FORMAT = {"deb": "dpkg", "rpm": "rpm", "apk": "apk"}
"""The version ordering of each package format."""
NO_RESULT = "no_result"
"""Error code of a job that ended without a result from the agent (lost, or never picked up)."""


@dataclass(frozen=True)
class PackageTarget:
    """A package a fix installs, at the exact version."""

    name: str
    target_version: str


@dataclass(frozen=True)
class RemediationItem:
    """One record of a remediation request: queued as a job, refused (and why), or planned
    (a dry run)."""

    record_id: int
    status: str
    """queued, refused or planned."""
    code: Optional[str] = None
    """The refusal code (`services.availability.REFUSALS`)."""
    reason: Optional[str] = None
    host_id: Optional[str] = None
    job_id: Optional[int] = None
    packages: list[PackageTarget] = field(default_factory=list)
    """Fix: what the job installs."""
    package_manager: Optional[str] = None
    """Fix: the host's package manager (apt, dnf, yum, apk)."""
    exec_mode: Optional[str] = None
    """Fix: how the agent runs it (direct, or chroot for a mounted root)."""
    snapshot_id: Optional[str] = None
    """Rollback: the snapshot it restores."""


@dataclass(frozen=True)
class RemediationBatch:
    """The answer to a fix, restart or rollback request."""

    action: str
    batch_id: Optional[int]
    """Follow it with `GET /api/v1/actions/{batch_id}` (None for a dry run)."""
    dry_run: bool
    items: list[RemediationItem]
    queued: int
    refused: int


@dataclass
class _Planned:
    """A job to queue, for some records."""

    host_id: str
    kind: str
    params: dict[str, Any]
    record_ids: list[int]
    trigger: Optional[Trigger]
    """The records' move once queued (None: a restart moves nothing yet)."""
    why: str
    item: RemediationItem
    """The item each of its records gets (job id filled once queued)."""


class _Request:
    """One remediation request being planned inside the write transaction."""

    def __init__(
        self,
        uow: UnitOfWork,
        user: User,
        settings: Settings,
        now: datetime,
        reason: str,
        without_snapshot: bool,
        dry_run: bool,
    ) -> None:
        self.uow = uow
        self.user = user
        self.settings = settings
        self.now = now
        self.reason = reason
        self.without_snapshot = without_snapshot
        self.dry_run = dry_run
        self._hosts: dict[str, Optional[Host]] = {}
        self._snapshots: dict[str, list[Snapshot]] = {}
        self.items: dict[int, RemediationItem] = {}
        self.planned: list[_Planned] = []

    def host(self, host_id: str) -> Optional[Host]:
        if host_id not in self._hosts:
            self._hosts[host_id] = self.uow.hosts.get(host_id)
        return self._hosts[host_id]

    def snapshots(self, host_id: str) -> list[Snapshot]:
        if host_id not in self._snapshots:
            self._snapshots[host_id] = self.uow.snapshots.of_host(host_id)
        return self._snapshots[host_id]

    def context(self, host_id: str) -> Context:
        return Context(
            self.user, self.settings, self.now, self.host(host_id), self.snapshots(host_id)
        )

    def refuse(self, stored: StoredRecord, answer: Availability, **extra: Any) -> None:
        self.items[stored.id] = RemediationItem(
            stored.id, "refused", answer.code, answer.reason, stored.host_id, **extra
        )

    def plan(self, planned: _Planned) -> None:
        self.planned.append(planned)
        for rid in planned.record_ids:
            self.items[rid] = planned.item


def run_remediation(
    uow: UnitOfWork,
    clock: Clock,
    user: User,
    action: str,
    record_ids: Sequence[int],
    reason: str = "",
    without_snapshot: bool = False,
    dry_run: bool = False,
) -> RemediationBatch:
    """Queue a fix, restart or rollback of `record_ids` (list order) as `user`.

    Forbidden without the action's permission; every record is then queued or refused on its
    own. A dry run plans the same jobs and stores nothing.
    """
    if action not in REMEDIATION_ACTIONS:
        raise InvalidRequest(f"unknown remediation action {action!r}")
    require(user, PERMISSION_OF[action], action)
    ids = list(dict.fromkeys(record_ids))
    if not ids:
        raise InvalidRequest(f"{action} needs record_ids")
    if len(ids) > v1.MAX_RECORD_IDS:
        raise InvalidRequest(f"{action} takes at most {v1.MAX_RECORD_IDS} records at once")
    reason = reason.strip()
    if action == "restart":
        _check_restart_reason(reason)
    with uow:
        now = clock.now()
        request = _Request(uow, user, uow.settings.get(), now, reason, without_snapshot, dry_run)
        found = {s.id: s for s in uow.records.by_ids(ids)}
        if not dry_run:
            # One writer per host at a time (as an inventory upload takes it): two requests
            # for the same record cannot both queue a job. Stable order: no deadlock.
            for host_id in sorted({s.host_id for s in found.values()}):
                uow.hosts.lock(host_id)
            found = {s.id: s for s in uow.records.by_ids(ids)}
        allowed: list[StoredRecord] = []
        for rid in ids:
            stored = found.get(rid)
            if stored is None:
                request.items[rid] = RemediationItem(
                    rid, "refused", "not_found", "unknown record id"
                )
                continue
            answer = _check(action, request, stored)
            if answer.allowed:
                allowed.append(stored)
            else:
                extra = _fix_preview(request, stored) if action == "fix" and dry_run else {}
                request.refuse(stored, answer, **extra)
        _PLANNERS[action](request, allowed)
        batch_id = None
        if not dry_run:
            _queue(request, action, found)
            batch_id = uow.batches.add(
                action,
                user.name,
                now,
                [_batch_item(request.items[rid]) for rid in ids],
            )
            uow.commit()
    items = [request.items[rid] for rid in ids]
    queued = sum(i.status != "refused" for i in items)
    return RemediationBatch(action, batch_id, dry_run, items, queued, len(items) - queued)


def _check_restart_reason(reason: str) -> None:
    if len(reason) > v1.MAX_REASON:
        raise InvalidRequest(f"a restart reason is at most {v1.MAX_REASON} characters")
    problem = v1.printable_problem(reason)
    if problem:
        raise InvalidRequest(f"the restart reason {problem}")


def _check(action: str, request: _Request, stored: StoredRecord) -> Availability:
    ctx = request.context(stored.host_id)
    if action == "fix":
        return availability.fix(ctx, stored, request.without_snapshot)
    if action == "restart":
        return availability.restart(ctx, stored)
    return availability.rollback(ctx, stored)


def _batch_item(item: RemediationItem) -> BatchItem:
    return BatchItem(item.record_id, item.host_id, item.job_id, item.code, item.reason or "")


def _queue(request: _Request, action: str, found: Mapping[int, StoredRecord]) -> None:
    """Enqueue the planned jobs in order and move their records."""
    uow, now, policy = request.uow, request.now, lifecycle_policy(request.settings)
    for planned in request.planned:
        job_id = uow.jobs.enqueue(
            planned.host_id, planned.kind, planned.params, request.user.name, now
        )
        item = _with(planned.item, status="queued", job_id=job_id)
        why = f"{action} queued (job {job_id}): {planned.why}"
        if request.reason:
            why += f"; {request.reason}"
        for rid in planned.record_ids:
            request.items[rid] = item
            if planned.trigger is None:
                continue
            stored = found[rid]
            new, event = transition(
                stored.record, planned.trigger, now, request.user.name, why, policy=policy
            )
            uow.records.update([(stored, new, None)])
            uow.events.add([(rid, event)])


def _with(item: RemediationItem, **changes: Any) -> RemediationItem:
    return replace(item, **changes)


# -- planning ---------------------------------------------------------------------------------


def _by_host(records: Iterable[StoredRecord]) -> dict[str, list[StoredRecord]]:
    """Records grouped per host, hosts and records in list order."""
    out: dict[str, list[StoredRecord]] = {}
    for s in records:
        out.setdefault(s.host_id, []).append(s)
    return out


@dataclass(frozen=True)
class _Installed:
    version: str
    format: str


def installed_packages(body: Optional[bytes]) -> Optional[dict[str, _Installed]]:
    """name -> installed package of an inventory upload as stored (None when unreadable)."""
    inventory = stored_inventory(body)
    if inventory is None:
        return None
    try:
        out: dict[str, _Installed] = {}
        for p in inventory.get("packages") or []:
            out.setdefault(str(p["name"]), _Installed(str(p["version"]), str(p["format"])))
        return out
    except (KeyError, TypeError):
        return None


def _newest(versions: Sequence[str], scheme: str) -> Optional[str]:
    """The highest of `versions` under `scheme`; None when one cannot be read."""
    try:

        def order(a: str, b: str) -> int:
            return compare(scheme, a, b)

        return max(versions, key=cmp_to_key(order))
    except PatchwardenError:
        return versions[0] if len(set(versions)) == 1 else None


def _newer(a: str, b: str, scheme: str) -> Optional[bool]:
    """True when `a` sorts after `b`; None when unreadable."""
    try:
        return compare(scheme, a, b) > 0
    except PatchwardenError:
        return None


def _fix_preview(request: _Request, stored: StoredRecord) -> dict[str, Any]:
    """What a dry run shows for a refused fix: the package and the host's package manager."""
    host = request.host(stored.host_id)
    facts = host.remediation if host is not None else None
    d = stored.detail
    if facts is None or not d.fixed_version:
        return {}
    return {
        "packages": [PackageTarget(d.package, d.fixed_version)],
        "package_manager": facts.package_manager or None,
        "exec_mode": facts.exec_mode or None,
    }


def _plan_fix(request: _Request, allowed: Sequence[StoredRecord]) -> None:
    """One fix job per (host, package), in list order."""
    for host_id, records in _by_host(allowed).items():
        host = request.host(host_id)
        assert host is not None and host.remediation is not None  # availability checked
        facts = host.remediation
        installed = installed_packages(request.uow.inventories.latest(host_id))
        groups: dict[str, list[StoredRecord]] = {}
        for s in records:
            groups.setdefault(s.detail.package, []).append(s)
        for package, members in groups.items():
            answer = _plan_package(request, host_id, facts, installed, package, members)
            if answer is not None:
                for s in members:
                    request.refuse(s, answer)


def _plan_package(
    request: _Request,
    host_id: str,
    facts: RemediationFacts,
    installed: Optional[dict[str, _Installed]],
    package: str,
    members: Sequence[StoredRecord],
) -> Optional[Availability]:
    """Plan the fix of one package (or say why not)."""
    if installed is None:
        return refused("not_supported", "the host's latest report cannot be read: rescan it")
    have = installed.get(package)
    if have is None:
        return refused(
            "no_update",
            f"{package} is not installed on the host any more (its latest report): rescan it",
        )
    fmt = have.format or FORMAT_OF_MANAGER.get(facts.package_manager, "")
    scheme = SCHEME_OF_FORMAT.get(fmt, "")
    fixed = [s.detail.fixed_version for s in members if s.detail.fixed_version]
    target = _newest(fixed, scheme) if scheme else (fixed[0] if len(set(fixed)) == 1 else None)
    if target is None:
        return refused("invalid", f"the fixed versions of {package} cannot be compared: {fixed}")
    if scheme and _newer(target, have.version, scheme) is False:
        return refused(
            "no_update",
            f"{package} {have.version} is installed, at or past the fixed version {target}:"
            " verify the record",
        )
    user, settings = request.user, request.settings
    providers = facts.snapshot_providers
    params = {
        "packages": [{"name": package, "target_version": target}],
        "format": fmt if fmt in v1.PACKAGE_FORMATS else "",
        "record_ids": [s.id for s in members],
        "snapshot": not request.without_snapshot,
        "snapshot_provider": "packages"
        if "packages" in providers or not providers
        else providers[0],
        "snapshot_expiry_days": settings.snapshot_expiry_days,
        "snapshot_allowed": user.can(Permission.SNAPSHOT),
        "requested_by": user.name[: v1.MAX_REQUESTER],
    }
    try:
        params = v1.validate_params("fix", params)
    except v1.ProtocolError as exc:
        return refused("invalid", f"the package manager cannot take this fix: {exc}")
    snapshot = "" if request.without_snapshot else ", after a snapshot"
    item = RemediationItem(
        members[0].id,
        "planned",
        host_id=host_id,
        packages=[PackageTarget(package, target)],
        package_manager=facts.package_manager,
        exec_mode=facts.exec_mode,
    )
    request.plan(
        _Planned(
            host_id,
            "fix",
            params,
            [s.id for s in members],
            Trigger.FIX_REQUESTED,
            f"install {package} {target} (installed {have.version}){snapshot}",
            item,
        )
    )
    return None


def _plan_restart(request: _Request, allowed: Sequence[StoredRecord]) -> None:
    """One restart job per host (none while one is queued already)."""
    for host_id, records in _by_host(allowed).items():
        pending = [j for j in request.uow.jobs.pending_for(host_id) if j.kind == "restart"]
        if pending:
            answer = refused(
                "state", f"a restart of this host is queued already (job {pending[0].id})"
            )
            for s in records:
                request.refuse(s, answer)
            continue
        params = v1.validate_params(
            "restart",
            {
                "delay_seconds": RESTART_DELAY_SECONDS,
                "reason": request.reason or DEFAULT_RESTART_REASON,
                "record_ids": [s.id for s in records],
            },
        )
        item = RemediationItem(records[0].id, "planned", host_id=host_id)
        why = f"restart in {RESTART_DELAY_SECONDS} s"
        request.plan(_Planned(host_id, "restart", params, [s.id for s in records], None, why, item))


def _plan_rollback(request: _Request, allowed: Sequence[StoredRecord]) -> None:
    """One rollback job per snapshot, in list order."""
    groups: dict[tuple[str, str], list[StoredRecord]] = {}
    for s in allowed:
        snap = snapshot_of(request.snapshots(s.host_id), s.id)
        assert snap is not None  # availability checked
        groups.setdefault((s.host_id, snap.snapshot_id), []).append(s)
    for (host_id, snapshot_id), members in groups.items():
        params = v1.validate_params(
            "rollback", {"snapshot_id": snapshot_id, "record_ids": [s.id for s in members]}
        )
        item = RemediationItem(members[0].id, "planned", host_id=host_id, snapshot_id=snapshot_id)
        request.plan(
            _Planned(
                host_id,
                "rollback",
                params,
                [s.id for s in members],
                Trigger.ROLLBACK_REQUESTED,
                f"restore snapshot {snapshot_id}",
                item,
            )
        )


_PLANNERS = {"fix": _plan_fix, "restart": _plan_restart, "rollback": _plan_rollback}


# -- batches ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class BatchItemView:
    """One record's outcome in a batch."""

    record_id: int
    host_id: Optional[str]
    job_id: Optional[int]
    outcome: str
    """refused, queued, running, succeeded or failed."""
    error_code: Optional[str]
    """Why it was refused or failed: a refusal code, or the agent's error code (protocol v1
    `ERROR_CODES`), `no_result` when the agent never answered."""
    message: Optional[str]
    record_status: Optional[str]
    """The record's state now."""


@dataclass(frozen=True)
class BatchView:
    """A remediation batch and each record's outcome."""

    batch_id: int
    action: str
    requested_by: str
    created_at: str
    done: bool
    """True when no job of the batch is waiting or running."""
    items: list[BatchItemView]


_OUTCOME = {
    JobStatus.QUEUED: "queued",
    JobStatus.CLAIMED: "running",
    JobStatus.DONE: "succeeded",
    JobStatus.FAILED: "failed",
    JobStatus.CANCELLED: "failed",
}


def batch_view(uow: UnitOfWork, batch_id: int) -> BatchView:
    """A batch with each record's outcome now."""
    with uow.read():
        batch = uow.batches.get(batch_id)
        if batch is None:
            raise NotFound(f"unknown batch {batch_id}")
        jobs = {i.job_id: uow.jobs.get(i.job_id) for i in batch.items if i.job_id is not None}
        states = {
            s.id: s.record.state.value
            for s in uow.records.by_ids([i.record_id for i in batch.items])
        }
    items: list[BatchItemView] = []
    for i in batch.items:
        job = jobs.get(i.job_id) if i.job_id is not None else None
        if job is None:
            outcome, code, message = "refused", i.code, i.reason or None
        else:
            outcome = _OUTCOME[job.status]
            code, message = _job_outcome(job)
        items.append(
            BatchItemView(
                i.record_id, i.host_id, i.job_id, outcome, code, message, states.get(i.record_id)
            )
        )
    done = all(v.outcome in ("refused", "succeeded", "failed") for v in items)
    created = batch.created_at.isoformat()
    return BatchView(batch.id, batch.action, batch.requested_by, created, done, items)


def _job_outcome(job: Job) -> tuple[Optional[str], Optional[str]]:
    """(error code, message) of a job: the agent's typed error, or what its result says."""
    result = job.result if isinstance(job.result, dict) else {}
    error = result.get("error") if isinstance(result.get("error"), dict) else None
    if job.status is JobStatus.CANCELLED:
        return NO_RESULT, job.error or "cancelled: the agent did not pick the job up"
    if job.status is JobStatus.FAILED:
        if error is not None:
            hint = f" ({error.get('hint')})" if error.get("hint") else ""
            return str(error.get("code") or "unknown"), f"{error.get('message', '')}{hint}"
        return NO_RESULT if not result else "unknown", job.error or "failed"
    if job.status is JobStatus.DONE:
        return None, _success_message(job.kind, result)
    return None, None


def _success_message(kind: str, result: Mapping[str, Any]) -> Optional[str]:
    try:
        details = v1.details_from_dict(kind, result) if kind in v1.DETAILS_TYPES else None
    except v1.ProtocolError:
        return None
    if isinstance(details, (v1.FixDetails, v1.RollbackDetails)):
        changed = [
            f"{p.name} {p.from_version or '-'} -> {p.to_version or '-'}"
            for p in details.packages
            if p.from_version != p.to_version
        ]
        restart = "; a restart is needed" if details.restart_required else ""
        if isinstance(details, v1.FixDetails) and details.restart_processes:
            # A library fix: these processes still run the replaced files (R-F5).
            names = ", ".join(f"{p.name} ({p.pid})" for p in details.restart_processes[:20])
            restart += f"; restart these processes (they still use the old files): {names}"
        return (", ".join(changed) or "nothing to change") + restart
    if isinstance(details, v1.RestartDetails):
        return f"restart scheduled for {details.scheduled_for or 'now'}" + (
            f" ({details.hint})" if details.hint else ""
        )
    return None


# -- results ----------------------------------------------------------------------------------


def apply_result(
    uow: UnitOfWork, job: Job, ok: bool, details: Mapping[str, Any], error: str, now: datetime
) -> None:
    """Move the records of a finished remediation job (inside the caller's transaction)."""
    uow.hosts.lock(job.host_id)  # ordered with the host's uploads and remediation requests
    typed: Any = None
    try:
        typed = v1.details_from_dict(job.kind, details)
    except v1.ProtocolError as exc:
        log.warning("job %d (%s): result details not understood: %s", job.id, job.kind, exc)
    record_ids = [int(i) for i in job.params.get("record_ids", [])]
    if job.kind == "fix":
        if isinstance(typed, v1.FixDetails) and typed.snapshot is not None:
            record_snapshot(uow, job, typed.snapshot, now)
        _fix_result(uow, job, record_ids, ok, typed, error, now)
    elif job.kind == "rollback":
        _rollback_result(uow, job, record_ids, ok, typed, error, now)
    elif job.kind == "snapshot_delete" and ok:
        mark_deleted_by_agent(uow, job.host_id, str(job.params.get("snapshot_id", "")), now)


def _error_text(typed: Any, error: str) -> str:
    err = getattr(typed, "error", None)
    if isinstance(err, v1.ActionError):
        hint = f" ({err.hint})" if err.hint else ""
        return f"{err.code}: {err.message}{hint}"
    return error or "the agent reported a failure"


def _changes(typed: Any) -> str:
    packages = getattr(typed, "packages", ())
    changed = [
        f"{p.name} {p.from_version or '-'} -> {p.to_version or '-'}"
        for p in packages
        if p.from_version != p.to_version
    ]
    return ", ".join(changed)


def _move_all(
    uow: UnitOfWork,
    record_ids: Sequence[int],
    expected: State,
    trigger_of: Any,
    reason_of: Any,
    now: datetime,
    job: Job,
) -> None:
    for stored in uow.records.by_ids(list(record_ids)):
        if stored.record.state is not expected:
            log.info(
                "job %d: record %d is %s, not %s: left as it is",
                job.id,
                stored.id,
                stored.record.state.value,
                expected.value,
            )
            continue
        trigger = trigger_of(stored)
        try:
            new, event = transition(stored.record, trigger, now, reason=reason_of(stored))
        except IllegalTransition as exc:  # the table allows these moves: a bug if it does not
            log.error("job %d: record %d: %s", job.id, stored.id, exc)
            continue
        uow.records.update([(stored, new, None)])
        uow.events.add([(stored.id, event)])


def _fix_result(
    uow: UnitOfWork,
    job: Job,
    record_ids: Sequence[int],
    ok: bool,
    typed: Any,
    error: str,
    now: datetime,
) -> None:
    if not ok:
        why = f"fix failed (job {job.id}): {_error_text(typed, error)}"
        _move_all(
            uow, record_ids, State.FIXING, lambda s: Trigger.FIX_FAILED, lambda s: why, now, job
        )
        return
    host_restart = bool(getattr(typed, "restart_required", False))
    changes = _changes(typed)

    def trigger(s: StoredRecord) -> Trigger:
        # A kernel fix or an advisory that says so needs a restart (R-F4).
        if host_restart or s.detail.restart_required:
            return Trigger.FIX_SUCCEEDED_RESTART_REQUIRED
        return Trigger.FIX_SUCCEEDED

    def reason(s: StoredRecord) -> str:
        done = f"fixed by job {job.id}" + (f": {changes}" if changes else "")
        if trigger(s) is Trigger.FIX_SUCCEEDED_RESTART_REQUIRED:
            done += "; restart the host, then verify"
        return done

    _move_all(uow, record_ids, State.FIXING, trigger, reason, now, job)


def _rollback_result(
    uow: UnitOfWork,
    job: Job,
    record_ids: Sequence[int],
    ok: bool,
    typed: Any,
    error: str,
    now: datetime,
) -> None:
    if not ok:
        why = f"rollback failed (job {job.id}): {_error_text(typed, error)}"
        _move_all(
            uow,
            record_ids,
            State.ROLLING_BACK,
            lambda s: Trigger.ROLLBACK_FAILED,
            lambda s: why,
            now,
            job,
        )
        return
    restart = bool(getattr(typed, "restart_required", False))
    trigger = Trigger.ROLLBACK_SUCCEEDED_RESTART_REQUIRED if restart else Trigger.ROLLBACK_SUCCEEDED
    changes = _changes(typed)
    why = f"rolled back by job {job.id}" + (f": {changes}" if changes else "")
    if restart:
        why += "; restart the host to run the restored version"
    _move_all(uow, record_ids, State.ROLLING_BACK, lambda s: trigger, lambda s: why, now, job)


def settle_unanswered(uow: UnitOfWork, job: Job, now: datetime, why: str) -> None:
    """A job ended without a result (its agent was lost, or never picked it up): put its
    records back through the lifecycle (inside the caller's transaction)."""
    record_ids = [int(i) for i in job.params.get("record_ids", [])]
    if job.kind == "fix":
        reason = f"fix failed (job {job.id}): {why}"
        _move_all(
            uow, record_ids, State.FIXING, lambda s: Trigger.FIX_FAILED, lambda s: reason, now, job
        )
    elif job.kind == "rollback":
        reason = f"rollback failed (job {job.id}): {why}"
        _move_all(
            uow,
            record_ids,
            State.ROLLING_BACK,
            lambda s: Trigger.ROLLBACK_FAILED,
            lambda s: reason,
            now,
            job,
        )
    elif job.kind == "verify":
        abort_verify(uow, record_ids, now, f"verify could not run: {why}")


# -- restarts ---------------------------------------------------------------------------------

WAITING_FOR_RESTART = (State.FIXED_PENDING_RESTART, State.ROLLED_BACK_PENDING_RESTART)


def host_restarted(before: Optional[RemediationFacts], after: Optional[RemediationFacts]) -> bool:
    """True when two reports of a host name different boots (its boot id changed)."""
    return bool(
        before is not None
        and after is not None
        and before.boot_id
        and after.boot_id
        and before.boot_id != after.boot_id
    )


def pinned_kernel_advice(kernel: Optional[Kernel]) -> str:
    """Both remedies when the boot loader starts an older kernel than the newest installed
    (R-F5); "" when the kernel facts do not say so."""
    if kernel is None or not (kernel.default_pinned):
        return ""
    newest = kernel.newest_installed or "the newest kernel"
    default = kernel.boot_default or "an older kernel"
    return (
        f"the boot loader still starts {default} by default, not the newest installed kernel"
        f" {newest}: make it the default non-interactively (grub-set-default, or grubby"
        f" --set-default /boot/vmlinuz-{newest}), or change GRUB_DEFAULT in /etc/default/grub"
        " by hand and run update-grub; then restart again"
    )


def record_restart(
    uow: UnitOfWork, host_id: str, now: datetime, kernel: Optional[Kernel] = None
) -> int:
    """The host restarted: a `restarted` event for each of its records waiting for a restart
    (R-F4, R-L4: they still wait for a verify); inside the caller's transaction. How many.

    `kernel`: the host's kernel facts after the restart; when its boot default is pinned to an
    older kernel the event says so, with both remedies (R-F5)."""
    why = "the host restarted (its agent reports a new boot): verify the record"
    advice = pinned_kernel_advice(kernel)
    if advice:
        why = f"the host restarted, but {advice}"
    n = 0
    for vuln_type in VulnType:
        for stored in uow.records.of_host(host_id, vuln_type):
            if stored.record.state not in WAITING_FOR_RESTART:
                continue
            new, event = transition(
                stored.record,
                Trigger.RESTARTED,
                now,
                reason=why,
            )
            uow.records.update([(stored, new, None)])
            uow.events.add([(stored.id, event)])
            n += 1
    return n
