"""Records: detection results -> one record per (host, vulnerability, affected thing).

Applies the pure lifecycle (`core.records`) to what an inventory shows, and runs the user
actions (verify, ignore, unignore, scan). Every move is stored as an event (SPEC §3).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection

from patchwarden.core.advisory import Severity
from patchwarden.core.inventory import Inventory
from patchwarden.core.matching import Match, Method
from patchwarden.core.priority import urgency
from patchwarden.core.records import (
    SYSTEM_ACTOR,
    IllegalTransition,
    LifecyclePolicy,
    Record,
    RecordEvent,
    State,
    Trigger,
    VulnType,
    applies_to_level,
    apply_scan,
    due_for_expiry,
    level_not_enabled_reason,
    new_record,
    transition,
)
from patchwarden.services.console_settings import ConsoleSettings
from patchwarden.services.errors import Refused
from patchwarden.storage import jobs
from patchwarden.storage import records_repo as rr
from patchwarden.storage import repositories as repo

OPEN_STATES = tuple(s.value for s in State if s not in (State.FIXED, State.IGNORED))
"""What the record list shows by default: everything not fixed and not ignored (R-L5)."""

PACKAGE_COLLECTORS = ("dpkg", "rpm", "apk")
REPOSITORY_COLLECTORS = ("apt-updates", "dnf-updates")


def policy_of(s: ConsoleSettings) -> LifecyclePolicy:
    """Lifecycle time rules from the console settings."""
    return LifecyclePolicy(
        offline_expiry={VulnType(t): timedelta(days=d) for t, d in s.offline_ttl_days.items()},
        clear_after=timedelta(days=s.clear_after_days),
        retention=timedelta(days=s.retention_days),
    )


def enabled_levels(s: ConsoleSettings) -> set[Severity]:
    """Scan levels as severities (R-D4)."""
    return {Severity(x) for x in s.scan_levels}


def detail_of(m: Match) -> dict[str, Any]:
    """Record columns describing a finding, with its urgency (R-D11)."""
    u = urgency(m.severity, m.cvss, m.exploitable, m.epss, False)
    return {
        "package": m.package,
        "source_package": m.source_package,
        "installed_version": m.installed_version,
        "fixed_version": m.fixed_version,
        "cves": list(m.cves),
        "advisories": list(m.advisories),
        "summary": m.summary[:2000],
        "cvss": m.cvss,
        "exploitable": m.exploitable,
        "epss": m.epss,
        "method": m.method.value,
        "confidence": m.confidence.value,
        "restart_required": m.restart_required,
        "reason": m.reason,
        "urgency": u.score,
        "bucket": u.bucket.value,
    }


@dataclass
class ApplyStats:
    """What one inventory did to a host's records."""

    created: int = 0
    updated: int = 0
    unchanged: int = 0
    not_detected: int = 0
    cleared: int = 0
    skipped_level: int = 0
    verified: dict[int, str] = field(default_factory=dict)
    """record id -> verify outcome, for a verify job."""

    def as_dict(self) -> dict[str, Any]:
        """JSON form."""
        return {
            "created": self.created,
            "updated": self.updated,
            "unchanged": self.unchanged,
            "not_detected": self.not_detected,
            "cleared": self.cleared,
            "skipped_level": self.skipped_level,
            "verified": {str(k): v for k, v in self.verified.items()},
        }


def _covered(inv: Inventory, detail: dict[str, Any]) -> bool:
    """Could this inventory have seen the record? A failed collector is no non-detection (E3)."""
    failed = {e.collector for e in inv.collector_errors}
    ran = {c.split("@", 1)[0] for c in inv.collectors}
    wanted = (
        REPOSITORY_COLLECTORS
        if detail.get("method") == Method.REPOSITORY_UPDATE.value
        else PACKAGE_COLLECTORS
    )
    return any(c in ran for c in wanted) and not any(c in failed for c in wanted)


def apply_detection(
    conn: Connection,
    host_id: str,
    inv: Inventory,
    matches: Sequence[Match],
    now: datetime,
    settings: ConsoleSettings,
    verify_ids: Sequence[int] = (),
) -> ApplyStats:
    """Fold one host's findings into its records (R-D4 levels, R-L2 grace, R-L3 verify)."""
    policy = policy_of(settings)
    levels = enabled_levels(settings)
    stats = ApplyStats()
    existing = {(s.vuln_id, s.affected_key): s for s in rr.host_records(conn, host_id, "linux")}
    # Writes are collected and sent as a few executemany statements: a first inventory
    # creates hundreds of records, and one statement per row dominated the upload time.
    created: list[tuple[str, str, str, Record, dict[str, Any]]] = []
    created_events: list[RecordEvent] = []
    updates: list[tuple[rr.StoredRecord, Record, dict[str, Any] | None]] = []
    events: list[tuple[int, RecordEvent]] = []
    seen: set[tuple[str, str]] = set()
    for m in matches:
        key = (m.id, m.package)
        seen.add(key)
        if not applies_to_level(m.severity, levels):
            stats.skipped_level += 1
            continue
        detail = detail_of(m)
        stored = existing.get(key)
        if stored is None:
            rec, event = new_record(VulnType.LINUX, m.severity, now)
            created.append((host_id, m.id, m.package, rec, detail))
            created_events.append(event)
            stats.created += 1
            continue
        rec = stored.record
        if stored.id in verify_ids and rec.state is State.VERIFYING:
            rec, event = transition(
                rec,
                Trigger.VERIFY_STILL_VULNERABLE,
                now,
                policy=policy,
                reason="the verify scan still detects it",
            )
            moved = [event]
            stats.verified[stored.id] = "still_vulnerable"
        else:
            rec, moved = apply_scan(rec, True, now, policy)
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
        if not _covered(inv, stored.detail):
            continue
        rec = stored.record
        if stored.id in verify_ids and rec.state is State.VERIFYING:
            rec, event = transition(
                rec,
                Trigger.VERIFY_FIXED,
                now,
                policy=policy,
                reason="the verify scan no longer detects it (R-L3)",
            )
            moved = [event]
            stats.verified[stored.id] = "fixed"
        else:
            rec, moved = apply_scan(rec, False, now, policy)
        if not moved:
            continue
        updates.append((stored, rec, None))
        events += [(stored.id, e) for e in moved]
        stats.not_detected += 1
        if rec.state is State.FIXED:
            stats.cleared += 1
    new_ids = rr.insert_records(conn, created)
    events += list(zip(new_ids, created_events))
    rr.update_records(conn, updates)
    rr.add_events_of(conn, events)
    return stats


