"""Scan output: the JSON document scripts rely on, and the rich table people read (findings
grouped by source package, with the command that installs their fixes).

SARIF, CycloneDX and CSV live in `sarif`, `cyclonedx` and `csv_output`.
"""

from __future__ import annotations

import os
import sys
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import IO, Any, Optional

from rich import box
from rich.console import Console
from rich.table import Table
from rich.text import Text

from patchwarden.cli.upgrade_commands import upgrade_command
from patchwarden.core.advisory import Severity
from patchwarden.core.app_instances import AppComponent, AppProcess
from patchwarden.core.errors import PatchwardenError
from patchwarden.core.inventory import Inventory
from patchwarden.core.matching import Match
from patchwarden.core.versions import key as version_key

JSON_SCHEMA = 1

SEVERITY_STYLE = {
    Severity.CRITICAL: "bold white on red",
    Severity.HIGH: "bold red",
    Severity.MEDIUM: "yellow",
    Severity.LOW: "cyan",
    Severity.NONE: "dim",
    Severity.UNKNOWN: "dim",
}


def host_dict(inv: Inventory) -> dict[str, Any]:
    """The `host` object of the scan JSON."""
    k = inv.kernel
    return {
        "hostname": inv.host.hostname,
        "machine_id": inv.host.machine_id,
        "arch": inv.host.arch,
        "root": inv.host.root,
        "os": {
            "id": inv.os.id,
            "family": inv.os.family,
            "release": inv.os.release,
            "version_id": inv.os.version_id,
            "codename": inv.os.codename,
            "name": inv.os.name,
            "eol": inv.os.eol,
            "eol_date": inv.os.eol_date,
        },
        "kernel": {
            "running": k.running,
            "running_package": k.running_package,
            "newest_installed": k.newest_installed,
            "boot_default": k.boot_default,
            "installed": [
                {"package": p.name, "version": p.version, "release": p.release} for p in k.installed
            ],
            # R-D7: kernels on disk but not booted are facts, not findings.
            "not_running": [p.release for p in k.installed if p.release != k.running],
        },
        "packages": len(inv.packages),
        "pending_security_updates": len(inv.pending_updates),
        "collectors": list(inv.collectors),
        "collected_at": inv.collected_at,
    }


def severity_counts(matches: Sequence[Match]) -> dict[str, int]:
    """Findings per severity, every severity present (zeros included)."""
    counts = Counter(m.severity.value for m in matches)
    return {s.value: counts.get(s.value, 0) for s in Severity}


def scan_document(
    inv: Inventory,
    matches: Sequence[Match],
    errors: Sequence[str],
    filters: Optional[dict[str, Any]] = None,
) -> dict[str, Any]:
    """The scan JSON: schema, host, findings, errors (plus a summary). `filters` (which
    filters applied, what they removed) goes into the summary only when filters were given,
    so the unfiltered document stays exactly what scripts know."""
    summary: dict[str, Any] = {
        "findings": len(matches),
        "by_severity": severity_counts(matches),
        "exploitable": sum(1 for m in matches if m.exploitable),
        "no_fix": sum(1 for m in matches if m.fixed_version is None),
    }
    if filters is not None:
        summary["filters"] = filters
    return {
        "schema": JSON_SCHEMA,
        "host": host_dict(inv),
        "summary": summary,
        "findings": [m.to_dict() for m in matches],
        "errors": list(errors),
    }


WIDE = 200
"""Columns of table output that goes to a pipe or a file (unless $COLUMNS says otherwise)."""


def stdout_console(file: Optional[IO[str]] = None) -> Console:
    """A console writing to `file` (default stdout): a terminal's own width, else `$COLUMNS`
    or WIDE columns, so piped output keeps words whole instead of folding them at rich's
    default 80 (`installe|d`)."""
    if file is None and sys.stdout.isatty():
        return Console()
    columns = os.environ.get("COLUMNS", "")
    width = int(columns) if columns.isdigit() and int(columns) > 0 else WIDE
    return Console(file=file, width=width)


