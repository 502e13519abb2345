"""Record lifecycle (core.records): the full transition table, guards, time rules (SPEC §3)."""

from __future__ import annotations

import itertools
from dataclasses import replace
from datetime import datetime, timedelta, timezone
from typing import Dict, List, Optional, Tuple

import pytest

from patchwarden.core.advisory import Severity
from patchwarden.core.records import (
    DEFAULT_POLICY,
    OFFLINE_EXPIRY,
    RESTORES,
    TRANSITIONS,
    IllegalTransition,
    LifecyclePolicy,
    Record,
    State,
    Trigger,
    VulnType,
    applies_to_level,
    apply_scan,
    due_for_clear,
    due_for_expiry,
    level_not_enabled_reason,
    new_record,
    purge_due,
    transition,
)

T0 = datetime(2026, 3, 2, 8, 0, tzinfo=timezone.utc)
DAY = timedelta(days=1)
USER = "alice"

# -- the expected table, written to be read against SPEC §3 -------------------------------------
# One line per state: trigger → target. Every pair not listed must raise IllegalTransition.
U, FI, FF, V = State.UNFIXED, State.FIXING, State.FIX_FAILED, State.VERIFYING
FPR, F, RB, RBD = State.FIXED_PENDING_RESTART, State.FIXED, State.ROLLING_BACK, State.ROLLED_BACK
RBPR, RF, IGN, EXP = (
    State.ROLLED_BACK_PENDING_RESTART,
    State.ROLLBACK_FAILED,
    State.IGNORED,
    State.EXPIRED,
)
t = Trigger
SCAN_SELF = {t.DETECTED, t.DETECTED_PENDING_RESTART, t.NOT_DETECTED}  # scans leave it as is

EXPECTED: Dict[State, Dict[Trigger, State]] = {
    U: {t.DETECTED: U, t.DETECTED_PENDING_RESTART: FPR, t.NOT_DETECTED: U, t.CLEAR: F,
        t.EXPIRE: EXP, t.VERIFY_REQUESTED: V, t.FIX_REQUESTED: FI, t.IGNORE: IGN},
    FI: {**dict.fromkeys(SCAN_SELF, FI), t.EXPIRE: EXP,
         t.FIX_SUCCEEDED: F, t.FIX_SUCCEEDED_RESTART_REQUIRED: FPR, t.FIX_FAILED: FF},
    FF: {t.DETECTED: FF, t.DETECTED_PENDING_RESTART: FPR, t.NOT_DETECTED: FF, t.CLEAR: F,
         t.EXPIRE: EXP, t.VERIFY_REQUESTED: V, t.FIX_REQUESTED: FI, t.ROLLBACK_REQUESTED: RB,
         t.IGNORE: IGN},
    V: {**dict.fromkeys(SCAN_SELF, V), t.EXPIRE: EXP, t.VERIFY_FIXED: F,
        t.VERIFY_RESTART_REQUIRED: FPR, t.VERIFY_STILL_VULNERABLE: U, t.VERIFY_ABORTED: U},
    FPR: {t.DETECTED: U, t.DETECTED_PENDING_RESTART: FPR, t.NOT_DETECTED: FPR, t.CLEAR: F,
          t.EXPIRE: EXP, t.VERIFY_REQUESTED: V, t.RESTARTED: FPR, t.ROLLBACK_REQUESTED: RB,
          t.IGNORE: IGN},
    F: {t.DETECTED: U, t.DETECTED_PENDING_RESTART: FPR, t.NOT_DETECTED: F,
        t.ROLLBACK_REQUESTED: RB},
    RB: {**dict.fromkeys(SCAN_SELF, RB), t.EXPIRE: EXP, t.ROLLBACK_SUCCEEDED: RBD,
         t.ROLLBACK_SUCCEEDED_RESTART_REQUIRED: RBPR, t.ROLLBACK_FAILED: RF},
    RBD: {t.DETECTED: RBD, t.DETECTED_PENDING_RESTART: FPR, t.NOT_DETECTED: RBD, t.CLEAR: F,
          t.EXPIRE: EXP, t.VERIFY_REQUESTED: V, t.FIX_REQUESTED: FI, t.IGNORE: IGN},
    RBPR: {t.DETECTED: RBD, t.DETECTED_PENDING_RESTART: FPR, t.NOT_DETECTED: RBPR, t.CLEAR: F,
           t.EXPIRE: EXP, t.VERIFY_REQUESTED: V, t.RESTARTED: RBPR, t.FIX_REQUESTED: FI,
           t.IGNORE: IGN},
    RF: {t.DETECTED: RF, t.DETECTED_PENDING_RESTART: FPR, t.NOT_DETECTED: RF, t.CLEAR: F,
         t.EXPIRE: EXP, t.VERIFY_REQUESTED: V, t.FIX_REQUESTED: FI, t.ROLLBACK_REQUESTED: RB,
         t.IGNORE: IGN},
    IGN: {**dict.fromkeys(SCAN_SELF, IGN), t.UNIGNORE: U},
    EXP: {t.DETECTED: U, t.DETECTED_PENDING_RESTART: FPR},
}  # fmt: skip


