"""Fix, rollback, restart and snapshots at the REST API (SQLite and PostgreSQL): the `actions`
object of a record's details, `POST /api/v1/actions` with fix / rollback, the batch it
answers with (`GET /api/v1/actions/{batch_id}`), the host's snapshots and their deletion, and
the refusal codes a person or a script acts on.

The host is the corpus' Debian 10 root: a release whose fixes need an OS upgrade (`eol`).
The fix flow runs on the same root reported as Debian 11 by a crafted inventory (its one
finding stays), as an agent with remediation facts reports it; the agent's side of each job
is played through the agent API. The real agent and apt run in tests/e2e/test_console_fix_chroot.py.
"""

from __future__ import annotations

import copy
import uuid
from dataclasses import asdict, replace
from datetime import timedelta
from typing import Any, Optional

import pytest
from tests.integration.server.conftest import InProcessConsole, envelope, gz

from patchwarden.core.inventory import FreeSpace, HeldLock, PermissionProblem, RemediationFacts
from patchwarden.protocol import v1
from patchwarden.services.ports import Role
from patchwarden.services.users import add_user, issue_api_token

GIB = 1024**3
FACTS = RemediationFacts(
    package_manager="apt",
    exec_mode="direct",
    free_space=(FreeSpace("var", 20 * GIB, 40 * GIB),),
    min_free_bytes=3 * GIB,
    snapshot_providers=("packages",),
    boot_id="boot-1",
)
ACTIONS = ("fix", "verify", "restart", "rollback", "ignore")


def report(
    console: InProcessConsole,
    inventory: dict[str, Any],
    facts: Optional[RemediationFacts] = FACTS,
    supported: bool = True,
) -> int:
    """Upload the root's inventory with `facts` (as Debian 11 when `supported`); the id of
    its most urgent open record."""
    inv = copy.deepcopy(inventory)
    if supported:
        inv["os"].update(release="11", version_id="11", eol=False, codename="bullseye")
    if facts is not None:
        inv["remediation"] = asdict(facts)
    reply = console.upload(gz(envelope(inv)))
    assert reply.status_code == 200, reply.text
    records = console.api("GET", "/api/v1/records").json()["items"]
    return int(records[0]["id"])


def actions_of(console: InProcessConsole, record_id: int, token: str = "") -> dict[str, Any]:
    headers = {"Authorization": f"Bearer {token or console.api_token}"}
    reply = console.client.get(f"/api/v1/records/{record_id}", headers=headers)
    assert reply.status_code == 200, reply.text
    found: dict[str, Any] = reply.json()["actions"]
    return found


def post(console: InProcessConsole, body: dict[str, Any], token: str = "") -> Any:
    headers = {"Authorization": f"Bearer {token or console.api_token}"}
    return console.client.post("/api/v1/actions", json=body, headers=headers)


def token_for(console: InProcessConsole, name: str, role: Role) -> str:
    add_user(console.new_uow(), console.clock, name, role)
    return issue_api_token(console.new_uow(), console.clock, name).secret


def poll(console: InProcessConsole) -> list[dict[str, Any]]:
    reply = console.client.get(v1.JOBS, headers=console.agent_headers(gzip_body=False))
    assert reply.status_code == 200, reply.text
    jobs: list[dict[str, Any]] = reply.json()["jobs"]
    return jobs


def result(console: InProcessConsole, job_id: int, ok: bool, details: dict[str, Any]) -> None:
    body = {"job_id": job_id, "ok": ok, "report_id": uuid.uuid4().hex, "details": details}
    reply = console.client.post(
        v1.JOB_RESULT.format(job_id=job_id),
        json=body,
        headers=console.agent_headers(gzip_body=False),
    )
    assert reply.status_code == 200, reply.text


def test_an_eol_release_refuses_the_fix_in_the_details_and_the_request(
    console: InProcessConsole, debian_inventory: dict[str, Any]
) -> None:
    record_id = report(console, debian_inventory, supported=False)
    got = actions_of(console, record_id)
    assert sorted(got) == sorted(ACTIONS)
    assert all(set(a) == {"allowed", "reason", "code"} for a in got.values())
    assert (got["fix"]["allowed"], got["fix"]["code"]) == (False, "eol")
    assert "need an operating system upgrade" in got["fix"]["reason"]
    assert got["verify"] == {"allowed": True, "reason": None, "code": None}
    reply = post(console, {"action": "fix", "record_ids": [record_id]})
    assert reply.status_code == 200, reply.text
    batch = reply.json()
    [item] = batch["items"]
    assert (item["status"], item["code"]) == ("refused", "eol")
    view = console.api("GET", f"/api/v1/actions/{batch['batch_id']}").json()
    assert view["done"] is True
    assert [(i["outcome"], i["error_code"]) for i in view["items"]] == [("refused", "eol")]
    assert poll(console) == []


