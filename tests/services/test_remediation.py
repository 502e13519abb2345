"""Fix, restart and rollback through the console (R-F1…R-F6, R-L3, R-L4, R-P1, R-P2): every
refusal code of the availability evaluation, and every lifecycle move a job result makes, on
the fake, SQLite and PostgreSQL.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from typing import Any, Optional

import pytest

from patchwarden.core.errors import InputError
from patchwarden.core.inventory import (
    FreeSpace,
    HeldLock,
    Inventory,
    Kernel,
    PermissionProblem,
    RemediationFacts,
    SnapshotFact,
)
from patchwarden.core.records import State
from patchwarden.core.vocabulary import VulnType
from patchwarden.protocol import v1
from patchwarden.services import agents, availability, remediation, scheduler, snapshots, views
from patchwarden.services.actions import RecordBatch, run_action
from patchwarden.services.errors import Conflict, Forbidden, InvalidRequest, NotFound
from patchwarden.services.ports import Plan, Role, User
from patchwarden.services.remediation import RemediationBatch
from patchwarden.services.settings import update_settings
from tests.services.conftest import BASH, CURL, OPENSSL, Agent, World, debian_host

ADMIN = User(1, "alice", Role.ADMIN)
OPERATOR = User(2, "olga", Role.OPERATOR)
VIEWER = User(3, "victor", Role.VIEWER)
GIB = 1024**3
FACTS = RemediationFacts(
    package_manager="apt",
    exec_mode="direct",
    free_space=(FreeSpace("var", 20 * GIB, 40 * GIB),),
    min_free_bytes=3 * GIB,
    snapshot_providers=("packages",),
    boot_id="boot-1",
)
OPENSSL_FIXED = "3.0.13-1~deb12u1"


def fixable(facts: Optional[RemediationFacts] = FACTS, *packages: Any) -> Inventory:
    """The Debian 12 host, as an agent that can fix it reports it."""
    return replace(debian_host(*packages), remediation=facts)


def setup(world: World, facts: Optional[RemediationFacts] = FACTS) -> tuple[Agent, int, int]:
    """An enrolled fixable host; (agent, openssl record id, curl record id)."""
    agent = world.enrol()
    world.upload(agent, fixable(facts))
    rec = world.records(agent.host_id)
    return agent, rec["CVE-2024-0727"].id, rec["CVE-2024-2398"].id


def act(
    world: World, action: str, ids: list[int], user: User = ADMIN, **kw: Any
) -> RemediationBatch:
    batch = run_action(world.uow, world.clock, user, action, ids, **kw)
    assert isinstance(batch, RemediationBatch)
    return batch


def actions(world: World, record_id: int, user: User = ADMIN) -> availability.RecordActions:
    return views.record_detail(world.uow, world.clock, user, record_id).actions


def state(world: World, record_id: int) -> str:
    with world.uow.read():
        [stored] = world.uow.records.by_ids([record_id])
    return stored.record.state.value


def poll(world: World, agent: Agent) -> list[v1.Action]:
    return agents.claim_jobs(world.uow, world.clock, agent.auth).jobs


def report(
    world: World, agent: Agent, job_id: int, ok: bool, details: dict[str, Any], n: int = 1
) -> None:
    body = {"job_id": job_id, "ok": ok, "report_id": f"result-{job_id:04d}-{n}"}
    body["details"] = details
    if not ok:
        body["error"] = "failed"
    agents.record_job_result(world.uow, world.clock, agent.auth, job_id, body)


def fixed_details(
    name: str = "libssl3",
    restart: bool = False,
    snapshot: str = "snap-0001",
    processes: tuple[v1.RestartProcess, ...] = (),
) -> dict[str, Any]:
    now = "2026-03-02T09:00:00Z"
    snap = (
        v1.SnapshotInfo(snapshot, "packages", 4096, now, "2026-03-09T09:00:00Z", "alice")
        if snapshot
        else None
    )
    return v1.FixDetails(
        packages=(v1.PackageOutcome(name, "3.0.11-1~deb12u2", OPENSSL_FIXED, True),),
        snapshot=snap,
        restart_required=restart,
        restart_processes=processes,
    ).to_dict()


def code(answer: availability.Availability) -> Optional[str]:
    return None if answer.allowed else answer.code


# -- availability ---------------------------------------------------------------------------


def test_a_fixable_record_offers_fix_verify_and_ignore(world: World) -> None:
    _, openssl, _ = setup(world)
    got = actions(world, openssl)
    assert got.fix.allowed and got.verify.allowed and got.ignore.allowed
    # Nothing was fixed: there is nothing to restart for or roll back.
    assert (code(got.restart), code(got.rollback)) == ("state", "state")


def test_a_viewer_sees_every_action_forbidden(world: World) -> None:
    _, openssl, _ = setup(world)
    got = actions(world, openssl, VIEWER)
    assert {code(a) for a in (got.fix, got.verify, got.restart, got.rollback, got.ignore)} == {
        "forbidden"
    }
    with pytest.raises(Forbidden):
        act(world, "fix", [openssl], VIEWER)


def test_the_basic_plan_has_no_one_click_fix(world: World) -> None:
    _, openssl, _ = setup(world)
    update_settings(world.uow, ADMIN, {"plan": "basic"})
    got = actions(world, openssl)
    assert code(got.fix) == "plan" and "basic plan has no one-click fix" in str(got.fix.reason)
    assert got.verify.allowed
    [item] = act(world, "fix", [openssl]).items
    assert (item.status, item.code) == ("refused", "plan")


@pytest.mark.parametrize(
    ("facts", "expected", "words"),
    [
        (replace(FACTS, free_space=(FreeSpace("var", GIB, 8 * GIB),)), "disk_space", "free"),
        (replace(FACTS, locks=(HeldLock("var/lib/dpkg/lock-frontend", 812, "apt-get"),)),
         "pm_locked", "apt-get (process 812) holds"),
        (replace(FACTS, permission_problems=(PermissionProblem("usr/bin", "writable by others"),)),
         "permission", "failed to obtain permission"),
        (replace(FACTS, package_manager=""), "not_supported", "package manager"),
        (None, "not_supported", "no remediation facts"),
    ],
)  # fmt: skip
def test_the_agent_facts_refuse_a_fix_with_their_code(
    world: World, facts: Optional[RemediationFacts], expected: str, words: str
) -> None:
    _, openssl, _ = setup(world, facts)
    got = actions(world, openssl).fix
    assert code(got) == expected and words in str(got.reason)
    [item] = act(world, "fix", [openssl]).items
    assert (item.status, item.code) == ("refused", expected)
    assert state(world, openssl) == "unfixed"


def test_an_end_of_life_release_refuses_a_fix(world: World) -> None:
    agent = world.enrol()
    old = replace(fixable(), os=replace(debian_host().os, eol=True, eol_date="2024-06-30"))
    world.upload(agent, old)
    openssl = world.records(agent.host_id)["CVE-2024-0727"].id
    got = actions(world, openssl).fix
    assert code(got) == "eol" and "end of life on 2024-06-30" in str(got.reason)


def test_an_offline_agent_refuses_fix_verify_and_rollback(world: World) -> None:
    _, openssl, _ = setup(world)
    world.clock.advance(timedelta(hours=2))
    got = actions(world, openssl)
    assert (code(got.fix), code(got.verify)) == ("agent_offline", "agent_offline")
    [item] = run_action(world.uow, world.clock, ADMIN, "verify", [openssl]).items  # type: ignore[misc]
    assert (item.ok, item.code) == (False, "agent_offline")


def test_a_level_not_scanned_refuses_verify(world: World) -> None:
    _, _, curl = setup(world)
    update_settings(world.uow, ADMIN, {"scan_levels": ["critical", "high"]})
    got = actions(world, curl).verify
    assert code(got) == "level_not_scanned"
    batch = run_action(world.uow, world.clock, ADMIN, "verify", [curl])
    assert isinstance(batch, RecordBatch)
    assert batch.items[0].code == "level_not_scanned"


def test_pure_refusals_no_update_type_and_expired(world: World) -> None:
    agent, openssl, _ = setup(world)
    with world.uow.read():
        [stored] = world.uow.records.by_ids([openssl])
        host = world.uow.hosts.get(agent.host_id)
        settings = world.uow.settings.get()

    def fix_code(s: Any) -> Optional[str]:
        got = availability.record_actions(s, host, settings, ADMIN, world.clock.now())
        return code(got.fix)

    assert fix_code(stored) is None
    no_fix = replace(stored, detail=replace(stored.detail, fixed_version=None))
    assert fix_code(no_fix) == "no_update"
    # Not found by the latest scan (another record's fix upgraded the package): nothing to fix.
    gone = replace(stored, record=replace(stored.record, undetected_since=world.clock.now()))
    assert fix_code(gone) == "no_update"
    app = replace(stored, record=replace(stored.record, vuln_type=VulnType.APP))
    assert fix_code(app) == "not_fixable_type"
    expired = replace(stored, record=replace(stored.record, state=State.EXPIRED))
    assert fix_code(expired) == "expired"
    assert set(availability.REFUSALS) >= {
        "eol", "disk_space", "pm_locked", "permission", "no_update", "agent_offline",
        "expired", "plan", "forbidden", "no_snapshot", "snapshot_expired",
        "level_not_scanned", "not_fixable_type",
    }  # fmt: skip


# -- fix ------------------------------------------------------------------------------------


def test_a_fix_queues_one_job_per_package_and_its_result_fixes_the_record(world: World) -> None:
    agent, openssl, curl = setup(world)
    batch = act(world, "fix", [openssl, curl, 999_999])
    assert [(i.record_id, i.status, i.code) for i in batch.items] == [
        (openssl, "queued", None), (curl, "queued", None), (999_999, "refused", "not_found"),
    ]  # fmt: skip
    assert batch.batch_id is not None and (batch.queued, batch.refused) == (2, 1)
    assert (state(world, openssl), state(world, curl)) == ("fixing", "fixing")
    assert code(actions(world, openssl).fix) == "state"
    jobs = poll(world, agent)
    assert [(j.kind, j.params["packages"]) for j in jobs] == [
        ("fix", [{"name": "libssl3", "target_version": OPENSSL_FIXED}]),
        ("fix", [{"name": "curl", "target_version": "7.88.1-10+deb12u6"}]),
    ]
    assert jobs[0].params["record_ids"] == [openssl] and jobs[0].params["snapshot"] is True
    assert jobs[0].params["snapshot_allowed"] is True
    assert jobs[0].params["requested_by"] == "alice"
    view = remediation.batch_view(world.uow, batch.batch_id)
    assert [i.outcome for i in view.items] == ["running", "running", "refused"]
    nginx = v1.RestartProcess(812, "nginx", ("/usr/lib/x86_64-linux-gnu/libssl.so.3",))
    report(world, agent, jobs[0].job_id, True, fixed_details(processes=(nginx,)))
    failed = v1.FixDetails(
        error=v1.ActionError("pm_locked", "dpkg lock held by process 812 (apt-get)", "wait")
    ).to_dict()
    report(world, agent, jobs[1].job_id, False, failed)
    assert (state(world, openssl), state(world, curl)) == ("fixed", "fix_failed")
    view = remediation.batch_view(world.uow, batch.batch_id)
    assert view.done
    assert [(i.outcome, i.error_code, i.record_status) for i in view.items] == [
        ("succeeded", None, "fixed"), ("failed", "pm_locked", "fix_failed"),
        ("refused", "not_found", None),
    ]  # fmt: skip
    assert "libssl3 3.0.11-1~deb12u2 -> 3.0.13-1~deb12u1" in str(view.items[0].message)
    assert "restart these processes (they still use the old files): nginx (812)" in str(
        view.items[0].message
    )
    assert world.history(openssl)[-2:] == ["fix_requested", "fix_succeeded"]
    # The snapshot the fix took is the console's, with its owner and records.
    listed = snapshots.host_snapshots(world.uow, world.clock, agent.host_id)
    [snap] = listed.items
    assert (snap.snapshot_id, snap.owner, snap.record_ids, snap.status) == (
        "snap-0001", "alice", [openssl], "valid",
    )  # fmt: skip
    assert actions(world, openssl).rollback.allowed


def test_a_fix_of_a_kernel_or_restart_advisory_waits_for_a_restart(world: World) -> None:
    agent, openssl, _ = setup(world)
    act(world, "fix", [openssl])
    [job] = poll(world, agent)
    report(world, agent, job.job_id, True, fixed_details(restart=True))
    assert state(world, openssl) == "fixed_pending_restart"
    got = actions(world, openssl)
    assert got.restart.allowed and got.verify.allowed
    # R-L4: a scan that still sees the old version does not verify or reopen it.
    world.upload(agent, fixable())
    assert state(world, openssl) == "fixed_pending_restart"
    # Nor does a verify before the restart: the fix is installed, the old version runs.
    verify = run_action(world.uow, world.clock, ADMIN, "verify", [openssl])
    assert isinstance(verify, RecordBatch) and verify.items[0].ok
    [vjob] = poll(world, agent)
    outcome = world.upload(agent, fixable(), vjob.job_id)
    assert outcome.records is not None
    assert outcome.records.verified == {str(openssl): "restart_required"}
    assert state(world, openssl) == "fixed_pending_restart"
    # A restart: a typed job with a delay and the reason.
    batch = act(world, "restart", [openssl], reason="kernel fix")
    [item] = batch.items
    assert item.status == "queued"
    [restart] = poll(world, agent)
    assert restart.kind == "restart" and restart.params["reason"] == "kernel fix"
    assert restart.params["delay_seconds"] == remediation.RESTART_DELAY_SECONDS
    # The agent comes back with a new boot id: the record gets a `restarted` event.
    report(world, agent, restart.job_id, True, v1.RestartDetails(60, "kernel fix").to_dict())
    fixed = replace(OPENSSL, version=OPENSSL_FIXED)
    world.upload(agent, fixable(replace(FACTS, boot_id="boot-2"), fixed, CURL, BASH))
    assert "restarted" in world.history(openssl)
    # Verify after the restart: the scan no longer sees it, the record is fixed.
    verify = run_action(world.uow, world.clock, ADMIN, "verify", [openssl])
    assert isinstance(verify, RecordBatch) and verify.items[0].ok
    [vjob] = poll(world, agent)
    world.upload(agent, fixable(replace(FACTS, boot_id="boot-2"), fixed, CURL, BASH), vjob.job_id)
    assert state(world, openssl) == "fixed"


def test_a_restart_into_a_pinned_old_kernel_says_both_remedies(world: World) -> None:
    agent, openssl, _ = setup(world)
    act(world, "fix", [openssl])
    [job] = poll(world, agent)
    report(world, agent, job.job_id, True, fixed_details(restart=True))
    kernel = Kernel(
        running="6.1.0-26-amd64", newest_installed="6.1.0-28-amd64",
        boot_default="6.1.0-26-amd64", default_pinned=True,
    )  # fmt: skip
    fixed = replace(OPENSSL, version=OPENSSL_FIXED)
    rebooted = fixable(replace(FACTS, boot_id="boot-2"), fixed, CURL, BASH)
    world.upload(agent, replace(rebooted, kernel=kernel))
    with world.uow.read():
        history = [e.event for e in world.uow.events.of_record(openssl)]
    [last] = [e for e in history if e.trigger.value == "restarted"]
    assert last.to_state.value == "fixed_pending_restart"
    assert "still starts 6.1.0-26-amd64 by default" in last.reason
    assert "grub-set-default" in last.reason and "GRUB_DEFAULT" in last.reason


def test_an_operator_without_the_snapshot_permission_needs_without_snapshot(
    world: World,
) -> None:
    agent, openssl, _ = setup(world)
    got = actions(world, openssl, OPERATOR).fix
    assert code(got) == "snapshot_forbidden" and "without_snapshot" in str(got.reason)
    [item] = act(world, "fix", [openssl], OPERATOR).items
    assert (item.status, item.code) == ("refused", "snapshot_forbidden")
    [item] = act(world, "fix", [openssl], OPERATOR, without_snapshot=True).items
    assert item.status == "queued"
    [job] = poll(world, agent)
    assert (job.params["snapshot"], job.params["requested_by"]) == (False, "olga")


def test_a_host_without_snapshot_providers_needs_without_snapshot(world: World) -> None:
    _, openssl, _ = setup(world, replace(FACTS, snapshot_providers=()))
    assert code(actions(world, openssl).fix) == "snapshot_failed"
    [item] = act(world, "fix", [openssl], without_snapshot=True).items
    assert item.status == "queued"


def test_a_dry_run_plans_and_stores_nothing(world: World) -> None:
    agent, openssl, _ = setup(world)
    batch = act(world, "fix", [openssl], dry_run=True)
    [item] = batch.items
    assert (batch.batch_id, item.status, item.package_manager) == (None, "planned", "apt")
    assert [(p.name, p.target_version) for p in item.packages] == [("libssl3", OPENSSL_FIXED)]
    assert state(world, openssl) == "unfixed" and poll(world, agent) == []


def test_a_fix_whose_package_is_already_upgraded_is_refused_no_update(world: World) -> None:
    agent, openssl, _ = setup(world)
    # The record is still open (the last scan), but the inventory now has the fixed version
    # of another record's package: only the curl record is planned against its inventory.
    newer = replace(CURL, version="7.88.1-10+deb12u6")
    world.upload(agent, fixable(FACTS, OPENSSL, newer, BASH))
    curl_id = world.records(agent.host_id)["CVE-2024-2398"].id
    # curl is now in its grace period (not detected): a fix checks the installed version.
    [item] = act(world, "fix", [curl_id]).items
    assert (item.status, item.code) == ("refused", "no_update")
    assert state(world, openssl) == "unfixed"


def test_an_agent_that_never_answers_puts_records_back(world: World) -> None:
    agent, openssl, curl = setup(world)
    batch = act(world, "fix", [openssl])
    assert batch.batch_id is not None
    # Claimed three times and never answered: the job fails, the record goes to fix_failed.
    for _ in range(scheduler.MAX_CLAIMS):
        poll(world, agent)
        world.clock.advance(scheduler.STALE_CLAIM + timedelta(minutes=1))
        scheduler.tick(world.uow, world.clock, "test", timedelta(minutes=1))
    assert state(world, openssl) == "fix_failed"
    [item] = remediation.batch_view(world.uow, batch.batch_id).items
    assert (item.outcome, item.error_code) == ("failed", "no_result")
    # A fix nobody picks up while the agent is offline is cancelled after an hour.
    assert poll(world, agent) == []  # the agent is online when the fix is asked for
    [item] = act(world, "fix", [curl]).items
    assert item.status == "queued"
    world.clock.advance(scheduler.UNANSWERED_AFTER + timedelta(minutes=1))
    summary = scheduler.tick(world.uow, world.clock, "test", timedelta(minutes=1))
    assert summary.cancelled_jobs == 1 and state(world, curl) == "fix_failed"


# -- rollback and snapshots ------------------------------------------------------------------


def _fixed(world: World) -> tuple[Agent, int]:
    agent, openssl, _ = setup(world)
    act(world, "fix", [openssl])
    [job] = poll(world, agent)
    report(world, agent, job.job_id, True, fixed_details())
    facts = replace(
        FACTS,
        snapshots=(
            SnapshotFact("snap-0001", "packages", "2026-03-02T09:00:00Z", "2026-03-09T09:00:00Z"),
        ),
    )
    fixed = replace(OPENSSL, version=OPENSSL_FIXED)
    world.upload(agent, fixable(facts, fixed, CURL, BASH))
    assert state(world, openssl) == "fixed"
    return agent, openssl


def test_a_rollback_restores_the_snapshot_and_moves_the_record(world: World) -> None:
    agent, openssl = _fixed(world)
    batch = act(world, "rollback", [openssl])
    [item] = batch.items
    assert (item.status, item.snapshot_id) == ("queued", "snap-0001")
    assert state(world, openssl) == "rolling_back"
    [job] = poll(world, agent)
    assert (job.kind, job.params) == (
        "rollback", {"snapshot_id": "snap-0001", "record_ids": [openssl]},
    )  # fmt: skip
    details = v1.RollbackDetails(
        "snap-0001", (v1.PackageOutcome("libssl3", OPENSSL_FIXED, "3.0.11-1~deb12u2", True),)
    ).to_dict()
    report(world, agent, job.job_id, True, details)
    assert state(world, openssl) == "rolled_back"
    assert world.history(openssl)[-2:] == ["rollback_requested", "rollback_succeeded"]


def test_a_failed_rollback_is_rollback_failed(world: World) -> None:
    agent, openssl = _fixed(world)
    act(world, "rollback", [openssl])
    [job] = poll(world, agent)
    error = v1.ActionError("unknown", "dpkg said no")
    report(world, agent, job.job_id, False, v1.RollbackDetails("snap-0001", error=error).to_dict())
    assert state(world, openssl) == "rollback_failed"


def test_rollback_refusals_expired_deleted_offline(world: World) -> None:
    agent, openssl = _fixed(world)
    [snap] = snapshots.host_snapshots(world.uow, world.clock, agent.host_id).items
    with pytest.raises(Forbidden):
        snapshots.delete_snapshot(world.uow, world.clock, OPERATOR, snap.id)
    # Deleted: queues the agent's deletion, and refuses a second time.
    deleted = snapshots.delete_snapshot(world.uow, world.clock, ADMIN, snap.id)
    assert deleted.snapshot.status == "deleted"
    [job] = poll(world, agent)
    assert (job.kind, job.params) == ("snapshot_delete", {"snapshot_id": "snap-0001"})
    with pytest.raises(Conflict):
        snapshots.delete_snapshot(world.uow, world.clock, ADMIN, snap.id)
    assert code(actions(world, openssl).rollback) == "no_snapshot"
    with pytest.raises(NotFound):
        snapshots.delete_snapshot(world.uow, world.clock, ADMIN, 999_999)
    world.clock.advance(timedelta(hours=2))
    assert code(actions(world, openssl).rollback) == "agent_offline"


def test_snapshots_expire_and_a_rollback_says_so(world: World) -> None:
    agent, openssl = _fixed(world)
    world.clock.advance(timedelta(days=8))
    world.upload(agent, fixable(replace(FACTS, snapshots=())))  # online again, files gone
    summary = scheduler.tick(world.uow, world.clock, "test", timedelta(minutes=1))
    [snap] = snapshots.host_snapshots(world.uow, world.clock, agent.host_id).items
    assert snap.status in ("expired", "deleted")
    assert summary.ran


def test_an_expired_snapshot_refuses_snapshot_expired(world: World) -> None:
    agent, openssl = _fixed(world)
    world.clock.advance(timedelta(days=8))
    facts = replace(
        FACTS,
        snapshots=(
            SnapshotFact("snap-0001", "packages", "2026-03-02T09:00:00Z", "2026-03-09T09:00:00Z"),
        ),
    )
    fixed = replace(OPENSSL, version=OPENSSL_FIXED)
    world.upload(agent, fixable(facts, fixed, CURL, BASH))
    summary = scheduler.tick(world.uow, world.clock, "test", timedelta(minutes=1))
    assert summary.snapshots_expired == 1
    got = actions(world, openssl).rollback
    assert code(got) == "snapshot_expired" and "expired on" in str(got.reason)
    [item] = act(world, "rollback", [openssl]).items
    assert (item.status, item.code) == ("refused", "snapshot_expired")


def test_remediation_requests_are_checked(world: World) -> None:
    _, openssl, _ = setup(world)
    with pytest.raises(InvalidRequest, match="fix needs record_ids"):
        act(world, "fix", [])
    with pytest.raises(InvalidRequest, match="without_snapshot applies to fix only"):
        act(world, "rollback", [openssl], without_snapshot=True)
    with pytest.raises(NotFound):
        remediation.batch_view(world.uow, 999_999)
    assert update_settings(world.uow, ADMIN, {"plan": "enterprise"}).plan is Plan.ENTERPRISE
    with pytest.raises(InputError):
        update_settings(world.uow, ADMIN, {"plan": "gold"})
    with pytest.raises(InputError):
        update_settings(world.uow, ADMIN, {"snapshot_expiry_days": 0})