def record_in(
    state: State,
    vuln_type: VulnType = VulnType.LINUX,
    *,
    undetected_since: Optional[datetime] = None,
    state_before: Optional[State] = None,
) -> Record:
    """A record in `state`, first seen a week before T0, fit for any legal trigger."""
    rec = Record(
        state=state,
        vuln_type=vuln_type,
        severity=Severity.HIGH,
        first_seen=T0 - 7 * DAY,
        last_seen=T0 - 5 * DAY,
        changed_at=T0 - 5 * DAY,
        undetected_since=undetected_since,
        state_before=state_before,
    )
    if state is State.IGNORED:
        rec = replace(rec, ignored_reason="accepted risk", ignored_by=USER)
    if state is State.EXPIRED:
        rec = replace(rec, offline_since=T0 - 4 * DAY)
    return rec


def fire(rec: Record, trigger: Trigger, at: datetime = T0) -> Tuple[Record, str]:
    """Apply `trigger` with the arguments each guard needs; (new record, event reason)."""
    new, event = transition(
        rec,
        trigger,
        at,
        actor=USER,
        reason="accepted risk" if trigger is Trigger.IGNORE else "",
        agent_last_seen=at - 30 * DAY,
    )
    assert (event.at, event.actor, event.trigger) == (at, USER, trigger)
    assert (event.from_state, event.to_state) == (rec.state, new.state)
    return new, event.reason


def test_expected_table_matches_transitions() -> None:
    """The table in the module is exactly the one written above (nothing extra, nothing lost)."""
    flat = {(s, trig): to for s, row in EXPECTED.items() for trig, to in row.items()}
    assert dict(TRANSITIONS) == flat
    assert set(EXPECTED) == set(State)


@pytest.mark.parametrize(
    ("state", "trigger"),
    list(itertools.product(State, Trigger)),
    ids=[f"{s.value}-{tr.value}" for s, tr in itertools.product(State, Trigger)],
)
def test_every_state_trigger_pair(state: State, trigger: Trigger) -> None:
    """Each of the 12 × 21 pairs either moves to the expected state or is refused with a why."""
    expected = EXPECTED[state].get(trigger)
    # A record that has been undetected long enough, so that `clear` passes its guard.
    rec = record_in(state, undetected_since=T0 - 4 * DAY)
    if expected is None:
        with pytest.raises(IllegalTransition) as info:
            fire(rec, trigger)
        assert info.value.state is state and info.value.trigger is trigger
        assert info.value.why and trigger.value in str(info.value)
    else:
        new, _ = fire(rec, trigger)
        assert new.state is expected
        assert new.changed_at == (T0 if expected is not state else rec.changed_at)


def test_state_and_trigger_values_are_the_spec_names() -> None:
    """SPEC §3 names, verbatim (storage and the API use these strings)."""
    assert [s.value for s in State] == [
        "unfixed", "fixing", "fix_failed", "verifying", "fixed_pending_restart", "fixed",
        "rolling_back", "rolled_back", "rolled_back_pending_restart", "rollback_failed",
        "ignored", "expired",
    ]  # fmt: skip
    assert [v.value for v in VulnType] == ["linux", "windows", "cms", "app", "emergency"]


# -- refusals with their reasons ------------------------------------------------------------------


