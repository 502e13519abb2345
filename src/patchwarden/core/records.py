"""Record lifecycle (SPEC §3, R-L1…R-L7): states, triggers, the transition table, time rules.

A record is one host × vulnerability × affected thing; identity (host id, vuln id, affected key)
lives in storage, this module only knows the lifecycle. Everything here is pure: callers pass
the time in (timezone-aware datetimes), get a new frozen `Record` plus the `RecordEvent` to
store in the audit trail, and nothing is read or written.

Moves are data (`TRANSITIONS`, STYLE D5); `transition()` looks a move up, checks the few
guards a table cannot express (time rules, who and why), and builds the new record. A move
that is not in the table raises `IllegalTransition` with a reason meant for the console.

Decisions the spec leaves open, taken here:
- A scan reports one of three things per record: detected, detected with the fix installed
  but not yet running (`detected_pending_restart`: the running kernel or process is still the
  old one, DESIGN §4), or not detected.
- Scans never move a record while an action runs (`fixing`, `verifying`, `rolling_back`); the
  action's result does. They only refresh `last_seen` / the non-detection streak.
- `fixed` and `ignored` records do not expire: a fixed record has nothing left to act on, and an
  ignored one is already hidden (R-L5); expiring it would lose the state `unignore` restores.
- An `expired` record whose agent comes back revives when a scan detects it again (→ `unfixed`,
  or `fixed_pending_restart`); it is the same occurrence, since nobody saw it go away. A scan
  that does not detect it leaves it expired: R-L1 forbids clearing it, so it stays until
  retention or the operator deletes it.
- `fixed` is re-opened by a plain detection only (R-L7, `occurrence` + 1).
- `verify_requested` remembers the state it left in `state_before`, so a verify that could not
  run (`verify_aborted`: agent went offline, collector failed) puts the record back; `ignore`
  uses the same field for `unignore`. The two never overlap: a verifying record cannot be
  ignored and an ignored one cannot be verified.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from enum import Enum
from typing import Collection, Dict, FrozenSet, List, Mapping, Optional, Tuple

from patchwarden.core.advisory import Severity
from patchwarden.core.errors import PatchwardenError
from patchwarden.core.vocabulary import VulnType

SYSTEM_ACTOR = "system"
"""Actor of moves made by scans, sweeps and agent results rather than by a user."""


class State(str, Enum):
    """Record states, exactly as SPEC §3 names them."""

    UNFIXED = "unfixed"
    FIXING = "fixing"
    FIX_FAILED = "fix_failed"
    VERIFYING = "verifying"
    FIXED_PENDING_RESTART = "fixed_pending_restart"
    FIXED = "fixed"
    ROLLING_BACK = "rolling_back"
    ROLLED_BACK = "rolled_back"
    ROLLED_BACK_PENDING_RESTART = "rolled_back_pending_restart"
    ROLLBACK_FAILED = "rollback_failed"
    IGNORED = "ignored"
    EXPIRED = "expired"


class Trigger(str, Enum):
    """What moves a record: scan results, sweeps, user requests and agent action results."""

    DETECTED = "detected"
    """A complete scan saw the vulnerability."""
    DETECTED_PENDING_RESTART = "detected_pending_restart"
    """A scan saw the fixed version installed but the old one still running (R-F4, R-F5)."""
    NOT_DETECTED = "not_detected"
    """A complete scan of the record's type did not see it: starts the grace period (R-L2)."""
    CLEAR = "clear"
    """Not detected for `clear_after` (3 days) in a row → `fixed` (R-L2)."""
    EXPIRE = "expire"
    """The agent has been offline past the TTL of the record's type (R-L1)."""
    VERIFY_REQUESTED = "verify_requested"
    """A user asked for an immediate re-scan of this record (R-L3)."""
    VERIFY_FIXED = "verify_fixed"
    VERIFY_RESTART_REQUIRED = "verify_restart_required"
    """The verify scan found the fix installed but not yet running."""
    VERIFY_STILL_VULNERABLE = "verify_still_vulnerable"
    VERIFY_ABORTED = "verify_aborted"
    """The verify scan could not run; the record returns to the state it had before."""
    FIX_REQUESTED = "fix_requested"
    FIX_SUCCEEDED = "fix_succeeded"
    FIX_SUCCEEDED_RESTART_REQUIRED = "fix_succeeded_restart_required"
    """The fix worked but needs a restart (Windows always; Linux kernel or tagged, R-F4)."""
    FIX_FAILED = "fix_failed"
    RESTARTED = "restarted"
    """The host was restarted; recorded for the audit, the state waits for a verify (R-L4)."""
    ROLLBACK_REQUESTED = "rollback_requested"
    ROLLBACK_SUCCEEDED = "rollback_succeeded"
    ROLLBACK_SUCCEEDED_RESTART_REQUIRED = "rollback_succeeded_restart_required"
    ROLLBACK_FAILED = "rollback_failed"
    IGNORE = "ignore"
    """A user hides the record, with a reason (R-L5)."""
    UNIGNORE = "unignore"
    """Undo `ignore`: back to the state the record had before."""


