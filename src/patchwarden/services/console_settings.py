"""Console settings (scan levels, cycles, offline TTLs, retention), stored in the database.

Validated with pydantic; defaults follow the spec: every severity scanned (R-D4), daily
scans (R-D5), offline expiry 3/3/7/30/90 days by type (R-L1), clear after 3 days (R-L2),
tenant purge 7 days after lapse (R-L6).
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from pydantic import BaseModel, Field, ValidationError, field_validator

from patchwarden.core.errors import InputError
from patchwarden.core.records import OFFLINE_EXPIRY
from patchwarden.feeds.sources import DEFAULT_SOURCES, SOURCES

LEVELS = ("critical", "high", "medium", "low")
TYPES = ("linux", "windows", "cms", "app", "emergency")


class ConsoleSettings(BaseModel):
    """Everything an admin can change at run time."""

    scan_levels: list[str] = Field(default_factory=lambda: list(LEVELS))
    """Severities that are scanned *and updated* (R-D4)."""
    scan_cycle_hours: dict[str, float] = Field(default_factory=lambda: dict.fromkeys(TYPES, 24.0))
    """Periodic scan interval per vulnerability type (R-D5)."""
    offline_ttl_days: dict[str, float] = Field(
        default_factory=lambda: {t.value: d / timedelta(days=1) for t, d in OFFLINE_EXPIRY.items()}
    )
    clear_after_days: float = 3.0
    retention_days: float = 7.0
    agent_offline_after_seconds: float = 600.0
    """An agent not heard from for this long is offline (verify is refused, R-L3)."""
    feed_sync_hours: float = 0.0
    """Sync the official feeds this often (0: never — the air-gapped default; R-S2)."""
    feed_sources: list[str] = Field(default_factory=lambda: list(DEFAULT_SOURCES))
    """Sources the periodic sync downloads (`patchwarden feeds sources`)."""

    @field_validator("feed_sources")
    @classmethod
    def _sources(cls, v: list[str]) -> list[str]:
        bad = [x for x in v if x not in SOURCES]
        if bad:
            raise ValueError(f"unknown feed sources {bad}; known {list(SOURCES)}")
        return v

    @field_validator("scan_levels")
    @classmethod
    def _levels(cls, v: list[str]) -> list[str]:
        bad = [x for x in v if x not in LEVELS]
        if bad:
            raise ValueError(f"unknown severities {bad}; allowed {list(LEVELS)}")
        return v

    @field_validator("feed_sync_hours", "clear_after_days", "retention_days")
    @classmethod
    def _not_negative(cls, v: float) -> float:
        if v < 0:
            raise ValueError("must not be negative")
        return v

    @field_validator("scan_cycle_hours", "offline_ttl_days")
    @classmethod
    def _per_type(cls, v: dict[str, float]) -> dict[str, float]:
        bad = [k for k, x in v.items() if k not in TYPES or x <= 0]
        if bad:
            raise ValueError(f"types must be among {list(TYPES)} with positive values: {bad}")
        return v


def load(stored: dict[str, Any]) -> ConsoleSettings:
    """Settings from stored key/values over the defaults."""
    return ConsoleSettings.model_validate(stored)


def merge(current: ConsoleSettings, patch: dict[str, Any]) -> ConsoleSettings:
    """Apply a partial update; InputError naming the bad field when invalid."""
    unknown = set(patch) - set(ConsoleSettings.model_fields)
    if unknown:
        raise InputError(f"unknown settings {sorted(unknown)}")
    data = current.model_dump()
    for key, value in patch.items():
        if isinstance(value, dict) and isinstance(data.get(key), dict):
            data[key] = {**data[key], **value}
        else:
            data[key] = value
    try:
        return ConsoleSettings.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise InputError(f"invalid setting {where}: {first['msg']}") from None