@pytest.mark.parametrize(
    "trigger",
    [t.FIX_REQUESTED, t.VERIFY_REQUESTED, t.CLEAR, t.ROLLBACK_REQUESTED, t.IGNORE,
     t.NOT_DETECTED],
)  # fmt: skip
def test_expired_refuses_actions_with_offline_reason(trigger: Trigger) -> None:
    """R-L1: expired records can no longer be fixed, verified or cleared; the why says so."""
    with pytest.raises(IllegalTransition) as info:
        fire(record_in(EXP), trigger)
    assert info.value.why == (
        "record expired: agent offline since 2026-02-26T08:00:00+00:00, it can no longer "
        "be fixed, verified or cleared (R-L1)"
    )


def test_expired_without_offline_time_still_explains() -> None:
    """A record stored before `offline_since` existed still gets the R-L1 reason."""
    with pytest.raises(IllegalTransition) as info:
        fire(replace(record_in(EXP), offline_since=None), t.FIX_REQUESTED)
    assert info.value.why.startswith("record expired: agent offline too long, it can no longer")


def test_ignored_refuses_verify() -> None:
    """An ignored record is not verified or fixed until unignored."""
    for trigger in (t.VERIFY_REQUESTED, t.FIX_REQUESTED, t.CLEAR):
        with pytest.raises(IllegalTransition, match="record is ignored"):
            fire(record_in(IGN), trigger)


@pytest.mark.parametrize(
    ("state", "trigger", "why"),
    [
        (FI, t.VERIFY_REQUESTED, "an action is running (fixing)"),
        (V, t.IGNORE, "an action is running (verifying)"),
        (U, t.FIX_SUCCEEDED, "no fix is running"),
        (FPR, t.VERIFY_FIXED, "no verify is running"),
        (F, t.ROLLBACK_FAILED, "no rollback is running"),
        (U, t.UNIGNORE, "record is not ignored"),
        (U, t.RESTARTED, "nothing is waiting for a restart"),
        (F, t.EXPIRE, "fixed records do not expire"),
        (F, t.VERIFY_REQUESTED, "a new detection reopens it"),
        (FPR, t.FIX_REQUESTED, "restart, then verify (R-L4)"),
        (U, t.ROLLBACK_REQUESTED, "nothing to roll back"),
        (RBD, t.ROLLBACK_REQUESTED, "nothing to roll back"),
    ],
)
def test_refusal_reasons(state: State, trigger: Trigger, why: str) -> None:
    """Each refusal explains itself in words a console user can act on."""
    with pytest.raises(IllegalTransition) as info:
        fire(record_in(state), trigger)
    assert why in info.value.why


@pytest.mark.parametrize("vuln_type", [VulnType.APP, VulnType.EMERGENCY])
@pytest.mark.parametrize("trigger", [t.FIX_REQUESTED, t.ROLLBACK_REQUESTED])
def test_no_one_click_fix_for_app_and_emergency(vuln_type: VulnType, trigger: Trigger) -> None:
    """R-F1: application and emergency vulns get manual guidance, no fix or rollback."""
    with pytest.raises(IllegalTransition, match=r"manual guidance \(R-F1\)"):
        fire(record_in(FF, vuln_type), trigger)


@pytest.mark.parametrize("vuln_type", [VulnType.LINUX, VulnType.WINDOWS, VulnType.CMS])
def test_one_click_types_can_be_fixed(vuln_type: VulnType) -> None:
    """R-F1: system vulns and Web-CMS have one-click fix."""
    assert fire(record_in(U, vuln_type), t.FIX_REQUESTED)[0].state is FI


# -- ignore / unignore (R-L5) ---------------------------------------------------------------------


@pytest.mark.parametrize("before", [U, FF, FPR, RBD, RBPR, RF])
def test_unignore_restores_the_state_before(before: State) -> None:
    """Ignore keeps who and why; unignore goes back to where the record was and forgets them."""
    ignored, event = transition(record_in(before), t.IGNORE, T0, actor=USER, reason="test box")
    assert ignored.state is IGN and ignored.state_before is before
    assert (ignored.ignored_by, ignored.ignored_reason) == (USER, "test box")
    assert event.reason == "test box"
    back, event = transition(ignored, t.UNIGNORE, T0 + DAY, actor="bob")
    assert back.state is before and event.to_state is before
    assert (back.state_before, back.ignored_by, back.ignored_reason) == (None, None, None)
    assert back.changed_at == T0 + DAY
    assert event.reason == f"back to {before.value}"