ONE_CLICK_FIX: FrozenSet[VulnType] = frozenset({VulnType.LINUX, VulnType.WINDOWS, VulnType.CMS})
"""Types with a one-click fix (R-F1); application and emergency vulns get guidance only."""

OFFLINE_EXPIRY: Mapping[VulnType, timedelta] = {
    VulnType.LINUX: timedelta(days=3),
    VulnType.WINDOWS: timedelta(days=3),
    VulnType.CMS: timedelta(days=7),
    VulnType.APP: timedelta(days=30),
    VulnType.EMERGENCY: timedelta(days=90),
}
"""How long a record survives its agent being offline, per type (R-L1)."""

CLEAR_AFTER = timedelta(days=3)
"""Consecutive non-detection after which a record is cleared (R-L2)."""

RETENTION = timedelta(days=7)
"""How long a tenant's data outlives its lapsed service (R-L6)."""

SCAN_LEVELS: Tuple[Severity, ...] = (
    Severity.CRITICAL,
    Severity.HIGH,
    Severity.MEDIUM,
    Severity.LOW,
)
"""The severities settings can select for scanning (R-D4)."""


@dataclass(frozen=True)
class LifecyclePolicy:
    """Time rules of the lifecycle; the defaults are the spec's, settings may override them."""

    offline_expiry: Mapping[VulnType, timedelta] = field(
        default_factory=lambda: dict(OFFLINE_EXPIRY)
    )
    """TTL of a record per type once its agent stops reporting (R-L1); every type needed."""
    clear_after: timedelta = CLEAR_AFTER
    """R-L2 grace period."""
    retention: timedelta = RETENTION
    """R-L6 retention after a lapsed service."""

    def __post_init__(self) -> None:
        missing = [t.value for t in VulnType if t not in self.offline_expiry]
        if missing:
            raise ValueError(f"lifecycle policy: offline_expiry lacks type(s) {missing}")
        durations = {f"offline_expiry[{t.value}]": d for t, d in self.offline_expiry.items()}
        durations.update(clear_after=self.clear_after, retention=self.retention)
        for name, value in durations.items():
            if value <= timedelta(0):
                raise ValueError(f"lifecycle policy: {name} must be positive, got {value}")


DEFAULT_POLICY = LifecyclePolicy()


@dataclass(frozen=True)
class Record:
    """Lifecycle part of one record (host × vulnerability × affected thing)."""

    state: State
    vuln_type: VulnType
    severity: Severity
    first_seen: datetime
    """First detection of the first occurrence."""
    last_seen: datetime
    """Last time a scan detected it."""
    changed_at: datetime
    """When `state` last changed (storage: `status_changed_at`)."""
    undetected_since: Optional[datetime] = None
    """First non-detecting scan of the current streak; None while detected (R-L2)."""
    occurrence: int = 1
    """1, then + 1 each time a fixed record is detected again (R-L7)."""
    state_before: Optional[State] = None
    """State to return to on `unignore` or `verify_aborted`; None otherwise."""
    ignored_reason: Optional[str] = None
    ignored_by: Optional[str] = None
    offline_since: Optional[datetime] = None
    """Last contact of the agent when the record expired (R-L1 refusal message)."""


@dataclass(frozen=True)
class RecordEvent:
    """One audited move of a record: who did what, when, why (SPEC §3)."""

    at: datetime
    actor: str
    trigger: Trigger
    from_state: Optional[State]
    """None for the event that creates the record."""
    to_state: State
    reason: str = ""