NARROW = 140
"""Below this many columns the table leaves out the per-row upgrade commands and shows
installed and fixed versions in one column."""

_SCHEMES = {"deb": "dpkg", "rpm": "rpm", "apk": "apk"}
"""Package format -> version scheme that orders its versions."""


@dataclass(frozen=True)
class SourceGroup:
    """The findings of one source package: one table row."""

    source: str
    matches: tuple[Match, ...]
    binaries: tuple[str, ...]
    installed: tuple[str, ...]
    """Distinct installed versions of its affected binaries."""
    fixed: Optional[str]
    """The highest fixed version among its findings (installing it fixes every fixable one)."""
    severity: Severity
    """The highest severity among its findings."""
    severity_source: str
    """Who rated the finding that has it (nvd, debian, …, unrated)."""
    exploitable: int
    no_fix: int

    @property
    def by_vulnerability(self) -> list[Match]:
        """One finding per vulnerability id, most severe first."""
        seen: dict[str, Match] = {}
        for m in sorted(self.matches, key=lambda m: (-m.severity.rank, m.id)):
            seen.setdefault(m.id, m)
        return list(seen.values())


def group_by_source(inv: Inventory, matches: Sequence[Match]) -> list[SourceGroup]:
    """Findings per source package, most severe (then most exploited) first."""
    formats = {p.name: p.format for p in inv.packages}
    by_source: dict[str, list[Match]] = {}
    for m in matches:
        by_source.setdefault(m.source_package or m.package, []).append(m)
    groups = []
    for source, found in by_source.items():
        fixed = [m.fixed_version for m in found if m.fixed_version]
        scheme = _SCHEMES.get(formats.get(found[0].package, ""), "")
        worst = max(found, key=lambda m: (m.severity.rank, m.severity_source != "unrated"))
        groups.append(
            SourceGroup(
                source=source,
                matches=tuple(found),
                binaries=tuple(sorted({m.package for m in found})),
                installed=tuple(sorted({m.installed_version for m in found})),
                fixed=_highest(fixed, scheme),
                severity=worst.severity,
                severity_source=worst.severity_source,
                exploitable=sum(1 for m in found if m.exploitable),
                no_fix=len(found) - len(fixed),
            )
        )
    return sorted(groups, key=lambda g: (-g.severity.rank, -g.exploitable, g.source))


def _highest(versions: Sequence[str], scheme: str) -> Optional[str]:
    """The highest of `versions` in `scheme` (text order when the scheme cannot tell)."""
    if not versions:
        return None
    try:
        return max(versions, key=lambda v: version_key(scheme, v)) if scheme else max(versions)
    except PatchwardenError:
        return max(versions)


def print_table(
    console: Console,
    inv: Inventory,
    matches: Sequence[Match],
    errors: Sequence[str],
    filters_line: str = "",
    advisory_data: str = "",
) -> None:
    """Host line, the advisory data used, one row per source package (binaries,
    vulnerabilities, highest severity and who rated it, fixed version, upgrade command),
    counts by severity, the filters applied, warnings."""
    os_line = inv.os.name or f"{inv.os.id} {inv.os.release}"
    if inv.os.eol:
        os_line += f" [bold red](end-of-life {inv.os.eol_date or ''})[/]"
    console.print(f"[bold]{inv.host.hostname}[/] — {os_line} — {len(inv.packages)} packages")
    k = inv.kernel
    if k.running:
        others = [p.release for p in k.installed if p.release != k.running]
        extra = f"; installed, not running: {', '.join(others)}" if others else ""
        console.print(f"kernel running {k.running}{extra}")
    if advisory_data:
        console.print(advisory_data, soft_wrap=True, highlight=False, markup=False)
    apps = [m for m in matches if m.process is not None]
    groups = group_by_source(inv, [m for m in matches if m.process is None])
    if groups:
        console.print(_table(inv, groups, wide=console.width >= NARROW))
    app_groups = group_by_instance(apps)
    if app_groups:
        console.print(_app_table(app_groups, wide=console.width >= NARROW))
    counts = severity_counts(matches)
    parts = [f"[{SEVERITY_STYLE[Severity(s)]}]{n} {s}[/]" for s, n in counts.items() if n]
    exploitable = sum(1 for m in matches if m.exploitable)
    processes = len({g.instance for g in app_groups})
    console.print(
        f"{len(matches)} findings in {len(groups)} source packages"
        + (f" and {processes} running processes" if processes else "")
        + (f": {', '.join(parts)}" if parts else "")
        + (f"; {exploitable} known exploited (KEV)" if exploitable else "")
    )
    everything = upgrade_command(inv.os, matches)
    if everything and (len(groups) > 1 or console.width < NARROW):
        console.print(
            f"install every available fix: [bold]{everything}[/]", soft_wrap=True, highlight=False
        )
    if filters_line:
        console.print(filters_line, soft_wrap=True, markup=False)
    for err in errors:
        console.print(f"[yellow]warning:[/] {err}", soft_wrap=True)


