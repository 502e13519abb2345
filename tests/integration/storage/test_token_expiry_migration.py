"""Revision 0002 (API token expiry) on a database with users and tokens (SQLite and
PostgreSQL): tokens made before it keep working and are listed as never expiring."""

from __future__ import annotations

from datetime import datetime, timezone

from sqlalchemy import text

from patchwarden.core.clock import FixedClock
from patchwarden.services import tokens
from patchwarden.services.index import MemoryIndex
from patchwarden.services.ports import Role
from patchwarden.services.users import authenticate_user, list_api_tokens
from patchwarden.storage.db import make_engine, transaction
from patchwarden.storage.migrate import upgrade
from patchwarden.storage.uow import SqlUnitOfWork

T0 = datetime(2026, 1, 5, tzinfo=timezone.utc)


def test_tokens_from_before_expiry_keep_working(db_url: str) -> None:
    upgrade(db_url, "0001")
    engine = make_engine(db_url)
    try:
        with transaction(engine) as conn:
            conn.execute(
                text("INSERT INTO users (name, role, created_at) VALUES ('old', 'owner', :t)"),
                {"t": T0},
            )
            conn.execute(
                text(
                    "INSERT INTO api_tokens (user_id, token_hash, created_at)"
                    " SELECT id, :h, :t FROM users"
                ),
                {"h": tokens.digest("pwa_from-before"), "t": T0},
            )
        upgrade(db_url)
        uow = SqlUnitOfWork(engine, MemoryIndex())
        clock = FixedClock(datetime(2036, 1, 1, tzinfo=timezone.utc))
        user = authenticate_user(uow, clock, "Bearer pwa_from-before", write_request=False)
        assert (user.name, user.role) == ("old", Role.OWNER)
        [listed] = list_api_tokens(uow)
        assert (listed.user, listed.expires_at, listed.last_used_at) == ("old", None, clock.now())
    finally:
        engine.dispose()
