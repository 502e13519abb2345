"""`patchwarden-agent run --once --root DIR --exec chroot` against a protocol v1 console.

The console here is a small stdlib HTTP server speaking the agent side of protocol v1 (enrol,
heartbeat, inventory uploads, job polls, results): the real console learns to queue fixes with
the console side of the remediation issue. The agent is the real command, the root the real
Debian 12 chroot of the session.
"""

from __future__ import annotations

import gzip
import json
import subprocess
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from tests.integration.agent.conftest import Bookworm
from tests.paths import BIN

from patchwarden.core.inventory import Inventory
from patchwarden.protocol import v1

pytestmark = pytest.mark.slow
AGENT = str(BIN / "patchwarden-agent")


class FakeConsole:
    """Jobs to hand out; inventories and results received."""

    def __init__(self) -> None:
        self.queue: list[dict[str, Any]] = []
        self.inventories: list[dict[str, Any]] = []
        self.results: dict[int, dict[str, Any]] = {}
        self.lock = threading.Lock()

    def handler(self) -> type[BaseHTTPRequestHandler]:
        console = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def _reply(self, body: dict[str, Any]) -> None:
                data = json.dumps(body).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def _body(self) -> Any:
                data = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                if self.headers.get("Content-Encoding") == "gzip":
                    data = gzip.decompress(data)
                return json.loads(data or b"{}")

            def do_GET(self) -> None:  # noqa: N802
                assert self.path.startswith(v1.JOBS)
                with console.lock:
                    jobs, console.queue = console.queue, []
                self._reply({"jobs": jobs})

            def do_POST(self) -> None:  # noqa: N802
                body = self._body()
                with console.lock:
                    if self.path == v1.ENROL:
                        self._reply({"host_id": "host-1", "secret": "s3cret"})
                    elif self.path == v1.INVENTORY:
                        console.inventories.append(body)
                        self._reply({"inventory_id": len(console.inventories)})
                    elif self.path.startswith(v1.PREFIX + "/jobs/"):
                        console.results[int(body["job_id"])] = body
                        self._reply({"job_id": body["job_id"], "status": "finished"})
                    else:
                        self._reply({})

        return Handler


@pytest.fixture
def console() -> Iterator[tuple[str, FakeConsole]]:
    fake = FakeConsole()
    server = ThreadingHTTPServer(("127.0.0.1", 0), fake.handler())
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}", fake
    server.shutdown()
    server.server_close()


def run_once(url: str, bookworm: Bookworm, state: Path) -> None:
    done = subprocess.run(
        [AGENT, "run", "--once", "--offline", "--root", str(bookworm.root), "--exec", "chroot",
         "--state-dir", str(state), "--server", url, "--token", "t0ken"],
        capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr


def version_in(inventory: dict[str, Any], name: str) -> str:
    inv = Inventory.from_dict(inventory["inventory"])
    return next(p.version for p in inv.packages if p.name == name)


def test_run_once_executes_queued_fix_then_rollback_and_reports_each(
    bookworm: Bookworm, console: tuple[str, FakeConsole], tmp_path: Path
) -> None:
    url, fake = console
    state = tmp_path / "state"
    pkg = bookworm.package
    fake.queue = [
        {"job_id": 1, "kind": "fix", "params": {
            "packages": [{"name": pkg, "target_version": bookworm.fixed}],
            "format": "deb", "record_ids": [7], "requested_by": "alice"}},
        {"job_id": 2, "kind": "fix", "params": {
            "packages": [{"name": f"{pkg};reboot", "target_version": bookworm.fixed}]}},
        {"job_id": 3, "kind": "restart", "params": {"delay_seconds": 60, "reason": "kernel"}},
    ]  # fmt: skip

    run_once(url, bookworm, state)

    first, after_fix = fake.inventories[0], fake.inventories[1]
    facts = Inventory.from_dict(first["inventory"]).remediation
    assert facts is not None
    assert (facts.package_manager, facts.exec_mode, facts.locks) == ("apt", "chroot", ())
    assert version_in(first, pkg) == bookworm.old
    fixed = fake.results[1]
    assert fixed["ok"] is True and fixed["inventory_id"] == 2 and after_fix["job_id"] == 1
    details = v1.FixDetails.from_dict(fixed["details"])
    assert details.packages == (
        v1.PackageOutcome(pkg, bookworm.old, bookworm.fixed, True, bookworm.fixed),
    )
    assert details.snapshot is not None and details.snapshot.owner == "alice"
    assert version_in(after_fix, pkg) == bookworm.fixed
    after_facts = Inventory.from_dict(after_fix["inventory"]).remediation
    assert after_facts is not None
    assert [s.id for s in after_facts.snapshots] == [details.snapshot.id]
    # A job that breaks protocol v1 is answered, not run (and not left waiting).
    refused = fake.results[2]
    assert refused["ok"] is False
    assert v1.ActionError.from_dict(refused["details"]["error"]).code == "invalid_request"
    assert "is not a deb package name" not in refused["error"]  # no format given: any format
    assert "name 'libssl3;reboot' is not a package name" in refused["error"]
    # A mounted root cannot be restarted: refused before any command runs.
    restart = v1.RestartDetails.from_dict(fake.results[3]["details"])
    assert restart.error is not None and restart.error.code == "not_supported"

    # The second run: a rescan (verify) and the rollback the console queued.
    fake.queue = [
        {"job_id": 4, "kind": "verify", "params": {"record_ids": [7]}},
        {"job_id": 5, "kind": "rollback",
         "params": {"snapshot_id": details.snapshot.id, "record_ids": [7]}},
    ]  # fmt: skip

    run_once(url, bookworm, state)

    assert fake.results[4]["ok"] is True
    rolled = v1.RollbackDetails.from_dict(fake.results[5]["details"])
    assert rolled.error is None
    assert rolled.packages == (
        v1.PackageOutcome(pkg, bookworm.fixed, bookworm.old, True, bookworm.old),
    )
    assert version_in(fake.inventories[-1], pkg) == bookworm.old
    assert fake.inventories[-1]["job_id"] == 5