class IllegalTransition(PatchwardenError):
    """A trigger that the record's state does not allow; `why` is shown to the user."""

    def __init__(self, state: State, trigger: Trigger, why: str) -> None:
        self.state = state
        self.trigger = trigger
        self.why = why
        super().__init__(f"cannot apply {trigger.value} to a {state.value} record: {why}")


def _table() -> Dict[Tuple[State, Trigger], State]:
    s, t = State, Trigger
    moves: Dict[State, Dict[Trigger, State]] = {
        s.UNFIXED: {
            t.DETECTED: s.UNFIXED,
            t.DETECTED_PENDING_RESTART: s.FIXED_PENDING_RESTART,  # fixed by hand
            t.NOT_DETECTED: s.UNFIXED,
            t.CLEAR: s.FIXED,
            t.EXPIRE: s.EXPIRED,
            t.VERIFY_REQUESTED: s.VERIFYING,
            t.FIX_REQUESTED: s.FIXING,
            t.IGNORE: s.IGNORED,
        },
        s.FIXING: {
            t.DETECTED: s.FIXING,
            t.DETECTED_PENDING_RESTART: s.FIXING,
            t.NOT_DETECTED: s.FIXING,
            t.EXPIRE: s.EXPIRED,
            t.FIX_SUCCEEDED: s.FIXED,
            t.FIX_SUCCEEDED_RESTART_REQUIRED: s.FIXED_PENDING_RESTART,
            t.FIX_FAILED: s.FIX_FAILED,
        },
        s.FIX_FAILED: {
            t.DETECTED: s.FIX_FAILED,
            t.DETECTED_PENDING_RESTART: s.FIXED_PENDING_RESTART,
            t.NOT_DETECTED: s.FIX_FAILED,
            t.CLEAR: s.FIXED,
            t.EXPIRE: s.EXPIRED,
            t.VERIFY_REQUESTED: s.VERIFYING,
            t.FIX_REQUESTED: s.FIXING,
            t.ROLLBACK_REQUESTED: s.ROLLING_BACK,  # a failed fix may have half-applied (R-F6)
            t.IGNORE: s.IGNORED,
        },
        s.VERIFYING: {
            t.DETECTED: s.VERIFYING,
            t.DETECTED_PENDING_RESTART: s.VERIFYING,
            t.NOT_DETECTED: s.VERIFYING,
            t.EXPIRE: s.EXPIRED,
            t.VERIFY_FIXED: s.FIXED,
            t.VERIFY_RESTART_REQUIRED: s.FIXED_PENDING_RESTART,
            t.VERIFY_STILL_VULNERABLE: s.UNFIXED,
            t.VERIFY_ABORTED: s.UNFIXED,  # default only: restores `state_before` (RESTORES)
        },
        s.FIXED_PENDING_RESTART: {
            # R-L4: never auto-verified; the next scan decides.
            t.DETECTED: s.UNFIXED,
            t.DETECTED_PENDING_RESTART: s.FIXED_PENDING_RESTART,
            t.NOT_DETECTED: s.FIXED_PENDING_RESTART,
            t.CLEAR: s.FIXED,
            t.EXPIRE: s.EXPIRED,
            t.VERIFY_REQUESTED: s.VERIFYING,
            t.RESTARTED: s.FIXED_PENDING_RESTART,
            t.ROLLBACK_REQUESTED: s.ROLLING_BACK,
            t.IGNORE: s.IGNORED,
        },
        s.FIXED: {
            t.DETECTED: s.UNFIXED,  # R-L7 reopen, occurrence + 1
            t.DETECTED_PENDING_RESTART: s.FIXED_PENDING_RESTART,
            t.NOT_DETECTED: s.FIXED,
            t.ROLLBACK_REQUESTED: s.ROLLING_BACK,
        },
        s.ROLLING_BACK: {
            t.DETECTED: s.ROLLING_BACK,
            t.DETECTED_PENDING_RESTART: s.ROLLING_BACK,
            t.NOT_DETECTED: s.ROLLING_BACK,
            t.EXPIRE: s.EXPIRED,
            t.ROLLBACK_SUCCEEDED: s.ROLLED_BACK,
            t.ROLLBACK_SUCCEEDED_RESTART_REQUIRED: s.ROLLED_BACK_PENDING_RESTART,
            t.ROLLBACK_FAILED: s.ROLLBACK_FAILED,
        },
        s.ROLLED_BACK: {
            t.DETECTED: s.ROLLED_BACK,
            t.DETECTED_PENDING_RESTART: s.FIXED_PENDING_RESTART,
            t.NOT_DETECTED: s.ROLLED_BACK,
            t.CLEAR: s.FIXED,
            t.EXPIRE: s.EXPIRED,
            t.VERIFY_REQUESTED: s.VERIFYING,
            t.FIX_REQUESTED: s.FIXING,
            t.IGNORE: s.IGNORED,
        },
        s.ROLLED_BACK_PENDING_RESTART: {
            t.DETECTED: s.ROLLED_BACK,  # the old version runs again: rollback complete
            t.DETECTED_PENDING_RESTART: s.FIXED_PENDING_RESTART,
            t.NOT_DETECTED: s.ROLLED_BACK_PENDING_RESTART,
            t.CLEAR: s.FIXED,
            t.EXPIRE: s.EXPIRED,
            t.VERIFY_REQUESTED: s.VERIFYING,
            t.RESTARTED: s.ROLLED_BACK_PENDING_RESTART,
            t.FIX_REQUESTED: s.FIXING,
            t.IGNORE: s.IGNORED,
        },
        s.ROLLBACK_FAILED: {
            t.DETECTED: s.ROLLBACK_FAILED,
            t.DETECTED_PENDING_RESTART: s.FIXED_PENDING_RESTART,
            t.NOT_DETECTED: s.ROLLBACK_FAILED,
            t.CLEAR: s.FIXED,
            t.EXPIRE: s.EXPIRED,
            t.VERIFY_REQUESTED: s.VERIFYING,
            t.FIX_REQUESTED: s.FIXING,
            t.ROLLBACK_REQUESTED: s.ROLLING_BACK,
            t.IGNORE: s.IGNORED,
        },
        s.IGNORED: {
            t.DETECTED: s.IGNORED,
            t.DETECTED_PENDING_RESTART: s.IGNORED,
            t.NOT_DETECTED: s.IGNORED,
            t.UNIGNORE: s.UNFIXED,  # default only: restores `state_before` (RESTORES)
        },
        s.EXPIRED: {
            t.DETECTED: s.UNFIXED,  # the agent is back and still vulnerable: revive
            t.DETECTED_PENDING_RESTART: s.FIXED_PENDING_RESTART,
        },
    }
    return {(state, trig): to for state, row in moves.items() for trig, to in row.items()}