def test_unignore_without_remembered_state_falls_back_to_unfixed() -> None:
    """A record ignored before `state_before` existed (or imported) reopens as unfixed."""
    assert fire(record_in(IGN), t.UNIGNORE)[0].state is U


@pytest.mark.parametrize(
    ("actor", "reason", "why"),
    [
        (USER, "", "ignore needs a reason (R-L5)"),
        (USER, "   ", "ignore needs a reason (R-L5)"),
        ("system", "noise", "ignore needs the user"),
        ("", "noise", "ignore needs the user"),
    ],
)
def test_ignore_needs_reason_and_user(actor: str, reason: str, why: str) -> None:
    """R-L5: ignore is by a user, with a reason."""
    with pytest.raises(IllegalTransition) as info:
        transition(record_in(U), t.IGNORE, T0, actor=actor, reason=reason)
    assert why in info.value.why


def test_ignored_record_keeps_tracking_scans() -> None:
    """Scans still update an ignored record; unignore then sees its streak and can clear it."""
    rec, _ = transition(record_in(U), t.IGNORE, T0, actor=USER, reason="accepted")
    rec, events = apply_scan(rec, False, T0 + DAY)
    assert rec.state is IGN and rec.undetected_since == T0 + DAY and len(events) == 1
    rec, events = apply_scan(rec, False, T0 + 5 * DAY)
    assert rec.state is IGN and events == []  # ignored records are not cleared
    rec, _ = transition(rec, t.UNIGNORE, T0 + 5 * DAY, actor=USER)
    rec, events = apply_scan(rec, False, T0 + 6 * DAY)
    assert rec.state is F and [e.trigger for e in events] == [t.CLEAR]


# -- verify (R-L3, R-L4) ------------------------------------------------------------------------


@pytest.mark.parametrize("before", [U, FF, FPR, RBD, RBPR, RF])
def test_verify_aborted_restores_the_state_before(before: State) -> None:
    """A verify that could not run leaves the record as it was."""
    verifying, _ = fire(record_in(before), t.VERIFY_REQUESTED)
    assert verifying.state is V and verifying.state_before is before
    back, _ = fire(verifying, t.VERIFY_ABORTED, T0 + DAY)
    assert back.state is before and back.state_before is None


def test_verify_outcomes() -> None:
    """Fixed, fixed but needs restart, still vulnerable; a seeing verify counts as a detection."""
    verifying, _ = fire(record_in(FPR, undetected_since=T0 - DAY), t.VERIFY_REQUESTED)
    fixed, _ = fire(verifying, t.VERIFY_FIXED, T0 + DAY)
    assert fixed.state is F and fixed.state_before is None
    pending, _ = fire(verifying, t.VERIFY_RESTART_REQUIRED, T0 + DAY)
    assert pending.state is FPR and pending.last_seen == T0 + DAY
    assert pending.undetected_since is None
    still, _ = fire(verifying, t.VERIFY_STILL_VULNERABLE, T0 + DAY)
    assert still.state is U and still.last_seen == T0 + DAY and still.undetected_since is None


def test_pending_restart_is_decided_by_the_next_scan() -> None:
    """R-L4: restart is audited but changes nothing; the next scan or a verify decides."""
    fixing, _ = fire(record_in(U), t.FIX_REQUESTED)
    pending, _ = fire(fixing, t.FIX_SUCCEEDED_RESTART_REQUIRED)
    assert pending.state is FPR
    restarted, event = transition(pending, t.RESTARTED, T0 + DAY, actor=USER)
    assert restarted.state is FPR and event.trigger is t.RESTARTED
    # Old kernel still running (e.g. GRUB default pinned, R-F5): stays pending, no event.
    same, events = apply_scan(restarted, True, T0 + DAY, pending_restart=True)
    assert same.state is FPR and events == []
    # The vulnerable version is back (fix undone): unfixed.
    undone, events = apply_scan(restarted, True, T0 + DAY)
    assert undone.state is U and [e.to_state for e in events] == [U]
    # Not detected any more: cleared after the grace period, never sooner.
    rec, events = apply_scan(restarted, False, T0 + 2 * DAY)
    assert rec.state is FPR
    rec, events = apply_scan(rec, False, T0 + 5 * DAY)
    assert rec.state is F


