"""What each registered collector vouches for (`Collector.covers`, STYLE E3)."""

from __future__ import annotations

from typing import FrozenSet

import pytest

from patchwarden.agent.collectors.base import Collector
from patchwarden.agent.collectors.registry import COLLECTORS
from patchwarden.core.inventory import Evidence

PACKAGES = frozenset({Evidence.INSTALLED_PACKAGES})
UPDATES = frozenset({Evidence.PENDING_UPDATES})
PROCESSES = frozenset({Evidence.RUNNING_PROCESSES})
DECLARED = {
    "os-release": frozenset(),
    "dpkg": PACKAGES,
    "rpm": PACKAGES,
    "apk": PACKAGES,
    "kernel": frozenset(),
    "apt-updates": UPDATES,
    "dnf-updates": UPDATES,
    "remediation": frozenset(),  # precheck facts: vouch for no evidence
    "processes": PROCESSES,
    "components": PROCESSES,
    "fingerprints": PROCESSES,
}


@pytest.mark.parametrize(("name", "covers"), DECLARED.items(), ids=list(DECLARED))
def test_collector_declares_what_it_covers(name: str, covers: FrozenSet[Evidence]) -> None:
    assert COLLECTORS[name].covers == covers


def test_every_registered_collector_is_in_the_table() -> None:
    """A new collector must say here whether it vouches for anything."""
    assert set(COLLECTORS) == set(DECLARED)


def test_base_collector_covers_nothing() -> None:
    assert Collector.covers == frozenset()
