"""A running console sees a `patchwarden feeds import` run from the CLI (issue 9).

The console caches advisory lookups per package; before the store had a generation, a
package it had looked up once was never looked up again, so an advisory imported beside it
by the CLI (another process, same store file) stayed invisible until a restart. Real
processes: `patchwarden server` on loopback, the CLI import, uploads over HTTP.
"""

from __future__ import annotations

import gzip
import json
import time
import uuid
from pathlib import Path
from typing import Any

import httpx
from tests.e2e.fleet import DSA, Console, build_roots, clean_env, pw

from patchwarden.agent.inventory import collect_inventory
from patchwarden.protocol import v1
from patchwarden.services.index import RECHECK_SECONDS

NEW_ADVISORY = {
    "id": "PW-CLI-0001",
    "modified": "2024-01-01T00:00:00Z",
    "summary": "an advisory imported while the console runs",
    "aliases": ["CVE-2099-7001"],
    "affected": [
        {
            "package": {"ecosystem": "Debian:10", "name": "apt"},
            "ranges": [
                {"type": "ECOSYSTEM", "events": [{"introduced": "0"}, {"fixed": "1.8.2.99"}]}
            ],
        }
    ],
}


def _upload(http: httpx.Client, url: str, auth: str, inventory: dict[str, Any]) -> Any:
    doc = {
        "schema": v1.ENVELOPE_SCHEMA,
        "report_id": uuid.uuid4().hex,
        "job_id": None,
        "inventory": inventory,
    }
    reply = http.post(
        url + v1.INVENTORY,
        content=gzip.compress(json.dumps(doc).encode()),
        headers={"Authorization": auth, "Content-Encoding": "gzip"},
    )
    assert reply.status_code == 200, reply.text
    return reply.json()


def test_upload_after_a_cli_import_finds_the_new_advisory(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    env = clean_env()
    pw("feeds", "import", "--data-dir", str(data_dir), f"debian-tracker:{DSA}", env=env)
    token = pw(
        "api-token", "create", "--user", "alice", "--data-dir", str(data_dir), "--init", env=env
    ).strip()
    enrolment = pw("enrolment-token", "create", "--data-dir", str(data_dir), env=env).strip()
    console = Console(data_dir, env, token).start()
    try:
        http = console.http
        reply = http.post(console.url + v1.ENROL, json={"token": enrolment, "hostname": "deb"})
        assert reply.status_code == 200, reply.text
        auth = v1.auth_header(reply.json()["host_id"], reply.json()["secret"])
        inventory = collect_inventory(build_roots(tmp_path / "roots")["deb"], online=False)
        first = _upload(http, console.url, auth, inventory.to_dict())
        assert first["records"]["created"] == 2  # apt: DSA-4685-1, DSA-4808-1 (cached now)

        new = tmp_path / "new.json"
        new.write_text(json.dumps(NEW_ADVISORY))
        out = pw("feeds", "import", "--data-dir", str(data_dir), f"osv:{new}", env=env)
        assert "1 records stored" in out
        time.sleep(RECHECK_SECONDS * 2)  # the console reads the generation at most this often

        second = _upload(http, console.url, auth, inventory.to_dict())
        assert second["records"]["created"] == 1, second
        assert second["findings"] == first["findings"] + 1
        found = console.ok("GET", "/api/v1/records", params={"per_page": 100})["items"]
        assert "CVE-2099-7001" in {r["vuln_id"] for r in found}, found
    finally:
        console.stop()