@dataclass(frozen=True)
class InstanceGroup:
    """The application findings of one component in one process instance: one table row."""

    instance: str
    process: AppProcess
    component: AppComponent
    matches: tuple[Match, ...]
    fixed: Optional[str]
    """The highest fixed version among its findings (upgrading to it fixes every fixable one)."""
    severity: Severity

    @property
    def ids(self) -> list[Match]:
        """One finding per vulnerability id, most severe first."""
        return sorted(self.matches, key=lambda m: (-m.severity.rank, m.id))


def group_by_instance(matches: Sequence[Match]) -> list[InstanceGroup]:
    """Application findings per process instance and component, most severe first."""
    by_key: dict[tuple[str, str], list[Match]] = {}
    for m in matches:
        by_key.setdefault((m.instance, m.package), []).append(m)
    groups = []
    for (instance, _), found in by_key.items():
        first = found[0]
        if first.process is None or first.component is None:
            continue
        scheme = _ECOSYSTEM_SCHEMES.get(first.component.ecosystem, "")
        groups.append(
            InstanceGroup(
                instance=instance,
                process=first.process,
                component=first.component,
                matches=tuple(found),
                fixed=_highest([m.fixed_version for m in found if m.fixed_version], scheme),
                severity=max((m.severity for m in found), key=lambda s: s.rank),
            )
        )
    return sorted(groups, key=lambda g: (-g.severity.rank, g.process.pid, g.component.name))


_ECOSYSTEM_SCHEMES = {"Maven": "maven", "PyPI": "pep440", "npm": "semver"}


def _process_cell(p: AppProcess) -> Text:
    """`java (pid 4242)` and its listening sockets under it."""
    name = p.exe.rsplit("/", 1)[-1] or p.exe
    cell = Text(f"{name} (pid {p.pid})", style="bold")
    if p.ports:
        ports = ", ".join(f"{_host_port(x.address, x.port)}/{x.proto}" for x in p.ports)
        cell.append("\n" + ports, style="bold" if p.exposed else "dim")
    return cell


def _host_port(address: str, port: int) -> str:
    return f"[{address}]:{port}" if ":" in address else f"{address}:{port}"


def _app_table(groups: Sequence[InstanceGroup], wide: bool) -> Table:
    """Application findings: process (pid, ports), component (name and JAR), installed and
    upgrade-to versions, severity, vulnerabilities, how the component was identified."""
    table = Table(header_style="bold", box=box.HEAVY_HEAD if wide else box.SIMPLE_HEAD)
    table.add_column("process (listening)", overflow="fold", max_width=28)
    # The file name is what a person looks for: wide consoles give it the room it takes.
    table.add_column("component (file)", overflow="fold", max_width=None if wide else 36)
    table.add_column("installed → upgrade to", overflow="fold", max_width=24 if wide else 14)
    table.add_column("severity", no_wrap=True)
    table.add_column("vulnerabilities", overflow="fold", min_width=len("CVE-2024-12345,"))
    if wide:
        table.add_column("detected by", overflow="fold")
    for g in groups:
        component = Text(g.component.name, style="bold")
        component.append("\n" + g.component.path, style="dim")
        ids = Text()
        for n, m in enumerate(g.ids):
            if n:
                ids.append(", ")
            ids.append(m.id, style=SEVERITY_STYLE[m.severity] if m.severity.rank >= 3 else "")
            if m.exploitable:
                ids.append(" KEV", style="bold red")
        first = g.matches[0]
        how = f"{first.method.value} ({first.confidence.value})"
        versions = f"{g.component.version}\n→ {g.fixed or 'no fix yet'}"
        cells: list[Any] = [
            _process_cell(g.process),
            component,
            versions,
            Text(g.severity.value, style=SEVERITY_STYLE[g.severity]),
            ids,
        ]
        if wide:
            cells.append(how)
        elif first.confidence.value != "high":
            ids.append(f"\n{how}", style="italic")
        table.add_row(*cells)
    return table


