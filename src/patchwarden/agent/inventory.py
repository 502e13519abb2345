"""Run the collectors over a root and assemble one `Inventory` (DESIGN §1.1, STYLE E3).

A collector that fails becomes a `CollectorError` entry, never "no packages", and the
evidence it declares (`Collector.covers`) is left out of `Inventory.covered`; only a root
that cannot be scanned at all raises `InventoryError` (exit code 2 upstream).
"""

from __future__ import annotations

import datetime
import os
import platform
import socket
from collections import Counter
from pathlib import Path
from typing import TYPE_CHECKING, FrozenSet, List, Mapping, Optional, Set, Tuple

from patchwarden.agent.collectors.base import Collector, CollectorFailed, Context, Progress
from patchwarden.agent.collectors.registry import COLLECTORS
from patchwarden.agent.runner import Runner, SubprocessRunner
from patchwarden.core.errors import InventoryError
from patchwarden.core.inventory import (
    UNKNOWN_OS,
    CollectorError,
    Evidence,
    Host,
    Inventory,
    Kernel,
    Package,
    PendingUpdate,
    ProcessInstance,
    RemediationFacts,
    ScanEvent,
)

if TYPE_CHECKING:
    from patchwarden.agent.prechecks import Setup

# Architecture-independent packages say nothing about the machine.
_NEUTRAL_ARCHES = frozenset({"", "all", "noarch", "any"})


def collect_inventory(
    root: Path = Path("/"),
    runner: Optional[Runner] = None,
    online: bool = True,
    collectors: Optional[Mapping[str, Collector]] = None,
    cache_dir: Optional[Path] = None,
    progress: Optional[Progress] = None,
    remediation: Optional[Setup] = None,
    proc: Optional[Path] = None,
    ignore_pids: FrozenSet[int] = frozenset(),
) -> Inventory:
    """Collect the inventory of the system under `root` with `collectors` (default: all).

    `online=False` forbids network use by collectors; `runner` runs commands (only on a
    live root); `cache_dir` keeps what collectors fetched once (changelogs); `progress` is
    told how far long steps got (`Context.progress`); `remediation` (an agent that can fix
    the host) adds the precheck facts (`Inventory.remediation`); `proc` is the proc
    filesystem to read processes from (default: `/proc` of a live root) and `ignore_pids`
    processes to leave out. Raise InventoryError when `root` is missing, not a directory or
    unreadable.
    """
    root = Path(root)
    check_root(root)
    ctx = Context(
        root=root,
        runner=runner or SubprocessRunner(),
        online=online,
        cache_dir=cache_dir,
        progress=progress,
        remediation=remediation,
        proc=None if proc is None else Path(proc),
        ignore_pids=ignore_pids,
    )
    processes: Tuple[ProcessInstance, ...] = ()
    events: List[ScanEvent] = []
    packages: List[Package] = []
    facts: Optional[RemediationFacts] = None
    kernel = Kernel()
    updates: List[PendingUpdate] = []
    ran: List[str] = []
    errors: List[CollectorError] = []
    # Inventory.covered: kinds declared by a collector that ran, minus kinds declared by any
    # collector that failed or warned (one dpkg failure spoils what rpm vouched for alike).
    vouched: Set[Evidence] = set()
    spoiled: Set[Evidence] = set()
    for name, collector in (COLLECTORS if collectors is None else collectors).items():
        if not collector.applies(ctx):
            continue
        try:
            part = collector.collect(ctx)
        except CollectorFailed as exc:
            errors.append(CollectorError(name, exc.message, exc.path))
            spoiled |= collector.covers
            continue
        except (OSError, ValueError) as exc:
            # Not raised on purpose (a permission problem, a race with a package manager):
            # still data, never "no packages".
            path = getattr(exc, "filename", None) or ""
            errors.append(CollectorError(name, f"{type(exc).__name__}: {exc}", str(path)))
            spoiled |= collector.covers
            continue
        ran.append(f"{name}@{collector.version}")
        vouched |= collector.covers
        if part.warnings:
            # A skipped stanza may be the very package a record is about (STYLE E3).
            errors.extend(part.warnings)
            spoiled |= collector.covers
        if part.os is not None:
            ctx.os = part.os
        if part.packages:
            packages.extend(part.packages)
            ctx.packages = tuple(packages)
        if part.kernel is not None:
            kernel = ctx.kernel = part.kernel
        if part.remediation is not None:
            facts = part.remediation
        if part.processes is not None:
            processes = ctx.processes = part.processes
        events.extend(part.events)
        updates.extend(part.pending_updates)
    return Inventory(
        host=host_identity(ctx, packages),
        os=ctx.os or UNKNOWN_OS,
        packages=tuple(packages),
        kernel=kernel,
        pending_updates=tuple(updates),
        collectors=tuple(ran),
        collector_errors=tuple(errors),
        covered=tuple(sorted(e.value for e in vouched - spoiled)),
        collected_at=datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        remediation=facts,
        processes=processes,
        scan_events=tuple(events),
    )


def check_root(root: Path) -> None:
    """Raise InventoryError unless `root` is a directory we can list."""
    if not root.exists():
        raise InventoryError(f"{root}: scan root does not exist")
    if not root.is_dir():
        raise InventoryError(f"{root}: scan root is not a directory")
    try:
        os.listdir(root)
    except OSError as exc:
        raise InventoryError(f"{root}: scan root is not readable: {exc.strerror or exc}") from exc


def host_identity(ctx: Context, packages: List[Package]) -> Host:
    """Hostname, machine-id and architecture of the scanned root (`Host`)."""
    hostname = _first_line(ctx.path("etc/hostname"))
    if not hostname and ctx.live:
        hostname = socket.gethostname()
    machine_id = _first_line(ctx.path("etc/machine-id")) or _first_line(
        ctx.path("var/lib/dbus/machine-id")
    )
    # The package database's architecture names (amd64, x86_64) are what advisories use.
    arches = Counter(p.arch for p in packages if p.arch not in _NEUTRAL_ARCHES)
    arch = arches.most_common(1)[0][0] if arches else ""
    if not arch and ctx.live:
        arch = platform.machine()
    return Host(hostname=hostname, machine_id=machine_id, arch=arch, root=str(ctx.root))


def _first_line(path: Path) -> str:
    """First line of a small text file, stripped; "" when missing or unreadable."""
    try:
        with path.open("r", encoding="utf-8", errors="replace") as fh:
            return fh.readline(256).strip()
    except OSError:
        return ""