# -- scans, clear rule (R-L2), reopen (R-L7) ------------------------------------------------------


def test_new_record() -> None:
    """First detection creates an unfixed record with a creation event."""
    rec, event = new_record(VulnType.CMS, Severity.CRITICAL, T0)
    assert (rec.state, rec.first_seen, rec.last_seen, rec.occurrence) == (U, T0, T0, 1)
    assert event.from_state is None and event.to_state is U and event.trigger is t.DETECTED
    rec, event = new_record(VulnType.LINUX, Severity.HIGH, T0, pending_restart=True)
    assert rec.state is FPR and event.trigger is t.DETECTED_PENDING_RESTART


def scan_series(
    detections: List[Tuple[float, bool]], start: Record
) -> Tuple[Record, List[Trigger]]:
    """Apply (day offset from T0, detected) scans in order; the record and all event triggers."""
    rec, triggers = start, []
    for day, seen in detections:
        rec, events = apply_scan(rec, seen, T0 + timedelta(days=day))
        triggers += [e.trigger for e in events]
    return rec, triggers


@pytest.mark.parametrize(
    ("scans", "state", "triggers"),
    [
        pytest.param([(0, False), (1, False), (2, False)], U, [t.NOT_DETECTED], id="2 days: kept"),
        pytest.param(
            [(0, False), (1, False), (2, False), (3, False)],
            F,
            [t.NOT_DETECTED, t.CLEAR],
            id="exactly 3 days: cleared",
        ),
        pytest.param(
            [(0, False), (2.999, False)], U, [t.NOT_DETECTED], id="one second short: kept"
        ),
        pytest.param([(0, False), (7, False)], F, [t.NOT_DETECTED, t.CLEAR], id="weekly scans"),
        pytest.param(
            [(0, False), (2, True), (3, False), (5, False)],
            U,
            [t.NOT_DETECTED, t.DETECTED, t.NOT_DETECTED],
            id="detection resets the streak",
        ),
        pytest.param(
            [(0, False), (2, True), (3, False), (6, False)],
            F,
            [t.NOT_DETECTED, t.DETECTED, t.NOT_DETECTED, t.CLEAR],
            id="new streak of 3 days",
        ),
        pytest.param([(0, True), (1, True), (2, True)], U, [], id="repeat sightings: no events"),
    ],
)
def test_clear_rule(scans: List[Tuple[float, bool]], state: State, triggers: List[Trigger]) -> None:
    """R-L2: cleared only after 3 consecutive days of non-detection; a detection resets it."""
    rec, got = scan_series(scans, record_in(U))
    assert rec.state is state
    assert got == triggers


def test_streak_start_is_kept_and_last_seen_follows_detections() -> None:
    """`undetected_since` is the first miss; `last_seen` the last hit."""
    rec, _ = scan_series([(0, True), (1, False), (2, False)], record_in(U))
    assert rec.last_seen == T0 and rec.undetected_since == T0 + DAY
    rec, _ = scan_series([(3, True)], rec)
    assert rec.last_seen == T0 + 3 * DAY and rec.undetected_since is None
    again, _ = transition(record_in(U, undetected_since=T0), t.NOT_DETECTED, T0 + 2 * DAY)
    assert again.undetected_since == T0  # a further miss does not restart the streak


def test_clear_reason_and_guard() -> None:
    """The clear event says since when; clearing early is refused with the rule."""
    rec = record_in(U, undetected_since=T0)
    with pytest.raises(IllegalTransition, match=r"cleared after 3 days of non-detection \(R-L2\)"):
        transition(rec, t.CLEAR, T0 + 2 * DAY)
    with pytest.raises(IllegalTransition, match="nothing to clear"):
        transition(record_in(U), t.CLEAR, T0)
    _, event = transition(rec, t.CLEAR, T0 + 3 * DAY)
    assert event.reason == "not detected since 2026-03-02T08:00:00+00:00 (≥ 3 days, R-L2)"
    assert event.actor == "system"


