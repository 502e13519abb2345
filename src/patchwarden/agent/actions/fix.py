"""The `fix` action: prechecks, plan, snapshot, install exactly the fixed versions, report.

Order (each step stops the fix with a classified `ActionError` before anything changes,
except the install itself):

1. the target can run commands (running system, or `--exec chroot`) and has a package
   manager; the packages fit its format (protocol v1 patterns);
2. prechecks, fresh (SPEC R-F2): OS end of life, free disk, package-manager locks and
   processes, permissions of the package manager's directories and of the files of the
   packages to replace;
3. installed versions; packages already at the fixed version need nothing;
4. refresh the repository metadata (apt-get update / apk update), then a dry run: the plan.
   A version no repository offers, or one not newer than the installed one, is `no_update`
   (unless the refresh could not reach the mirror: then `mirror_unreachable`); a plan that
   removes or downgrades another package is a `dependency_conflict`;
5. the snapshot (unless the job says `snapshot: false`): not allowed for the requester, or a
   provider that does not work here, or a failure while taking it, stops the fix;
6. the install, with the agent's timeout; the versions afterwards decide each package's
   outcome; restart needs (kernel and the distro's reboot flag, processes still mapping
   replaced files) complete the result.

A dry run stops after the plan and lists the commands it would run.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple

from patchwarden.agent import prechecks
from patchwarden.agent.actions import package_manager_for
from patchwarden.agent.actions.base import (
    QUERY_TIMEOUT,
    Change,
    Command,
    Installed,
    PackageManager,
    Plan,
    Wanted,
    run,
)
from patchwarden.agent.actions.classify import classify, explain, tail
from patchwarden.agent.actions.context import ActionContext
from patchwarden.agent.actions.processes import needing_restart
from patchwarden.agent.collectors.base import resolve_in_root
from patchwarden.agent.runner import CommandNotFound, Completed
from patchwarden.agent.snapshots import PROVIDERS
from patchwarden.agent.snapshots.base import SnapshotError
from patchwarden.protocol import v1

# Errors of a refresh that no later step can get past.
_FATAL_REFRESH = ("permission", "pm_locked", "disk_full", "timeout")


@dataclass(frozen=True)
class FixRequest:
    """A validated `fix` job's parameters (protocol v1 `_fix_params`)."""

    packages: Tuple[Wanted, ...]
    format: str = ""
    snapshot: bool = True
    snapshot_provider: str = "packages"
    snapshot_expiry_days: int = v1.DEFAULT_SNAPSHOT_EXPIRY_DAYS
    snapshot_allowed: bool = True
    requested_by: str = ""

    @classmethod
    def from_params(cls, params: Mapping[str, Any]) -> FixRequest:
        """From an action's parameters (validated again: callers may build them by hand)."""
        p = v1.validate_params("fix", params)
        return cls(
            tuple(Wanted(i["name"], i["target_version"]) for i in p["packages"]),
            p["format"],
            p["snapshot"],
            p["snapshot_provider"],
            p["snapshot_expiry_days"],
            p["snapshot_allowed"],
            p["requested_by"],
        )


class _Stop(Exception):
    """Ends a fix early with `error` (and the prechecks that refused it, if any)."""

    def __init__(self, error: v1.ActionError, prechecks: Sequence[v1.ActionError] = ()) -> None:
        super().__init__(error.message)
        self.error = error
        self.prechecks = tuple(prechecks)


class _Fix:
    """One fix in progress: what ran so far, what it found."""

    def __init__(self, ctx: ActionContext, request: FixRequest) -> None:
        self.ctx = ctx
        self.target = ctx.target
        self.request = request
        self.commands: List[str] = []
        self.snapshot: Optional[v1.SnapshotInfo] = None

    def execute(self, command: Command, timeout: Optional[float] = None) -> Completed:
        """Run `command`, noting it in the history; a missing program stops the fix."""
        self.commands.append(self.target.show(command))
        try:
            return run(self.target, command, timeout)
        except CommandNotFound as exc:
            raise _Stop(v1.ActionError("not_supported", str(exc))) from exc

    def query(self, pm: PackageManager, names: Sequence[str]) -> Dict[str, Installed]:
        """Installed versions of `names` (read-only; not part of the history)."""
        if not names:
            return {}
        try:
            done = run(self.target, pm.query(sorted(set(names))), QUERY_TIMEOUT)
        except CommandNotFound as exc:
            raise _Stop(v1.ActionError("not_supported", str(exc))) from exc
        return pm.parse_query(done.stdout)


def run_fix(ctx: ActionContext, request: FixRequest, dry_run: bool = False) -> v1.FixDetails:
    """Fix `request.packages` on the context's target; never raises for a failed fix."""
    fix = _Fix(ctx, request)
    try:
        return _run(fix, dry_run)
    except _Stop as stop:
        return v1.FixDetails(
            snapshot=fix.snapshot,
            error=stop.error,
            prechecks=stop.prechecks,
            commands=tuple(fix.commands[-v1.MAX_COMMANDS :]),
            dry_run=dry_run,
        )


