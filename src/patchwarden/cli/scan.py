"""`patchwarden scan`: inventory this host (or a root) with the agent's collectors and match
it with the console's detection service, against the local store plus feeds given on the
command line. Composition only: no database, no console."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

from rich.console import Console

from patchwarden.agent.inventory import collect_inventory
from patchwarden.core.errors import InputError
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
