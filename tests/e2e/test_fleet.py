"""Issue #3 end to end: a real console process, three real agents, days of simulated time.

Each test starts `patchwarden server` (SQLite in a temporary data dir, no scheduler thread:
the tests run the scheduler round through `POST /api/v1/maintenance/tick`) and runs
`patchwarden-agent run --once --offline` processes, each with its own `--state-dir` and a
`--root` built from the shared corpus (see `tests/e2e/fleet.py`). Time moves through the
console's clock offset file.
"""

from __future__ import annotations

import json
import signal
import subprocess
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import text
from tests.e2e.fleet import (
    AGENT,
    DAY,
    KEV,
    Fleet,
    FleetFeeds,
    add_stanza,
    remove_package,
    run_agent,
)
from tests.paths import PATCHWARDEN

from patchwarden.protocol import v1
from patchwarden.storage.db import make_engine

pytestmark = pytest.mark.slow


def kev_cves() -> set[str]:
    """CISA KEV CVE ids, read straight from the catalogue (not through our parser)."""
    return {v["cveID"] for v in json.loads(KEV.read_text())["vulnerabilities"]}


def identities(records: list[dict[str, Any]]) -> set[tuple[str, str]]:
    """(vuln id, package) of records: the identity `patchwarden scan` findings share."""
    return {(r["vuln_id"], r["package"]) for r in records}


def count_rows(fleet: Fleet, table: str, where: str = "", **params: Any) -> int:
    """Rows of a console table, read from the database itself (not through the API)."""
    url = fleet.env.get("PATCHWARDEN_DATABASE_URL") or f"sqlite:///{fleet.data_dir}/patchwarden.db"
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            sql = f"SELECT count(*) FROM {table}" + (f" WHERE {where}" if where else "")
            return int(conn.execute(text(sql), params).scalar_one())
    finally:
        engine.dispose()


def history(fleet: Fleet, record_id: int) -> list[dict[str, Any]]:
    """A record's audit trail from the API."""
    return fleet.console.record(record_id)["history"]


