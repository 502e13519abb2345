"""Service tests: each runs against the in-memory unit of work (fast, no I/O) and against the
SQL unit of work on SQLite and on PostgreSQL, so the fake cannot drift from the real thing.

The host is a small Debian 12 machine; the advisories are two Debian OSV records (openssl
and curl) in a `MemoryIndex`.
"""

from __future__ import annotations

import gzip
import json
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Optional

import pytest

from patchwarden.core.advisory import (
    Advisory,
    Affected,
    AffectedPackage,
    Event,
    EventKind,
    Range,
    Severity,
)
from patchwarden.core.clock import FixedClock
from patchwarden.core.inventory import (
    CollectorError,
    Evidence,
    Host,
    Inventory,
    OsRelease,
    Package,
)
from patchwarden.core.vocabulary import VulnType
from patchwarden.protocol import v1
from patchwarden.services import agents, inventory
from patchwarden.services.index import MemoryIndex
from patchwarden.services.inventory import UploadOutcome
from patchwarden.services.ports import UnitOfWork
from tests.fakes import FakeUnitOfWork

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=timezone.utc)
DEBIAN_12 = OsRelease(id="debian", family="debian", release="12", version_id="12", eol=False)
OPENSSL = Package("libssl3", "3.0.11-1~deb12u2", "deb", "amd64", source_name="openssl")
CURL = Package("curl", "7.88.1-10+deb12u4", "deb", "amd64")
BASH = Package("bash", "5.2.15-2+b2", "deb", "amd64")


def _advisory(rid: str, source: str, fixed: str, severity: Severity) -> Advisory:
    rng = Range("ECOSYSTEM", (Event(EventKind.INTRODUCED, "0"), Event(EventKind.FIXED, fixed)))
    affected = Affected(AffectedPackage("Debian:12", source), ranges=(rng,))
    return Advisory(rid, "osv", summary=f"{source} issue", severity=severity, affected=(affected,))


ADVISORIES = [
    _advisory("CVE-2024-0727", "openssl", "3.0.13-1~deb12u1", Severity.HIGH),
    _advisory("CVE-2024-2398", "curl", "7.88.1-10+deb12u6", Severity.MEDIUM),
]


def debian_host(
    *packages: Package,
    errors: tuple[CollectorError, ...] = (),
    covered: Optional[tuple[str, ...]] = None,
) -> Inventory:
    """A Debian 12 inventory whose dpkg collector ran completely (unless told otherwise)."""
    if covered is None:
        covered = () if errors else (Evidence.INSTALLED_PACKAGES.value,)
    return Inventory(
        host=Host("deb12"),
        os=DEBIAN_12,
        packages=packages or (OPENSSL, CURL, BASH),
        collectors=("os-release@1", "dpkg@1"),
        collector_errors=errors,
        covered=covered,
    )


@dataclass
class Agent:
    """An enrolled host as the services see it."""

    host_id: str
    secret: str

    @property
    def auth(self) -> str:
        """Its Authorization header."""
        return v1.auth_header(self.host_id, self.secret)


@dataclass
class World:
    """A unit of work on one backend, a clock, and helpers to act as agents and users."""

    uow: UnitOfWork
    clock: FixedClock

    def enrol(self, hostname: str = "deb12") -> Agent:
        """Enrol an agent the way the API does."""
        token = agents.create_enrolment_token(self.uow, self.clock)
        done = agents.enrol(self.uow, self.clock, {"token": token, "hostname": hostname})
        return Agent(done.host_id, done.secret)

    def upload(
        self, agent: Agent, inv: Inventory, job_id: Optional[int] = None, report_id: str = ""
    ) -> UploadOutcome:
        """Upload `inv` as the agent's next report."""
        envelope: dict[str, Any] = {
            "schema": v1.ENVELOPE_SCHEMA,
            "report_id": report_id or uuid.uuid4().hex,
            "job_id": job_id,
            "inventory": inv.to_dict(),
        }
        body = gzip.compress(json.dumps(envelope).encode())
        return inventory.accept_inventory(self.uow, self.clock, agent.auth, body, "gzip")

    def records(self, host_id: str) -> dict[str, Any]:
        """The host's records by vuln id, as stored."""
        with self.uow.read():
            return {s.vuln_id: s for s in self.uow.records.of_host(host_id, VulnType.LINUX)}

    def history(self, record_id: int) -> list[str]:
        """The triggers of a record's events, oldest first."""
        with self.uow.read():
            return [e.event.trigger.value for e in self.uow.events.of_record(record_id)]


@pytest.fixture(
    params=[
        pytest.param("fake", id="fake"),
        pytest.param("sqlite", id="sqlite"),
        pytest.param("postgresql", id="postgresql", marks=pytest.mark.postgres),
    ]
)
def world(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[World]:
    """Each backend in turn: the fake, a migrated SQLite file, a PostgreSQL database."""
    index = MemoryIndex(ADVISORIES)
    clock = FixedClock(T0)
    if request.param == "fake":
        yield World(FakeUnitOfWork(index), clock)
        return
    from patchwarden.storage.db import make_engine
    from patchwarden.storage.migrate import upgrade
    from patchwarden.storage.uow import SqlUnitOfWork

    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'patchwarden.db'}"
        upgrade(url)
        name = ""
    else:
        server = request.getfixturevalue("pg_server")
        name = f"s_{uuid.uuid4().hex[:16]}"
        url = server.create_database(name, template=request.getfixturevalue("pg_template"))
    engine = make_engine(url)
    yield World(SqlUnitOfWork(engine, index), clock)
    engine.dispose()
    if name:
        server.drop_database(name)
