"""Bring a console database to the newest schema (`alembic upgrade head`, programmatically).

The revisions ship inside the package (`storage/migrations`), so no alembic.ini is needed at
run time. Several console processes may start at once against one database: the upgrade
runs in `db.schema_transaction` (a PostgreSQL advisory lock, or SQLite's `BEGIN IMMEDIATE`
with foreign keys checked at the end), so the second process waits, then finds the schema
already at head and does nothing.
"""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import Connection

from patchwarden.storage.db import make_engine, normalise_url, schema_transaction

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"


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
        with schema_transaction(engine) as conn:
            _run(config, conn, revision)
    finally:
        engine.dispose()


def _run(config: Config, conn: Connection, revision: str) -> None:
    # env.py runs the revisions on this connection, inside the caller's transaction.
    config.attributes["connection"] = conn
    command.upgrade(config, revision)