TRANSITIONS: Mapping[Tuple[State, Trigger], State] = _table()
"""Every legal move. A pair that is absent is illegal."""

RESTORES: FrozenSet[Tuple[State, Trigger]] = frozenset(
    {(State.IGNORED, Trigger.UNIGNORE), (State.VERIFYING, Trigger.VERIFY_ABORTED)}
)
"""Moves that go back to `Record.state_before`; their table target is the fallback."""
_RESTORE_TRIGGERS = frozenset(trigger for _, trigger in RESTORES)

BUSY: FrozenSet[State] = frozenset({State.FIXING, State.VERIFYING, State.ROLLING_BACK})
"""States in which an agent action is running; only its result moves the record."""

_RESULTS = {
    Trigger.FIX_SUCCEEDED: "fix",
    Trigger.FIX_SUCCEEDED_RESTART_REQUIRED: "fix",
    Trigger.FIX_FAILED: "fix",
    Trigger.VERIFY_FIXED: "verify",
    Trigger.VERIFY_RESTART_REQUIRED: "verify",
    Trigger.VERIFY_STILL_VULNERABLE: "verify",
    Trigger.VERIFY_ABORTED: "verify",
    Trigger.ROLLBACK_SUCCEEDED: "rollback",
    Trigger.ROLLBACK_SUCCEEDED_RESTART_REQUIRED: "rollback",
    Trigger.ROLLBACK_FAILED: "rollback",
}