def test_fleet_lifecycle_over_simulated_days(fleet: Fleet, fleet_feeds: FleetFeeds) -> None:
    console, agents = fleet.console, fleet.agents
    deb, ubu = agents["deb"], agents["ubu"]

    # -- enrolment: one-time tokens ------------------------------------------------------------
    tokens = {name: fleet.enrolment_token() for name in agents}
    for name, agent in agents.items():
        agent.enrol_and_run(console.url, tokens[name])
    again = run_agent(
        "enrol", "--server", console.url, "--token", tokens["deb"],
        "--state-dir", str(deb.state_dir.parent / "state-reuse"), "--root", str(deb.root),
        env=deb.env,
    )  # fmt: skip
    assert again.returncode == 1
    assert "HTTP 401" in again.stderr and "enrolment token already used" in again.stderr

    # -- hosts appear with their OS and end-of-life ---------------------------------------------
    hosts = {h["hostname"]: h for h in console.ok("GET", "/api/v1/hosts")["items"]}
    assert set(hosts) == {a.hostname for a in agents.values()}
    assert {h["id"] for h in hosts.values()} == {a.host_id for a in agents.values()}
    deb_h, ubu_h, alma_h = hosts["deb-buster"], hosts["ubuntu-bionic"], hosts["alma-9"]
    assert (deb_h["os"]["id"], deb_h["os"]["release"], deb_h["eol"]) == ("debian", "10", True)
    assert (ubu_h["os"]["id"], ubu_h["os"]["release"], ubu_h["eol"]) == ("ubuntu", "18.04", True)
    assert (alma_h["os"]["id"], alma_h["os"]["version_id"], alma_h["eol"]) == (
        "almalinux", "9.3", False,
    )  # fmt: skip
    assert all(h["online"] and h["last_scan_at"] for h in hosts.values())
    assert (deb_h["packages"], ubu_h["packages"], alma_h["packages"]) == (7, 90, 129)

    # -- records: the same (vuln, package) set `patchwarden scan` finds on each root ------------
    by_host = {}
    for name, agent in agents.items():
        recs = console.records(host=agent.host_id, status="all")
        assert identities(recs) == fleet_feeds.expected[name], name
        assert {r["status"] for r in recs} == {"unfixed"}
        assert {r["hostname"] for r in recs} == {agent.hostname}
        assert hosts[agent.hostname]["open_records"] == len(recs)
        by_host[name] = recs
    # The hostname filter is the host-id filter.
    assert len(console.records(host="alma-9")) == len(by_host["alma"])

    # -- exploitable only (R-D10): exactly the records with a CVE in CISA KEV -------------------
    kev = kev_cves()
    everything = [r for recs in by_host.values() for r in recs]
    in_kev = {r["id"] for r in everything if kev & set(r["cves"])}
    exploitable = console.records(exploitable="true")
    assert in_kev and {r["id"] for r in exploitable} == in_kev
    assert all(r["exploitable"] for r in exploitable)
    assert len(console.records(exploitable="false")) == len(everything) - len(in_kev)

    # -- ignore / unignore with reason and actor (R-L5) -----------------------------------------
    target = by_host["ubu"][0]["id"]
    [refused] = console.act("ignore", [target])
    assert not refused["ok"] and "ignore needs a reason" in refused["reason"]
    [done] = console.act("ignore", [target], reason="compensating control: no network")
    assert done["ok"] and done["status"] == "ignored"
    rec = console.record(target)
    assert (rec["status"], rec["ignored_by"]) == ("ignored", "alice")
    assert target not in {r["id"] for r in console.records(host=ubu.host_id)}
    [done] = console.act("unignore", [target], reason="control removed")
    assert done["ok"] and done["status"] == "unfixed"
    trail = [(e["trigger"], e["actor"], e["reason"]) for e in history(fleet, target)]
    assert trail[-2:] == [
        ("ignore", "alice", "compensating control: no network"),
        ("unignore", "alice", "control removed"),
    ]

    # -- the removed package: grace period, then cleared after 3 days (R-L2) --------------------
    apt_ids = [r["id"] for r in by_host["deb"] if r["package"] == "apt"]
    assert len(apt_ids) == 2  # DSA-4685-1 and DSA-4808-1
    fleet.clock.set(60)
    apt_stanza = remove_package(deb.root, "apt")
    deb.run_once()
    for rid in apt_ids:
        rec = console.record(rid)
        assert rec["status"] == "unfixed" and rec["undetected_since"], rec
    fleet.clock.set(1 * DAY)
    deb.run_once()
    ubu.run_once()
    assert {console.record(rid)["status"] for rid in apt_ids} == {"unfixed"}

    # -- three days later: alma stopped reporting at day 0, the others report -------------------
    fleet.clock.set(3 * DAY + 120)
    deb.run_once()
    ubu.run_once()
    for rid in apt_ids:
        rec = console.record(rid)
        assert rec["status"] == "fixed", rec
        assert [e["trigger"] for e in rec["history"]][-2:] == ["not_detected", "clear"]
    report = console.tick_now()
    alma_open = [r["id"] for r in by_host["alma"]]
    assert report["ran"] and report["expired"] == len(alma_open)
    assert {console.record(rid)["status"] for rid in alma_open} == {"expired"}
    others = console.records(host=ubu.host_id, status="all") + console.records(
        host=deb.host_id, status="all"
    )
    assert "expired" not in {r["status"] for r in others}
    assert not {h["hostname"]: h for h in console.ok("GET", "/api/v1/hosts")["items"]}["alma-9"][
        "online"
    ]

    # Verify on an expired record is refused with the R-L1 reason.
    [refused] = console.act("verify", [alma_open[0]])
    assert not refused["ok"] and refused["status"] == "expired"
    assert "record expired: agent offline since" in refused["reason"]
    assert "record expired" in refused["reason"]

    # -- the package comes back: the fixed record reopens as occurrence 2 ----------------
    add_stanza(deb.root, apt_stanza)
    deb.run_once()
    for rid in apt_ids:
        rec = console.record(rid)
        assert (rec["status"], rec["occurrence"]) == ("unfixed", 2)
        last = rec["history"][-1]
        assert (last["from_state"], last["to_state"]) == ("fixed", "unfixed")
        assert "occurrence 2" in last["reason"]
        assert [e["trigger"] for e in rec["history"]] == [
            "detected", "not_detected", "clear", "detected",
        ]  # fmt: skip

    # -- verify needs the agent online (R-L3) ---------------------------------------------------
    fleet.clock.set(3 * DAY + 120 + 11 * 60)  # past agent_offline_after_seconds (600)
    ubu_open = console.records(host=ubu.host_id)
    [refused] = console.act("verify", [ubu_open[0]["id"]])
    assert not refused["ok"] and refused["reason"].startswith("agent offline (last seen ")
    assert console.record(ubu_open[0]["id"])["status"] == "unfixed"


