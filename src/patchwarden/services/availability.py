"""Which actions a user may take on a record now, and if not, exactly why (R-F2, R-P2).

A pure evaluation: it reads the record, its host (online, OS end of life, the latest
inventory's remediation facts: disk, locks, permissions, package manager, exec mode), the
settings (scan levels, plan), the user's role and the host's snapshots, and answers per action
`Availability(allowed, reason, code)`. Record details show it (`RecordActions`), and a batch
request refuses with the same answers, so the button and the request never disagree.

The checks run in a fixed order and the first that refuses gives the answer: who may (role),
what the plan includes, what the record is (type, state, fixed version), then the host (end of
life, agent online, the agent's facts), then the snapshot. `REFUSALS` lists every code.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Optional

from patchwarden.core.inventory import eol_blocker
from patchwarden.core.records import (
    ONE_CLICK_FIX,
    IllegalTransition,
    State,
    Trigger,
    applies_to_level,
    level_not_enabled_reason,
    transition,
)
from patchwarden.services.errors import Forbidden
from patchwarden.services.ports import (
    FEATURE_NAMES,
    PLAN_FEATURES,
    Feature,
    Host,
    Permission,
    Settings,
    Snapshot,
    StoredRecord,
    User,
)
from patchwarden.services.users import require

REFUSALS: dict[str, str] = {
    "forbidden": "the user's role lacks the permission the action needs",
    "plan": "the console's plan does not include the action",
    "not_fixable_type": "the vulnerability type has no one-click fix (manual guidance only)",
    "expired": "the record expired (its agent was offline too long)",
    "state": "the record's state does not allow the action (busy, ignored, already fixed …)",
    "level_not_scanned": "the record's severity is not a selected scan level",
    "agent_offline": "the host's agent is offline",
    "no_update": "no fixed version is available (or it is installed already)",
    "eol": "the operating system is past its end of life, or needs an upgrade for fixes",
    "not_supported": "the host's agent cannot do it (no facts, package manager or exec mode)",
    "disk_space": "not enough free disk space for the package manager",
    "pm_locked": "the package manager is busy (a lock is held)",
    "permission": "files the fix changes are not safely root's, or the agent is not root",
    "snapshot_forbidden": "the user may not take the snapshot a fix takes first",
    "snapshot_failed": "no snapshot provider works on the host",
    "no_snapshot": "there is no snapshot to roll back to (none taken, or deleted)",
    "snapshot_expired": "the snapshot to roll back to has expired",
    "not_found": "no such record",
    "invalid": "the request cannot be carried out as given (a package or version the"
    " package manager cannot take)",
}
"""Every refusal code an action on a record may get -> what it means. Stable: clients act on
them; the accompanying reason is the sentence for a person."""


@dataclass(frozen=True)
class Availability:
    """Whether an action is allowed on a record now; if not, a code and why."""

    allowed: bool
    reason: Optional[str] = None
    code: Optional[str] = None
    """One of `REFUSALS` when refused."""


ALLOWED = Availability(True)


def refused(code: str, reason: str) -> Availability:
    """A refusal with `code` (one of `REFUSALS`) and `reason`."""
    return Availability(False, reason, code)


@dataclass(frozen=True)
class RecordActions:
    """Every action of a record's detail, each allowed or refused with its reason."""

    fix: Availability
    verify: Availability
    restart: Availability
    rollback: Availability
    ignore: Availability


@dataclass(frozen=True)
class Context:
    """What the evaluation looks at besides the record itself."""

    user: User
    settings: Settings
    now: datetime
    host: Optional[Host]
    """The record's host (None only when it vanished)."""
    snapshots: Sequence[Snapshot] = ()
    """The host's snapshots, newest first."""


_Check = Callable[[], Optional[Availability]]


def _first(*checks: _Check) -> Availability:
    """The first refusal of `checks`, in order, else allowed."""
    for check in checks:
        answer = check()
        if answer is not None:
            return answer
    return ALLOWED


def _permission(user: User, permission: Permission, doing: str) -> Optional[Availability]:
    try:
        require(user, permission, doing)
    except Forbidden as exc:
        return refused("forbidden", exc.reason)
    return None


def _plan(settings: Settings, feature: Feature) -> Optional[Availability]:
    if feature in PLAN_FEATURES[settings.plan]:
        return None
    return refused(
        "plan",
        f"the {settings.plan.value} plan has no {FEATURE_NAMES[feature]}: change the plan"
        " (setting `plan`) or act by hand",
    )


