"""remediation collector: the precheck facts of an agent that can fix this host (SPEC R-F2).

Runs only when the agent collects for remediation (`Context.remediation`, set by
`patchwarden-agent run`); a scan has no use for them. It reads, and never changes: the package
manager in use, free space on the filesystems it writes, its locks and running processes,
unsafe permissions, the snapshot providers and the snapshots the agent keeps, and whether the
boot default is pinned to an older kernel (the kernel collector runs before it). The console
turns the facts into refusals at queue time (`RemediationFacts.blockers`).
"""

from __future__ import annotations

from patchwarden.agent.collectors.base import Collector, Context, InventoryPart
from patchwarden.agent.prechecks import gather

NAME = "remediation"


class RemediationCollector(Collector):
    """Precheck facts: package manager, disk, locks, permissions, snapshots, kernel pin."""

    name = NAME
    version = 1

    def applies(self, ctx: Context) -> bool:
        """Only for an agent that can fix the host."""
        return ctx.remediation is not None

    def collect(self, ctx: Context) -> InventoryPart:
        """Gather the facts under `ctx.root`."""
        assert ctx.remediation is not None
        return InventoryPart(remediation=gather(ctx.root, ctx.os, ctx.kernel, ctx.remediation))
