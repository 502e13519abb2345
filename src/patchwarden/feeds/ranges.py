"""The two OSV ranges the distro trackers need, built once (OSV §affected[].ranges)."""

from __future__ import annotations

from patchwarden.core.advisory import Event, EventKind, Range

ALL_VERSIONS: tuple[Range, ...] = (Range("ECOSYSTEM", (Event(EventKind.INTRODUCED, "0"),)),)
"""Every version is affected: the shape of a "no fix yet" entry."""


def fixed_in(version: str) -> tuple[Range, ...]:
    """Affected from the first version up to (not including) `version`."""
    return (
        Range("ECOSYSTEM", (Event(EventKind.INTRODUCED, "0"), Event(EventKind.FIXED, version))),
    )