def _one_click(stored: StoredRecord) -> Optional[Availability]:
    if stored.record.vuln_type in ONE_CLICK_FIX:
        return None
    d = stored.detail
    to = f" to {d.fixed_version}" if d.fixed_version else ""
    return refused(
        "not_fixable_type",
        f"{stored.record.vuln_type.value} vulnerabilities have no one-click fix: their fix"
        f" depends on the application; upgrade {d.package or 'the component'}{to} by hand",
    )


def move_refusal(
    stored: StoredRecord, trigger: Trigger, now: datetime, actor: str
) -> Optional[Availability]:
    """The refusal of the lifecycle for `trigger` on the record, or None when it may move."""
    try:
        transition(stored.record, trigger, now, actor or "user", "availability check")
    except IllegalTransition as exc:
        code = "expired" if stored.record.state is State.EXPIRED else "state"
        return refused(code, exc.why)
    return None


def _move(ctx: Context, stored: StoredRecord, trigger: Trigger) -> _Check:
    return lambda: move_refusal(stored, trigger, ctx.now, ctx.user.name)


def offline_refusal(
    settings: Settings, host: Optional[Host], now: datetime
) -> Optional[Availability]:
    """`agent_offline` unless the host's agent is online at `now`."""
    seen = host.last_seen_at if host is not None else None
    if settings.agent_online(seen, now):
        return None
    return refused(
        "agent_offline", f"agent offline (last seen {seen.isoformat() if seen else 'never'})"
    )


def _online(ctx: Context) -> _Check:
    return lambda: offline_refusal(ctx.settings, ctx.host, ctx.now)


def _fixed_version(stored: StoredRecord) -> Optional[Availability]:
    d = stored.detail
    if d.fixed_version and stored.record.undetected_since is not None:
        # Another record's fix of the same package, or an upgrade by hand, got here first: the
        # latest scan no longer finds it, and it clears on its own (a fix would do nothing).
        return refused(
            "no_update",
            "no update needed: the latest scan no longer finds it (the installed version is not"
            " affected); it is cleared unless it is seen again",
        )
    if d.fixed_version:
        return None
    why = d.reason or "the distribution has published no fixed version yet"
    return refused("no_update", f"no update available: {why}")


def _eol(ctx: Context) -> Optional[Availability]:
    if ctx.host is None or ctx.host.os is None:
        return None
    found = eol_blocker(ctx.host.os)
    return refused(found.code, found.reason) if found is not None else None


def _no_facts(ctx: Context) -> Optional[Availability]:
    if ctx.host is None:
        return refused("not_supported", "the record's host is gone")
    if ctx.host.remediation is None:
        return refused(
            "not_supported",
            "the host's agent reports no remediation facts, so it cannot act on the host"
            " (an agent too old, or a report of a scan)",
        )
    return None


def _blockers(ctx: Context) -> Optional[Availability]:
    assert ctx.host is not None and ctx.host.remediation is not None  # _no_facts ran first
    os = ctx.host.os
    if os is None:
        return refused("not_supported", "the host has not reported its operating system")
    for blocker in ctx.host.remediation.blockers(os):
        if blocker.code != "eol":  # asked before the agent's state
            return refused(blocker.code, blocker.reason)
    return None


def _snapshot_possible(ctx: Context) -> Optional[Availability]:
    if not ctx.user.can(Permission.SNAPSHOT):
        return refused(
            "snapshot_forbidden",
            f"a fix takes a snapshot first, and you may not take snapshots (you are"
            f" {ctx.user.role.value}): fix without a snapshot (without_snapshot), or ask a user"
            " with the snapshot permission",
        )
    facts = ctx.host.remediation if ctx.host is not None else None
    if facts is not None and not facts.snapshot_providers:
        return refused(
            "snapshot_failed",
            "no snapshot provider works on this host: fix without a snapshot (without_snapshot)",
        )
    return None


def _direct(ctx: Context) -> Optional[Availability]:
    facts = ctx.host.remediation if ctx.host is not None else None
    if facts is not None and facts.exec_mode == "direct":
        return None
    return refused(
        "not_supported",
        "the agent acts on a mounted root, not on the machine it runs on: restart the machine"
        " that uses this root yourself",
    )


def _can_execute(ctx: Context) -> Optional[Availability]:
    facts = ctx.host.remediation if ctx.host is not None else None
    if facts is not None and facts.exec_mode:
        return None
    return refused(
        "not_supported",
        "the host's agent cannot run commands on it (an agent too old, a report of a scan, or a"
        " mounted root inventoried without --exec chroot)",
    )


