"""Records: detection results -> one record per (host, vulnerability, affected thing).

Applies the pure lifecycle (`core.records`) to what an inventory shows, and runs the user
actions on records (verify, ignore, unignore). Every move is stored as an event (SPEC §3).
The functions without a `clock` run inside the caller's transaction.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime

from patchwarden.core.advisory import Severity
from patchwarden.core.app_instances import held_by_unreadable, unreadable_note
from patchwarden.core.clock import Clock
from patchwarden.core.inventory import Inventory
from patchwarden.core.matching import Match, Method, covers
from patchwarden.core.priority import urgency
from patchwarden.core.records import (
    SYSTEM_ACTOR,
    TRANSITIONS,
    IllegalTransition,
    Record,
    RecordEvent,
    State,
    Trigger,
    applies_to_level,
    apply_scan,
    due_for_expiry,
    level_not_enabled_reason,
    new_record,
    transition,
)
from patchwarden.core.vocabulary import VulnType
from patchwarden.services.errors import Refused
from patchwarden.services.ports import (
    PLAN_FEATURES,
    Feature,
    NewRecord,
    RecordDetail,
    Settings,
    StoredEvent,
    StoredRecord,
    UnitOfWork,
)
from patchwarden.services.settings import lifecycle_policy

OPEN_STATES = tuple(s for s in State if s not in (State.FIXED, State.IGNORED))
"""What the record list shows by default: everything not fixed and not ignored (R-L5)."""

USER_TRIGGERS = {
    "verify": Trigger.VERIFY_REQUESTED,
    "ignore": Trigger.IGNORE,
    "unignore": Trigger.UNIGNORE,
}
"""Record actions a user asks for, and the lifecycle trigger each one is."""


def detail_of(m: Match) -> RecordDetail:
    """What a finding says about its record, with its urgency (R-D11)."""
    exposed = m.process is not None and m.process.exposed
    u = urgency(m.severity, m.cvss, m.exploitable, m.epss, exposed)
    return RecordDetail(
        package=m.package,
        source_package=m.source_package,
        installed_version=m.installed_version,
        fixed_version=m.fixed_version,
        cves=tuple(m.cves),
        advisories=tuple(m.advisories),
        summary=m.summary[:2000],
        cvss=m.cvss,
        exploitable=m.exploitable,
        epss=m.epss,
        method=m.method.value,
        confidence=m.confidence.value,
        restart_required=m.restart_required,
        reason=m.reason,
        urgency=u.score,
        bucket=u.bucket.value,
        severity_source=m.severity_source,
        cvss_vector=m.cvss_vector,
        title=m.title,
        references=tuple(m.references),
        process=m.process,
        component=m.component,
    )


def app_detection(settings: Settings) -> bool:
    """Whether the console's plan includes application vulnerability detection (R-T4)."""
    return Feature.APP_DETECTION in PLAN_FEATURES[settings.plan]


MAX_AFFECTED_KEY = 400
"""Length of the records' identity column `affected_key`."""


def affected_key(m: Match) -> str:
    """What a finding's record is about besides host and vulnerability: the binary package of
    a Linux finding; the component and process instance of an application one (R-D1:
    `Maven:group:artifact@<instance>`, see `core.app_instances.instance_keys`)."""
    if m.process is None:
        return m.package
    ecosystem = m.component.ecosystem if m.component else m.ecosystem
    suffix = f"@{m.instance}"
    return f"{ecosystem}:{m.package}"[: MAX_AFFECTED_KEY - len(suffix)] + suffix


@dataclass
class ApplyStats:
    """What one inventory did to a host's records."""

    created: int = 0
    updated: int = 0
    unchanged: int = 0
    not_detected: int = 0
    cleared: int = 0
    skipped_level: int = 0
    verified: dict[str, str] = field(default_factory=dict)
    """record id -> verify outcome, for a verify job."""


