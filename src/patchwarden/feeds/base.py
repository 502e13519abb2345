"""The feed parser family (STYLE P1): `FeedParser` base, `ParseReport`, shared errors.

A parser turns one source (a file, a directory or an archive) into `core.advisory` values.
Whole-input problems (missing path, corrupt archive, not JSON at all) raise `FeedError` naming
the path; one bad record raises `MalformedRecord` inside the parser, which records it in the
caller's `ParseReport` and goes on with the next record (STYLE E4): one bad upstream record
never aborts an import.
"""

from __future__ import annotations

import logging
from abc import ABC, abstractmethod
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import ClassVar

from patchwarden.core.advisory import FeedItem
from patchwarden.core.errors import FeedError, MalformedRecord

log = logging.getLogger(__name__)


@dataclass
class ParseReport:
    """What one parse run did besides yielding items; the caller creates and reads it."""

    parsed: int = 0
    """Items yielded."""
    skipped: list[tuple[str, str]] = field(default_factory=list)
    """(record id, reason) of malformed records that were left out."""
    withdrawn: list[str] = field(default_factory=list)
    """Ids of records the source marks withdrawn (OSV `withdrawn`), left out on purpose."""
    warnings: list[tuple[str, str]] = field(default_factory=list)
    """(record id, what) for records kept with a part dropped (bad CVSS vector, odd line)."""
    ignored: list[str] = field(default_factory=list)
    """Files of a directory or archive that are not records (LICENSE, README, …)."""

    def skip(self, error: MalformedRecord) -> None:
        """Count and log one malformed record by id."""
        log.warning("skipped malformed record %s: %s", error.record_id, error.why)
        self.skipped.append((error.record_id, error.why))

    def warn(self, record_id: str, what: str) -> None:
        """Note a problem inside a record that was still kept."""
        log.info("record %s: %s", record_id, what)
        self.warnings.append((record_id, what))

    def summary(self) -> str:
        """One line for logs and the CLI."""
        return (
            f"{self.parsed} parsed, {len(self.skipped)} malformed skipped, "
            f"{len(self.withdrawn)} withdrawn, {len(self.warnings)} warnings, "
            f"{len(self.ignored)} non-record files ignored"
        )


class FeedParser(ABC):
    """One feed kind. Subclasses set `kind`, `version` and implement `_parse`."""

    kind: ClassVar[str]
    """Registry name, also `Advisory.source` of what it yields."""
    version: ClassVar[int]
    """Bumped whenever the output for the same input changes (STYLE P3)."""
    description: ClassVar[str]

    def parse(self, path: str | Path, report: ParseReport) -> Iterator[FeedItem]:
        """Stream the items of `path`; malformed records go to `report`, not to the caller.

        Raises FeedError when `path` cannot be read at all. The check that `path` exists
        runs at the first `next()`, like all of a generator's work.
        """
        path = Path(path)
        if not path.exists():
            raise FeedError(f"{path}: no such file or directory")
        for item in self._parse(path, report):
            report.parsed += 1
            yield item

    @staticmethod
    def require_file(path: Path) -> None:
        """FeedError unless `path` is a file (for kinds that come as one file)."""
        if path.is_dir():
            raise FeedError(f"{path}: is a directory; this feed kind reads one file")

    @abstractmethod
    def _parse(self, path: Path, report: ParseReport) -> Iterator[FeedItem]:
        """Yield items of an existing `path`; call `report.skip` for malformed records."""
