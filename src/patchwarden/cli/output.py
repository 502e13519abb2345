"""Scan output: the JSON document scripts rely on, and the rich table people read."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from typing import Any

from rich.console import Console
from rich.table import Table
from rich.text import Text

from patchwarden.core.advisory import Severity
from patchwarden.core.inventory import Inventory
from patchwarden.core.matching import Match

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
    inv: Inventory, matches: Sequence[Match], errors: Sequence[str]
) -> dict[str, Any]:
    """The scan JSON: schema, host, findings, errors (plus a summary)."""
    return {
        "schema": JSON_SCHEMA,
        "host": host_dict(inv),
        "summary": {
            "findings": len(matches),
            "by_severity": severity_counts(matches),
            "exploitable": sum(1 for m in matches if m.exploitable),
            "no_fix": sum(1 for m in matches if m.fixed_version is None),
        },
        "findings": [m.to_dict() for m in matches],
        "errors": list(errors),
    }


def print_table(
    console: Console, inv: Inventory, matches: Sequence[Match], errors: Sequence[str]
) -> None:
    """Findings grouped by package, severity colours, counts."""
    os_line = inv.os.name or f"{inv.os.id} {inv.os.release}"
    if inv.os.eol:
        os_line += f" [bold red](end-of-life {inv.os.eol_date or ''})[/]"
    console.print(f"[bold]{inv.host.hostname}[/] — {os_line} — {len(inv.packages)} packages")
    k = inv.kernel
    if k.running:
        others = [p.release for p in k.installed if p.release != k.running]
        extra = f"; installed, not running: {', '.join(others)}" if others else ""
        console.print(f"kernel running {k.running}{extra}")
    table = Table(show_lines=False, header_style="bold")
    for col in ("package", "installed", "fixed", "severity", "vulnerability", "notes"):
        table.add_column(col, overflow="fold")
    last_pkg = None
    for m in sorted(matches, key=lambda m: (m.package, -m.severity.rank, m.id)):
        notes = []
        if m.exploitable:
            notes.append("[bold red]KEV[/]")
        if m.fixed_version is None:
            notes.append("no fix")
        if m.confidence.value != "high":
            notes.append(f"{m.method.value} ({m.confidence.value})")
        show_pkg = m.package != last_pkg
        last_pkg = m.package
        table.add_row(
            m.package if show_pkg else "",
            m.installed_version if show_pkg else "",
            m.fixed_version or "—",
            Text(m.severity.value, style=SEVERITY_STYLE[m.severity]),
            m.id,
            " ".join(notes),
        )
    if matches:
        console.print(table)
    counts = severity_counts(matches)
    parts = [f"[{SEVERITY_STYLE[Severity(s)]}]{n} {s}[/]" for s, n in counts.items() if n]
    exploitable = sum(1 for m in matches if m.exploitable)
    packages = len({m.package for m in matches})
    console.print(
        f"{len(matches)} findings in {packages} packages"
        + (f": {', '.join(parts)}" if parts else "")
        + (f"; {exploitable} known exploited (KEV)" if exploitable else "")
    )
    for err in errors:
        console.print(f"[yellow]warning:[/] {err}", soft_wrap=True)