def _run(fix: _Fix, dry_run: bool) -> v1.FixDetails:
    ctx, target, request = fix.ctx, fix.target, fix.request
    why_not = target.cannot_execute
    if why_not:
        raise _Stop(v1.ActionError("not_supported", why_not))
    os_release = ctx.os_release()
    pm = package_manager_for(target.root, os_release)
    if pm is None:
        raise _Stop(
            v1.ActionError("not_supported", "no supported package manager (apt, dnf, yum, apk)")
        )
    _check_format(pm, request)
    names = [w.name for w in request.packages]

    # 2. prechecks, fresh.
    facts = prechecks.gather(target.root, os_release, None, ctx.setup())
    refused = prechecks.refusals(facts, os_release, pm, target.root, names)
    if refused:
        raise _Stop(refused[0], refused)

    # 3. what is installed; what is fixed already.
    installed = fix.query(pm, names)
    missing = [n for n in names if n not in installed]
    if missing:
        raise _Stop(
            explain(
                "no_update",
                f"{', '.join(missing)} not installed on this host: a fix only upgrades"
                " installed packages (rescan to refresh the record)",
            )
        )
    done_already = [
        w for w in request.packages if pm.same_version(installed[w.name].version, w.version)
    ]
    wanted = [w for w in request.packages if w not in done_already]
    outcomes_done = [
        v1.PackageOutcome(
            w.name, installed[w.name].version, installed[w.name].version, True, w.version
        )
        for w in done_already
    ]
    if not wanted:
        raise _Stop(
            explain(
                "no_update",
                "already at the fixed version: "
                + ", ".join(f"{w.name} {w.version}" for w in done_already),
            )
        )

    # 4. refresh and plan.
    refresh_output = ""
    refresh = pm.refresh(target)
    if refresh is not None and dry_run:
        fix.commands.append(target.show(refresh))  # shown, not run: it changes the lists
    elif refresh is not None:
        done = fix.execute(refresh)
        refresh_output = done.stdout + done.stderr
        if not done.ok:
            error = classify(refresh_output, done.returncode, target.timeout)
            if error.code in _FATAL_REFRESH:
                raise _Stop(error)
    planned = fix.execute(pm.plan(target, wanted), QUERY_TIMEOUT)
    plan_output = planned.stdout + planned.stderr
    plan = pm.parse_plan(plan_output)
    _check_plan(pm, plan, wanted, installed, planned, refresh_output, plan_output)

    if dry_run:
        fix.commands.append(target.show(pm.install(target, wanted)))
        fix.commands.extend(target.show(c) for c in pm.after_install(target, wanted))
        outcomes = outcomes_done + [
            v1.PackageOutcome(
                c.name,
                installed[c.name].version if c.name in installed else c.from_version,
                c.to_version,
                True,
                _target_of(c, wanted),
            )
            for c in plan.changes
        ]
        return v1.FixDetails(packages=tuple(outcomes), commands=tuple(fix.commands), dry_run=True)

    # 5. the snapshot.
    replaced = [c.name for c in plan.changes if c.kind != "install"]
    before = {**installed, **fix.query(pm, [n for n in replaced if n not in installed])}
    if request.snapshot:
        _take_snapshot(fix, pm, plan, before)

    # 6. the install.
    done = fix.execute(pm.install(target, wanted))
    install_output = done.stdout + done.stderr
    for command in pm.after_install(target, wanted):
        fix.execute(command, QUERY_TIMEOUT)
    after = fix.query(pm, [c.name for c in plan.changes])
    outcomes = outcomes_done + [
        _outcome(pm, c.name, before, after, _target_of(c, wanted)) for c in plan.changes
    ]
    error: Optional[v1.ActionError] = None
    if not done.ok:
        error = classify(install_output, done.returncode, target.timeout)
    else:
        wrong = [o for o in outcomes if not o.ok]
        if wrong:
            error = v1.ActionError(
                "unknown",
                "the package manager succeeded but the versions are not the fixed ones: "
                + ", ".join(f"{o.name} is {o.to_version or 'not installed'}" for o in wrong),
                "read the output; a package may be held (apt-mark showhold) or pinned",
                tail(install_output),
            )
    changed = [o.name for o in outcomes if o.ok and o.from_version != o.to_version]
    restart_required = any(pm.needs_reboot(n) for n in changed) or bool(
        pm.reboot_flag and resolve_in_root(target.root, pm.reboot_flag).exists()
    )
    return v1.FixDetails(
        packages=tuple(outcomes),
        snapshot=fix.snapshot,
        error=error,
        restart_required=restart_required,
        restart_processes=tuple(needing_restart(target.root, ctx.proc)),
        commands=tuple(fix.commands[-v1.MAX_COMMANDS :]),
    )