def _table(inv: Inventory, groups: Sequence[SourceGroup], wide: bool) -> Table:
    """The findings table. A row's first cell is the source package with its affected
    binaries under it; version columns are as wide as their longest single version, so the
    width left goes to the columns that need it (vulnerabilities, notes, commands).

    Only `wide` consoles get separate installed and fixed columns, a notes column and each
    row's upgrade command; narrower ones get the notes under the vulnerabilities and the one
    command for every fix under the table."""
    longest = max(len(v) for g in groups for v in (*g.installed, g.fixed or "—"))
    # Narrow consoles: no vertical rules, whose 7 columns a 80-column terminal cannot spare.
    table = Table(header_style="bold", box=box.HEAVY_HEAD if wide else box.SIMPLE_HEAD)
    table.add_column("source package (binaries)", overflow="fold", max_width=32)
    if wide:
        table.add_column("installed", overflow="fold", max_width=max(longest, len("installed")))
        table.add_column("fixed", overflow="fold", max_width=max(longest, len("fixed")))
    else:
        title = "installed → fixed"
        table.add_column(
            title,
            overflow="fold",
            min_width=min(longest + 2, len(title) + 1),
            max_width=max(longest + 2, len(title)),
        )
    table.add_column("severity", no_wrap=True)
    table.add_column("vulnerabilities", overflow="fold", min_width=len("CVE-2024-12345,"))
    if wide:
        table.add_column("notes", overflow="fold")
        table.add_column("upgrade with", overflow="fold")
    for g in groups:
        package = Text(g.source, style="bold")
        if g.binaries != (g.source,):
            package.append("\n" + ", ".join(g.binaries), style="dim")
        ids = Text()
        for n, m in enumerate(g.by_vulnerability):
            if n:
                ids.append(", ")
            ids.append(m.id, style=SEVERITY_STYLE[m.severity] if m.severity.rank >= 3 else "")
            if m.exploitable:
                ids.append(" KEV", style="bold red")
        notes = []
        if g.no_fix == len(g.matches):
            notes.append("no fix yet")
        elif g.no_fix:
            unfixed = [m.id for m in g.by_vulnerability if not m.fixed_version]
            notes.append(f"no fix yet: {', '.join(unfixed)}")
        for m in g.matches:
            if m.confidence.value != "high":
                note = f"{m.method.value} ({m.confidence.value})"
                if note not in notes:
                    notes.append(note)
        installed, fixed = "\n".join(g.installed), g.fixed or "—"
        versions = [installed, fixed] if wide else [f"{installed}\n→ {fixed}"]
        severity = Text(g.severity.value, style=SEVERITY_STYLE[g.severity])
        if g.severity_source != "unrated":
            # Who rated it: a vendor's "low" and NVD's "high" are different statements.
            severity.append(f" ({g.severity_source})", style="dim")
        cells: list[Any] = [package, *versions, severity, ids]
        if wide:
            cells += ["; ".join(notes), upgrade_command(inv.os, g.matches) or "—"]
        elif notes:
            ids.append("\n" + "; ".join(notes), style="italic")  # no room for a notes column
        table.add_row(*cells)
    return table