def test_due_for_clear() -> None:
    """Exactly 3 days is due; records without a streak, fixed or busy ones are not."""
    rec = record_in(U, undetected_since=T0)
    assert not due_for_clear(rec, T0 + 3 * DAY - timedelta(seconds=1))
    assert due_for_clear(rec, T0 + 3 * DAY)
    assert not due_for_clear(record_in(U), T0 + 30 * DAY)
    for state in (F, FI, V, RB, IGN, EXP):
        assert not due_for_clear(record_in(state, undetected_since=T0), T0 + 30 * DAY)
    short = LifecyclePolicy(clear_after=timedelta(hours=12))
    assert due_for_clear(rec, T0 + timedelta(hours=12), short)


def test_busy_states_ignore_scans_except_bookkeeping() -> None:
    """While an action runs, scans only refresh last_seen / the streak; the result decides."""
    fixing, _ = fire(record_in(U), t.FIX_REQUESTED)
    rec, events = scan_series([(0, False), (4, False)], fixing)
    assert rec.state is FI and events == [t.NOT_DETECTED]
    rec, events = scan_series([(5, True)], rec)
    assert rec.state is FI and rec.last_seen == T0 + 5 * DAY and rec.undetected_since is None


def test_fixed_record_reopens_as_new_occurrence() -> None:
    """R-L7: a fixed record detected again is unfixed, occurrence + 1, first_seen kept."""
    rec, _ = scan_series([(0, False), (3, False)], record_in(U))
    assert rec.state is F and rec.occurrence == 1
    rec, triggers = scan_series([(4, False), (10, True)], rec)
    assert rec.state is U and rec.occurrence == 2 and triggers == [t.DETECTED]
    assert rec.first_seen == T0 - 7 * DAY and rec.last_seen == T0 + 10 * DAY
    assert rec.undetected_since is None
    _, event = transition(replace(rec, state=F), t.DETECTED, T0 + 11 * DAY)  # a second reopen
    assert event.reason == "detected again: reopened as occurrence 3 (R-L7)"


def test_fixed_then_pending_restart_is_not_a_new_occurrence() -> None:
    """Fix installed but not running again is not a reopen: the vulnerable version is gone."""
    rec, _ = apply_scan(record_in(F), True, T0, pending_restart=True)
    assert rec.state is FPR and rec.occurrence == 1


def test_pending_restart_needs_a_detection() -> None:
    """`pending_restart` describes a detection; without one it is a caller bug."""
    with pytest.raises(ValueError, match="pending_restart needs detected=True"):
        apply_scan(record_in(U), False, T0, pending_restart=True)


# -- expiry (R-L1) ------------------------------------------------------------------------------


@pytest.mark.parametrize(("vuln_type", "days"), [
    (VulnType.LINUX, 3), (VulnType.WINDOWS, 3), (VulnType.CMS, 7), (VulnType.APP, 30),
    (VulnType.EMERGENCY, 90),
])  # fmt: skip
def test_expiry_per_type(vuln_type: VulnType, days: int) -> None:
    """Each type expires exactly at its TTL after the agent's last contact, not a second sooner."""
    rec = record_in(U, vuln_type)
    last = T0
    assert OFFLINE_EXPIRY[vuln_type] == timedelta(days=days)
    assert not due_for_expiry(rec, last, last + timedelta(days=days, seconds=-1))
    assert due_for_expiry(rec, last, last + timedelta(days=days))
    with pytest.raises(IllegalTransition, match=f"expire after {days} days offline"):
        transition(rec, t.EXPIRE, last + timedelta(days=days, seconds=-1), agent_last_seen=last)
    expired, event = transition(rec, t.EXPIRE, last + days * DAY, agent_last_seen=last)
    assert expired.state is EXP and expired.offline_since == last
    assert event.reason == (
        f"agent offline since 2026-03-02T08:00:00+00:00: {vuln_type.value} records expire "
        f"after {days} days (R-L1)"
    )


def test_due_for_expiry_edge_cases() -> None:
    """Never-seen agents, fixed, ignored and expired records are not due; overrides apply."""
    late = T0 + 365 * DAY
    assert not due_for_expiry(record_in(U), None, late)
    for state in (F, IGN, EXP):
        assert not due_for_expiry(record_in(state), T0, late)
    for state in (FI, V, RB, FPR, RBPR, FF, RF, RBD):
        assert due_for_expiry(record_in(state), T0, late)
    policy = LifecyclePolicy(offline_expiry={**OFFLINE_EXPIRY, VulnType.LINUX: 10 * DAY})
    assert not due_for_expiry(record_in(U), T0, T0 + 9 * DAY, policy)
    assert due_for_expiry(record_in(U), T0, T0 + 10 * DAY, policy)


