"""What the services need from the outside world, as protocols."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from patchwarden.core.advisory import Advisory, Affected, EpssScore, KevEntry


class AdvisoryIndex(Protocol):
    """Advisory lookups by package key, plus exploitation data."""

    def lookup(self, ecosystem: str, name: str) -> list[tuple[Advisory, Affected]]:
        """Every (advisory, affected entry) for `name` under `ecosystem`."""
        ...

    def kev(self, cves: Sequence[str]) -> dict[str, KevEntry]:
        """CISA KEV entries of the given CVEs."""
        ...

    def epss(self, cves: Sequence[str]) -> dict[str, EpssScore]:
        """EPSS scores of the given CVEs."""
        ...