def test_verify_and_scan_actions_run_on_the_agent(fleet: Fleet) -> None:
    console, ubu = fleet.console, fleet.agents["ubu"]
    ubu.enrol_and_run(console.url, fleet.enrolment_token())
    recs = console.records(host=ubu.host_id)
    # One package goes away (its records must verify as fixed); another stays (unfixed).
    gone = sorted({r["package"] for r in recs})[0]
    fixed_id = next(r["id"] for r in recs if r["package"] == gone)
    still_id = next(r["id"] for r in recs if r["package"] != gone)
    remove_package(ubu.root, gone)

    outcomes = console.act("verify", [fixed_id, still_id, 999_999])
    assert [o["ok"] for o in outcomes] == [True, True, False]
    assert outcomes[2]["reason"] == "unknown record id"
    job_id = outcomes[0]["job_id"]
    assert job_id and outcomes[1]["job_id"] == job_id  # one verify job per host
    assert {console.record(i)["status"] for i in (fixed_id, still_id)} == {"verifying"}
    # A second verify while one runs is refused per item, not queued twice.
    [busy] = console.act("verify", [still_id])
    assert not busy["ok"] and "verifying" in busy["reason"]

    ubu.run_once()
    assert console.record(fixed_id)["status"] == "fixed"
    assert console.record(still_id)["status"] == "unfixed"
    assert [e["trigger"] for e in console.record(fixed_id)["history"]][-1] == "verify_fixed"
    assert [e["trigger"] for e in console.record(still_id)["history"]][-1] == (
        "verify_still_vulnerable"
    )
    job = console.ok("GET", f"/api/v1/jobs/{job_id}")
    assert (job["kind"], job["status"], job["requested_by"]) == ("verify", "done", "alice")

    # Scan action: queued for the host, executed by the agent's next run.
    reply = console.ok("POST", "/api/v1/actions", json={"action": "scan", "host_ids": "all"})
    [item] = reply["items"]
    assert item["host_id"] == ubu.host_id
    assert console.ok("GET", f"/api/v1/jobs/{item['job_id']}")["status"] == "queued"
    before = count_rows(fleet, "inventories")
    ubu.run_once()
    job = console.ok("GET", f"/api/v1/jobs/{item['job_id']}")
    assert job["status"] == "done" and job["result"]["packages"] == 89
    assert count_rows(fleet, "inventories") == before + 2  # its own report + the scan's
    unknown = console.api("POST", "/api/v1/actions", json={"action": "scan", "host_ids": ["x"]})
    assert unknown.status_code == 404 and "unknown hosts" in unknown.json()["detail"]