def test_expire_needs_agent_last_seen() -> None:
    """The sweep must say since when the agent is offline."""
    with pytest.raises(IllegalTransition, match="last contact"):
        transition(record_in(U), t.EXPIRE, T0)


def test_expired_record_revives_or_stays() -> None:
    """Agent back: a detection revives it (same occurrence); a non-detection leaves it expired."""
    expired = record_in(EXP)
    same, events = apply_scan(expired, False, T0)
    assert same == expired and events == []
    revived, events = apply_scan(expired, True, T0)
    assert revived.state is U and revived.occurrence == 1 and revived.offline_since is None
    assert events[0].reason == "agent back online and the scan detects it: record revived"
    pending, _ = apply_scan(expired, True, T0, pending_restart=True)
    assert pending.state is FPR


# -- policy, levels, retention, input checks ------------------------------------------------------


def test_policy_rejects_incomplete_or_non_positive_values() -> None:
    """Settings overrides are checked when the policy is built."""
    with pytest.raises(ValueError, match=r"lacks type\(s\) \['app'\]"):
        LifecyclePolicy(offline_expiry={k: v for k, v in OFFLINE_EXPIRY.items() if k != "app"})
    with pytest.raises(ValueError, match="clear_after must be positive"):
        LifecyclePolicy(clear_after=timedelta(0))
    with pytest.raises(ValueError, match=r"offline_expiry\[cms\] must be positive"):
        LifecyclePolicy(offline_expiry={**OFFLINE_EXPIRY, VulnType.CMS: -DAY})
    assert DEFAULT_POLICY.retention == 7 * DAY and DEFAULT_POLICY.clear_after == 3 * DAY


def test_naive_datetimes_are_rejected() -> None:
    """Naive and aware datetimes cannot be compared; fail at the call."""
    with pytest.raises(ValueError, match="timezone-aware"):
        transition(record_in(U), t.NOT_DETECTED, datetime(2026, 3, 2))
    with pytest.raises(ValueError, match="timezone-aware"):
        apply_scan(record_in(U), True, datetime(2026, 3, 2))
    with pytest.raises(ValueError, match="agent_last_seen must be a timezone-aware"):
        transition(record_in(U), t.EXPIRE, T0, agent_last_seen=datetime(2026, 1, 1))


@pytest.mark.parametrize(
    ("severity", "levels", "applies"),
    [
        (Severity.CRITICAL, {Severity.CRITICAL, Severity.HIGH}, True),
        (Severity.MEDIUM, {Severity.CRITICAL, Severity.HIGH}, False),
        (Severity.LOW, {Severity.LOW}, True),
        (Severity.NONE, {Severity.LOW}, True),
        (Severity.NONE, {Severity.CRITICAL}, False),
        (Severity.UNKNOWN, set(), True),
        (Severity.HIGH, set(), False),
    ],
)
def test_applies_to_level(severity: Severity, levels: set[Severity], applies: bool) -> None:
    """R-D4: only selected levels are scanned and updated; unknown severity is never hidden."""
    assert applies_to_level(severity, levels) is applies


def test_level_not_enabled_reason() -> None:
    """R-D4: the console says why a verify changed nothing."""
    reason = level_not_enabled_reason(Severity.MEDIUM, {Severity.HIGH, Severity.CRITICAL})
    assert reason == (
        "severity medium is not a selected scan level (selected: critical, high); records of "
        "unselected levels are neither scanned nor updated (R-D4)"
    )
    assert "(selected: none)" in level_not_enabled_reason(Severity.LOW, set())
    with pytest.raises(ValueError, match="nothing to explain"):
        level_not_enabled_reason(Severity.HIGH, {Severity.HIGH})


def test_purge_due() -> None:
    """R-L6: deleted exactly 7 days after the lapse, never while the service runs."""
    assert not purge_due(None, T0)
    assert not purge_due(T0, T0 + 7 * DAY - timedelta(seconds=1))
    assert purge_due(T0, T0 + 7 * DAY)
    assert purge_due(T0, T0 + DAY, retention=DAY)


def test_restores_are_in_the_table() -> None:
    """Restoring moves have a fallback target in the table."""
    assert all(pair in TRANSITIONS for pair in RESTORES)