def test_fix_then_rollback_through_the_api(
    console: InProcessConsole, debian_inventory: dict[str, Any]
) -> None:
    record_id = report(console, debian_inventory)
    detail = console.api("GET", f"/api/v1/records/{record_id}").json()
    assert detail["actions"]["fix"] == {"allowed": True, "reason": None, "code": None}
    package, fixed = detail["package"], detail["fixed_version"]
    reply = post(console, {"action": "fix", "record_ids": [record_id], "reason": "patch day"})
    assert reply.status_code == 200, reply.text
    batch = reply.json()
    assert (batch["action"], batch["queued"], batch["refused"]) == ("fix", 1, 0)
    assert batch["items"][0]["status"] == "queued"
    assert console.api("GET", f"/api/v1/records/{record_id}").json()["status"] == "fixing"
    [job] = poll(console)
    assert job["kind"] == "fix"
    assert job["params"]["packages"] == [{"name": package, "target_version": fixed}]
    batch_url = f"/api/v1/actions/{batch['batch_id']}"
    assert console.api("GET", batch_url).json()["items"][0]["outcome"] == "running"
    now = console.clock.now()
    snapshot = v1.SnapshotInfo(
        "snap-api-1",
        "packages",
        123_456,
        now.isoformat(),
        (now + timedelta(days=7)).isoformat(),
        "alice",
    )
    outcome = v1.PackageOutcome(package, detail["installed_version"], fixed, True)
    result(console, job["job_id"], True, v1.FixDetails((outcome,), snapshot).to_dict())
    view = console.api("GET", batch_url).json()
    assert view["done"] is True
    [item] = view["items"]
    assert (item["outcome"], item["error_code"], item["record_status"]) == (
        "succeeded",
        None,
        "fixed",
    )
    snaps = console.api("GET", f"/api/v1/hosts/{console.host_id}/snapshots").json()
    assert snaps["total"] == 1
    [snap] = snaps["items"]
    assert (snap["snapshot_id"], snap["status"], snap["owner"], snap["record_ids"]) == (
        "snap-api-1",
        "valid",
        "alice",
        [record_id],
    )
    assert snap["size_bytes"] == 123_456
    assert actions_of(console, record_id)["rollback"]["allowed"] is True
    # Roll back.
    reply = post(console, {"action": "rollback", "record_ids": [record_id]})
    assert reply.json()["items"][0]["snapshot_id"] == "snap-api-1"
    [job] = poll(console)
    assert job["params"] == {"snapshot_id": "snap-api-1", "record_ids": [record_id]}
    back = v1.PackageOutcome(package, fixed, detail["installed_version"], True)
    result(console, job["job_id"], True, v1.RollbackDetails("snap-api-1", (back,)).to_dict())
    assert console.api("GET", f"/api/v1/records/{record_id}").json()["status"] == "rolled_back"
    # Delete the snapshot: the agent gets the job, a rollback can no longer use it.
    reply = console.api("DELETE", f"/api/v1/snapshots/{snap['id']}")
    assert reply.status_code == 200, reply.text
    assert reply.json()["snapshot"]["status"] == "deleted"
    [job] = poll(console)
    assert (job["kind"], job["params"]) == ("snapshot_delete", {"snapshot_id": "snap-api-1"})
    assert console.api("DELETE", f"/api/v1/snapshots/{snap['id']}").status_code == 409
    assert console.api("DELETE", "/api/v1/snapshots/999999").status_code == 404


def test_a_failed_fix_shows_the_agents_error_code(
    console: InProcessConsole, debian_inventory: dict[str, Any]
) -> None:
    record_id = report(console, debian_inventory)
    batch_id = post(console, {"action": "fix", "record_ids": [record_id]}).json()["batch_id"]
    [job] = poll(console)
    error = v1.ActionError(
        "mirror_unreachable", "could not reach deb.debian.org", "check the proxy"
    )
    result(console, job["job_id"], False, v1.FixDetails(error=error).to_dict())
    [item] = console.api("GET", f"/api/v1/actions/{batch_id}").json()["items"]
    assert (item["outcome"], item["error_code"], item["record_status"]) == (
        "failed",
        "mirror_unreachable",
        "fix_failed",
    )
    assert "could not reach deb.debian.org (check the proxy)" in item["message"]


