"""Console settings: one row per key, the value as JSON.

A stored value the `Settings` rules refuse (written by an older console with looser rules, or
by hand) must not take the console down: it falls back to its default, with a warning logged
once per process, and the other settings keep their stored values.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import asdict
from typing import Any

from pydantic import ValidationError
from sqlalchemy import Connection, insert, select, update

from patchwarden.services.ports import Settings, settings_from
from patchwarden.storage.tables import settings

log = logging.getLogger(__name__)

_warned: set[str] = set()
"""Bad stored values already logged by this process (a warning per value, not per read)."""


class SqlSettingsRepository:
    """`services.ports.SettingsRepository` over the `settings` table."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def get(self) -> Settings:
        """Stored settings over the defaults; a bad stored value reads as its default."""
        return valid_settings({r.key: r.value for r in self.conn.execute(select(settings))})

    def put(self, values: Settings) -> None:
        """Upsert every setting, one key at a time."""
        for key, value in asdict(values).items():
            done = self.conn.execute(
                update(settings).where(settings.c.key == key).values(value=value)
            ).rowcount
            if not done:
                self.conn.execute(insert(settings).values(key=key, value=value))


def valid_settings(stored: Mapping[str, Any]) -> Settings:
    """Settings from stored key/values, dropping (and logging) every value the rules refuse:
    whole keys, or single entries of per-type tables such as `offline_ttl_days`."""
    try:
        return settings_from(stored)
    except ValidationError:
        pass
    defaults = asdict(Settings())
    kept: dict[str, Any] = {}
    for key, value in stored.items():
        if _valid({key: value}):
            kept[key] = value
        elif isinstance(value, dict) and isinstance(defaults.get(key), dict):
            # Keep the good entries of a per-type table, default the bad ones.
            kept[key] = {**defaults[key]}
            for entry, v in value.items():
                if _valid({key: {**defaults[key], entry: v}}):
                    kept[key][entry] = v
                else:
                    _warn(f"{key}.{entry}", v, defaults[key].get(entry))
        else:
            _warn(key, value, defaults.get(key))
    return settings_from(kept)


def _valid(values: Mapping[str, Any]) -> bool:
    try:
        settings_from(values)
    except ValidationError:
        return False
    return True


def _warn(where: str, value: Any, default: Any) -> None:
    text = f"{where}={value!r}"
    if text not in _warned:
        _warned.add(text)
        log.warning("stored setting %s is invalid; using the default %r", text, default)
