"""Issue #3 end to end on PostgreSQL: the console process on the session's PostgreSQL 15, and
two console processes sharing one database (agents talk to either, every job is handed out
once, one scheduler holds the lease).
"""

from __future__ import annotations

import json
import socket
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest
from tests.e2e.fleet import DAY, Console, Fleet, FleetFeeds, make_fleet

from patchwarden.protocol import v1
from patchwarden.storage.db import make_engine

pytestmark = [pytest.mark.slow, pytest.mark.postgres]


def test_fleet_on_postgresql(tmp_path: Path, fleet_feeds: FleetFeeds, pg_database: str) -> None:
    fleet = make_fleet(tmp_path, fleet_feeds, database_url=pg_database)
    console = fleet.console.start()
    try:
        fleet.enrol_all()
        for name, agent in fleet.agents.items():
            recs = console.records(host=agent.host_id, status="all")
            assert {(r["vuln_id"], r["package"]) for r in recs} == fleet_feeds.expected[name]
        fleet.clock.set(3 * DAY + 120)
        fleet.agents["deb"].run_once()
        fleet.agents["ubu"].run_once()
        alma = console.records(host=fleet.agents["alma"].host_id)
        report = console.tick_now()
        assert report["ran"] and report["expired"] == len(alma)
        assert {r["status"] for r in console.records(host="alma-9")} == {"expired"}
        still = console.records(host="deb-buster") + console.records(host="ubuntu-bionic")
        assert still and {r["status"] for r in still} == {"unfixed"}
    finally:
        console.stop()


def _claim_all(url: str, auth: str) -> list[int]:
    """Poll one console for the agent's jobs until it hands out none; the claimed ids."""
    claimed: list[int] = []
    with httpx.Client(timeout=30) as http:
        while True:
            reply = http.get(url + v1.JOBS, params={"wait": 0}, headers={"Authorization": auth})
            assert reply.status_code == 200, reply.text
            jobs = reply.json()["jobs"]
            if not jobs:
                return claimed
            claimed += [j["job_id"] for j in jobs]


def test_two_consoles_share_one_postgresql(
    tmp_path: Path, fleet_feeds: FleetFeeds, pg_database: str
) -> None:
    fleet: Fleet = make_fleet(tmp_path, fleet_feeds, database_url=pg_database)
    first = fleet.console
    first.scheduler, first.tick = True, 0.3
    second = Console(fleet.data_dir, fleet.env, first.api_token, scheduler=True, tick=0.3)
    consoles = [first, second]
    # Both start at once on an empty database: the migration lock makes one wait for the other.
    starters = [threading.Thread(target=c.start) for c in consoles]
    for t in starters:
        t.start()
    for t in starters:
        t.join()
    try:
        assert all(c.proc is not None and c.proc.poll() is None for c in consoles)
        # -- agents enrol and report through either console; both see everything -------------
        deb, ubu, alma = (fleet.agents[n] for n in ("deb", "ubu", "alma"))
        deb.enrol_and_run(first.url, fleet.enrolment_token())
        ubu.enrol_and_run(second.url, fleet.enrolment_token())
        alma.enrol_and_run(first.url, fleet.enrolment_token())
        state = deb.state()
        (deb.state_dir / "agent.json").write_text(json.dumps({**state, "server": second.url}))
        deb.run_once()
        totals = {c.url: c.ok("GET", "/api/v1/records", params={"status": "all"})["total"]
                  for c in consoles}  # fmt: skip
        expected = sum(len(s) for s in fleet_feeds.expected.values())
        assert set(totals.values()) == {expected}

        # -- jobs: queued through both consoles, claimed concurrently through both, once each -
        queued = []
        for i in range(20):
            reply = consoles[i % 2].ok(
                "POST", "/api/v1/actions", json={"action": "scan", "host_ids": [deb.host_id]}
            )
            queued += [item["job_id"] for item in reply["items"]]
        auth = v1.auth_header(deb.host_id, state["secret"])
        with ThreadPoolExecutor(8) as pool:
            batches = list(pool.map(lambda i: _claim_all(consoles[i % 2].url, auth), range(8)))
        claimed = [j for batch in batches for j in batch]
        assert sorted(claimed) == sorted(queued), "a job was handed out twice or not at all"

        # -- scheduler: both threads tick every 0.3 s, one holder keeps the lease -------------
        reports = [c.tick_now() for c in consoles]
        assert sorted(r["ran"] for r in reports) == [False, True]
        holder_console = consoles[[r["ran"] for r in reports].index(True)]
        assert holder_console.proc is not None
        for _ in range(3):
            again = [c.tick_now()["ran"] for c in consoles]
            assert again == [r["ran"] for r in reports]
        holder = f"{socket.gethostname()}:{holder_console.proc.pid}"
        engine = make_engine(pg_database)
        try:
            with engine.connect() as conn:
                rows = conn.exec_driver_sql("SELECT name, holder FROM leases").all()
        finally:
            engine.dispose()
        assert [tuple(r) for r in rows] == [("scheduler", holder)]
    finally:
        for c in consoles:
            c.stop()
    for c in consoles:
        assert "Traceback" not in c.logs(), c.logs()