def apply_detection(
    uow: UnitOfWork,
    host_id: str,
    inv: Inventory,
    matches: Sequence[Match],
    now: datetime,
    settings: Settings,
    verify_ids: Collection[int] = (),
    knows_restarts: bool = False,
) -> ApplyStats:
    """Fold one host's findings into its records (R-D4 levels, R-L2 grace, R-L3 verify).

    `knows_restarts`: the inventory carries the host's boot id, so the console sees restarts
    (`remediation.record_restart`). A record waiting for a restart that a scan still detects
    then keeps waiting until the host has restarted (R-L4: the fix is installed, the old
    version still runs); only a detection after the restart reopens it.

    Application records (type `app`) are made and moved only when the plan includes
    application detection (`app_detection`); otherwise application findings are ignored
    and the application records there are stay as they are. One whose process instance a
    covering inventory does not see is undetected, unless a process the agent could not
    read may be that instance (`core.app_instances.held_by_unreadable`): then it stays as
    it was, and its reason says why.
    """
    policy = lifecycle_policy(settings)
    levels = settings.scan_level_severities()
    stats = ApplyStats()
    types = [VulnType.LINUX]
    if app_detection(settings):
        types.append(VulnType.APP)
    else:
        matches = [m for m in matches if m.type != VulnType.APP.value]
    existing = {
        (s.vuln_id, s.affected_key): s for t in types for s in uow.records.of_host(host_id, t)
    }
    # Writes are collected and sent as a few batches: a first inventory creates hundreds of
    # records, and one statement per row dominated the upload time.
    created: list[NewRecord] = []
    created_events: list[RecordEvent] = []
    updates: list[tuple[StoredRecord, Record, RecordDetail | None]] = []
    events: list[tuple[int, RecordEvent]] = []
    seen: set[tuple[str, str]] = set()
    for m in matches:
        key = (m.id, affected_key(m))
        seen.add(key)
        if not applies_to_level(m.severity, levels):
            stats.skipped_level += 1
            continue
        detail = detail_of(m)
        stored = existing.get(key)
        if stored is None:
            rec, event = new_record(VulnType(m.type), m.severity, now)
            created.append(NewRecord(host_id, m.id, key[1], rec, detail))
            created_events.append(event)
            stats.created += 1
            continue
        rec = stored.record
        if stored.id in verify_ids and rec.state is State.VERIFYING:
            if knows_restarts and _waits_for_restart(uow, stored, rec.state_before):
                trigger, outcome = Trigger.VERIFY_RESTART_REQUIRED, "restart_required"
                why = (
                    "the verify scan still sees the old version running: the fix is installed"
                    " and the host has not restarted since; restart, then verify"
                )
            else:
                trigger, outcome = Trigger.VERIFY_STILL_VULNERABLE, "still_vulnerable"
                why = "the verify scan still detects it"
            rec, event = transition(rec, trigger, now, policy=policy, reason=why)
            moved = [event]
            stats.verified[str(stored.id)] = outcome
        else:
            pending = knows_restarts and _waits_for_restart(uow, stored, rec.state)
            rec, moved = apply_scan(rec, True, now, policy, pending_restart=pending)
        rec = _with_severity(rec, m.severity)
        updates.append((stored, rec, detail))
        events += [(stored.id, e) for e in moved]
        if moved:
            stats.updated += 1
        else:
            stats.unchanged += 1
    for key, stored in existing.items():
        if key in seen or not applies_to_level(stored.record.severity, levels):
            continue
        # A record is cleared only by an inventory that collected its kind of evidence in
        # full: a failed or missing collector is no non-detection (STYLE E3).
        if not covers(inv, Method(stored.detail.method)):
            continue
        held = _held_detail(stored, inv)
        if held is not None:
            # Its instance may be a process the agent could not read: neither detected nor
            # undetected (R-D1, STYLE E3; `core.app_instances.held_by_unreadable`).
            if held is not stored.detail:
                updates.append((stored, stored.record, held))
            continue
        rec = stored.record
        if stored.id in verify_ids and rec.state is State.VERIFYING:
            rec, event = transition(
                rec,
                Trigger.VERIFY_FIXED,
                now,
                policy=policy,
                reason="the verify scan no longer detects it",
            )
            moved = [event]
            stats.verified[str(stored.id)] = "fixed"
        else:
            rec, moved = apply_scan(rec, False, now, policy)
        unheld = _unheld_detail(stored.detail)
        if moved or unheld is not None:
            updates.append((stored, rec, unheld))
        if not moved:
            continue
        events += [(stored.id, e) for e in moved]
        stats.not_detected += 1
        if rec.state is State.FIXED:
            stats.cleared += 1
    new_ids = uow.records.add(created)
    events += list(zip(new_ids, created_events))
    uow.records.update(updates)
    uow.events.add(events)
    return stats


def _held_detail(stored: StoredRecord, inv: Inventory) -> RecordDetail | None:
    """The detail of an application record a process the agent could not read may be,
    saying why it stays as it was (the stored detail when it says so already); None when no
    such process holds it."""
    d = stored.detail
    if d.process is None or held_by_unreadable(d.process, inv.processes) is None:
        return None
    note = unreadable_note(d.process)
    if note in d.reason:
        return d
    return replace(d, reason=f"{d.reason}; {note}" if d.reason else note)


def _unheld_detail(d: RecordDetail) -> RecordDetail | None:
    """The detail without the note `_held_detail` added; None when it has none."""
    if d.process is None:
        return None
    note = unreadable_note(d.process)
    if note not in d.reason:
        return None
    return replace(d, reason=d.reason.replace(f"; {note}", "").replace(note, ""))


def _with_severity(rec: Record, severity: Severity) -> Record:
    return rec if rec.severity is severity else replace(rec, severity=severity)


def _waits_for_restart(uow: UnitOfWork, stored: StoredRecord, state: State | None) -> bool:
    """True when `state` waits for a restart and the host has not restarted since the record
    began waiting (its history has no `restarted` event after that)."""
    if state is not State.FIXED_PENDING_RESTART:
        return False
    return not restarted_since_pending(uow.events.of_record(stored.id))


def restarted_since_pending(history: Sequence[StoredEvent]) -> bool:
    """True when the host restarted after the record last began waiting for a restart."""
    restarted = False
    for e in history:
        ev = e.event
        if ev.to_state is State.FIXED_PENDING_RESTART and ev.from_state is not ev.to_state:
            restarted = False
        elif ev.trigger is Trigger.RESTARTED:
            restarted = True
    return restarted