def _with_severity(rec: Record, severity: Severity) -> Record:
    from dataclasses import replace

    return rec if rec.severity is severity else replace(rec, severity=severity)


# -- user actions -------------------------------------------------------------------------------


@dataclass
class ActionOutcome:
    """Per-record result of a batch action."""

    record_id: int
    ok: bool
    status: str = ""
    reason: str = ""
    job_id: int | None = None

    def as_dict(self) -> dict[str, Any]:
        """JSON form."""
        return {
            "record_id": self.record_id,
            "ok": self.ok,
            "status": self.status,
            "reason": self.reason,
            "job_id": self.job_id,
        }


def _agent_online(host: dict[str, Any], now: datetime, settings: ConsoleSettings) -> bool:
    last = host.get("last_seen_at")
    return last is not None and (now - last).total_seconds() <= settings.agent_offline_after_seconds


def act_on_records(
    conn: Connection,
    action: str,
    record_ids: Sequence[int],
    actor: str,
    reason: str,
    now: datetime,
    settings: ConsoleSettings,
) -> list[ActionOutcome]:
    """Run verify / ignore / unignore over a batch; each record succeeds or says why not."""
    policy = policy_of(settings)
    levels = enabled_levels(settings)
    found = {s.id: s for s in rr.by_ids(conn, list(record_ids))}
    outcomes: list[ActionOutcome] = []
    verify_jobs: dict[str, list[int]] = {}
    hosts: dict[str, dict[str, Any]] = {}
    for rid in record_ids:
        stored = found.get(rid)
        if stored is None:
            outcomes.append(ActionOutcome(rid, False, reason="unknown record id"))
            continue
        trigger = {
            "verify": Trigger.VERIFY_REQUESTED,
            "ignore": Trigger.IGNORE,
            "unignore": Trigger.UNIGNORE,
        }[action]
        rec = stored.record
        try:
            if action == "verify":
                if not applies_to_level(rec.severity, levels):
                    raise Refused(level_not_enabled_reason(rec.severity, levels))
                host = hosts.setdefault(stored.host_id, repo.get_host(conn, stored.host_id) or {})
                if rec.state is not State.EXPIRED and not _agent_online(host, now, settings):
                    last = host.get("last_seen_at")
                    raise Refused(
                        f"agent offline (last seen {last.isoformat() if last else 'never'})"
                    )
            new, event = transition(rec, trigger, now, actor, reason, policy=policy)
        except (IllegalTransition, Refused) as exc:
            why = exc.why if isinstance(exc, IllegalTransition) else str(exc)
            outcomes.append(ActionOutcome(rid, False, rec.state.value, why))
            continue
        rr.update_record(conn, rid, new)
        rr.add_events(conn, rid, [event])
        outcomes.append(ActionOutcome(rid, True, new.state.value, event.reason))
        if action == "verify":
            verify_jobs.setdefault(stored.host_id, []).append(rid)
    for host_id, ids in verify_jobs.items():
        job_id = jobs.enqueue(
            conn,
            host_id,
            "verify",
            {"types": ["linux"], "record_ids": ids, "vulns": []},
            actor,
            now=now,
        )
        for o in outcomes:
            if o.record_id in ids:
                o.job_id = job_id
    return outcomes


def abort_verify(conn: Connection, record_ids: Sequence[int], now: datetime, why: str) -> None:
    """A verify job failed: put its records back where they were."""
    for stored in rr.by_ids(conn, list(record_ids)):
        if stored.record.state is not State.VERIFYING:
            continue
        new, event = transition(stored.record, Trigger.VERIFY_ABORTED, now, reason=why)
        rr.update_record(conn, stored.id, new)
        rr.add_events(conn, stored.id, [event])


def expire_offline(conn: Connection, now: datetime, settings: ConsoleSettings) -> int:
    """Sweep: expire the records of agents offline past their type's TTL (R-L1)."""
    policy = policy_of(settings)
    n = 0
    for host_id, last_seen in repo.hosts_last_seen(conn).items():
        if last_seen is None:
            continue
        for vuln_type in VulnType:
            for stored in rr.host_records(conn, host_id, vuln_type.value):
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
                rr.update_record(conn, stored.id, new)
                rr.add_events(conn, stored.id, [event])
                n += 1
    return n


def record_events(conn: Connection, record_id: int) -> list[dict[str, Any]]:
    """A record's audit trail."""
    return rr.events_of(conn, record_id)


def event_dicts(events: Sequence[RecordEvent]) -> list[dict[str, Any]]:
    """JSON form of core events."""
    return [
        {
            "at": e.at.isoformat(),
            "actor": e.actor,
            "trigger": e.trigger.value,
            "from_state": e.from_state.value if e.from_state else None,
            "to_state": e.to_state.value,
            "reason": e.reason,
        }
        for e in events
    ]
