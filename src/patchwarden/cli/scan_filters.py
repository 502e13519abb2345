"""What `patchwarden scan` shows and counts: `--severity`, `--ignore-unfixed`, `--ignore-file`.

Filters apply to every output format and to the exit code alike (as in Trivy and Grype): a
finding a filter removed is neither listed nor able to fail a pipeline.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any, Optional

from patchwarden.cli.ignore_file import IgnoreEntry, apply_ignores
from patchwarden.core.advisory import Severity
from patchwarden.core.matching import Match


@dataclass(frozen=True)
class ScanFilters:
    """The filters given on the command line (all empty: show everything)."""

    severities: tuple[Severity, ...] = ()
    """Only findings of these severities; empty: every severity."""
    ignore_unfixed: bool = False
    """Drop findings without a fixed version."""
    ignore_file: Optional[Path] = None
    ignores: tuple[IgnoreEntry, ...] = ()
    """The entries of `ignore_file`."""

    @property
    def active(self) -> bool:
        """True when any filter was given."""
        return bool(self.severities or self.ignore_unfixed or self.ignore_file)


@dataclass(frozen=True)
class Filtered:
    """The findings the filters left, and what they removed."""

    matches: list[Match]
    removed: int
    """Findings removed by any filter."""
    ignored: int
    """Of those, findings the ignore file accepted."""
    expired: list[IgnoreEntry] = field(default_factory=list)
    """Ignore-file entries past their `expires` day (they no longer apply)."""


def apply_filters(matches: Sequence[Match], filters: ScanFilters, today: date) -> Filtered:
    """Severity, then unfixed, then the ignore file."""
    kept = list(matches)
    if filters.severities:
        kept = [m for m in kept if m.severity in filters.severities]
    if filters.ignore_unfixed:
        kept = [m for m in kept if m.fixed_version]
    outcome = apply_ignores(kept, filters.ignores, today)
    return Filtered(
        matches=outcome.kept,
        removed=len(matches) - len(outcome.kept),
        ignored=outcome.ignored,
        expired=outcome.expired,
    )


def filters_summary(filters: ScanFilters, filtered: Filtered) -> dict[str, Any]:
    """The `summary.filters` object of the scan JSON: which filters applied, what they removed."""
    out: dict[str, Any] = {}
    if filters.severities:
        out["severity"] = [s.value for s in filters.severities]
    if filters.ignore_unfixed:
        out["ignore_unfixed"] = True
    if filters.ignore_file is not None:
        out["ignore_file"] = str(filters.ignore_file)
        out["ignored"] = filtered.ignored
        out["expired_ignores"] = [e.id for e in filtered.expired]
    out["removed"] = filtered.removed
    return out


def filters_line(filters: ScanFilters, filtered: Filtered) -> str:
    """One line for people: the filters given and how many findings they hid."""
    parts = []
    if filters.severities:
        parts.append("severity " + ",".join(s.value for s in filters.severities))
    if filters.ignore_unfixed:
        parts.append("without a fix left out")
    if filters.ignore_file is not None:
        parts.append(f"{filtered.ignored} accepted in {filters.ignore_file}")
    return f"filters: {'; '.join(parts)} ({filtered.removed} findings not shown)"
