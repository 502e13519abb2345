"""Repository check, dnf/yum side: security errata the host's own repositories already offer.

Live RHEL-family roots only (the commands read the host's repo configuration and cache):

* `check-update --security`: what would be installed (name.arch, [E:]V-R, repository);
* `updateinfo list --security`: which advisories (RHSA/ALSA/RLSA, severity) cover which builds;
* `updateinfo info --security`: each advisory's CVE ids.

dnf is preferred, yum (RHEL/CentOS 7) is the fallback. With `ctx.online` False the commands run
from the metadata cache only (`-C`), so the check never reaches the network. The text outputs
carry no `reboot_suggested`; it is read from the updateinfo.xml in the tool's cache
(`agent.dnf.reboot_flags`) and becomes `restart_required` (R-F4).
"""

from __future__ import annotations

from typing import Dict, List, Optional, Sequence, Set, Tuple

from patchwarden.agent.collectors.base import (
    Collector,
    CollectorFailed,
    Context,
    InventoryPart,
    Requires,
)
from patchwarden.agent.dnf.reboot_flags import WHOLE_UPDATE, cached_updateinfo, reboot_flags
from patchwarden.agent.dnf.updateinfo import (
    AdvisoryInfo,
    ListRow,
    Upgrade,
    highest_severity,
    parse_check_update,
    parse_info,
    parse_list,
)
from patchwarden.agent.runner import CommandNotFound, Completed, Runner
from patchwarden.core.inventory import Evidence, Package, PendingUpdate

NAME = "dnf-updates"

COMMANDS = {
    "dnf": {
        "check": ["check-update", "--security"],
        "list": ["updateinfo", "list", "--security", "--available"],
        "info": ["updateinfo", "info", "--security", "--available"],
    },
    "yum": {
        "check": ["check-update", "--security"],
        "list": ["updateinfo", "list", "security"],
        "info": ["updateinfo", "info", "security"],
    },
}
"""Arguments after `<tool> -q [-C]` for each of the three queries."""


class DnfUpdatesCollector(Collector):
    """Pending security errata from dnf (or yum) updateinfo on a live RHEL-family host."""

    name = NAME
    version = 1
    covers = frozenset({Evidence.PENDING_UPDATES})
    requires = Requires(families=frozenset({"rhel"}), live=True)

    def __init__(self, timeout: float = 300.0) -> None:
        self.timeout = timeout

    def collect(self, ctx: Context) -> InventoryPart:
        """Run the three queries and join them per installed package."""
        installed = [p for p in ctx.packages if p.format == "rpm"]
        if not installed:
            raise CollectorFailed(
                "no installed rpm packages known (the rpm collector must run first)"
            )
        tool, check = self._run_first(ctx, "check")
        upgrades = parse_check_update(check.stdout, f"{tool} check-update")
        rows = parse_list(self._run(ctx, tool, "list").stdout, f"{tool} updateinfo list")
        infos = parse_info(self._run(ctx, tool, "info").stdout, f"{tool} updateinfo info")
        ids = {row.id for row in rows if row.kind == "security"}
        reboot, unread = reboot_flags(cached_updateinfo(ctx.path("/")), ids) if ids else ({}, [])
        updates = join_updates(installed, upgrades, rows, infos, reboot, unread)
        return InventoryPart(pending_updates=tuple(updates))

    def _argv(self, ctx: Context, tool: str, query: str) -> List[str]:
        """`<tool> -q [-C] <query args>`; -C (cache only) when the agent may not go online."""
        return [tool, "-q", *([] if ctx.online else ["-C"]), *COMMANDS[tool][query]]

    def _run_first(self, ctx: Context, query: str) -> Tuple[str, Completed]:
        """Run `query` with dnf, or with yum where dnf does not exist."""
        for tool in ("dnf", "yum"):
            done = self._if_present(ctx, tool, query)
            if done is not None:
                return tool, done
        raise CollectorFailed("neither dnf nor yum found on a live RHEL-family root")

    def _if_present(self, ctx: Context, tool: str, query: str) -> Optional[Completed]:
        """Run `query` with `tool`; None when the tool is not installed."""
        try:
            return self._checked(ctx.runner, self._argv(ctx, tool, query), query)
        except CommandNotFound:
            return None

    def _run(self, ctx: Context, tool: str, query: str) -> Completed:
        """Run one query with the tool already chosen."""
        try:
            return self._checked(ctx.runner, self._argv(ctx, tool, query), query)
        except CommandNotFound as exc:
            raise CollectorFailed(f"{tool} disappeared while running: {exc}") from exc

    def _checked(self, runner: Runner, argv: Sequence[str], query: str) -> Completed:
        """Run argv; check-update's exit 100 means "updates available" (dnf(8), yum(8))."""
        done = runner.run(argv, timeout=self.timeout)
        allowed = (0, 100) if query == "check" else (0,)
        if done.returncode not in allowed:
            raise CollectorFailed(
                f"`{' '.join(argv)}` failed (exit {done.returncode}): {done.stderr.strip()[:300]}"
            )
        return done