def _check_format(pm: PackageManager, request: FixRequest) -> None:
    """The request's packages are of this host's format and fit its patterns."""
    if request.format and request.format != pm.format:
        raise _Stop(
            v1.ActionError(
                "invalid_request",
                f"the fix names {request.format} packages, but this host uses {pm.name}"
                f" ({pm.format} packages)",
            )
        )
    for i, w in enumerate(request.packages):
        try:
            v1.check_package(pm.format, w.name, w.version, f"packages[{i}]")
        except v1.ProtocolError as exc:
            raise _Stop(v1.ActionError("invalid_request", str(exc))) from exc


def _check_plan(
    pm: PackageManager,
    plan: Plan,
    wanted: Sequence[Wanted],
    installed: Mapping[str, Installed],
    planned: Completed,
    refresh_output: str,
    plan_output: str,
) -> None:
    """Stop unless the plan installs exactly every wanted version and breaks nothing else."""
    problems: List[str] = []
    for w in wanted:
        change = plan.change(w.name)
        if change is not None and change.kind == "downgrade":
            # The record is older than the host: what is installed is newer than the fix.
            problems.append(
                f"{w.name} {installed[w.name].version} is already newer than {w.version}"
            )
            continue
        if change is not None and pm.same_version(change.to_version, w.version):
            continue
        if change is not None:
            problems.append(
                f"{w.name}: the repositories offer {change.to_version}, not {w.version}"
            )
        elif any(i.name == w.name for i in plan.already_newest):
            problems.append(
                f"{w.name} is already the newest version ({installed[w.name].version});"
                f" {w.version} is not offered"
            )
        else:
            problems.append(f"{w.name} {w.version} is not offered by the repositories")
    if problems:
        mirror = classify(refresh_output + plan_output, 1)
        if mirror.code == "mirror_unreachable":
            raise _Stop(mirror)
        if not planned.ok and not plan.changes:
            # A failed dry run is "no update" only when the package manager said so (a
            # version it does not know, one already newest); else its own error counts.
            error = classify(plan_output, planned.returncode)
            said_so = plan.unavailable or plan.already_newest or plan.not_installed
            if error.code != "no_update" and not (error.code == "unknown" and said_so):
                raise _Stop(error)
        raise _Stop(explain("no_update", "; ".join(problems), plan_output))
    names = {w.name for w in wanted}
    others = [c for c in plan.changes if c.name not in names and c.kind in ("remove", "downgrade")]
    if others:
        raise _Stop(
            explain(
                "dependency_conflict",
                "the fix would "
                + ", ".join(
                    f"{'remove' if c.kind == 'remove' else 'downgrade'} {c.name}" for c in others
                ),
                plan_output,
            )
        )


def _take_snapshot(
    fix: _Fix, pm: PackageManager, plan: Plan, before: Mapping[str, Installed]
) -> None:
    """Take the requested snapshot or stop the fix saying why it could not be taken."""
    ctx, request = fix.ctx, fix.request
    if not request.snapshot_allowed:
        raise _Stop(
            v1.ActionError(
                "snapshot_forbidden",
                "the requester may not take snapshots, and this fix asks for one",
                "ask a user with the snapshot permission, or fix without a snapshot",
            )
        )
    provider = PROVIDERS[request.snapshot_provider]
    hint = "fix without a snapshot, or choose another snapshot provider"
    why_not = provider.unsupported(fix.target, ctx.mounts)
    if why_not:
        raise _Stop(
            v1.ActionError(
                "snapshot_failed",
                f"snapshot provider {provider.name} does not work on this host: {why_not}",
                hint,
            )
        )
    draft = ctx.store.draft(
        provider.name, request.requested_by, ctx.clock(), request.snapshot_expiry_days
    )
    try:
        taken = provider.create(fix.target, pm, plan.changes, before, draft, ctx.mounts)
    except SnapshotError as exc:
        ctx.store.remove(draft.id)
        fix.commands.extend(exc.commands)
        error = exc.error
        raise _Stop(
            v1.ActionError(
                error.code, f"no snapshot: {error.message}", error.hint or hint, error.tail
            )
        ) from exc
    except OSError as exc:
        ctx.store.remove(draft.id)
        raise _Stop(v1.ActionError("snapshot_failed", f"no snapshot: {exc}", hint)) from exc
    ctx.store.save(taken.info)
    fix.commands.extend(taken.commands)
    fix.snapshot = taken.info


def _target_of(change: Change, wanted: Sequence[Wanted]) -> str:
    """The version a change should reach: the fixed one for wanted packages, else the plan's."""
    return next((w.version for w in wanted if w.name == change.name), change.to_version)


def _outcome(
    pm: PackageManager,
    name: str,
    before: Mapping[str, Installed],
    after: Mapping[str, Installed],
    target_version: str,
) -> v1.PackageOutcome:
    old = before[name].version if name in before else ""
    new = after[name].version if name in after else ""
    ok = pm.same_version(new, target_version) if target_version else not new
    return v1.PackageOutcome(name, old, new, ok, target_version)
