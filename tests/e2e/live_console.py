"""A real `patchwarden server` process on loopback with a user and an enrolled agent, for the
probes of issue 9 (body memory, schemathesis): the console of `tests.e2e.fleet` on SQLite or
PostgreSQL, the Debian DSA list as its advisories, one agent that has reported its Debian 10
root (two records).
"""

from __future__ import annotations

import gzip
import json
import subprocess
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from tests.e2e.fleet import DSA, Console, build_roots, clean_env, pw
from tests.paths import PATCHWARDEN
from tests.pg import free_port

from patchwarden.agent.inventory import collect_inventory
from patchwarden.core.clock import Clock
from patchwarden.protocol import v1
from patchwarden.services.feeds import import_spec
from patchwarden.storage.advisory_store import AdvisoryStore


@dataclass
class LiveConsole:
    """The server process, its user's token and one enrolled agent."""

    console: Console
    host_id: str
    secret: str
    inventory: dict[str, Any]
    """The agent's inventory (as `Inventory.to_dict()`)."""

    @property
    def url(self) -> str:
        """The server's base URL."""
        return self.console.url

    @property
    def pid(self) -> int:
        """The server's process id."""
        assert self.console.proc is not None
        return self.console.proc.pid

    def agent_headers(self) -> dict[str, str]:
        """The agent's Authorization header."""
        return {"Authorization": v1.auth_header(self.host_id, self.secret)}

    def bearer_headers(self) -> dict[str, str]:
        """The user's Authorization header."""
        return {"Authorization": f"Bearer {self.console.api_token}"}

    def upload_body(self) -> bytes:
        """A gzip envelope of the agent's inventory with a fresh report id."""
        doc = {
            "schema": v1.ENVELOPE_SCHEMA,
            "report_id": uuid.uuid4().hex,
            "job_id": None,
            "inventory": self.inventory,
        }
        return gzip.compress(json.dumps(doc).encode())


class _Console(Console):
    """`Console` started with extra `patchwarden server` options."""

    def __init__(self, data_dir: Path, env: dict[str, str], api_token: str, *extra: str) -> None:
        super().__init__(data_dir, env, api_token)
        self.extra = extra

    def start(self, port: int = 0) -> Console:
        """Start the server with the extra options and wait for /healthz."""
        self.port = port or free_port()
        args = [PATCHWARDEN, "server", "--data-dir", str(self.data_dir), "--port", str(self.port)]
        args += ["--no-scheduler", *self.extra]
        with self.log.open("ab") as log:
            self.proc = subprocess.Popen(args, env=self.env, stdout=log, stderr=log)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError(f"server exited {self.proc.returncode}:\n{self.logs()}")
            try:
                if self.http.get(self.url + "/healthz", timeout=1).status_code == 200:
                    return self
            except httpx.TransportError:
                pass
            time.sleep(0.1)
        raise AssertionError(f"server did not answer /healthz within 60 s:\n{self.logs()}")


@contextmanager
def live_console(base: Path, database_url: str, *server_options: str) -> Iterator[LiveConsole]:
    """Start a console on `database_url` under `base` (with `server_options`); stop it on
    exit."""
    data_dir = base / "data"
    data_dir.mkdir()
    with AdvisoryStore.in_dir(data_dir) as store:
        import_spec(store, f"debian-tracker:{DSA}", Clock())
    env = clean_env(PATCHWARDEN_DATABASE_URL=database_url)
    token = pw(
        "api-token", "create", "--user", "alice", "--data-dir", str(data_dir), "--init", env=env
    ).strip()
    enrolment = pw("enrolment-token", "create", "--data-dir", str(data_dir), env=env).strip()
    console = _Console(data_dir, env, token, *server_options).start()
    try:
        reply = console.http.post(
            console.url + v1.ENROL, json={"token": enrolment, "hostname": "deb-buster"}
        )
        assert reply.status_code == 200, reply.text
        roots = build_roots(base / "roots")
        inventory = collect_inventory(roots["deb"], online=False).to_dict()
        live = LiveConsole(console, reply.json()["host_id"], reply.json()["secret"], inventory)
        headers = {**live.agent_headers(), "Content-Encoding": "gzip"}
        first = console.http.post(console.url + v1.INVENTORY, content=live.upload_body(),
                                  headers=headers)  # fmt: skip
        assert first.status_code == 200 and first.json()["records"]["created"] == 2, first.text
        yield live
    finally:
        console.stop()


def vm_hwm(pid: int) -> int:
    """The peak resident set size of process `pid` so far (VmHWM, bytes)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    raise AssertionError(f"no VmHWM in /proc/{pid}/status")
