"""The console's JSON, pinned: one scripted fleet session, every response compared to a golden.

A console (real database on each backend, the fleet's advisory store, a clock fixed at a known
day) serves three agents whose inventories come from the fleet's corpus roots. The script
walks every endpoint: hosts, records with each filter, record details, vulnerabilities, the
catalogue, settings, batch actions, jobs, an agent's verify and scan jobs, refused requests,
then days of simulated time (grace period, clear, expiry). Each response's status and body
is compared with `tests/data/api/fleet-session.jsonl.gz`; a change of any byte fails the test.

Host ids (random UUIDs) are replaced by `host:<hostname>` before comparison; nothing else is
normalised. Refactors must keep the file unchanged; a deliberate API change regenerates it
with `pytest --update-golden` and the diff is reviewed like code (STYLE T3).
"""

from __future__ import annotations

import gzip
import json
import re
import shutil
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from tests.e2e.fleet import FleetFeeds, build_roots, clean_env, pw, remove_package
from tests.paths import REPO

from patchwarden.agent.inventory import collect_inventory
from patchwarden.core.clock import FixedClock
from patchwarden.protocol import v1
from patchwarden.server.app import create_app
from patchwarden.server.config import ServerConfig

pytestmark = pytest.mark.slow

GOLDEN = REPO / "tests" / "data" / "api" / "fleet-session.jsonl.gz"
"""gzip: the record lists make the session 870 kB of JSON (70 kB compressed)."""
START = datetime(2026, 6, 1, 12, 0, tzinfo=timezone.utc)
"""The console's fixed clock. Enrolment tokens made by the CLI expire 7 days after the wall
clock, so any day before today works."""


class Session:
    """One scripted walk through the API, recording every response."""

    def __init__(self, client: TestClient, clock: FixedClock, token: str) -> None:
        self.client = client
        self.clock = clock
        self.token = token
        self.lines: list[str] = []
        self.hosts: dict[str, str] = {}
        """hostname -> host id of each enrolled agent (secrets apart)."""
        self.secrets: dict[str, str] = {}
        self.reports = 0

    def _normalise(self, text: str) -> str:
        for hostname, host_id in self.hosts.items():
            text = text.replace(host_id, f"host:{hostname}")
        return text

    def record(self, step: str, reply: Any) -> Any:
        """Keep `step`'s status and body; return the parsed body."""
        try:
            body = reply.json()
        except ValueError:
            body = reply.text
        line = json.dumps({"step": step, "status": reply.status_code, "body": body})
        self.lines.append(self._normalise(line))
        return body

    def api(self, step: str, method: str, path: str, **kwargs: Any) -> Any:
        """A REST call as the user, recorded."""
        headers = {"Authorization": f"Bearer {self.token}"}
        return self.record(step, self.client.request(method, path, headers=headers, **kwargs))

    def act(self, step: str, action: str, record_ids: list[int], reason: str = "") -> Any:
        """A batch action on records, recorded."""
        body = {"action": action, "record_ids": record_ids, "reason": reason}
        return self.api(step, "POST", "/api/v1/actions", json=body)

    def agent_headers(self, hostname: str) -> dict[str, str]:
        """An agent's credentials."""
        return {"Authorization": v1.auth_header(self.hosts[hostname], self.secrets[hostname])}

    def enrol(self, hostname: str, token: str) -> None:
        """Enrol through the API (the reply holds random values: not recorded)."""
        reply = self.client.post(v1.ENROL, json={"token": token, "hostname": hostname})
        assert reply.status_code == 200, reply.text
        self.hosts[hostname] = reply.json()["host_id"]
        self.secrets[hostname] = reply.json()["secret"]

    def upload(self, step: str, hostname: str, root: Path, job_id: int | None = None) -> Any:
        """Collect `root` as the agent does and upload it (report ids in sequence)."""
        self.reports += 1
        inventory = collect_inventory(root, online=False).to_dict()
        envelope = {
            "schema": v1.ENVELOPE_SCHEMA,
            "report_id": f"report-{self.reports:04d}",
            "job_id": job_id,
            "inventory": inventory,
        }
        headers = {**self.agent_headers(hostname), "Content-Encoding": "gzip"}
        body = gzip.compress(json.dumps(envelope).encode())
        return self.record(step, self.client.post(v1.INVENTORY, content=body, headers=headers))

    def run_jobs(self, step: str, hostname: str, root: Path) -> None:
        """Poll the host's jobs and run them as the agent would."""
        jobs = self.record(
            f"{step}: poll",
            self.client.get(v1.JOBS, headers=self.agent_headers(hostname)),
        )["jobs"]
        for job in jobs:
            reply = self.upload(f"{step}: {job['kind']} upload", hostname, root, job["job_id"])
            result = {
                "job_id": job["job_id"],
                "ok": True,
                "report_id": f"result-{job['job_id']:04d}",
                "inventory_id": reply["inventory_id"],
                "error": "",
                "details": {"packages": 1},
            }
            self.record(
                f"{step}: {job['kind']} result",
                self.client.post(
                    v1.JOB_RESULT.format(job_id=job["job_id"]),
                    json=result,
                    headers=self.agent_headers(hostname),
                ),
            )