def new_record(
    vuln_type: VulnType,
    severity: Severity,
    at: datetime,
    *,
    pending_restart: bool = False,
    actor: str = SYSTEM_ACTOR,
) -> Tuple[Record, RecordEvent]:
    """The record a first detection creates, and its creation event (`from_state` None).

    `pending_restart`: the scan already sees the fix installed but not running (the host was
    patched by hand), so the record starts in `fixed_pending_restart`.
    """
    _require_aware(at, "at")
    trigger = Trigger.DETECTED_PENDING_RESTART if pending_restart else Trigger.DETECTED
    state = State.FIXED_PENDING_RESTART if pending_restart else State.UNFIXED
    record = Record(state, vuln_type, severity, first_seen=at, last_seen=at, changed_at=at)
    return record, RecordEvent(at, actor, trigger, None, state, "first detection")


def transition(
    record: Record,
    trigger: Trigger,
    at: datetime,
    actor: str = SYSTEM_ACTOR,
    reason: str = "",
    *,
    policy: LifecyclePolicy = DEFAULT_POLICY,
    agent_last_seen: Optional[datetime] = None,
) -> Tuple[Record, RecordEvent]:
    """Apply one trigger at time `at`: the new record and the event to store.

    Raises `IllegalTransition` when the state does not allow the trigger or a guard fails:
    `clear` needs `policy.clear_after` of non-detection (R-L2); `expire` needs
    `agent_last_seen` older than the type's TTL (R-L1); `fix_requested` and
    `rollback_requested` need a one-click type (R-F1); `ignore` needs a reason and a user
    (R-L5). An empty `reason` is replaced by a generated one where the move has an obvious why.
    """
    _require_aware(at, "at")
    target = TRANSITIONS.get((record.state, trigger))
    if target is None:
        raise IllegalTransition(record.state, trigger, _why_illegal(record, trigger))
    _check_guards(record, trigger, at, actor, reason, policy, agent_last_seen)
    if (record.state, trigger) in RESTORES and record.state_before is not None:
        target = record.state_before
    new = _apply(record, trigger, target, at, actor, reason, agent_last_seen)
    if target is not record.state:
        new = replace(new, changed_at=at)
    why = reason or _default_reason(record, new, trigger, policy, agent_last_seen)
    return new, RecordEvent(at, actor, trigger, record.state, target, why)


def due_for_expiry(
    record: Record,
    agent_last_seen: Optional[datetime],
    now: datetime,
    policy: LifecyclePolicy = DEFAULT_POLICY,
) -> bool:
    """True when the sweep should `expire` the record (R-L1).

    The TTL counts from the agent's last contact; `agent_last_seen` None (never reported) is
    not due. Exactly the TTL is due.
    """
    if (record.state, Trigger.EXPIRE) not in TRANSITIONS or agent_last_seen is None:
        return False
    return now - agent_last_seen >= policy.offline_expiry[record.vuln_type]


def due_for_clear(
    record: Record, scanned_at: datetime, policy: LifecyclePolicy = DEFAULT_POLICY
) -> bool:
    """True when the record should be cleared to `fixed` (R-L2).

    `scanned_at` is the time of the latest *complete* scan of the record's type that did not
    detect it — not the wall clock: a host that stopped reporting must expire (R-L1), never
    clear, so only a scan can confirm the streak. A scan whose collector failed is no
    non-detection (STYLE E3) and must not be passed here. Exactly `clear_after` is due.
    """
    if (record.state, Trigger.CLEAR) not in TRANSITIONS or record.undetected_since is None:
        return False
    return scanned_at - record.undetected_since >= policy.clear_after


def apply_scan(
    record: Record,
    detected: bool,
    at: datetime,
    policy: LifecyclePolicy = DEFAULT_POLICY,
    *,
    pending_restart: bool = False,
) -> Tuple[Record, List[RecordEvent]]:
    """Fold one complete scan result into the record: detection, grace period and clear rule.

    Call it only for scans that could have seen the record: when the collector covering it
    failed, skip the record (STYLE E3). Events are returned only for moves worth auditing —
    a state change, a started or broken non-detection streak — not for every repeat sighting.
    `pending_restart` (with `detected`) means the fix is installed but the old version still
    runs. An expired record that is not detected stays expired, with no event (R-L1).
    """
    _require_aware(at, "at")
    if pending_restart and not detected:
        raise ValueError("apply_scan: pending_restart needs detected=True")
    if detected:
        trigger = Trigger.DETECTED_PENDING_RESTART if pending_restart else Trigger.DETECTED
        target = TRANSITIONS[(record.state, trigger)]
        if target is record.state and record.undetected_since is None:
            return replace(record, last_seen=at), []
        new, event = transition(record, trigger, at, policy=policy)
        return new, [event]
    if record.state in (State.EXPIRED, State.FIXED):
        return record, []
    events: List[RecordEvent] = []
    if record.undetected_since is None:
        record, event = transition(record, Trigger.NOT_DETECTED, at, policy=policy)
        events.append(event)
    if due_for_clear(record, at, policy):
        record, event = transition(record, Trigger.CLEAR, at, policy=policy)
        events.append(event)
    return record, events


