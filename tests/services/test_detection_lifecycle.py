"""Inventories folded into records: creation, grace period, clear, reopen — and the rule that
a failed or missing collector never clears a record (STYLE E3)."""

from __future__ import annotations

import gzip
import json
from datetime import timedelta

import pytest

from patchwarden.core.inventory import CollectorError
from patchwarden.services import inventory
from patchwarden.services.errors import InvalidRequest
from patchwarden.services.settings import update_settings
from patchwarden.services.users import authenticate_user, create_api_token
from tests.services.conftest import BASH, OPENSSL, World, debian_host


def test_first_report_creates_one_unfixed_record_per_finding(world: World) -> None:
    agent = world.enrol()
    outcome = world.upload(agent, debian_host())
    assert (outcome.duplicate, outcome.findings) == (False, 2)
    assert outcome.records is not None and outcome.records.created == 2
    records = world.records(agent.host_id)
    assert set(records) == {"CVE-2024-0727", "CVE-2024-2398"}
    openssl = records["CVE-2024-0727"]
    assert (openssl.affected_key, openssl.record.state.value) == ("libssl3", "unfixed")
    assert openssl.detail.fixed_version == "3.0.13-1~deb12u1"
    assert world.history(openssl.id) == ["detected"]


def test_a_replayed_report_is_acknowledged_and_applied_once(world: World) -> None:
    agent = world.enrol()
    first = world.upload(agent, debian_host(), report_id="report-0001")
    again = world.upload(agent, debian_host(OPENSSL), report_id="report-0001")
    assert (again.inventory_id, again.duplicate, again.records) == (first.inventory_id, True, None)
    assert world.records(agent.host_id)["CVE-2024-2398"].record.undetected_since is None


def test_not_detected_three_days_in_a_row_clears_to_fixed_then_reopens(world: World) -> None:
    agent = world.enrol()
    world.upload(agent, debian_host())
    without_curl = debian_host(OPENSSL, BASH)
    world.clock.advance(timedelta(hours=1))
    outcome = world.upload(agent, without_curl)
    assert outcome.records is not None and outcome.records.not_detected == 1
    curl = world.records(agent.host_id)["CVE-2024-2398"]
    assert (curl.record.state.value, curl.record.undetected_since) == ("unfixed", world.clock.now())
    world.clock.advance(timedelta(days=2, hours=23))
    world.upload(agent, without_curl)
    assert world.records(agent.host_id)["CVE-2024-2398"].record.state.value == "unfixed"
    world.clock.advance(timedelta(hours=1))
    outcome = world.upload(agent, without_curl)
    assert outcome.records is not None and outcome.records.cleared == 1
    curl = world.records(agent.host_id)["CVE-2024-2398"]
    assert curl.record.state.value == "fixed"
    assert world.history(curl.id) == ["detected", "not_detected", "clear"]
    # It comes back: a new occurrence of the same record, history kept (R-L7).
    world.upload(agent, debian_host())
    curl = world.records(agent.host_id)["CVE-2024-2398"]
    assert (curl.record.state.value, curl.record.occurrence) == ("unfixed", 2)
    assert world.history(curl.id)[-1] == "detected"


def test_a_failed_collector_never_clears_a_record(world: World) -> None:
    agent = world.enrol()
    world.upload(agent, debian_host())
    broken = debian_host(
        BASH, errors=(CollectorError("dpkg", "status file truncated", "var/lib/dpkg/status"),)
    )
    for _ in range(5):  # far past the 3-day rule
        world.clock.advance(timedelta(days=1))
        outcome = world.upload(agent, broken)
        assert outcome.records is not None and outcome.records.not_detected == 0
    records = world.records(agent.host_id)
    assert {r.record.state.value for r in records.values()} == {"unfixed"}
    assert all(r.record.undetected_since is None for r in records.values())


def test_an_inventory_that_does_not_cover_packages_clears_nothing(world: World) -> None:
    # A collector that did not run at all (or an agent too old to say what it covered) is
    # no evidence either.
    agent = world.enrol()
    world.upload(agent, debian_host())
    world.clock.advance(timedelta(days=4))
    outcome = world.upload(agent, debian_host(BASH, covered=()))
    assert outcome.records is not None and outcome.records.not_detected == 0
    assert {r.record.state.value for r in world.records(agent.host_id).values()} == {"unfixed"}


def test_unselected_scan_levels_are_neither_created_nor_updated(world: World) -> None:
    token = create_api_token(world.uow, world.clock, "alice")
    alice = authenticate_user(world.uow, world.clock, f"Bearer {token}", write_request=True)
    update_settings(world.uow, alice, {"scan_levels": ["critical", "high"]})
    agent = world.enrol()
    outcome = world.upload(agent, debian_host())
    assert outcome.records is not None
    assert (outcome.records.created, outcome.records.skipped_level) == (1, 1)
    assert set(world.records(agent.host_id)) == {"CVE-2024-0727"}


def test_a_refused_upload_stores_nothing(world: World) -> None:
    agent = world.enrol()
    world.upload(agent, debian_host())
    bad = debian_host()
    document = bad.to_dict()
    document["packages"][0]["version"] = 3  # not a string
    body = gzip.compress(
        json.dumps(
            {"schema": 1, "report_id": "report-bad1", "job_id": None, "inventory": document}
        ).encode()
    )
    with pytest.raises(InvalidRequest, match="must be str, got int"):
        inventory.accept_inventory(world.uow, world.clock, agent.auth, body, "gzip")
    with world.uow.read():
        assert world.uow.inventories.find(agent.host_id, "report-bad1") is None
        host = world.uow.hosts.get(agent.host_id)
    assert host is not None and host.packages == 3  # the facts of the accepted report
