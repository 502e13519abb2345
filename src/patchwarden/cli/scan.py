"""`patchwarden scan`: inventory this host (or a root) with the agent's collectors and match
it with the console's detection service, against the local store plus feeds given on the
command line. Composition only: no console database, no console.

Options follow Trivy and Grype: `--severity`, `--ignore-unfixed`, `--ignore-file`,
`--format table|json|sarif|cyclonedx|csv`, `--exit-code N`.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timezone
from pathlib import Path
from typing import Optional

import click
from rich.console import Console

from patchwarden.agent.collectors.registry import COLLECTORS
from patchwarden.agent.inventory import collect_inventory
from patchwarden.cli.common import (
    EXIT_CLEAN,
    EXIT_FINDINGS,
    data_dir_option,
    err_console,
    fail,
    resolve_data_dir,
)
from patchwarden.cli.ignore_file import load_ignore_file
from patchwarden.cli.scan_filters import (
    Filtered,
    ScanFilters,
    apply_filters,
    filters_line,
    filters_summary,
)
from patchwarden.core.advisory import Severity
from patchwarden.core.errors import InputError, InventoryError, PatchwardenError
from patchwarden.core.inventory import UNKNOWN_OS, Evidence, Inventory
from patchwarden.core.matching import Match
from patchwarden.services.detection import detect
from patchwarden.services.feeds import load_index
from patchwarden.services.freshness import STALE_AFTER_DAYS, Freshness, freshness
from patchwarden.services.index import ChainedIndex
from patchwarden.services.views import filter_values
from patchwarden.storage.advisory_store import AdvisoryStore

FORMATS = ("table", "json", "sarif", "cyclonedx", "csv")

PACKAGE_COLLECTORS = frozenset(
    name for name, c in COLLECTORS.items() if Evidence.INSTALLED_PACKAGES in c.covers
)
"""Collectors that read a package database (dpkg, rpm, apk)."""


@dataclass
class ScanResult:
    """Inventory, findings and the errors met on the way (per collector, per advisory)."""

    inventory: Inventory
    matches: list[Match]
    errors: list[str]
    advisory_data: Optional[Freshness] = None
    """What the store held and what is wrong with it (empty, the offline snapshot, stale)."""


def scan_host(
    data_dir: Path,
    root: Path = Path("/"),
    feed_specs: Sequence[str] = (),
    online: bool = True,
    include_wont_fix: bool = False,
    progress: Optional[Console] = None,
    stale_after_days: float = STALE_AFTER_DAYS,
) -> ScanResult:
    """Collect the inventory of `root`, match it against the store plus `feed_specs`.

    `progress` shows a spinner with counts of long steps (changelogs n/N) while collecting.
    """
    if not root.exists():
        raise InputError(f"{root}: no such directory to scan")
    if not root.is_dir():
        raise InputError(f"{root}: not a directory (--root wants a mounted filesystem or chroot)")
    extra, errors = load_index(feed_specs)
    if progress is not None:
        label = f"collecting the inventory of {root}"
        with progress.status(label) as status:

            def report(what: str, done: int, total: int) -> None:
                status.update(f"{label}: {what} {done}/{total}")

            inv = collect_inventory(
                root, online=online, cache_dir=data_dir / "cache", progress=report
            )
    else:
        inv = collect_inventory(root, online=online, cache_dir=data_dir / "cache")
    check_recognised(inv, root)
    errors = [
        f"collector {e.collector}: {e.path + ': ' if e.path else ''}{e.message}"
        for e in inv.collector_errors
    ] + errors
    with AdvisoryStore.in_dir(data_dir) as store:
        found = detect(inv, ChainedIndex([store, extra]), include_wont_fix=include_wont_fix)
        data = freshness(store.feeds(), datetime.now(timezone.utc), stale_after_days)
    if feed_specs and data.empty:
        # The feeds given on the command line are what the scan used; nothing to warn about.
        data = Freshness("advisory data: the feeds given with --feed", ())
    return ScanResult(
        inventory=inv, matches=found.matches, errors=errors + found.errors, advisory_data=data
    )


def check_recognised(inv: Inventory, root: Path) -> None:
    """InventoryError when `root` had neither an os-release nor a package database: an empty
    mount point or a wrong path would otherwise read as a clean host with 0 findings."""
    if inv.os != UNKNOWN_OS or inv.packages:
        return
    seen = {c.split("@", 1)[0] for c in inv.collectors} | {
        e.collector for e in inv.collector_errors
    }
    if seen & PACKAGE_COLLECTORS:
        return  # a package database was there (its collector's error says what is wrong)
    raise InventoryError(
        f"nothing to scan: no os-release and no package database under {root}: "
        "is it a mounted filesystem?"
    )


@click.command()
@data_dir_option
@click.option(
    "--root",
    type=click.Path(path_type=Path),
    default=Path("/"),
    show_default=True,
    help="Scan this root (a mounted filesystem or chroot) instead of the running system.",
)
@click.option(
    "--feed",
    "feeds",
    multiple=True,
    metavar="[KIND:]PATH",
    help="Also match against this feed file or directory (not stored). Repeatable.",
)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(FORMATS),
    default="table",
    show_default=True,
    help="table (grouped by source package), json, sarif (2.1.0), cyclonedx (1.6), csv.",
)
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path), default=None)
@click.option(
    "--severity",
    "severity_list",
    metavar="LIST",
    help="Only findings of these severities (comma list of critical, high, medium, low, "
    "none, unknown); the others are neither shown nor counted for the exit code.",
)
@click.option("--ignore-unfixed", is_flag=True, help="Leave out findings without a fixed version.")
@click.option(
    "--ignore-file",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="YAML list of accepted vulnerabilities: - {id: CVE-…, packages: [names], "
    "expires: YYYY-MM-DD, statement: why} (all but id optional).",
)
@click.option(
    "--fail-on",
    type=click.Choice([s.value for s in Severity if s.rank > 0]),
    default=None,
    help="Exit with --exit-code only when a finding of this severity or higher remains.",
)
@click.option(
    "--exit-code",
    type=click.IntRange(0, 255),
    metavar="N",
    default=EXIT_FINDINGS,
    show_default=True,
    help="Exit code when findings remain after the filters (0 when none; 2 on input errors).",
)
@click.option("--offline", is_flag=True, help="No network at all (no changelog downloads).")
@click.option(
    "--stale-days",
    type=click.FloatRange(min=0.0, min_open=True),
    default=STALE_AFTER_DAYS,
    show_default=True,
    metavar="DAYS",
    help="Warn when the newest feed import is older than this.",
)
@click.option(
    "--include-wont-fix",
    is_flag=True,
    help="Also report vulnerabilities the vendor will not fix / has declared end-of-life.",
)
def scan(
    data_dir: Path | None,
    root: Path,
    feeds: tuple[str, ...],
    fmt: str,
    output: Path | None,
    severity_list: str | None,
    ignore_unfixed: bool,
    ignore_file: Path | None,
    fail_on: str | None,
    exit_code: int,
    offline: bool,
    stale_days: float,
    include_wont_fix: bool,
) -> None:
    """Inventory this host (or --root) and match it against the advisories.

    Exit code 0 when no findings remain after the filters, --exit-code (default 1) when some
    do (at or above --fail-on), 2 on input errors.
    """
    try:
        # Every input is checked before the collection, which may take a minute.
        severities = filter_values("severity", severity_list, "--severity")
        filters = ScanFilters(
            severities=tuple(Severity(s) for s in severities),
            ignore_unfixed=ignore_unfixed,
            ignore_file=ignore_file,
            ignores=tuple(load_ignore_file(ignore_file)) if ignore_file else (),
        )
        show_progress = fmt == "table" and err_console.is_terminal
        result = scan_host(
            resolve_data_dir(data_dir),
            root=root,
            feed_specs=feeds,
            online=not offline,
            include_wont_fix=include_wont_fix,
            progress=err_console if show_progress else None,
            stale_after_days=stale_days,
        )
    except PatchwardenError as exc:
        fail(str(exc))
    for warning in result.advisory_data.warnings if result.advisory_data else ():
        err_console.print(f"[yellow]warning:[/] {warning}", soft_wrap=True, highlight=False)
    for event in result.inventory.scan_events:  # e.g. processes it could not read
        err_console.print(f"[yellow]note:[/] {event.message}", soft_wrap=True, highlight=False)
    filtered = apply_filters(result.matches, filters, date.today())
    for entry in filtered.expired:
        err_console.print(
            f"[yellow]warning:[/] {ignore_file} line {entry.line} (entry {entry.number}): "
            f"{entry.id} expired on {entry.expires}, it no longer applies",
            soft_wrap=True,
            highlight=False,
        )
    try:
        write_output(fmt, output, result, filters, filtered)
    except OSError as exc:
        fail(f"{output}: cannot write the output: {exc.strerror or exc}")
    threshold = Severity(fail_on).rank if fail_on else 0
    failing = [m for m in filtered.matches if m.severity.rank >= threshold]
    sys.exit(exit_code if failing else EXIT_CLEAN)


def write_output(
    fmt: str,
    output: Optional[Path],
    result: ScanResult,
    filters: ScanFilters,
    filtered: Filtered,
) -> None:
    """Render the findings the filters left in `fmt`, to `output` (a file) or stdout."""
    inv, errors, matches = result.inventory, result.errors, filtered.matches
    if fmt == "table":
        from patchwarden.cli.output import print_table, stdout_console

        line = filters_line(filters, filtered) if filters.active else ""
        data = result.advisory_data.summary if result.advisory_data else ""
        if output:
            with output.open("w", encoding="utf-8") as fh:
                print_table(stdout_console(fh), inv, matches, errors, line, data)
        else:
            print_table(stdout_console(), inv, matches, errors, line, data)
        return
    if fmt == "csv":
        from patchwarden.cli.csv_output import csv_text

        text = csv_text(matches)
    else:
        text = json.dumps(_document(fmt, result, filters, filtered), indent=2) + "\n"
    if output:
        with output.open("w", encoding="utf-8", newline="") as fh:
            fh.write(text)
    else:
        click.echo(text, nl=False)


def _document(fmt: str, result: ScanResult, filters: ScanFilters, filtered: Filtered) -> object:
    """The JSON-shaped document of `fmt` (json, sarif, cyclonedx)."""
    matches = filtered.matches
    if fmt == "sarif":
        from patchwarden.cli.sarif import sarif_document

        return sarif_document(result.inventory, matches)
    if fmt == "cyclonedx":
        from patchwarden.cli.cyclonedx import cyclonedx_document

        return cyclonedx_document(result.inventory, matches)
    from patchwarden.cli.output import scan_document

    summary = filters_summary(filters, filtered) if filters.active else None
    return scan_document(result.inventory, matches, result.errors, summary)