def fix(ctx: Context, stored: StoredRecord, without_snapshot: bool = False) -> Availability:
    """Whether `ctx.user` may fix the record now (R-F1, R-F2, R-F6, R-P1, R-P2)."""
    return _first(
        lambda: _permission(ctx.user, Permission.FIX, "fix"),
        lambda: _plan(ctx.settings, Feature.ONE_CLICK_FIX),
        lambda: _one_click(stored),
        _move(ctx, stored, Trigger.FIX_REQUESTED),
        lambda: _fixed_version(stored),
        lambda: _eol(ctx),
        _online(ctx),
        lambda: _no_facts(ctx),
        lambda: _blockers(ctx),
        lambda: None if without_snapshot else _snapshot_possible(ctx),
    )


def verify(ctx: Context, stored: StoredRecord) -> Availability:
    """Whether `ctx.user` may verify the record now (R-L3, R-D4)."""
    levels = ctx.settings.scan_level_severities()
    rec = stored.record

    def level() -> Optional[Availability]:
        if applies_to_level(rec.severity, levels):
            return None
        return refused("level_not_scanned", level_not_enabled_reason(rec.severity, levels))

    def online() -> Optional[Availability]:
        # An expired record is refused by the lifecycle, with its own reason (R-L1).
        return None if rec.state is State.EXPIRED else _online(ctx)()

    return _first(
        lambda: _permission(ctx.user, Permission.VERIFY, "verify"),
        level,
        online,
        _move(ctx, stored, Trigger.VERIFY_REQUESTED),
    )


def restart(ctx: Context, stored: StoredRecord) -> Availability:
    """Whether `ctx.user` may restart the record's host for it now (R-F4)."""
    return _first(
        lambda: _permission(ctx.user, Permission.RESTART, "restart"),
        lambda: _plan(ctx.settings, Feature.ONE_CLICK_FIX),
        _move(ctx, stored, Trigger.RESTARTED),
        _online(ctx),
        lambda: _no_facts(ctx),
        lambda: _direct(ctx),
    )


def snapshot_of(snapshots: Sequence[Snapshot], record_id: int) -> Optional[Snapshot]:
    """The newest snapshot taken for a fix of the record (`snapshots` newest first)."""
    return next((s for s in snapshots if record_id in s.record_ids), None)


def _snapshot_valid(ctx: Context, stored: StoredRecord) -> Optional[Availability]:
    found = snapshot_of(ctx.snapshots, stored.id)
    if found is None:
        return refused(
            "no_snapshot",
            "no snapshot was taken before this record's fix (fixed without one, or by hand):"
            " there is nothing to roll back to",
        )
    if found.deleted_at is not None:
        return refused(
            "no_snapshot",
            f"snapshot {found.snapshot_id} was deleted on {found.deleted_at.isoformat()}:"
            " there is nothing to roll back to",
        )
    if found.expired_at(ctx.now):
        return refused(
            "snapshot_expired",
            f"snapshot {found.snapshot_id} expired on {found.expires_at.isoformat()}: it can no"
            " longer be restored",
        )
    return None


def rollback(ctx: Context, stored: StoredRecord) -> Availability:
    """Whether `ctx.user` may roll the record's fix back now (R-F6): the agent online and a
    valid (unexpired, not deleted) snapshot, each refused with its own code."""
    return _first(
        lambda: _permission(ctx.user, Permission.ROLLBACK, "rollback"),
        lambda: _plan(ctx.settings, Feature.ONE_CLICK_FIX),
        lambda: _one_click(stored),
        _move(ctx, stored, Trigger.ROLLBACK_REQUESTED),
        _online(ctx),
        lambda: _snapshot_valid(ctx, stored),
        lambda: _can_execute(ctx),
    )


def ignore(ctx: Context, stored: StoredRecord) -> Availability:
    """Whether `ctx.user` may ignore the record now (R-L5; the request needs a reason)."""
    return _first(
        lambda: _permission(ctx.user, Permission.IGNORE, "ignore"),
        _move(ctx, stored, Trigger.IGNORE),
    )


def record_actions(
    stored: StoredRecord,
    host: Optional[Host],
    settings: Settings,
    user: User,
    now: datetime,
    snapshots: Sequence[Snapshot] = (),
) -> RecordActions:
    """Every action of the record, as `user` may take it at `now`: the one entry point of
    record pages and the API's record details.

    `host` is the record's host (its latest remediation facts included), `snapshots` the
    host's snapshots newest first (`UnitOfWork.snapshots.of_host`).
    """
    return _evaluate(Context(user, settings, now, host, tuple(snapshots)), stored)


def _evaluate(ctx: Context, stored: StoredRecord) -> RecordActions:
    """Every action of the record, as `ctx.user` sees it now."""
    return RecordActions(
        fix=fix(ctx, stored),
        verify=verify(ctx, stored),
        restart=restart(ctx, stored),
        rollback=rollback(ctx, stored),
        ignore=ignore(ctx, stored),
    )