def test_nothing_acknowledged_is_lost_when_console_or_agent_dies(fleet: Fleet) -> None:
    console, ubu = fleet.console, fleet.agents["ubu"]
    ubu.enrol_and_run(console.url, fleet.enrolment_token())
    records_before = count_rows(fleet, "records")
    assert records_before > 0 and count_rows(fleet, "inventories") == 1

    # Console down: the upload stays in the outbox; the restarted console gets it.
    console.stop()
    down = ubu.run_once(check=False)
    assert down.returncode == 1 and "console unreachable" in down.stderr
    [pending] = ubu.outbox()
    console.start(port=console.port)
    assert count_rows(fleet, "records") == records_before  # the restart kept everything
    ubu.run_once()
    assert ubu.outbox() == []
    assert count_rows(fleet, "inventories", "report_id = :r", r=pending.name.split(".")[0]) == 1
    assert count_rows(fleet, "inventories") == 3

    # Agent killed mid-upload: the console is frozen while the agent waits for the reply.
    console.pause()
    try:
        proc = subprocess.Popen(
            [AGENT, "run", "--once", "--offline", "--root", str(ubu.root),
             "--state-dir", str(ubu.state_dir)],
            env=ubu.env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        deadline = time.monotonic() + 30
        while not ubu.outbox() and time.monotonic() < deadline:
            time.sleep(0.05)
        time.sleep(0.5)  # the body is on the wire (kernel buffers of the frozen console)
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
    finally:
        console.resume()
    [killed] = ubu.outbox()
    report_id = killed.name.split(".")[0]
    body = killed.read_bytes()
    ubu.run_once()  # resends the outbox first; the console may already have it
    assert ubu.outbox() == []
    assert count_rows(fleet, "inventories", "report_id = :r", r=report_id) == 1

    # A replay of an acknowledged report is acknowledged again and applies nothing.
    inventories = count_rows(fleet, "inventories")
    events = count_rows(fleet, "record_events")
    state = ubu.state()
    reply = httpx.post(
        console.url + v1.INVENTORY,
        content=body,
        headers={
            "Authorization": v1.auth_header(state["host_id"], state["secret"]),
            "Content-Encoding": "gzip",
        },
    )
    assert reply.status_code == 200 and reply.json()["duplicate"] is True
    assert count_rows(fleet, "inventories") == inventories
    assert count_rows(fleet, "record_events") == events


def test_unenrolled_agent_and_wrong_secret_are_refused(fleet: Fleet, tmp_path: Path) -> None:
    deb = fleet.agents["deb"]
    proc = deb.run_once(check=False)
    assert proc.returncode == 2 and "not enrolled" in proc.stderr
    deb.enrol_and_run(fleet.console.url, fleet.enrolment_token())
    state = deb.state()
    (deb.state_dir / "agent.json").write_text(json.dumps({**state, "secret": "wrong"}))
    proc = deb.run_once(check=False)
    assert proc.returncode == 1 and "HTTP 401" in proc.stderr
    assert "wrong agent credentials" in proc.stderr
    # The refused report waits in the outbox, also through another refused run, and lands
    # once the credentials are right again.
    [pending] = deb.outbox()
    assert deb.run_once(check=False).returncode == 1 and deb.outbox() == [pending]
    (deb.state_dir / "agent.json").write_text(json.dumps(state))
    deb.run_once()
    assert deb.outbox() == []
    report_id = pending.name.split(".")[0]
    assert count_rows(fleet, "inventories", "report_id = :r", r=report_id) == 1


def test_records_command_lists_what_the_api_lists(fleet: Fleet) -> None:
    fleet.enrol_all()
    console = fleet.console
    env = {**fleet.env, "PATCHWARDEN_TOKEN": console.api_token, "COLUMNS": "200"}

    def records(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [PATCHWARDEN, "records", "--server", console.url, *args],
            capture_output=True, text=True, env=env, timeout=120, check=False,
        )  # fmt: skip

    api = console.ok("GET", "/api/v1/records", params={"per_page": 500})
    # Seven pages of 50 (308 records): the command pages through.
    paged = records("--format", "json", "--limit", "100000", "--page-size", "50")
    everything = json.loads(paged.stdout)
    assert everything["total"] == api["total"] > 300
    assert [r["id"] for r in everything["items"]] == [r["id"] for r in api["items"]]
    top = json.loads(records("--format", "json", "--limit", "3").stdout)
    assert [r["id"] for r in top["items"]] == [r["id"] for r in api["items"][:3]]
    kev = json.loads(records("--format", "json", "--exploitable").stdout)
    assert {r["id"] for r in kev["items"]} == {r["id"] for r in console.records(exploitable="true")}
    table = records("--host", "alma-9", "--limit", "5")
    assert table.returncode == 0, table.stderr
    assert "alma-9" in table.stdout and "most urgent shown" in table.stdout
    several = records("--limit", "400")  # every host: a host column
    assert all(name in several.stdout for name in ("alma-9", "deb-buster")), several.stdout[-500:]

    refused = records("--token", "pwa_wrong")
    assert refused.returncode == 2 and "HTTP 401" in refused.stderr
    down = subprocess.run(
        [PATCHWARDEN, "records", "--server", "http://127.0.0.1:9", "--token", "x"],
        capture_output=True, text=True, env=env, timeout=60, check=False,
    )  # fmt: skip
    assert down.returncode == 2 and "cannot reach the console" in down.stderr