# -- user actions -------------------------------------------------------------------------------


@dataclass(frozen=True)
class RecordOutcome:
    """One record's result in a batch action: done, or refused and why."""

    record_id: int
    ok: bool
    status: str = ""
    reason: str = ""
    job_id: int | None = None
    code: str | None = None
    """Why it was refused: a code of `services.availability.REFUSALS` (None when done)."""


def act_on_records(
    uow: UnitOfWork,
    clock: Clock,
    action: str,
    record_ids: Sequence[int],
    actor: str,
    reason: str,
) -> list[RecordOutcome]:
    """Verify, ignore or unignore a batch; each record succeeds or says why not.

    A verify queues one job per host for its records (R-L3); it is refused per record for a
    severity outside the scan levels (R-D4) and for an agent that is offline.
    """
    trigger = USER_TRIGGERS[action]
    with uow:
        now = clock.now()
        settings = uow.settings.get()
        policy = lifecycle_policy(settings)
        levels = settings.scan_level_severities()
        found = {s.id: s for s in uow.records.by_ids(list(record_ids))}
        outcomes: list[RecordOutcome] = []
        verify_jobs: dict[str, list[int]] = {}
        last_seen: dict[str, datetime | None] = {}
        for rid in record_ids:
            stored = found.get(rid)
            if stored is None:
                outcomes.append(
                    RecordOutcome(rid, False, reason="unknown record id", code="not_found")
                )
                continue
            rec = stored.record
            try:
                if trigger is Trigger.VERIFY_REQUESTED:
                    if not applies_to_level(rec.severity, levels):
                        raise Refused(
                            level_not_enabled_reason(rec.severity, levels), "level_not_scanned"
                        )
                    if stored.host_id not in last_seen:
                        host = uow.hosts.get(stored.host_id)
                        last_seen[stored.host_id] = host.last_seen_at if host else None
                    seen = last_seen[stored.host_id]
                    if rec.state is not State.EXPIRED and not settings.agent_online(seen, now):
                        raise Refused(
                            f"agent offline (last seen {seen.isoformat() if seen else 'never'})",
                            "agent_offline",
                        )
                new, event = transition(rec, trigger, now, actor, reason, policy=policy)
            except (IllegalTransition, Refused) as exc:
                if isinstance(exc, IllegalTransition):
                    why, code = exc.why, _refusal_code(exc)
                else:
                    why, code = exc.reason, exc.code
                outcomes.append(RecordOutcome(rid, False, rec.state.value, why, code=code))
                continue
            uow.records.update([(stored, new, None)])
            uow.events.add([(rid, event)])
            outcomes.append(RecordOutcome(rid, True, new.state.value, event.reason))
            if trigger is Trigger.VERIFY_REQUESTED:
                verify_jobs.setdefault(stored.host_id, []).append(rid)
        job_of: dict[int, int] = {}
        for host_id, ids in verify_jobs.items():
            params = {"types": [VulnType.LINUX.value], "record_ids": ids, "vulns": []}
            job_id = uow.jobs.enqueue(host_id, "verify", params, actor, now)
            job_of.update(dict.fromkeys(ids, job_id))
        uow.commit()
    return [
        replace(o, job_id=job_of[o.record_id]) if o.record_id in job_of else o for o in outcomes
    ]


def _refusal_code(exc: IllegalTransition) -> str:
    """The refusal code of a move the lifecycle refuses."""
    if exc.state is State.EXPIRED:
        return "expired"
    if exc.trigger is Trigger.IGNORE and (exc.state, exc.trigger) in TRANSITIONS:
        return "invalid"  # the move exists: its reason or its user is missing (R-L5)
    return "state"


def abort_verify(uow: UnitOfWork, record_ids: Sequence[int], now: datetime, why: str) -> None:
    """A verify job ended without settling these records: put them back where they were."""
    for stored in uow.records.by_ids(list(record_ids)):
        if stored.record.state is not State.VERIFYING:
            continue
        new, event = transition(stored.record, Trigger.VERIFY_ABORTED, now, reason=why)
        uow.records.update([(stored, new, None)])
        uow.events.add([(stored.id, event)])


def expire_offline(uow: UnitOfWork, now: datetime, settings: Settings) -> int:
    """Expire the records of agents offline past their type's TTL (R-L1); how many."""
    policy = lifecycle_policy(settings)
    n = 0
    for host_id, last_seen in uow.hosts.last_seen().items():
        if last_seen is None:
            continue
        for vuln_type in VulnType:
            for stored in uow.records.of_host(host_id, vuln_type):
                if not due_for_expiry(stored.record, last_seen, now, policy):
                    continue
                new, event = transition(
                    stored.record,
                    Trigger.EXPIRE,
                    now,
                    SYSTEM_ACTOR,
                    policy=policy,
                    agent_last_seen=last_seen,
                )
                uow.records.update([(stored, new, None)])
                uow.events.add([(stored.id, event)])
                n += 1
    return n