@pytest.mark.parametrize(
    ("facts", "code"),
    [
        (replace(FACTS, free_space=(FreeSpace("var", GIB // 2, 8 * GIB),)), "disk_space"),
        (replace(FACTS, locks=(HeldLock("var/lib/dpkg/lock", 4242, "dpkg"),)), "pm_locked"),
        (
            replace(FACTS, permission_problems=(PermissionProblem("var/lib/dpkg", "mode 0777"),)),
            "permission",
        ),
        (None, "not_supported"),
    ],
)
def test_the_agents_facts_refuse_a_fix_with_their_code(
    console: InProcessConsole,
    debian_inventory: dict[str, Any],
    facts: Optional[RemediationFacts],
    code: str,
) -> None:
    record_id = report(console, debian_inventory, facts)
    assert actions_of(console, record_id)["fix"]["code"] == code
    before = console.counts()
    [item] = post(console, {"action": "fix", "record_ids": [record_id]}).json()["items"]
    assert (item["status"], item["code"]) == ("refused", code)
    after = console.counts()
    assert (after["jobs"], after["record_events"]) == (before["jobs"], before["record_events"])


def test_roles_plan_levels_and_an_offline_agent_refuse_with_their_codes(
    console: InProcessConsole, debian_inventory: dict[str, Any]
) -> None:
    record_id = report(console, debian_inventory)
    viewer = token_for(console, "vera", Role.VIEWER)
    got = actions_of(console, record_id, viewer)
    assert {a["code"] for a in got.values()} == {"forbidden"}
    reply = post(console, {"action": "fix", "record_ids": [record_id]}, viewer)
    assert reply.status_code == 403 and "fix needs" in reply.json()["detail"]
    # An operator fixes, but takes no snapshot: a fix needs without_snapshot.
    operator = token_for(console, "otto", Role.OPERATOR)
    assert actions_of(console, record_id, operator)["fix"]["code"] == "snapshot_forbidden"
    [item] = post(console, {"action": "fix", "record_ids": [record_id]}, operator).json()["items"]
    assert (item["status"], item["code"]) == ("refused", "snapshot_forbidden")
    # The basic plan has no one-click fix.
    assert console.api("PUT", "/api/v1/settings", json={"plan": "basic"}).status_code == 200
    assert actions_of(console, record_id)["fix"]["code"] == "plan"
    assert console.api("PUT", "/api/v1/settings", json={"plan": "gold"}).status_code == 422
    assert console.api("PUT", "/api/v1/settings", json={"plan": "ultimate"}).status_code == 200
    # The agent goes quiet. (The corpus' findings are all of unknown severity, which every
    # scan level includes: `level_not_scanned` is in tests/services/test_remediation.py.)
    console.clock.advance(timedelta(hours=1))
    got = actions_of(console, record_id)
    assert (got["fix"]["code"], got["verify"]["code"]) == ("agent_offline", "agent_offline")
    [item] = post(console, {"action": "fix", "record_ids": [record_id]}).json()["items"]
    assert item["code"] == "agent_offline"
    # An operator may fix without a snapshot once the agent is back.
    report(console, debian_inventory)
    body = {"action": "fix", "record_ids": [record_id], "without_snapshot": True}
    [item] = post(console, body, operator).json()["items"]
    assert item["status"] == "queued"
    [job] = poll(console)
    assert job["params"]["snapshot"] is False


def test_bad_remediation_requests_are_refused_naming_what_is_wrong(
    console: InProcessConsole, debian_inventory: dict[str, Any]
) -> None:
    record_id = report(console, debian_inventory)
    before = console.counts()
    reply = post(console, {"action": "upgrade", "record_ids": [record_id]})
    assert reply.status_code == 422 and "action" in reply.text
    reply = post(
        console, {"action": "rollback", "record_ids": [record_id], "without_snapshot": True}
    )
    assert reply.status_code == 422 and "without_snapshot applies to fix only" in reply.text
    reply = post(console, {"action": "fix", "record_ids": []})
    assert reply.status_code == 422 and "fix needs record_ids" in reply.text
    assert console.counts() == before
    assert console.api("GET", "/api/v1/actions/999999").status_code == 404
    assert console.api("GET", "/api/v1/hosts/nope/snapshots").status_code == 404
    dry = post(console, {"action": "fix", "record_ids": [record_id], "dry_run": True}).json()
    assert (dry["dry_run"], dry["batch_id"], dry["items"][0]["status"]) == (True, None, "planned")
    assert dry["items"][0]["package_manager"] == "apt"
    assert console.counts() == before
