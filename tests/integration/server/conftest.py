"""An in-process console (FastAPI `TestClient` over `create_app`) on SQLite or PostgreSQL.

Real database, real advisory store (the Debian DSA list from the corpus), a clock the test
moves, and an enrolled agent whose inventory is collected from a Debian 10 root of corpus
stanzas (apt 1.8.2: two DSA findings). Only the HTTP transport is in-process.
"""

from __future__ import annotations

import gzip
import json
import shutil
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from tests.e2e.fleet import DSA, build_roots

from patchwarden.agent.inventory import collect_inventory
from patchwarden.core.clock import Clock, FixedClock
from patchwarden.protocol import v1
from patchwarden.server.app import create_app
from patchwarden.server.config import ServerConfig
from patchwarden.services import agents
from patchwarden.services.feeds import import_spec
from patchwarden.services.users import create_api_token
from patchwarden.storage import tables
from patchwarden.storage.advisory_store import AdvisoryStore

COUNTED = ("inventories", "records", "record_events", "jobs", "hosts", "settings")
"""Tables whose row counts prove that a refused request stored nothing."""


@pytest.fixture(scope="session")
def dsa_store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A data dir whose advisory store holds the corpus DSA list (imported once)."""
    data_dir = tmp_path_factory.mktemp("dsa-store")
    with AdvisoryStore.in_dir(data_dir) as store:
        import_spec(store, f"debian-tracker:{DSA}", Clock())
    return data_dir


@pytest.fixture(scope="session")
def debian_inventory(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """The agent's inventory of the Debian 10 corpus root (as `Inventory.to_dict()`)."""
    roots = build_roots(tmp_path_factory.mktemp("roots"))
    return collect_inventory(roots["deb"], online=False).to_dict()


def envelope(inventory: dict[str, Any], report_id: str = "", job_id: Any = None) -> dict[str, Any]:
    """An upload envelope as the agent builds it."""
    return {
        "schema": v1.ENVELOPE_SCHEMA,
        "report_id": report_id or uuid.uuid4().hex,
        "job_id": job_id,
        "inventory": inventory,
    }


def gz(document: Any) -> bytes:
    """gzip JSON, as the agent sends it."""
    return gzip.compress(json.dumps(document).encode())


@dataclass
class InProcessConsole:
    """The console app in a TestClient, with one user and one enrolled agent."""

    client: TestClient
    clock: FixedClock
    api_token: str
    host_id: str = ""
    secret: str = ""

    @property
    def engine(self) -> Any:
        """The app's database engine."""
        return self.client.app.state.engine  # type: ignore[attr-defined]

    def new_uow(self) -> Any:
        """A unit of work on the app's database."""
        return self.client.app.state.new_uow()  # type: ignore[attr-defined]

    def enrol(self) -> tuple[str, str]:
        """Enrol one more agent through the API; (host id, secret)."""
        token = agents.create_enrolment_token(self.new_uow(), self.clock)
        reply = self.client.post(v1.ENROL, json={"token": token, "hostname": "deb-buster"})
        assert reply.status_code == 200, reply.text
        return reply.json()["host_id"], reply.json()["secret"]

    def agent_headers(self, gzip_body: bool = True) -> dict[str, str]:
        """Headers of an authenticated agent upload."""
        headers = {"Authorization": v1.auth_header(self.host_id, self.secret)}
        if gzip_body:
            headers["Content-Encoding"] = "gzip"
        return headers

    def upload(self, body: bytes, headers: dict[str, str] | None = None) -> Any:
        """POST an inventory body."""
        return self.client.post(v1.INVENTORY, content=body, headers=headers or self.agent_headers())

    def api(self, method: str, path: str, **kwargs: Any) -> Any:
        """A REST API call as the console user."""
        headers = {"Authorization": f"Bearer {self.api_token}"}
        return self.client.request(method, path, headers=headers, **kwargs)

    def counts(self) -> dict[str, int]:
        """Row counts of the tables a refused request must not touch."""
        with self.engine.connect() as conn:
            return {
                name: int(
                    conn.execute(
                        select(func.count()).select_from(tables.metadata.tables[name])
                    ).scalar_one()
                )
                for name in COUNTED
            }


@pytest.fixture
def console(db_url: str, tmp_path: Path, dsa_store: Path) -> Iterator[InProcessConsole]:
    """An in-process console on each database backend, with an enrolled agent."""
    for f in dsa_store.iterdir():
        shutil.copy(f, tmp_path / f.name)
    clock = FixedClock(datetime.now(timezone.utc).replace(microsecond=0))
    config = ServerConfig(data_dir=tmp_path, database_url=db_url, scheduler=False, clock=clock)
    with TestClient(create_app(config), raise_server_exceptions=False) as client:
        api_token = create_api_token(client.app.state.new_uow(), clock, "alice")  # type: ignore[attr-defined]
        c = InProcessConsole(client, clock, api_token)
        c.host_id, c.secret = c.enrol()
        yield c