def applies_to_level(severity: Severity, enabled_levels: Collection[Severity]) -> bool:
    """Whether records of this severity are scanned and updated under these levels (R-D4).

    `none` counts as `low`. `unknown` always applies: we cannot tell its level, and hiding it
    could hide a critical one.
    """
    if severity is Severity.UNKNOWN:
        return True
    level = Severity.LOW if severity is Severity.NONE else severity
    return level in enabled_levels


def level_not_enabled_reason(severity: Severity, enabled_levels: Collection[Severity]) -> str:
    """What the console says when a record's level is not scanned (R-D4: verify changes nothing).

    Raises ValueError when the level is enabled: there is nothing to explain then.
    """
    if applies_to_level(severity, enabled_levels):
        raise ValueError(f"severity {severity.value} is enabled; nothing to explain")
    enabled = ", ".join(s.value for s in SCAN_LEVELS if s in enabled_levels) or "none"
    return (
        f"severity {severity.value} is not a selected scan level (selected: {enabled}); "
        "records of unselected levels are neither scanned nor updated"
    )


# -- helpers -------------------------------------------------------------------------------------


def _require_aware(value: datetime, name: str) -> None:
    # Naive and aware datetimes cannot be subtracted; fail at the call, not deep in a sweep.
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{name} must be a timezone-aware datetime, got naive {value}")


def _check_guards(
    record: Record,
    trigger: Trigger,
    at: datetime,
    actor: str,
    reason: str,
    policy: LifecyclePolicy,
    agent_last_seen: Optional[datetime],
) -> None:
    def refuse(why: str) -> None:
        raise IllegalTransition(record.state, trigger, why)

    if trigger is Trigger.CLEAR:
        since = record.undetected_since
        if since is None:
            refuse("the last scan detected it; there is nothing to clear")
        elif at - since < policy.clear_after:
            refuse(
                f"not detected since {since.isoformat()} only; records are cleared after "
                f"{_days(policy.clear_after)} of non-detection"
            )
    elif trigger is Trigger.EXPIRE:
        ttl = policy.offline_expiry[record.vuln_type]
        if agent_last_seen is None:
            refuse("expire needs the agent's last contact time")
        else:
            _require_aware(agent_last_seen, "agent_last_seen")
            if at - agent_last_seen < ttl:
                refuse(
                    f"agent last seen {agent_last_seen.isoformat()}; {record.vuln_type.value} "
                    f"records expire after {_days(ttl)} offline"
                )
    elif trigger in (Trigger.FIX_REQUESTED, Trigger.ROLLBACK_REQUESTED):
        if record.vuln_type not in ONE_CLICK_FIX:
            refuse(
                f"{record.vuln_type.value} vulnerabilities have no one-click fix or rollback; "
                "follow the manual guidance"
            )
    elif trigger is Trigger.IGNORE:
        if not reason.strip():
            refuse("ignore needs a reason")
        if not actor.strip() or actor == SYSTEM_ACTOR:
            refuse("ignore needs the user who ignores the record")


