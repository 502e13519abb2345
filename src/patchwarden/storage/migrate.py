"""Bring a console database to the newest schema (`alembic upgrade head`, programmatically).

The revisions ship inside the package (`storage/migrations`), so no alembic.ini is needed at
run time. Several console processes may start at once against one database: on PostgreSQL
the upgrade runs under a session advisory lock, on SQLite inside a `BEGIN IMMEDIATE`
transaction (SQLite's DDL is transactional); either way the second process waits, then
finds the schema already at head and does nothing.
"""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import Connection, text

from patchwarden.storage.db import is_sqlite, make_engine, normalise_url, transaction

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"

MIGRATION_LOCK_KEY = 0x7061_7463_6877_6462
"""pg_advisory_lock key (a signed bigint) held during upgrades: "patchwdb" in ASCII."""


def alembic_config(url: str) -> Config:
    """An Alembic config for our revisions and the database at `url`."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    # '%' is ConfigParser interpolation syntax; URL-encoded passwords contain it.
    config.set_main_option("sqlalchemy.url", normalise_url(url).replace("%", "%%"))
    return config


def upgrade(url: str, revision: str = "head") -> None:
    """Migrate the database at `url` to `revision` (default: the newest)."""
    config = alembic_config(url)
    engine = make_engine(url)
    try:
        if is_sqlite(engine):
            with transaction(engine) as conn:
                _run(config, conn, revision)
            return
        with engine.connect() as conn:
            conn.execute(
                text("SELECT pg_advisory_lock(CAST(:key AS bigint))"), {"key": MIGRATION_LOCK_KEY}
            )
            conn.commit()  # the lock is held by the session, not the transaction
            try:
                with conn.begin():
                    _run(config, conn, revision)
            finally:
                conn.execute(
                    text("SELECT pg_advisory_unlock(CAST(:key AS bigint))"),
                    {"key": MIGRATION_LOCK_KEY},
                )
                conn.commit()
    finally:
        engine.dispose()


def _run(config: Config, conn: Connection, revision: str) -> None:
    # env.py runs the revisions on this connection, inside the caller's transaction.
    config.attributes["connection"] = conn
    command.upgrade(config, revision)