def walk(s: Session, roots: dict[str, Path], enrolment_tokens: list[str]) -> None:
    """The scripted session."""
    for (name, root), token in zip(roots.items(), enrolment_tokens):
        hostname = (root / "etc" / "hostname").read_text().strip()
        s.enrol(hostname, token)
        s.upload(f"first report {name}", hostname, root)
    s.record("healthz", s.client.get("/healthz"))
    s.record("hosts without a token", s.client.get("/api/v1/hosts"))
    s.api("hosts", "GET", "/api/v1/hosts")
    for hostname, host_id in s.hosts.items():
        s.api(f"host {hostname}", "GET", f"/api/v1/hosts/{host_id}")
    s.api("unknown host", "GET", "/api/v1/hosts/nope")

    everything = s.api("records all", "GET", "/api/v1/records", params={"per_page": 500})
    filters: list[dict[str, Any]] = [
        {},
        {"severity": "high"},
        {"severity": "critical,medium"},
        {"type": "linux"},
        {"bucket": "asap"},
        {"bucket": "later,can_wait"},
        {"exploitable": "true"},
        {"exploitable": "false", "per_page": 5},
        {"host": "alma-9", "per_page": 10},
        {"vuln_id": everything["items"][-1]["vuln_id"]},
        {"status": "all", "page": 3, "per_page": 7},
        {"status": "fixed"},
        {"page": 0},
        {"per_page": 501},
    ]
    for params in filters:
        query = "&".join(f"{k}={v}" for k, v in params.items())
        s.api(f"records ?{query}", "GET", "/api/v1/records", params=params)
    ids = [r["id"] for r in everything["items"]]
    for rid in ids[:3] + ids[-2:]:
        s.api(f"record {rid}", "GET", f"/api/v1/records/{rid}")
    s.api("unknown record", "GET", "/api/v1/records/999999")
    s.api("vulnerabilities", "GET", "/api/v1/vulnerabilities")
    s.api("vulnerabilities page 2", "GET", "/api/v1/vulnerabilities", params={"page": 2})
    s.api("catalogue", "GET", "/api/v1/catalogue", params={"per_page": 5})
    s.api("catalogue q", "GET", "/api/v1/catalogue", params={"q": "openssl", "per_page": 5})
    s.api("catalogue bad page", "GET", "/api/v1/catalogue", params={"page": 0})

    s.api("settings", "GET", "/api/v1/settings")
    s.api("settings bad", "PUT", "/api/v1/settings", json={"scan_levels": ["hgh"]})
    s.api("settings unknown", "PUT", "/api/v1/settings", json={"colour": "red"})
    s.api("settings levels", "PUT", "/api/v1/settings", json={"scan_levels": ["critical", "high"]})
    low = next(r["id"] for r in everything["items"] if r["severity"] in ("medium", "low"))
    s.act("verify a level not scanned", "verify", [low])
    every_level = {"scan_levels": ["critical", "high", "medium", "low"]}
    s.api("settings back", "PUT", "/api/v1/settings", json=every_level)

    ubu = [r for r in everything["items"] if r["hostname"] == "ubuntu-bionic"]
    target = ubu[0]["id"]
    act = "/api/v1/actions"
    s.act("ignore without reason", "ignore", [target])
    s.act("ignore", "ignore", [target], "no network")
    s.api("records after ignore", "GET", "/api/v1/records", params={"host": "ubuntu-bionic"})
    s.act("ignore again", "ignore", [target], "again")
    s.act("unignore", "unignore", [target], "control gone")
    s.api("action without ids", "POST", act, json={"action": "verify"})
    s.act("unknown action", "fix", [target])
    s.api("scan without hosts", "POST", act, json={"action": "scan"})
    s.api("scan unknown host", "POST", act, json={"action": "scan", "host_ids": ["x"]})

    # Verify: the ubuntu agent loses a package; one record goes fixed, one stays.
    gone = sorted({r["package"] for r in ubu})[0]
    fixed_id = next(r["id"] for r in ubu if r["package"] == gone)
    still_id = next(r["id"] for r in ubu if r["package"] != gone)
    remove_package(roots["ubu"], gone)
    verify = s.act("verify", "verify", [fixed_id, still_id, 999999])
    s.act("verify busy", "verify", [still_id])
    job_id = verify["items"][0]["job_id"]
    s.api("verify job queued", "GET", f"/api/v1/jobs/{job_id}")
    s.record("heartbeat", s.client.post(v1.HEARTBEAT, headers=s.agent_headers("ubuntu-bionic")))
    s.run_jobs("ubuntu verify", "ubuntu-bionic", roots["ubu"])
    s.api("verify job done", "GET", f"/api/v1/jobs/{job_id}")
    s.api("record verified fixed", "GET", f"/api/v1/records/{fixed_id}")
    s.api("record still vulnerable", "GET", f"/api/v1/records/{still_id}")
    s.api("unknown job", "GET", "/api/v1/jobs/999999")

    scan = s.api("scan all", "POST", act, json={"action": "scan", "host_ids": "all"})
    s.run_jobs("deb scan", "deb-buster", roots["deb"])
    s.api("scan job", "GET", f"/api/v1/jobs/{scan['items'][0]['job_id']}")

    # Days pass: deb loses apt (grace, then clear), alma stops reporting (expiry).
    s.clock.advance(timedelta(minutes=1))
    remove_package(roots["deb"], "apt")
    s.upload("deb without apt", "deb-buster", roots["deb"])
    s.clock.advance(timedelta(days=1))
    s.upload("deb day 1", "deb-buster", roots["deb"])
    s.upload("ubu day 1", "ubuntu-bionic", roots["ubu"])
    s.clock.advance(timedelta(days=2, minutes=5))
    s.upload("deb day 3", "deb-buster", roots["deb"])
    s.upload("ubu day 3", "ubuntu-bionic", roots["ubu"])
    s.api("tick", "POST", "/api/v1/maintenance/tick")
    s.api("hosts day 3", "GET", "/api/v1/hosts")
    s.api("records day 3", "GET", "/api/v1/records", params={"status": "all", "per_page": 500})
    s.api("vulnerabilities day 3", "GET", "/api/v1/vulnerabilities")
    expired = s.api("expired", "GET", "/api/v1/records", params={"status": "expired"})
    s.act("verify expired", "verify", [expired["items"][0]["id"]])
    s.clock.advance(timedelta(minutes=11))
    open_ubu = s.api("ubu open", "GET", "/api/v1/records", params={"host": "ubuntu-bionic"})
    s.act("verify offline", "verify", [open_ubu["items"][0]["id"]])
    for rid in ids[:3] + ids[-2:]:
        s.api(f"record {rid} day 3", "GET", f"/api/v1/records/{rid}")
    s.record("upload empty body", s.client.post(v1.INVENTORY, headers=s.agent_headers("alma-9")))
    wrong = {"Authorization": v1.auth_header(s.hosts["alma-9"], "wrong")}
    s.record("heartbeat wrong secret", s.client.post(v1.HEARTBEAT, headers=wrong))
    s.record(
        "enrol reused token",
        s.client.post(v1.ENROL, json={"token": enrolment_tokens[0], "hostname": "again"}),
    )


