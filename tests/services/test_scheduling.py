"""Periodic work (R-D5, R-L1): scan cycle, expiry, stale claims, the lease; scan requests."""

from __future__ import annotations

from datetime import timedelta

from patchwarden.services import agents
from patchwarden.services.actions import ScanBatch, run_action
from patchwarden.services.ports import Role, User
from patchwarden.services.scheduler import tick
from tests.services.conftest import World, debian_host

HOUR = timedelta(hours=1)
ALICE, BOB = User(1, "alice", Role.ADMIN), User(2, "bob", Role.ADMIN)


def test_the_cycle_queues_a_scan_once_per_stale_host(world: World) -> None:
    fresh, stale, never = world.enrol("fresh"), world.enrol("stale"), world.enrol("never")
    world.upload(stale, debian_host())
    world.clock.advance(23 * HOUR)
    world.upload(fresh, debian_host())
    world.clock.advance(2 * HOUR)  # stale: 25 h since its report; fresh: 2 h
    summary = tick(world.uow, world.clock, "replica-a", timedelta(minutes=5))
    assert (summary.ran, summary.scans_queued) == (True, 2)
    with world.uow.read():
        kinds = {
            a.host_id: [j.kind for j in world.uow.jobs.pending_for(a.host_id)]
            for a in (fresh, stale, never)
        }
    assert kinds == {fresh.host_id: [], stale.host_id: ["scan"], never.host_id: ["scan"]}
    # Next round: the scans still wait (or run) on the agents; nothing more is queued.
    agents.claim_jobs(world.uow, world.clock, stale.auth)
    world.clock.advance(timedelta(minutes=1))
    assert tick(world.uow, world.clock, "replica-a", timedelta(minutes=5)).scans_queued == 0


def test_a_user_scan_queues_a_scan_per_host_even_with_one_waiting(world: World) -> None:
    # Unlike the cycle, a user's request is always honoured with a job of its own.
    a, b = world.enrol("a"), world.enrol("b")
    first = run_action(world.uow, world.clock, ALICE, "scan", host_ids="all")
    again = run_action(world.uow, world.clock, BOB, "scan", host_ids=[a.host_id])
    assert isinstance(first, ScanBatch) and isinstance(again, ScanBatch)
    assert [q.host_id for q in first.items] == [a.host_id, b.host_id]
    assert again.items[0].job_id not in {q.job_id for q in first.items}
    with world.uow.read():
        pending = world.uow.jobs.pending_for(a.host_id)
    assert [(j.kind, j.requested_by) for j in pending] == [("scan", "alice"), ("scan", "bob")]


def test_records_of_an_agent_offline_past_the_ttl_expire(world: World) -> None:
    agent = world.enrol()
    world.upload(agent, debian_host())
    world.clock.advance(timedelta(days=3) - timedelta(seconds=1))
    assert tick(world.uow, world.clock, "replica-a", timedelta(minutes=5)).expired == 0
    world.clock.advance(timedelta(seconds=1))
    summary = tick(world.uow, world.clock, "replica-a", timedelta(minutes=5))
    assert summary.expired == 2
    assert {s.record.state.value for s in world.records(agent.host_id).values()} == {"expired"}


def test_only_the_lease_holder_ticks(world: World) -> None:
    assert tick(world.uow, world.clock, "replica-a", timedelta(minutes=5)).ran
    assert not tick(world.uow, world.clock, "replica-b", timedelta(minutes=5)).ran
    world.clock.advance(timedelta(minutes=5))
    assert tick(world.uow, world.clock, "replica-b", timedelta(minutes=5)).ran


def test_stale_claims_go_back_to_the_queue(world: World) -> None:
    agent = world.enrol()
    run_action(world.uow, world.clock, ALICE, "scan", host_ids="all")
    [job] = agents.claim_jobs(world.uow, world.clock, agent.auth).jobs
    world.clock.advance(timedelta(minutes=16))
    summary = tick(world.uow, world.clock, "replica-a", timedelta(minutes=5))
    assert (summary.requeued, summary.failed_jobs) == (1, 0)
    [again] = agents.claim_jobs(world.uow, world.clock, agent.auth).jobs
    assert again.job_id == job.job_id
