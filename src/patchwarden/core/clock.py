"""Injectable time: the server and its sweeps ask a clock, tests move it by days."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Optional


class Clock:
    """Wall-clock time in UTC."""

    def now(self) -> datetime:
        """The current time (timezone-aware, UTC)."""
        return datetime.now(timezone.utc)


class OffsetClock(Clock):
    """Wall-clock time shifted by an offset read from a file on every call.

    Lets end-to-end tests move a *running* server's time forward by days
    (`PATCHWARDEN_CLOCK_OFFSET_FILE`) without touching the system clock.
    """

    def __init__(self, offset_file: Path) -> None:
        self.offset_file = offset_file

    def offset(self) -> timedelta:
        """The shift currently written in the file (seconds; 0 when absent)."""
        try:
            return timedelta(seconds=float(self.offset_file.read_text().strip() or 0))
        except (OSError, ValueError):
            return timedelta(0)

    def now(self) -> datetime:
        """Wall-clock time plus the offset."""
        return datetime.now(timezone.utc) + self.offset()


class FixedClock(Clock):
    """A clock that only moves when told to (unit tests)."""

    def __init__(self, start: Optional[datetime] = None) -> None:
        self._now = start or datetime(2026, 1, 1, tzinfo=timezone.utc)

    def now(self) -> datetime:
        """The current fake time."""
        return self._now

    def advance(self, delta: timedelta) -> None:
        """Move time forward."""
        self._now += delta
