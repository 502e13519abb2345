"""`patchwarden records` output: a console's records as a table, most urgent first."""

from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.table import Table
from rich.text import Text

from patchwarden.cli.output import SEVERITY_STYLE
from patchwarden.core.advisory import Severity


def print_records(console: Console, items: list[dict[str, Any]], total: int) -> None:
    """A table of records (most urgent first) and a count line; the host column only when
    the records are of several hosts."""
    hosts = sorted({r["hostname"] for r in items})
    columns = ["urgency", "severity", "package", "installed", "fixed", "vulnerability", "notes"]
    if len(hosts) > 1:
        columns.insert(2, "host")
    table = Table(header_style="bold", title=hosts[0] if len(hosts) == 1 else None)
    for col in columns:
        table.add_column(col, overflow="fold")
    for r in items:
        severity = Severity.parse(r["severity"])
        notes = []
        if r["exploitable"]:
            notes.append("[bold red]KEV[/]")
        if r["fixed_version"] is None:
            notes.append("no fix")
        if r["status"] != "unfixed":
            notes.append(r["status"])
        if r["confidence"] != "high":
            notes.append(f"{r['method']} ({r['confidence']})")
        cells = {
            "urgency": f"{r['urgency']:.1f} {r['bucket']}",
            "severity": Text(severity.value, style=SEVERITY_STYLE[severity]),
            "host": r["hostname"],
            "package": r["package"],
            "installed": r["installed_version"],
            "fixed": r["fixed_version"] or "—",
            "vulnerability": r["vuln_id"],
            "notes": " ".join(notes),
        }
        table.add_row(*(cells[c] for c in columns))
    if items:
        console.print(table)
    shown = f"; the {len(items)} most urgent shown" if len(items) < total else ""
    console.print(f"{total} records{shown}")
