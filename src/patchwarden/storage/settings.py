"""Console settings: one row per key, the value as JSON."""

from __future__ import annotations

from dataclasses import asdict

from sqlalchemy import Connection, insert, select, update

from patchwarden.services.ports import Settings, settings_from
from patchwarden.storage.tables import settings


class SqlSettingsRepository:
    """`services.ports.SettingsRepository` over the `settings` table."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def get(self) -> Settings:
        """Stored settings over the defaults."""
        return settings_from({r.key: r.value for r in self.conn.execute(select(settings))})

    def put(self, values: Settings) -> None:
        """Upsert every setting, one key at a time."""
        for key, value in asdict(values).items():
            done = self.conn.execute(
                update(settings).where(settings.c.key == key).values(value=value)
            ).rowcount
            if not done:
                self.conn.execute(insert(settings).values(key=key, value=value))
