"""Enrolling a known machine again: one host per machine id, new credentials, records kept."""

from __future__ import annotations

from datetime import timedelta

import pytest

from patchwarden.services import agents
from patchwarden.services.errors import AuthError
from tests.services.conftest import Agent, World, debian_host

MACHINE = "0f3c5e1a9b8d4c2e8f7a6b5c4d3e2f1a"


def enrol(world: World, hostname: str = "deb12", machine_id: str = MACHINE) -> agents.Enrolment:
    token = agents.create_enrolment_token(world.uow, world.clock)
    body = {"token": token, "hostname": hostname, "machine_id": machine_id}
    return agents.enrol(world.uow, world.clock, {**body, "agent_version": "0.1.0"})


def hosts(world: World) -> list[tuple[str, str, str]]:
    with world.uow.read():
        return [(h.id, h.hostname, h.machine_id) for h in world.uow.hosts.list()]


def test_a_known_machine_keeps_its_host_and_records_with_new_credentials(world: World) -> None:
    first = enrol(world)
    assert not first.reenrolled
    old = Agent(first.host_id, first.secret)
    world.upload(old, debian_host())
    records = world.records(first.host_id)
    assert sorted(records) == ["CVE-2024-0727", "CVE-2024-2398"]

    world.clock.advance(timedelta(hours=1))
    again = enrol(world, hostname="deb12-renamed")
    assert again.reenrolled and again.host_id == first.host_id
    assert again.secret != first.secret
    assert hosts(world) == [(first.host_id, "deb12-renamed", MACHINE)]
    with pytest.raises(AuthError, match="wrong agent credentials"):
        agents.heartbeat(world.uow, world.clock, old.auth)
    new = Agent(again.host_id, again.secret)
    assert agents.heartbeat(world.uow, world.clock, new.auth).host_id == first.host_id

    # The next report updates the same records: nothing new, nothing doubled.
    world.upload(new, debian_host())
    after = world.records(first.host_id)
    assert {k: v.id for k, v in after.items()} == {k: v.id for k, v in records.items()}
    with world.uow.read():
        host = world.uow.hosts.get(first.host_id)
    assert host is not None and host.enrolled_at < world.clock.now() == host.last_seen_at


def test_machines_without_an_id_or_with_other_ids_are_separate_hosts(world: World) -> None:
    a = enrol(world, "a", machine_id="")
    b = enrol(world, "b", machine_id="")
    c = enrol(world, "c", machine_id="1" * 32)
    assert not (a.reenrolled or b.reenrolled or c.reenrolled)
    assert len({a.host_id, b.host_id, c.host_id}) == 3
    assert [h[1] for h in hosts(world)] == ["a", "b", "c"]


def test_a_refused_token_leaves_the_known_machine_as_it_was(world: World) -> None:
    first = enrol(world)
    used = agents.create_enrolment_token(world.uow, world.clock)
    enrol_body = {"hostname": "intruder", "machine_id": MACHINE}
    agents.enrol(world.uow, world.clock, {"token": used, **enrol_body, "machine_id": "2" * 32})
    for token, why in [(used, "already used"), ("pwe_nope", "unknown enrolment token")]:
        with pytest.raises(AuthError, match=why):
            agents.enrol(world.uow, world.clock, {"token": token, **enrol_body})
    assert (first.host_id, "deb12", MACHINE) in hosts(world)
    beat = agents.heartbeat(world.uow, world.clock, Agent(first.host_id, first.secret).auth)
    assert beat.host_id == first.host_id
