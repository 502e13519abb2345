"""User actions on records: verify (R-L3) and its aborts, ignore / unignore (R-L5)."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import pytest

from patchwarden.protocol import v1
from patchwarden.services import agents, views
from patchwarden.services.actions import RecordBatch, run_action
from patchwarden.services.errors import InvalidRequest
from patchwarden.services.ports import Role, User
from patchwarden.services.settings import update_settings
from patchwarden.services.users import authenticate_user, create_api_token
from tests.services.conftest import BASH, CURL, OPENSSL, World, debian_host

ALICE = User(1, "alice", Role.ADMIN)


def act(world: World, action: str, ids: list[int], reason: str = "") -> RecordBatch:
    batch = run_action(world.uow, world.clock, ALICE, action, ids, reason=reason)
    assert isinstance(batch, RecordBatch)
    return batch


def ids(world: World, host_id: str) -> dict[str, int]:
    return {vuln: s.id for vuln, s in world.records(host_id).items()}


def poll(world: World, auth: str) -> list[v1.Action]:
    return agents.claim_jobs(world.uow, world.clock, auth).jobs


def test_verify_queues_one_job_per_host_and_the_scan_settles_each_record(world: World) -> None:
    agent = world.enrol()
    world.upload(agent, debian_host())
    rec = ids(world, agent.host_id)
    openssl, curl = rec["CVE-2024-0727"], rec["CVE-2024-2398"]
    batch = act(world, "verify", [openssl, curl, 999_999])
    assert [(o.ok, o.status) for o in batch.items] == [
        (True, "verifying"), (True, "verifying"), (False, ""),
    ]  # fmt: skip
    assert batch.items[2].reason == "unknown record id"
    assert (batch.ok, batch.refused) == (2, 1)
    job_id = batch.items[0].job_id
    assert job_id is not None and batch.items[1].job_id == job_id
    [job] = poll(world, agent.auth)
    assert (job.kind, job.params["record_ids"]) == ("verify", [openssl, curl])
    # The host was upgraded: curl is fixed, openssl is not.
    fixed_curl = replace(CURL, version="7.88.1-10+deb12u6")
    outcome = world.upload(agent, debian_host(OPENSSL, fixed_curl, BASH), job_id=job_id)
    assert outcome.records is not None
    assert outcome.records.verified == {str(openssl): "still_vulnerable", str(curl): "fixed"}
    records = world.records(agent.host_id)
    assert records["CVE-2024-2398"].record.state.value == "fixed"
    assert records["CVE-2024-0727"].record.state.value == "unfixed"
    assert world.history(curl)[-2:] == ["verify_requested", "verify_fixed"]
    done = agents.record_job_result(
        world.uow, world.clock, agent.auth, job_id,
        {"job_id": job_id, "ok": True, "report_id": "result-0001"},
    )  # fmt: skip
    assert (done.status, done.duplicate) == ("done", False)
    assert views.job(world.uow, job_id).status == "done"


def test_a_verify_that_could_not_run_puts_records_back(world: World) -> None:
    agent = world.enrol()
    world.upload(agent, debian_host())
    curl = ids(world, agent.host_id)["CVE-2024-2398"]
    job_id = act(world, "verify", [curl]).items[0].job_id
    assert job_id is not None
    poll(world, agent.auth)
    result = {"job_id": job_id, "ok": False, "report_id": "result-0002", "error": "disk full"}
    agents.record_job_result(world.uow, world.clock, agent.auth, job_id, result)
    stored = world.records(agent.host_id)["CVE-2024-2398"]
    assert stored.record.state.value == "unfixed"
    assert world.history(curl)[-1] == "verify_aborted"
    # The same result again is acknowledged, not applied twice.
    again = agents.record_job_result(world.uow, world.clock, agent.auth, job_id, result)
    assert (again.status, again.duplicate) == ("failed", True)
    assert world.history(curl)[-1] == "verify_aborted"


def test_verify_is_refused_for_an_offline_agent_and_an_unscanned_level(world: World) -> None:
    agent = world.enrol()
    world.upload(agent, debian_host())
    rec = ids(world, agent.host_id)
    token = create_api_token(world.uow, world.clock, "alice")
    alice = authenticate_user(world.uow, world.clock, f"Bearer {token}", write_request=True)
    update_settings(world.uow, alice, {"scan_levels": ["critical", "high"]})
    [refused] = act(world, "verify", [rec["CVE-2024-2398"]]).items
    assert not refused.ok and "severity medium is not a selected scan level" in refused.reason
    world.clock.advance(timedelta(minutes=11))
    [offline] = act(world, "verify", [rec["CVE-2024-0727"]]).items
    assert not offline.ok and offline.reason.startswith("agent offline (last seen ")
    assert {s.record.state.value for s in world.records(agent.host_id).values()} == {"unfixed"}
    with world.uow.read():
        assert world.uow.jobs.pending_for(agent.host_id) == []


def test_ignore_needs_a_reason_hides_the_record_and_unignore_restores_it(world: World) -> None:
    agent = world.enrol()
    world.upload(agent, debian_host())
    curl = ids(world, agent.host_id)["CVE-2024-2398"]
    [refused] = act(world, "ignore", [curl]).items
    assert not refused.ok and "ignore needs a reason" in refused.reason
    [done] = act(world, "ignore", [curl], reason="not reachable from outside").items
    assert (done.ok, done.status) == (True, "ignored")
    listed = views.list_records(world.uow)
    assert curl not in [r.id for r in listed.items] and listed.total == 1
    detail = views.record_detail(world.uow, world.clock, ALICE, curl)
    assert (detail.ignored_by, detail.ignored_reason) == ("alice", "not reachable from outside")
    [done] = act(world, "unignore", [curl], reason="exposed again").items
    assert (done.ok, done.status) == (True, "unfixed")
    history = views.record_detail(world.uow, world.clock, ALICE, curl).history
    assert [(e.trigger, e.actor) for e in history] == [
        ("detected", "system"), ("ignore", "alice"), ("unignore", "alice"),
    ]  # fmt: skip


def test_record_actions_need_record_ids(world: World) -> None:
    with pytest.raises(InvalidRequest, match="ignore needs record_ids"):
        run_action(world.uow, world.clock, ALICE, "ignore")
