"""Collector registry (STYLE P1/P2): every collector, registered here in run order.

Order matters: os-release first (later collectors read `ctx.os`), then the package
databases, then the kernel collector and the repository check, which read
`ctx.packages`; then the running processes (their ports, owners and restart needs) and what
they hold (components, unpackaged servers by fingerprint); last the remediation facts
(they read `ctx.kernel`). Duplicate names are rejected. To add a collector, add one
`_register` line in the right place.
"""

from __future__ import annotations

from typing import Dict

from patchwarden.agent.collectors.apk import ApkCollector
from patchwarden.agent.collectors.apt_updates import AptUpdatesCollector
from patchwarden.agent.collectors.base import Collector
from patchwarden.agent.collectors.components import ComponentsCollector
from patchwarden.agent.collectors.dnf_updates import DnfUpdatesCollector
from patchwarden.agent.collectors.dpkg import DpkgCollector
from patchwarden.agent.collectors.fingerprints import FingerprintsCollector
from patchwarden.agent.collectors.kernel import KernelCollector
from patchwarden.agent.collectors.os_release import OsReleaseCollector
from patchwarden.agent.collectors.processes import ProcessesCollector
from patchwarden.agent.collectors.remediation import RemediationCollector
from patchwarden.agent.collectors.rpm import RpmCollector

COLLECTORS: Dict[str, Collector] = {}
"""name -> collector, in the order `collect_inventory` runs them (dicts keep order)."""


def _register(collector: Collector) -> None:
    """Add `collector` at the end of COLLECTORS; a second one of the same name is a bug."""
    if not collector.name or collector.name in COLLECTORS:
        raise ValueError(f"collector name {collector.name!r} is empty or already registered")
    COLLECTORS[collector.name] = collector


_register(OsReleaseCollector())
_register(DpkgCollector())
_register(RpmCollector())
_register(ApkCollector())
_register(KernelCollector())
# The repository check (issue #2 item 5) reads ctx.packages too.
_register(AptUpdatesCollector())
_register(DnfUpdatesCollector())
# Running processes (live roots, or a proc tree given explicitly); components and
# fingerprints read the process views the processes collector keeps in ctx.shared.
_register(ProcessesCollector())
_register(ComponentsCollector())
_register(FingerprintsCollector())
# Precheck facts (agents that fix only): read ctx.os and the kernel collector's ctx.kernel.
_register(RemediationCollector())