def join_updates(
    installed: Sequence[Package],
    upgrades: Sequence[Upgrade],
    rows: Sequence[ListRow],
    infos: Sequence[AdvisoryInfo],
    reboot: Optional[Dict[str, Set[str]]] = None,
    reboot_problems: Sequence[str] = (),
) -> List[PendingUpdate]:
    """One PendingUpdate per security-advised name.arch: candidate, advisories, CVEs, severity,
    and whether an erratum suggests a reboot (`reboot`: erratum id -> flagged names)."""
    reboot = reboot or {}
    versions: Dict[Tuple[str, str], List[Package]] = {}
    for package in installed:
        versions.setdefault((package.name, package.arch), []).append(package)
    by_id = {info.id: info for info in infos}
    advised: Dict[Tuple[str, str], List[ListRow]] = {}
    for row in rows:
        if row.kind == "security":
            advised.setdefault((row.nevra.name, row.nevra.arch), []).append(row)
    candidates = {(u.name, u.arch): u for u in upgrades}
    updates = []
    for key in sorted(advised):
        key_rows = advised[key]
        ids = tuple(dict.fromkeys(r.id for r in key_rows))
        cves = tuple(dict.fromkeys(c for i in ids if i in by_id for c in by_id[i].cves))
        notes = []
        upgrade = candidates.get(key)
        if upgrade is None:
            # Advised build not offered by check-update: excluded, version-locked or obsoleted.
            candidate = key_rows[-1].nevra.evr
            repository = ""
            notes.append("not offered by check-update (excluded, locked or obsoleted?)")
        else:
            candidate, repository = upgrade.evr, upgrade.repository
        packages = versions.get(key, [])
        installed_version = " ".join(p.version for p in packages)
        if not packages:
            notes.append("installed version unknown: not in the rpm inventory")
        elif len(packages) > 1:
            notes.append("several versions installed (install-only package)")
        flagged = [reboot.get(i, set()) for i in ids]
        restart = any(WHOLE_UPDATE in names or key[0] in names for names in flagged)
        if reboot_problems and not restart:
            notes.append("reboot_suggested unread: " + "; ".join(reboot_problems)[:300])
        if not cves:
            missing = [i for i in ids if i not in by_id]
            notes.append(
                "updateinfo names no CVE"
                + (f" (no info for {', '.join(missing)})" if missing else "")
            )
        updates.append(
            PendingUpdate(
                package=key[0],
                installed_version=installed_version,
                candidate_version=candidate,
                repository=repository,
                source_package=packages[0].source if packages else "",
                advisories=ids,
                cves=cves,
                severity=_severity(key_rows, ids, by_id),
                restart_required=restart,
                note="; ".join(notes),
            )
        )
    return updates


def _severity(
    rows: Sequence[ListRow], ids: Sequence[str], by_id: Dict[str, AdvisoryInfo]
) -> Optional[str]:
    """Highest severity from the list labels and the info blocks."""
    found: List[Optional[str]] = [r.severity for r in rows]
    found += [by_id[i].severity for i in ids if i in by_id]
    return highest_severity(found)
