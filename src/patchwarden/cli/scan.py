"""`patchwarden scan`: inventory this host (or a root) with the agent's collectors and match
it with the console's detection service, against the local store plus feeds given on the
command line. Composition only: no console database, no console."""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

import click
from rich.console import Console

from patchwarden.agent.inventory import collect_inventory
from patchwarden.cli.common import (
    EXIT_CLEAN,
    EXIT_FINDINGS,
    data_dir_option,
    err_console,
    fail,
    resolve_data_dir,
)
from patchwarden.core.advisory import Severity
from patchwarden.core.errors import InputError, PatchwardenError
from patchwarden.core.inventory import Inventory
from patchwarden.core.matching import Match
from patchwarden.services.detection import detect
from patchwarden.services.feeds import load_index
from patchwarden.services.index import ChainedIndex
from patchwarden.storage.advisory_store import AdvisoryStore


@dataclass
class ScanResult:
    """Inventory, findings and the errors met on the way (per collector, per advisory)."""

    inventory: Inventory
    matches: list[Match]
    errors: list[str]


def scan_host(
    data_dir: Path,
    root: Path = Path("/"),
    feed_specs: Sequence[str] = (),
    online: bool = True,
    include_wont_fix: bool = False,
    progress: Optional[Console] = None,
) -> ScanResult:
    """Collect the inventory of `root`, match it against the store plus `feed_specs`."""
    if not root.exists():
        raise InputError(f"{root}: no such directory to scan")
    if not root.is_dir():
        raise InputError(f"{root}: not a directory (--root wants a mounted filesystem or chroot)")
    extra, errors = load_index(feed_specs)
    if progress is not None:
        with progress.status(f"collecting the inventory of {root}"):
            inv = collect_inventory(root, online=online, cache_dir=data_dir / "cache")
    else:
        inv = collect_inventory(root, online=online, cache_dir=data_dir / "cache")
    errors = [
        f"collector {e.collector}: {e.path + ': ' if e.path else ''}{e.message}"
        for e in inv.collector_errors
    ] + errors
    with AdvisoryStore.in_dir(data_dir) as store:
        found = detect(inv, ChainedIndex([store, extra]), include_wont_fix=include_wont_fix)
    return ScanResult(inventory=inv, matches=found.matches, errors=errors + found.errors)


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
    type=click.Choice(["table", "json"]),
    default="table",
    show_default=True,
)
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path), default=None)
@click.option(
    "--fail-on",
    type=click.Choice([s.value for s in Severity if s.rank > 0]),
    default=None,
    help="Exit 1 only when a finding of this severity or higher exists.",
)
@click.option("--offline", is_flag=True, help="No network at all (no changelog downloads).")
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
    fail_on: str | None,
    offline: bool,
    include_wont_fix: bool,
) -> None:
    """Inventory this host (or --root) and match it against the advisories.

    Exit code 0 when no findings, 1 when findings (at or above --fail-on), 2 on input errors.
    """
    try:
        result = scan_host(
            resolve_data_dir(data_dir),
            root=root,
            feed_specs=feeds,
            online=not offline,
            include_wont_fix=include_wont_fix,
            progress=None if fmt == "json" else err_console,
        )
    except PatchwardenError as exc:
        fail(str(exc))
        return
    from patchwarden.cli.output import print_table, scan_document

    if fmt == "json":
        text = json.dumps(scan_document(result.inventory, result.matches, result.errors), indent=2)
        if output:
            output.write_text(text + "\n")
        else:
            click.echo(text)
    else:
        if output:
            with output.open("w") as fh:
                print_table(
                    Console(file=fh, width=160), result.inventory, result.matches, result.errors
                )
        else:
            print_table(Console(), result.inventory, result.matches, result.errors)
    threshold = Severity(fail_on).rank if fail_on else 0
    failing = [m for m in result.matches if m.severity.rank >= threshold]
    sys.exit(EXIT_FINDINGS if failing else EXIT_CLEAN)
