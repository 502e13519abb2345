"""Alembic environment for the console database (run by `storage.migrate`, no alembic.ini).

Migrations run on the connection `storage.migrate.upgrade` passes in
`config.attributes["connection"]`, inside the transaction (and, on PostgreSQL, the advisory
lock) it holds; `alembic` on the command line falls back to `sqlalchemy.url`.
"""

from __future__ import annotations

from typing import Any

from alembic import context
from alembic.autogenerate.api import AutogenContext

from patchwarden.storage.db import is_sqlite, make_engine
from patchwarden.storage.tables import metadata
from patchwarden.storage.types import UtcDateTime


def render_item(type_: str, obj: Any, autogen_context: AutogenContext) -> Any:
    """Write our column types as plain SQLAlchemy types, so revisions never import our code
    (a later refactor of `storage.types` must not break old migrations)."""
    if type_ == "type" and isinstance(obj, UtcDateTime):
        return "sa.DateTime(timezone=True)"
    return False


def run_migrations(connection: Any) -> None:
    """Run the pending revisions on `connection`."""
    context.configure(
        connection=connection,
        target_metadata=metadata,
        # SQLite cannot ALTER most things: batch mode copies the table (Alembic "batch").
        render_as_batch=is_sqlite(connection),
        render_item=render_item,
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


connection = context.config.attributes.get("connection")
if connection is not None:
    run_migrations(connection)
else:
    engine = make_engine(context.config.get_main_option("sqlalchemy.url") or "")
    try:
        with engine.connect() as conn:
            run_migrations(conn)
            conn.commit()
    finally:
        engine.dispose()
