"""Hosts: rows <-> `services.ports.Host` (STYLE A5)."""

from __future__ import annotations

from dataclasses import asdict
from datetime import datetime
from typing import Any, Optional

from sqlalchemy import Connection, insert, null, select, update

from patchwarden.core.inventory import CollectorError, Kernel, OsRelease, RemediationFacts
from patchwarden.services.ports import Host, HostFacts
from patchwarden.storage.tables import hosts

_COLUMNS = [c for c in hosts.c if c.name != "secret_hash"]


def _host(row: Any) -> Host:
    # The JSON columns hold `dataclasses.asdict` of what the latest inventory said ({} and
    # [] before the first one); they were validated on the way in.
    return Host(
        id=row.id,
        hostname=row.hostname,
        machine_id=row.machine_id,
        agent_version=row.agent_version,
        enrolled_at=row.enrolled_at,
        last_seen_at=row.last_seen_at,
        last_inventory_at=row.last_inventory_at,
        os=OsRelease.from_dict(row.os) if row.os else None,
        kernel=Kernel.from_dict(row.kernel) if row.kernel else None,
        collector_errors=tuple(CollectorError.from_dict(e) for e in row.collector_errors or ()),
        packages=int(row.packages),
        remediation=(
            RemediationFacts.from_dict(row.remediation) if row.remediation is not None else None
        ),
    )


class SqlHostRepository:
    """`services.ports.HostRepository` over the `hosts` table."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def add(
        self,
        host_id: str,
        hostname: str,
        machine_id: str,
        secret_hash: str,
        agent_version: str,
        now: datetime,
    ) -> None:
        """Register an enrolled agent's host."""
        self.conn.execute(
            insert(hosts).values(
                id=host_id,
                hostname=hostname,
                machine_id=machine_id,
                secret_hash=secret_hash,
                agent_version=agent_version,
                enrolled_at=now,
                last_seen_at=now,
                os={},
                kernel={},
                collector_errors=[],
                packages=0,
            )
        )

    def reenrol(
        self,
        machine_id: str,
        hostname: str,
        secret_hash: str,
        agent_version: str,
        now: datetime,
    ) -> Optional[str]:
        """New credentials for the host enrolled with `machine_id` (the first enrolled, should
        there be several); its id, or None when there is none."""
        host_id: Optional[str] = self.conn.execute(
            select(hosts.c.id)
            .where(hosts.c.machine_id == machine_id)
            .order_by(hosts.c.enrolled_at, hosts.c.id)
            .limit(1)
            .with_for_update()
        ).scalar()
        if host_id is None:
            return None
        self.conn.execute(
            update(hosts)
            .where(hosts.c.id == host_id)
            .values(
                hostname=hostname,
                secret_hash=secret_hash,
                agent_version=agent_version,
                last_seen_at=now,
            )
        )
        return host_id

    def get(self, host_id: str) -> Optional[Host]:
        """One host, or None."""
        row = self.conn.execute(select(*_COLUMNS).where(hosts.c.id == host_id)).first()
        return _host(row) if row else None

    def list(self) -> list[Host]:
        """Every host, by hostname."""
        rows = self.conn.execute(select(*_COLUMNS).order_by(hosts.c.hostname, hosts.c.id))
        return [_host(r) for r in rows]

    def secret_hash(self, host_id: str) -> Optional[str]:
        """The stored digest of a host's agent secret."""
        found: Optional[str] = self.conn.execute(
            select(hosts.c.secret_hash).where(hosts.c.id == host_id)
        ).scalar()
        return found

    def touch(self, host_id: str, now: datetime) -> None:
        """Record that the agent was heard from."""
        self.conn.execute(update(hosts).where(hosts.c.id == host_id).values(last_seen_at=now))

    def lock(self, host_id: str) -> None:
        """Hold the host's row until the transaction ends, ordering its concurrent writers.

        PostgreSQL: `SELECT … FOR UPDATE`. SQLite has no row locks and needs none here: write
        transactions start with BEGIN IMMEDIATE and so already run one at a time.
        """
        self.conn.execute(select(hosts.c.id).where(hosts.c.id == host_id).with_for_update())

    def update_facts(self, host_id: str, facts: HostFacts) -> None:
        """Store what the latest inventory says about the host."""
        self.conn.execute(
            update(hosts)
            .where(hosts.c.id == host_id)
            .values(
                os=asdict(facts.os),
                kernel=asdict(facts.kernel),
                collector_errors=[asdict(e) for e in facts.collector_errors],
                packages=facts.packages,
                last_inventory_at=facts.at,
                last_seen_at=facts.at,
                # SQL NULL, not the JSON document `null`, for an agent that sent no facts.
                remediation=asdict(facts.remediation) if facts.remediation else null(),
            )
        )

    def last_seen(self) -> dict[str, Optional[datetime]]:
        """host id -> last time its agent was heard from."""
        return {
            r.id: r.last_seen_at
            # In id order: the expiry sweep's events get the same ids on every backend.
            for r in self.conn.execute(
                select(hosts.c.id, hosts.c.last_seen_at).order_by(hosts.c.id)
            )
        }