def _apply(
    record: Record,
    trigger: Trigger,
    target: State,
    at: datetime,
    actor: str,
    reason: str,
    agent_last_seen: Optional[datetime],
) -> Record:
    new = replace(record, state=target)
    if trigger in (Trigger.DETECTED, Trigger.DETECTED_PENDING_RESTART):
        new = replace(new, last_seen=at, undetected_since=None, offline_since=None)
        if record.state is State.FIXED and trigger is Trigger.DETECTED:
            new = replace(new, occurrence=record.occurrence + 1)
    elif trigger is Trigger.NOT_DETECTED:
        new = replace(new, undetected_since=record.undetected_since or at)
    elif trigger is Trigger.EXPIRE:
        new = replace(new, offline_since=agent_last_seen)
    elif trigger is Trigger.IGNORE:
        new = replace(new, state_before=record.state, ignored_reason=reason, ignored_by=actor)
    elif trigger is Trigger.UNIGNORE:
        new = replace(new, state_before=None, ignored_reason=None, ignored_by=None)
    elif trigger is Trigger.VERIFY_REQUESTED:
        new = replace(new, state_before=record.state)
    elif _RESULTS.get(trigger) == "verify":
        new = replace(new, state_before=None)
        if trigger in (Trigger.VERIFY_STILL_VULNERABLE, Trigger.VERIFY_RESTART_REQUIRED):
            # The verify scan saw it: that is a detection (R-L3).
            new = replace(new, last_seen=at, undetected_since=None)
    return new


def _default_reason(
    old: Record,
    new: Record,
    trigger: Trigger,
    policy: LifecyclePolicy,
    agent_last_seen: Optional[datetime],
) -> str:
    if trigger is Trigger.DETECTED and old.state is State.FIXED:
        return f"detected again: reopened as occurrence {new.occurrence}"
    if trigger in (Trigger.DETECTED, Trigger.DETECTED_PENDING_RESTART):
        if old.state is State.EXPIRED:
            return "agent back online and the scan detects it: record revived"
        if old.undetected_since is not None:
            return f"detected again; non-detection since {old.undetected_since.isoformat()} reset"
    if trigger is Trigger.DETECTED_PENDING_RESTART and new.state is not old.state:
        return "the fixed version is installed but the old one still runs: restart, then verify"
    if trigger is Trigger.DETECTED and old.state is State.FIXED_PENDING_RESTART:
        return "the scan sees the vulnerable version again: the fix is not in place"
    if trigger is Trigger.DETECTED and old.state is State.ROLLED_BACK_PENDING_RESTART:
        return "the previous version runs again: the rollback is complete"
    if trigger is Trigger.NOT_DETECTED and old.undetected_since is None:
        return f"not detected; cleared after {_days(policy.clear_after)} unless seen again"
    if trigger is Trigger.CLEAR and old.undetected_since is not None:
        return (
            f"not detected since {old.undetected_since.isoformat()} (≥ {_days(policy.clear_after)})"
        )
    if trigger is Trigger.EXPIRE and agent_last_seen is not None:
        ttl = policy.offline_expiry[old.vuln_type]
        return (
            f"agent offline since {agent_last_seen.isoformat()}: {old.vuln_type.value} "
            f"records expire after {_days(ttl)}"
        )
    if trigger in _RESTORE_TRIGGERS and old.state_before is not None:
        return f"back to {new.state.value}"
    return ""


def _why_illegal(record: Record, trigger: Trigger) -> str:
    state = record.state
    if state is State.EXPIRED:
        offline = (
            f"agent offline since {record.offline_since.isoformat()}"
            if record.offline_since
            else "agent offline too long"
        )
        return f"record expired: {offline}, it can no longer be fixed, verified or cleared"
    if state is State.IGNORED:
        by = f"by {record.ignored_by}: {record.ignored_reason}"
        return f"record is ignored ({by}); unignore it first"
    action = _RESULTS.get(trigger)
    if action is not None:
        return f"no {action} is running for this record"
    if state in BUSY:
        return f"an action is running ({state.value}); wait for its result"
    if trigger is Trigger.UNIGNORE:
        return "record is not ignored"
    if trigger is Trigger.RESTARTED:
        return "nothing is waiting for a restart"
    if trigger is Trigger.EXPIRE:
        return f"{state.value} records do not expire"
    if state is State.FIXED:
        return "record is fixed; a new detection reopens it"
    if trigger is Trigger.CLEAR:
        return f"{state.value} records are not cleared"
    if state is State.FIXED_PENDING_RESTART and trigger is Trigger.FIX_REQUESTED:
        return "the fix is installed and waits for a restart: restart, then verify"
    if trigger is Trigger.ROLLBACK_REQUESTED:
        return "nothing to roll back: no fix was applied to this record"
    return f"{trigger.value} is not allowed in state {state.value}"


def _days(delta: timedelta) -> str:
    if delta % timedelta(days=1):
        return str(delta)
    n = delta.days
    return f"{n} day" if n == 1 else f"{n} days"
