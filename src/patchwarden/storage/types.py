"""Column types shared by the console schema.

`UtcDateTime` exists because the two databases disagree about time zones: SQLite has no
timestamp type, and SQLAlchemy's SQLite `DateTime` drops `tzinfo` on the way in (an aware
14:00+02:00 would be stored as 14:00) and returns naive values; PostgreSQL's `timestamptz`
returns aware values in the *session* time zone. Storing UTC everywhere and handing back
aware UTC values keeps SQL comparisons (`expires_at < :now`) and Python comparisons correct
on both.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any, Optional

from sqlalchemy import DateTime, Dialect
from sqlalchemy.types import TypeDecorator


class UtcDateTime(TypeDecorator[datetime]):
    """A timezone-aware timestamp, stored as UTC and always read back as aware UTC.

    Binding a naive `datetime` raises `ValueError`: its zone is unknowable, and guessing
    would silently shift lease expiries and job claim times.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: Optional[datetime], dialect: Dialect) -> Any:
        """Convert an aware datetime to UTC before it reaches the driver."""
        if value is None:
            return None
        if value.tzinfo is None or value.utcoffset() is None:
            raise ValueError(f"naive datetime {value.isoformat()} for a UTC timestamp column")
        return value.astimezone(timezone.utc)

    def process_result_value(self, value: Optional[datetime], dialect: Dialect) -> Any:
        """Mark SQLite's naive values as UTC; move PostgreSQL's session-zone values to UTC."""
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=timezone.utc)
        return value.astimezone(timezone.utc)
