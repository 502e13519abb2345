"""Enrolment and agent credentials: one-time tokens, refusals that store nothing."""

from __future__ import annotations

from datetime import timedelta

import pytest

from patchwarden.protocol import v1
from patchwarden.services import agents
from patchwarden.services.errors import AuthError, InvalidRequest, NotFound
from tests.services.conftest import World


def test_an_enrolment_token_works_once(world: World) -> None:
    token = agents.create_enrolment_token(world.uow, world.clock)
    first = agents.enrol(world.uow, world.clock, {"token": token, "hostname": " web-1 "})
    with pytest.raises(AuthError, match="enrolment token already used"):
        agents.enrol(world.uow, world.clock, {"token": token, "hostname": "web-2"})
    with world.uow.read():
        hosts = world.uow.hosts.list()
    assert [(h.id, h.hostname) for h in hosts] == [(first.host_id, "web-1")]


def test_an_expired_or_unknown_token_is_refused(world: World) -> None:
    token = agents.create_enrolment_token(world.uow, world.clock, ttl=timedelta(hours=1))
    world.clock.advance(timedelta(hours=1))
    with pytest.raises(AuthError, match="enrolment token expired"):
        agents.enrol(world.uow, world.clock, {"token": token, "hostname": "web-1"})
    with pytest.raises(AuthError, match="unknown enrolment token"):
        agents.enrol(world.uow, world.clock, {"token": "pwe_nope", "hostname": "web-1"})
    with pytest.raises(InvalidRequest, match="needs a token and a hostname"):
        agents.enrol(world.uow, world.clock, {"token": token, "hostname": "  "})


def test_heartbeats_need_the_agents_own_secret_and_record_contact(world: World) -> None:
    agent = world.enrol()
    with pytest.raises(AuthError, match="wrong agent credentials"):
        agents.heartbeat(world.uow, world.clock, v1.auth_header(agent.host_id, "wrong"))
    with pytest.raises(AuthError, match="missing agent credentials"):
        agents.heartbeat(world.uow, world.clock, None)
    world.clock.advance(timedelta(minutes=3))
    beat = agents.heartbeat(world.uow, world.clock, agent.auth)
    assert (beat.host_id, beat.pending_jobs) == (agent.host_id, 0)
    with world.uow.read():
        host = world.uow.hosts.get(agent.host_id)
    assert host is not None and host.last_seen_at == world.clock.now()


def test_an_agent_cannot_report_on_another_hosts_job(world: World) -> None:
    from patchwarden.services.actions import run_action
    from patchwarden.services.ports import Role, User

    a, b = world.enrol("a"), world.enrol("b")
    alice = User(1, "alice", Role.ADMIN)
    batch = run_action(world.uow, world.clock, alice, "scan", host_ids=[a.host_id])
    job_id = batch.items[0].job_id
    result = {"job_id": job_id, "ok": True, "report_id": "result-0003"}
    with pytest.raises(NotFound, match=f"unknown job {job_id}"):
        agents.record_job_result(world.uow, world.clock, b.auth, job_id, result)
    with world.uow.read():
        job = world.uow.jobs.get(job_id)
    assert job is not None and job.status.value == "queued"
