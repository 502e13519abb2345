"""Database leases: singleton work (schedulers, sweeps) across console replicas.

A lease is a row `(name, holder, expires_at)`. `acquire` is one portable statement,
`INSERT … ON CONFLICT (name) DO UPDATE … WHERE <ours or expired> RETURNING` (SQLite ≥ 3.24
for the upsert, ≥ 3.35 for RETURNING; PostgreSQL ≥ 9.5): it creates the lease, renews it
for its holder, or takes over an expired one, and returns a row only when the caller holds
the lease afterwards. PostgreSQL serialises concurrent upserts of one name on the row lock
and re-checks the WHERE against the committed row, so two replicas never both win.

Call `acquire` in its own short transaction and commit at once (a lease nobody can see is
no lease); renew well before `ttl` runs out, and stop the singleton work when renewal fails.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import Connection, delete
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from patchwarden.storage.db import is_sqlite
from patchwarden.storage.tables import leases


class SqlLeaseRepository:
    """`services.ports.LeaseRepository` over the `leases` table."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def acquire(self, name: str, holder: str, ttl: timedelta, now: datetime) -> bool:
        """Take or renew lease `name` for `holder` until now + `ttl`; False if someone else
        holds it and it has not expired."""
        if ttl <= timedelta(0):
            raise ValueError(f"lease {name!r}: ttl must be positive, got {ttl}")
        insert = sqlite_insert if is_sqlite(self.conn) else pg_insert
        stmt = insert(leases).values(name=name, holder=holder, expires_at=now + ttl)
        upsert = stmt.on_conflict_do_update(
            index_elements=[leases.c.name],
            set_={"holder": stmt.excluded.holder, "expires_at": stmt.excluded.expires_at},
            where=(leases.c.holder == stmt.excluded.holder) | (leases.c.expires_at <= now),
        ).returning(leases.c.holder)
        return self.conn.execute(upsert).first() is not None

    def release(self, name: str, holder: str) -> bool:
        """Give up lease `name` if `holder` holds it; True if it did."""
        done = self.conn.execute(
            delete(leases).where(leases.c.name == name, leases.c.holder == holder)
        )
        return done.rowcount == 1
