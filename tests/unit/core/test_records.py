"""Record lifecycle (core.records) against SPEC §3, written down as rules (STYLE D5, T6).

The expected moves are not copied from `core/records.py`: they are derived from `RULES` below,
each quoting the sentence it comes from. A rule's `basis` says how much weight it carries:

- ``SPEC``: the quoted SPEC sentence says it.
- ``SPEC, read``: follows from the quoted SPEC sentence by the reading in `note`.
- ``DOCSTRING``: the spec is silent; a decision the core/records.py module docstring states
  ("Decisions the spec leaves open, taken here").
- ``CODE ONLY``: neither the spec nor the docstring says it; pinned from a comment in
  core/records.py's table so that a change is a decision, not an accident.

Every (state, trigger) pair must be covered by at least one rule, rules covering the same pair
must agree, and `transition()` must do what they say. `NEVER` adds what must not happen, checked
against the rules and the code alike. Guards the console checks (R-L3 and R-F6: agent online;
R-F6: a valid snapshot) live in services and are not tested here.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, replace
from datetime import datetime, timedelta, timezone
from enum import Enum
from typing import Dict, FrozenSet, Iterable, List, Mapping, Optional, Tuple, Union

import pytest

from patchwarden.core import records
from patchwarden.core.advisory import Severity
from patchwarden.core.records import (
    DEFAULT_POLICY,
    OFFLINE_EXPIRY,
    RESTORES,
    IllegalTransition,
    LifecyclePolicy,
    Record,
    State,
    Trigger,
    applies_to_level,
    apply_scan,
    due_for_clear,
    due_for_expiry,
    level_not_enabled_reason,
    new_record,
    transition,
)
from patchwarden.core.vocabulary import VulnType

T0 = datetime(2026, 3, 2, 8, 0, tzinfo=timezone.utc)
DAY = timedelta(days=1)
USER = "alice"

U, FI, FF, V = State.UNFIXED, State.FIXING, State.FIX_FAILED, State.VERIFYING
FPR, F, RB, RBD = State.FIXED_PENDING_RESTART, State.FIXED, State.ROLLING_BACK, State.ROLLED_BACK
RBPR, RF, IGN, EXP = (
    State.ROLLED_BACK_PENDING_RESTART,
    State.ROLLBACK_FAILED,
    State.IGNORED,
    State.EXPIRED,
)
t = Trigger

# -- the rules, from SPEC §3 (and §4 where it names record states) --------------------------------


class Move(Enum):
    """Verdicts that are not a fixed target state."""

    SAME = "stays in its state"
    BACK = "back to the state it had before (Record.state_before)"
    REFUSED = "refused with IllegalTransition"


SAME, BACK, REFUSED = Move.SAME, Move.BACK, Move.REFUSED
Verdict = Union[State, Move]

SPEC, READ, DOC, CODE = "SPEC", "SPEC, read", "DOCSTRING", "CODE ONLY"

ALL_TRIGGERS = frozenset(Trigger)
ALL_STATES = frozenset(State)
OPEN = frozenset({U, FF, FPR, RBD, RBPR, RF})
"""Records the console acts on: nothing running, not fixed, ignored or expired."""
BUSY = frozenset({FI, V, RB})
"""An agent action runs (the states list's -ing states)."""
SCANS = frozenset({t.DETECTED, t.DETECTED_PENDING_RESTART, t.NOT_DETECTED})
DETECTIONS = frozenset({t.DETECTED, t.DETECTED_PENDING_RESTART})
FIX_RESULTS = frozenset({t.FIX_SUCCEEDED, t.FIX_SUCCEEDED_RESTART_REQUIRED, t.FIX_FAILED})
VERIFY_RESULTS = frozenset(
    {t.VERIFY_FIXED, t.VERIFY_RESTART_REQUIRED, t.VERIFY_STILL_VULNERABLE, t.VERIFY_ABORTED}
)
ROLLBACK_RESULTS = frozenset(
    {t.ROLLBACK_SUCCEEDED, t.ROLLBACK_SUCCEEDED_RESTART_REQUIRED, t.ROLLBACK_FAILED}
)
REQUESTS = frozenset(
    {t.VERIFY_REQUESTED, t.FIX_REQUESTED, t.ROLLBACK_REQUESTED, t.IGNORE, t.UNIGNORE, t.RESTARTED}
)


@dataclass(frozen=True)
class Rule:
    """What must happen to records in `states` on each trigger of `moves`, and why."""

    rid: str
    basis: str
    quote: str
    """The sentence the rule comes from, verbatim (SPEC §3/§4, or the module docstring)."""
    states: FrozenSet[State]
    moves: Mapping[Trigger, Verdict]
    note: str = ""
    """The reading, for `SPEC, read` and `CODE ONLY` rules."""
    why: str = ""
    """Text every refusal under this rule must contain (where the spec prescribes the reason)."""


def rule(
    rid: str,
    basis: str,
    quote: str,
    states: Iterable[State],
    moves: Mapping[Trigger, Verdict],
    note: str = "",
    why: str = "",
) -> Rule:
    """A `Rule`, with `states` as any iterable."""
    return Rule(rid, basis, quote, frozenset(states), dict(moves), note, why)


def refuse(triggers: Iterable[Trigger]) -> Dict[Trigger, Verdict]:
    """Each of `triggers` is refused."""
    return dict.fromkeys(triggers, REFUSED)


R_L1_EXPIRE = (
    "When an agent goes offline its records stay in the console but **expire** after: Linux "
    "software 3 days, Windows system 3 days, Web-CMS 7 days, Application 30 days, Emergency "
    "90 days."
)
R_L1_REFUSE = (
    "Expired records can no longer be fixed, verified or cleared (actions refused with that "
    "reason)."
)
R_L2 = (
    "A record not detected by a scan is kept for 3 days (to absorb false negatives from network "
    "or load); it is cleared (→ `fixed`) only after 3 consecutive days of non-detection."
)
R_L3 = (
    "`verify` triggers an immediate scan of that host for that vuln; the status updates within "
    'minutes. It needs the agent online; otherwise it is refused with "agent offline".'
)
R_L4 = (
    "`fixed_pending_restart` is never auto-verified: the user restarts (from the console or by "
    "hand), then verifies; without a verify the next periodic scan checks it."
)
R_L5 = (
    "Ignore (with a reason, by a user, reversible) hides a record from the open list and from "
    "counts; it is audited."
)
R_L7 = 'A "fixed" record that is detected again reopens (new occurrence), history kept.'
R_F1 = (
    "One-click fix exists for system vulns (T1, T2) and Web-CMS (T3); application and emergency "
    "vulns get manual guidance (what to upgrade to, where), because their fix depends on the "
    "business code."
)
R_F4 = (
    "Restart required: always on Windows; on Linux when a kernel vuln was fixed or the advisory "
    "is tagged *Restart Required*; the record then goes to `fixed_pending_restart` and the "
    "console offers Restart."
)
R_F6 = (
    "Before a fix the agent takes a **snapshot** (a restorable backup of what the fix changes). "
    "Rollback restores it; it requires the agent online and a valid (unexpired, not deleted) "
    "snapshot, and says which is missing otherwise."
)
STATES_LIST = (
    "States (one record = host × vulnerability × affected thing): `unfixed` · `fixing` · "
    "`fix_failed` · `verifying` · `fixed_pending_restart` · `fixed` · `rolling_back` · "
    "`rolled_back` · `rolled_back_pending_restart` · `rollback_failed` · `ignored` · `expired`."
)
DOC_SCAN_KINDS = (
    "A scan reports one of three things per record: detected, detected with the fix installed "
    "but not yet running (`detected_pending_restart`: the running kernel or process is still the "
    "old one, DESIGN §4), or not detected."
)
DOC_BUSY = (
    "Scans never move a record while an action runs (`fixing`, `verifying`, `rolling_back`); the "
    "action's result does. They only refresh `last_seen` / the non-detection streak."
)
DOC_NO_EXPIRY = (
    "`fixed` and `ignored` records do not expire: a fixed record has nothing left to act on, and "
    "an ignored one is already hidden (R-L5); expiring it would lose the state `unignore` "
    "restores."
)
DOC_REVIVE = (
    "An `expired` record whose agent comes back revives when a scan detects it again "
    "(→ `unfixed`, or `fixed_pending_restart`); it is the same occurrence, since nobody saw it "
    "go away."
)
DOC_STAYS_EXPIRED = (
    "A scan that does not detect it leaves it expired: R-L1 forbids clearing it, so it stays "
    "until retention or the operator deletes it."
)
DOC_REOPEN = "`fixed` is re-opened by a plain detection only (R-L7, `occurrence` + 1)."
DOC_STATE_BEFORE = (
    "`verify_requested` remembers the state it left in `state_before`, so a verify that could "
    "not run (`verify_aborted`: agent went offline, collector failed) puts the record back; "
    "`ignore` uses the same field for `unignore`. The two never overlap: a verifying record "
    "cannot be ignored and an ignored one cannot be verified."
)

RULES: Tuple[Rule, ...] = (
    # R-L1 expiry
    rule("R-L1 expire", SPEC, R_L1_EXPIRE, OPEN | BUSY, {t.EXPIRE: EXP},
         note="open and busy records; fixed and ignored ones: see 'no expiry' (docstring)"),
    rule("R-L1 refused", SPEC, R_L1_REFUSE, {EXP},
         refuse({t.FIX_REQUESTED, t.VERIFY_REQUESTED, t.CLEAR}), why="record expired"),
    rule("R-L1 late results", READ, R_L1_REFUSE, {EXP}, refuse(FIX_RESULTS | VERIFY_RESULTS),
         note="a fix or verify result arriving after expiry cannot fix or verify it either",
         why="record expired"),
    rule("expired stays", DOC, DOC_STAYS_EXPIRED, {EXP}, refuse(ALL_TRIGGERS - DETECTIONS),
         note="nothing but a detection moves an expired record; refusals give the R-L1 reason",
         why="record expired"),
    rule("expired revives", DOC, DOC_REVIVE, {EXP},
         {t.DETECTED: U, t.DETECTED_PENDING_RESTART: FPR}),
    rule("no expiry", DOC, DOC_NO_EXPIRY, {F, IGN}, refuse({t.EXPIRE})),
    # R-L2 grace period and clear
    rule("R-L2 kept", SPEC, R_L2, OPEN, {t.NOT_DETECTED: SAME}),
    rule("R-L2 cleared", SPEC, R_L2, OPEN, {t.CLEAR: F},
         note="`clear` is the move made once 3 days have passed (time guard: test_clear_rule)"),
    rule("R-L2 seen again", READ, R_L2, {U, FF, RBD, RF}, {t.DETECTED: SAME},
         note="a detection of a record that is still vulnerable only ends the non-detection "
         "streak; nothing was fixed or undone"),
    # R-L3 verify (agent online: checked by the console, services/records.py)
    rule("R-L3 verify", SPEC, R_L3, OPEN, {t.VERIFY_REQUESTED: V},
         note="every open record can be verified, fixed_pending_restart included (R-L4)"),
    rule("R-L3 outcome", READ, R_L3, {V}, {t.VERIFY_FIXED: F, t.VERIFY_STILL_VULNERABLE: U},
         note="'the status updates': not seen → fixed, still seen → unfixed"),
    rule("verify aborted", DOC, DOC_STATE_BEFORE, {V}, {t.VERIFY_ABORTED: BACK}),
    # R-L4 pending restart
    rule("R-L4 restart then verify", SPEC, R_L4, {FPR},
         {t.RESTARTED: SAME, t.DETECTED_PENDING_RESTART: SAME, t.VERIFY_REQUESTED: V,
          t.FIX_REQUESTED: REFUSED},
         note="a restart is audited but verifies nothing; the fix is in, so no new fix",
         why="restart, then verify"),
    rule("R-L4 periodic scan", READ, R_L4, {FPR}, {t.DETECTED: U},
         note="the next periodic scan that sees the vulnerable version running reopens it"),
    # R-F4 restart required
    rule("R-F4 fix needs restart", SPEC, R_F4, {FI},
         {t.FIX_SUCCEEDED_RESTART_REQUIRED: FPR}),
    rule("R-F4 verify needs restart", READ, R_F4, {V}, {t.VERIFY_RESTART_REQUIRED: FPR},
         note="a verify that finds the fix installed but not running: the same state"),
    rule("R-F4 scan needs restart", DOC, DOC_SCAN_KINDS, {U, FF, RBD, RBPR, RF},
         {t.DETECTED_PENDING_RESTART: FPR},
         note="fix installed, old version running → R-F4's fixed_pending_restart"),
    rule("fixed: pending restart is no reopen", DOC, DOC_REOPEN, {F},
         {t.DETECTED_PENDING_RESTART: FPR},
         note="the fix is installed: fixed_pending_restart, same occurrence"),
    rule("R-F4 restart only when pending", READ, R_F4, {U, FF, RBD, RF, F},
         refuse({t.RESTARTED}),
         note="the console offers Restart for records waiting for one, and only those"),
    # fix and rollback outcomes: the states list
    rule("fix outcome", READ, STATES_LIST, {FI}, {t.FIX_SUCCEEDED: F, t.FIX_FAILED: FF},
         note="a running fix ends fixed or fix_failed"),
    rule("rollback outcome", READ, STATES_LIST, {RB},
         {t.ROLLBACK_SUCCEEDED: RBD, t.ROLLBACK_SUCCEEDED_RESTART_REQUIRED: RBPR,
          t.ROLLBACK_FAILED: RF},
         note="a running rollback ends rolled_back, rolled_back_pending_restart (R-F4's "
         "restart, for a rollback) or rollback_failed"),
    rule("rollback pending restart", READ, R_L4, {RBPR}, {t.RESTARTED: SAME},
         note="as for fixed_pending_restart: a restart is audited, the next scan decides"),
    rule("rollback completes", CODE, STATES_LIST, {RBPR}, {t.DETECTED: RBD},
         note="table comment: 'the old version runs again: rollback complete'"),
    # actions running
    rule("busy: scans", DOC, DOC_BUSY, BUSY, dict.fromkeys(SCANS, SAME)),
    rule("busy: only the result", DOC, DOC_BUSY, BUSY, refuse(REQUESTS | {t.CLEAR}),
         note="only the running action's result (or R-L1 expiry) moves a busy record; "
         "'a verifying record cannot be ignored'"),
    rule("fix result needs a fix", DOC, DOC_BUSY, ALL_STATES - {FI}, refuse(FIX_RESULTS)),
    rule("verify result needs a verify", DOC, DOC_BUSY, ALL_STATES - {V}, refuse(VERIFY_RESULTS)),
    rule("rollback result needs a rollback", DOC, DOC_BUSY, ALL_STATES - {RB},
         refuse(ROLLBACK_RESULTS)),
    # R-F1 fix, R-F6 rollback (one-click types: test_no_one_click_fix_for_app_and_emergency)
    rule("R-F1 fix", READ, R_F1, OPEN - {FPR}, {t.FIX_REQUESTED: FI},
         note="a fix is offered on every open record still running the vulnerable version "
         "(again after a failed fix or a rollback)"),
    rule("R-F6 rollback", READ, R_F6, {FF, FPR, F, RF}, {t.ROLLBACK_REQUESTED: RB},
         note="a snapshot exists once a fix ran: failed (it may have half-applied), pending "
         "restart, fixed, or an earlier rollback failed"),
    rule("R-F6 nothing to roll back", READ, R_F6, {U, RBD, RBPR}, refuse({t.ROLLBACK_REQUESTED}),
         note="no fix in effect: never fixed, or its snapshot already restored"),
    # R-L5 ignore
    rule("R-L5 ignore", SPEC, R_L5, OPEN, {t.IGNORE: IGN},
         note="reason and user: test_ignore_needs_reason_and_user"),
    rule("R-L5 reversible", SPEC, R_L5, {IGN}, {t.UNIGNORE: BACK}),
    rule("R-L5 unignore needs ignore", READ, R_L5, ALL_STATES - {IGN}, refuse({t.UNIGNORE}),
         note="only an ignored record can be unignored"),
    rule("ignored stays ignored", DOC, DOC_STATE_BEFORE, {IGN},
         {**dict.fromkeys(SCANS, SAME),
          **refuse(ALL_TRIGGERS - SCANS - {t.UNIGNORE, t.EXPIRE})},
         note="'an ignored one cannot be verified'; with R-L5 'reversible': until unignore "
         "nothing acts on it and scans only keep its bookkeeping, so unignore finds it intact"),
    # R-L7 reopen
    rule("R-L7 reopen", SPEC, R_L7, {F}, {t.DETECTED: U}),
    rule("R-L7 stays fixed", READ, R_L7, {F}, {t.NOT_DETECTED: SAME},
         note="only a detection moves a fixed record"),
    rule("fixed is done", DOC, DOC_NO_EXPIRY, {F},
         refuse({t.CLEAR, t.VERIFY_REQUESTED, t.FIX_REQUESTED, t.IGNORE}),
         note="'a fixed record has nothing left to act on' (rollback aside, R-F6)"),
)  # fmt: skip


def derive(rules: Iterable[Rule]) -> Dict[Tuple[State, Trigger], List[Tuple[Verdict, Rule]]]:
    """Every verdict the rules give, per (state, trigger) pair."""
    table: Dict[Tuple[State, Trigger], List[Tuple[Verdict, Rule]]] = {}
    for r in rules:
        for state, (trigger, verdict) in itertools.product(r.states, r.moves.items()):
            table.setdefault((state, trigger), []).append((verdict, r))
    return table


VERDICTS = derive(RULES)
EXPECTED: Dict[Tuple[State, Trigger], Verdict] = {
    pair: found[0][0] for pair, found in VERDICTS.items()
}
"""The verdict per pair (the first rule's; test_rules_agree checks the others say the same)."""

PAIRS = list(itertools.product(State, Trigger))
PAIR_IDS = [f"{s.value}-{tr.value}" for s, tr in PAIRS]


@dataclass(frozen=True)
class Never:
    """A move that must not happen: from `states`, on `triggers`, into any of `into`."""

    rid: str
    quote: str
    states: FrozenSet[State]
    triggers: FrozenSet[Trigger]
    into: FrozenSet[State]


NEVER: Tuple[Never, ...] = (
    Never("R-L1: an expired record is not fixed, verified or cleared", R_L1_REFUSE,
          frozenset({EXP}), ALL_TRIGGERS, frozenset({FI, V, F})),
    Never("R-L4: a pending restart is never auto-verified", R_L4,
          frozenset({FPR}), ALL_TRIGGERS - {t.VERIFY_REQUESTED}, frozenset({V})),
    Never("R-L4: a pending restart becomes fixed only by a verify or the R-L2 clear", R_L4,
          frozenset({FPR}), ALL_TRIGGERS - {t.CLEAR}, frozenset({F})),
    Never("R-F4: a fix that needs a restart is not fixed yet", R_F4,
          ALL_STATES, frozenset({t.FIX_SUCCEEDED_RESTART_REQUIRED, t.VERIFY_RESTART_REQUIRED}),
          frozenset({F})),
    Never("R-L2: one scan that does not detect a record never fixes it", R_L2,
          ALL_STATES - {F}, frozenset({t.NOT_DETECTED}), frozenset({F})),
    Never("R-L5: only unignore un-hides an ignored record", R_L5,
          frozenset({IGN}), ALL_TRIGGERS - {t.UNIGNORE}, ALL_STATES - {IGN}),
    Never("R-L7: a fixed record detected again does not stay fixed", R_L7,
          frozenset({F}), frozenset({t.DETECTED}), frozenset({F})),
)  # fmt: skip

BEFORE = {IGN: FF, V: FPR}
"""`state_before` of the records the pair tests build: a state other than the fallback."""


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
    # SPEC §3: "Every transition is stored with time, actor and reason (history / audit)."
    assert (event.at, event.actor, event.trigger) == (at, USER, trigger)
    assert (event.from_state, event.to_state) == (rec.state, new.state)
    return new, event.reason


def any_record_in(state: State) -> Record:
    """A record in `state` that passes every guard: undetected for 4 days, `state_before` set."""
    return record_in(state, undetected_since=T0 - 4 * DAY, state_before=BEFORE.get(state))


def outcome(rec: Record, trigger: Trigger) -> Optional[State]:
    """The state `transition()` moves `rec` to, or None when it refuses."""
    try:
        return fire(rec, trigger)[0].state
    except IllegalTransition:
        return None


def target(verdict: Verdict, rec: Record) -> Optional[State]:
    """The state a verdict means for `rec`; None for a refusal."""
    if verdict is SAME:
        return rec.state
    if verdict is BACK:
        return rec.state_before
    if verdict is REFUSED:
        return None
    assert isinstance(verdict, State)
    return verdict


# -- the rules themselves ---------------------------------------------------------------------


def test_rules_cover_every_state_trigger_pair() -> None:
    """Each of the 12 × 21 pairs has a rule saying legal (→ where) or refused: no gap."""
    missing = [f"{s.value} × {tr.value}" for s, tr in PAIRS if (s, tr) not in VERDICTS]
    assert missing == []


def test_rules_agree() -> None:
    """Rules that cover the same pair give the same verdict."""
    conflicts = {
        f"{s.value} × {tr.value}": sorted(f"{r.rid}: {v}" for v, r in found)
        for (s, tr), found in VERDICTS.items()
        if len({v for v, _ in found}) > 1
    }
    assert conflicts == {}


def test_rules_are_sourced() -> None:
    """Each rule says where it comes from; readings and code-only rules say how."""
    assert len({r.rid for r in RULES}) == len(RULES)
    for r in RULES:
        assert r.basis in (SPEC, READ, DOC, CODE), r.rid
        assert r.quote and r.states and r.moves, r.rid
        assert r.note or r.basis in (SPEC, DOC), f"{r.rid}: a {r.basis} rule needs its note"


def test_docstring_rules_quote_the_module_docstring() -> None:
    """A DOCSTRING rule quotes a decision core/records.py states (SPEC.md lives outside the repo;
    its quotes were copied verbatim)."""
    doc = " ".join((records.__doc__ or "").split())
    assert "Decisions the spec leaves open, taken here" in doc
    for r in RULES:
        if r.basis == DOC:
            assert " ".join(r.quote.split()) in doc, r.rid


@pytest.mark.parametrize("never", NEVER, ids=[n.rid for n in NEVER])
def test_rules_obey_the_never_rules(never: Never) -> None:
    """The rules themselves respect what SPEC §3 forbids."""
    for state, trigger in itertools.product(never.states, never.triggers):
        rec = any_record_in(state)
        assert target(EXPECTED[(state, trigger)], rec) not in never.into, (state, trigger)


# -- the code against the rules ---------------------------------------------------------------


@pytest.mark.parametrize(("state", "trigger"), PAIRS, ids=PAIR_IDS)
def test_every_state_trigger_pair(state: State, trigger: Trigger) -> None:
    """Each pair moves where the rules say, or is refused with a why (and the spec's why)."""
    rec = any_record_in(state)
    expected = target(EXPECTED[(state, trigger)], rec)
    if expected is None:
        with pytest.raises(IllegalTransition) as info:
            fire(rec, trigger)
        assert info.value.state is state and info.value.trigger is trigger
        assert info.value.why and trigger.value in str(info.value)
        for _, r in VERDICTS[(state, trigger)]:
            assert r.why in info.value.why, r.rid
    else:
        new, _ = fire(rec, trigger)
        assert new.state is expected
        assert new.changed_at == (T0 if expected is not state else rec.changed_at)


@pytest.mark.parametrize("never", NEVER, ids=[n.rid for n in NEVER])
def test_code_obeys_the_never_rules(never: Never) -> None:
    """What SPEC §3 forbids, checked on `transition()` directly."""
    for state, trigger in itertools.product(never.states, never.triggers):
        assert outcome(any_record_in(state), trigger) not in never.into, (state, trigger)


def test_only_ignore_and_verify_go_back() -> None:
    """The moves that return to `state_before` are the rules' BACK verdicts, no others."""
    assert {pair for pair, verdict in EXPECTED.items() if verdict is BACK} == set(RESTORES)


SCAN_MOVES = [
    (state, trigger)
    for state, trigger in itertools.product(State, sorted(DETECTIONS))
    if target(EXPECTED[(state, trigger)], record_in(state)) not in (None, state)
]


@pytest.mark.parametrize(
    ("state", "trigger"),
    [pytest.param(s, tr, id=f"{s.value}-{tr.value}") for s, tr in SCAN_MOVES],
)
def test_scan_moves_are_stored_with_a_reason(state: State, trigger: Trigger) -> None:
    """SPEC §3: "Every transition is stored with time, actor and reason (history / audit)." A
    state change a scan makes by itself says why (only core can say it)."""
    pending = trigger is t.DETECTED_PENDING_RESTART
    new, events = apply_scan(record_in(state), True, T0, pending_restart=pending)
    assert new.state is not state and len(events) == 1
    assert (events[0].at, events[0].actor, events[0].from_state) == (T0, "system", state)
    assert events[0].reason.strip(), f"{state.value} → {new.state.value} stored without reason"


def test_state_and_trigger_values_are_the_spec_names() -> None:
    """SPEC §3 states list, verbatim (storage and the API use these strings)."""
    assert [s.value for s in State] == [
        "unfixed", "fixing", "fix_failed", "verifying", "fixed_pending_restart", "fixed",
        "rolling_back", "rolled_back", "rolled_back_pending_restart", "rollback_failed",
        "ignored", "expired",
    ]  # fmt: skip
    assert " · ".join(f"`{s.value}`" for s in State) in STATES_LIST
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
        "be fixed, verified or cleared"
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
        (FPR, t.FIX_REQUESTED, "restart, then verify"),
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
    with pytest.raises(IllegalTransition, match=r"manual guidance$"):
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
    """CODE ONLY (spec and docstring silent): no `state_before` (an old or imported record)
    reopens as unfixed."""
    assert fire(record_in(IGN), t.UNIGNORE)[0].state is U


@pytest.mark.parametrize(
    ("actor", "reason", "why"),
    [
        (USER, "", "ignore needs a reason"),
        (USER, "   ", "ignore needs a reason"),
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
    with pytest.raises(IllegalTransition, match=r"cleared after 3 days of non-detection$"):
        transition(rec, t.CLEAR, T0 + 2 * DAY)
    with pytest.raises(IllegalTransition, match="nothing to clear"):
        transition(record_in(U), t.CLEAR, T0)
    _, event = transition(rec, t.CLEAR, T0 + 3 * DAY)
    assert event.reason == "not detected since 2026-03-02T08:00:00+00:00 (≥ 3 days)"
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
    assert event.reason == "detected again: reopened as occurrence 3"


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
        f"after {days} days"
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
        "unselected levels are neither scanned nor updated"
    )
    assert "(selected: none)" in level_not_enabled_reason(Severity.LOW, set())
    with pytest.raises(ValueError, match="nothing to explain"):
        level_not_enabled_reason(Severity.HIGH, {Severity.HIGH})