@pytest.fixture
def session(
    db_url: str, tmp_path: Path, fleet_feeds: FleetFeeds
) -> Iterator[tuple[Session, dict[str, Path], list[str]]]:
    """A console on `db_url` with the fleet's store, a user token and three enrolment tokens."""
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    for f in fleet_feeds.store_dir.iterdir():
        if f.name.startswith("advisories.db"):
            shutil.copy(f, data_dir / f.name)
    env = clean_env(PATCHWARDEN_DATABASE_URL=db_url)
    token = pw(
        "api-token", "create", "--user", "alice", "--data-dir", str(data_dir), "--init", env=env
    )
    enrolment = [
        pw("enrolment-token", "create", "--data-dir", str(data_dir), env=env).strip()
        for _ in range(3)
    ]
    clock = FixedClock(START)
    config = ServerConfig(data_dir=data_dir, database_url=db_url, scheduler=False, clock=clock)
    roots = build_roots(tmp_path / "roots")
    with TestClient(create_app(config), raise_server_exceptions=False) as client:
        yield Session(client, clock, token.strip()), roots, enrolment


def test_api_json_is_unchanged(session: Any, update_golden: bool) -> None:
    s, roots, enrolment = session
    walk(s, roots, enrolment)
    text = "\n".join(s.lines) + "\n"
    if update_golden:
        GOLDEN.parent.mkdir(parents=True, exist_ok=True)
        GOLDEN.write_bytes(gzip.compress(text.encode(), mtime=0))
    expected = gzip.decompress(GOLDEN.read_bytes()).decode().splitlines()
    got = text.splitlines()
    for i, (want, have) in enumerate(zip(expected, got)):
        if have != want:
            at = next(j for j, (a, b) in enumerate(zip(want, have + "\0" * len(want))) if a != b)
            raise AssertionError(
                f"response {i + 1} ({json.loads(want)['step']}) differs at character {at}:\n"
                f"  golden: …{want[max(0, at - 80) : at + 80]}…\n"
                f"  now:    …{have[max(0, at - 80) : at + 80]}…"
            )
    assert len(got) == len(expected), f"{len(got)} responses, the golden has {len(expected)}"


def test_no_response_cites_the_spec(session: Any) -> None:
    """What a user reads says what and why in words, never a requirement id (R-L2 …)."""
    s, roots, enrolment = session
    walk(s, roots, enrolment)
    cited = [
        (json.loads(line)["step"], m.group())
        for line in s.lines
        for m in re.finditer(r"\bR-[A-Z]{1,2}\d+\b[^\"]{0,40}", line)
    ]
    assert not cited, cited
