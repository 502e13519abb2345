"""What every remediation action gets: where to act, where snapshots live, thresholds, time."""

from __future__ import annotations

import datetime
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Dict

from patchwarden.agent.actions.base import Target
from patchwarden.agent.collectors.base import Collector, CollectorFailed, Context
from patchwarden.agent.collectors.kernel import KernelCollector
from patchwarden.agent.collectors.os_release import OsReleaseCollector
from patchwarden.agent.prechecks import Setup
from patchwarden.agent.snapshots.base import SnapshotStore
from patchwarden.core.inventory import UNKNOWN_OS, Kernel, OsRelease
from patchwarden.protocol import v1


def utcnow() -> datetime.datetime:
    """The current time, timezone-aware UTC."""
    return datetime.datetime.now(datetime.timezone.utc)


@dataclass(frozen=True)
class ActionContext:
    """A remediation action's world: the target, the snapshot store, the precheck settings."""

    target: Target
    store: SnapshotStore
    min_free_bytes: int = v1.MIN_FREE_BYTES
    proc: Path = Path("/proc")
    """The proc filesystem (processes, locks, mounts); tests pass a fake tree."""
    clock: Callable[[], datetime.datetime] = field(default=utcnow)

    @property
    def mounts(self) -> Path:
        """The mount table the snapshot providers read."""
        return self.proc / "self" / "mounts"

    def setup(self) -> Setup:
        """The prechecks' settings."""
        return Setup(
            exec_mode="" if self.target.cannot_execute else self.target.exec_mode,
            snapshot_dir=self.store.directory,
            min_free_bytes=self.min_free_bytes,
            proc=self.proc,
        )

    def os_release(self) -> OsRelease:
        """The root's OS, read fresh (the EOL precheck)."""
        ctx = Context(root=self.target.root, runner=self.target.runner, online=False)
        try:
            part = OsReleaseCollector().collect(ctx)
        except (CollectorFailed, OSError, ValueError):
            return UNKNOWN_OS
        return part.os or UNKNOWN_OS

    def kernel(self) -> Kernel:
        """The root's kernel facts (running, newest installed, boot default), read fresh."""
        from patchwarden.agent.inventory import collect_inventory  # the package collectors

        inv = collect_inventory(
            self.target.root,
            runner=self.target.runner,
            online=False,
            collectors=_kernel_collectors(),
        )
        return inv.kernel


def _kernel_collectors() -> Dict[str, Collector]:
    """os-release, the package databases and the kernel collector, in registry order."""
    from patchwarden.agent.collectors.registry import COLLECTORS

    wanted = ("os-release", "dpkg", "rpm", "apk", KernelCollector.name)
    return {name: c for name, c in COLLECTORS.items() if name in wanted}
