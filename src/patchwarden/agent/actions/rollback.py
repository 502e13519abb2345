"""The `rollback` and `snapshot_delete` actions (SPEC R-F6).

A rollback needs a snapshot that exists and has not expired (distinct errors: `no_snapshot`,
`snapshot_expired`), a root the agent can run commands on, and a free package manager (locks
and permissions are checked first, as for a fix). The `packages` provider reinstalls the saved
files with downgrades allowed; each saved package's outcome compares the version afterwards
with the saved one. Volume snapshots (LVM, btrfs) take effect at the next boot.
"""

from __future__ import annotations

from typing import Dict, List, Optional

from patchwarden.agent import prechecks
from patchwarden.agent.actions import package_manager_for
from patchwarden.agent.actions.base import QUERY_TIMEOUT, Installed, PackageManager, run
from patchwarden.agent.actions.context import ActionContext
from patchwarden.agent.runner import CommandNotFound
from patchwarden.agent.snapshots import PROVIDERS, delete_snapshot
from patchwarden.agent.snapshots.base import SnapshotError, expired
from patchwarden.protocol import v1

# Prechecks that matter for a rollback (an EOL system may still be rolled back).
_ROLLBACK_BLOCKERS = ("not_supported", "disk_space", "pm_locked", "permission")


def run_rollback(ctx: ActionContext, snapshot_id: str) -> v1.RollbackDetails:
    """Restore snapshot `snapshot_id` on the context's target; never raises for a failure."""
    target = ctx.target
    info = ctx.store.get(snapshot_id)
    if info is None:
        return v1.RollbackDetails(
            snapshot_id,
            error=v1.ActionError(
                "no_snapshot",
                f"snapshot {snapshot_id} does not exist on this host (deleted, expired and"
                " cleaned up, or never taken here)",
                "nothing to roll back to; reinstall the old versions by hand if needed",
            ),
        )
    if expired(info, ctx.clock()):
        return v1.RollbackDetails(
            snapshot_id,
            error=v1.ActionError(
                "snapshot_expired",
                f"snapshot {snapshot_id} expired at {info.expires_at}",
                "nothing to roll back to; the agent deletes expired snapshots",
            ),
        )
    why_not = target.cannot_execute
    if why_not:
        return v1.RollbackDetails(snapshot_id, error=v1.ActionError("not_supported", why_not))
    os_release = ctx.os_release()
    pm = package_manager_for(target.root, os_release)
    if pm is not None:
        facts = prechecks.gather(target.root, os_release, None, ctx.setup())
        refused = [e for e in prechecks.refusals(facts, os_release) if e.code in _ROLLBACK_BLOCKERS]
        if refused:
            return v1.RollbackDetails(snapshot_id, error=refused[0])
    names = [p.name for p in info.packages]
    before = _query(ctx, pm, names)
    provider = PROVIDERS.get(info.provider)
    if provider is None:
        return v1.RollbackDetails(
            snapshot_id,
            error=v1.ActionError("not_supported", f"unknown snapshot provider {info.provider!r}"),
        )
    try:
        restored = provider.restore(target, pm, info, ctx.store.path(info.id), ctx.mounts)
    except SnapshotError as exc:
        return v1.RollbackDetails(snapshot_id, error=exc.error, commands=exc.commands)
    after = _query(ctx, pm, names)
    outcomes = []
    for saved in info.packages:
        old = before[saved.name].version if saved.name in before else ""
        new = after[saved.name].version if saved.name in after else ""
        same = pm.same_version(new, saved.version) if pm else new == saved.version
        outcomes.append(v1.PackageOutcome(saved.name, old, new, same, saved.version))
    error = restored.error
    if error is None and not all(o.ok for o in outcomes):
        error = v1.ActionError(
            "unknown",
            "the restore ran but versions differ from the snapshot: "
            + ", ".join(
                f"{o.name} is {o.to_version or 'not installed'}" for o in outcomes if not o.ok
            ),
            "read the output of the restore command",
        )
    if restored.consumed and error is None:
        ctx.store.remove(info.id)
    kernel = pm is not None and any(
        pm.needs_reboot(o.name) for o in outcomes if o.ok and o.from_version != o.to_version
    )
    return v1.RollbackDetails(
        snapshot_id,
        packages=tuple(outcomes),
        error=error,
        restart_required=restored.restart_required or kernel,
        commands=restored.commands,
    )


def run_snapshot_delete(ctx: ActionContext, snapshot_id: str) -> v1.SnapshotDeleteDetails:
    """Delete snapshot `snapshot_id`; deleting one that does not exist is `no_snapshot`."""
    if ctx.store.get(snapshot_id) is None:
        return v1.SnapshotDeleteDetails(
            snapshot_id,
            error=v1.ActionError("no_snapshot", f"snapshot {snapshot_id} does not exist"),
        )
    try:
        delete_snapshot(ctx.target, ctx.store, snapshot_id)
    except SnapshotError as exc:
        return v1.SnapshotDeleteDetails(snapshot_id, error=exc.error)
    return v1.SnapshotDeleteDetails(snapshot_id, deleted=True)


def _query(
    ctx: ActionContext, pm: Optional[PackageManager], names: List[str]
) -> Dict[str, Installed]:
    if pm is None or not names:
        return {}
    try:
        done = run(ctx.target, pm.query(sorted(set(names))), QUERY_TIMEOUT)
    except CommandNotFound:
        return {}
    return pm.parse_query(done.stdout)
