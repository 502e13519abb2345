"""Collector plug-in family (STYLE P1/P3/P4): what every collector declares and returns.

A collector reads files under `Context.root` (a mounted filesystem or chroot works the same
as `/`) and may run commands through `Context.runner` only when `Context.live` is true.
It returns an `InventoryPart`; a failure is raised as `CollectorFailed` and ends up in
`Inventory.collector_errors`, never as "no packages" (STYLE E3).
"""

from __future__ import annotations

import errno
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Dict, FrozenSet, List, Optional, Tuple

from patchwarden.agent.runner import Runner, SubprocessRunner
from patchwarden.core.errors import InventoryError
from patchwarden.core.inventory import (
    CollectorError,
    Evidence,
    Kernel,
    OsRelease,
    Package,
    PendingUpdate,
    ProcessInstance,
    RemediationFacts,
    ScanEvent,
)

if TYPE_CHECKING:
    from patchwarden.agent.prechecks import Setup


class CollectorFailed(InventoryError):
    """A collector could not read its source; names the file and what is wrong."""

    def __init__(self, message: str, path: str = "") -> None:
        self.path = path
        super().__init__(f"{path}: {message}" if path else message)
        self.message = message


@dataclass(frozen=True)
class Requires:
    """When a collector applies (STYLE P3)."""

    families: FrozenSet[str] = frozenset()
    """OS families it applies to; empty = any."""
    live: bool = False
    """Needs the running system (root is `/`): processes, `uname`, apt-get."""


Progress = Callable[[str, int, int], None]
"""`progress(what, done, total)`: `done` of `total` items of a long step ("changelogs") are
through. May be called from worker threads; must not raise."""


@dataclass
class Context:
    """What collectors get: the root to read, how to run commands, what is known so far."""

    root: Path = Path("/")
    runner: Runner = field(default_factory=SubprocessRunner)
    os: Optional[OsRelease] = None
    """Set once the os-release collector has run."""
    packages: Tuple[Package, ...] = ()
    """Set once the package collectors have run (the kernel collector reads them)."""
    online: bool = True
    """False forbids network use (e.g. `apt-get changelog`) even on a live root."""
    cache_dir: Optional[Path] = None
    """Where collectors may keep what never changes (fetched changelogs); None: no cache."""
    progress: Optional[Progress] = None
    """Told how far long steps got (a command line shows it); None: nobody is watching."""
    kernel: Optional[Kernel] = None
    """Set once the kernel collector has run."""
    remediation: Optional[Setup] = None
    """Set when an agent that can fix the host collects (`patchwarden-agent run`): the
    remediation collector then gathers its precheck facts. None for a scan."""
    proc: Optional[Path] = None
    """The proc filesystem to read processes from; None: `/proc` on a live root, none on a
    mounted one (its processes do not run here). Tests and benchmarks point it at a
    generated tree; paths found there are then read under `root`."""
    processes: Tuple[ProcessInstance, ...] = ()
    """Set once the processes collector has run (components and fingerprints amend them)."""
    ignore_pids: FrozenSet[int] = frozenset()
    """Processes the processes collector leaves out besides its own (the agent that forked a
    memory-capped scan child)."""
    shared: Dict[str, object] = field(default_factory=dict)
    """What collectors of one run hand on beyond the inventory (the process views the
    processes collector read, the package file-owner index), by collector-chosen keys."""

    def report(self, what: str, done: int, total: int) -> None:
        """Pass `done` of `total` of `what` to `progress`, when someone is watching."""
        if self.progress is not None:
            self.progress(what, done, total)

    @property
    def live(self) -> bool:
        """True when scanning the running system itself."""
        return os.path.realpath(str(self.root)) == "/"

    @property
    def proc_dir(self) -> Optional[Path]:
        """Where processes are read from: `proc`, else `/proc` when live, else None."""
        if self.proc is not None:
            return self.proc
        return Path("/proc") if self.live else None

    @property
    def real_proc(self) -> bool:
        """True when `proc_dir` is the kernel's own /proc of the scanned (live) system: its
        fd and root links then reach the very files the processes hold."""
        proc = self.proc_dir
        return self.live and proc is not None and os.path.realpath(str(proc)) == "/proc"

    def path(self, rel: str) -> Path:
        """`rel` (absolute or not) resolved under the scanned root.

        On a mounted root, symlinks are followed as if the root were `/` (chroot semantics),
        so `etc/os-release -> /usr/lib/os-release` never reads the scanning host's file.
        """
        if self.live:
            return self.root / rel.lstrip("/")
        return resolve_in_root(self.root, rel)


_MAX_SYMLINKS = 40  # Linux's own limit before ELOOP


def resolve_in_root(root: Path, rel: str) -> Path:
    """`root/rel` with every symlink on the way resolved inside `root`, never outside it.

    Absolute link targets restart at `root`, `..` stops at `root`. Components that do not
    exist are kept as they are; raise OSError (ELOOP) on a symlink loop.
    """
    todo = [p for p in rel.split("/") if p not in ("", ".")]
    done: List[str] = []
    links = 0
    while todo:
        part = todo.pop(0)
        if part == "..":
            if done:
                done.pop()
            continue
        candidate = root.joinpath(*done, part)
        if candidate.is_symlink():
            links += 1
            if links > _MAX_SYMLINKS:
                raise OSError(errno.ELOOP, "too many levels of symbolic links", str(candidate))
            target = os.readlink(candidate)
            if target.startswith("/"):
                done = []
            todo = [p for p in target.split("/") if p not in ("", ".")] + todo
            continue
        done.append(part)
    return root.joinpath(*done)


@dataclass(frozen=True)
class InventoryPart:
    """What one collector contributes; None/empty fields contribute nothing."""

    os: Optional[OsRelease] = None
    packages: Tuple[Package, ...] = ()
    kernel: Optional[Kernel] = None
    pending_updates: Tuple[PendingUpdate, ...] = ()
    warnings: Tuple[CollectorError, ...] = ()
    """Problems that did not stop the collector (a bad stanza, an empty file); they are
    appended to `Inventory.collector_errors` so nothing is skipped silently (STYLE E3)."""
    remediation: Optional[RemediationFacts] = None
    processes: Optional[Tuple[ProcessInstance, ...]] = None
    """The running processes: a later collector returns the whole list, amended (None: no
    change)."""
    events: Tuple[ScanEvent, ...] = ()
    """Things that happened during the run and are no failure (processes that ended while
    being read); appended to `Inventory.scan_events`, they spoil no evidence."""


class Collector:
    """Base class: subclasses set `name`, `version`, `requires` and implement `collect`."""

    name: str = ""
    version: int = 1
    requires: Requires = Requires()
    covers: FrozenSet[Evidence] = frozenset()
    """Evidence kinds a successful run of this collector reads completely (STYLE E3).

    Declare a kind only when the collector reads all of it: `collect_inventory` lists a kind
    in `Inventory.covered` when a collector declaring it ran and none declaring it failed or
    warned, and only a covering inventory may clear records (a package collector declares
    INSTALLED_PACKAGES, the repository checks PENDING_UPDATES)."""

    def applies(self, ctx: Context) -> bool:
        """True when this collector should run on `ctx`."""
        if self.requires.live and not ctx.live:
            return False
        families = self.requires.families
        return not families or (ctx.os is not None and ctx.os.family in families)

    def collect(self, ctx: Context) -> InventoryPart:
        """Read the host; raise CollectorFailed with the path and reason on failure."""
        raise NotImplementedError
