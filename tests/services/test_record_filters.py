"""The record list's enumerated filters: a misspelt value is refused naming the filter and the
values it accepts (it used to match nothing and read as "no records"), and the method and
confidence filters select records. On the fake, SQLite and PostgreSQL."""

from __future__ import annotations

import pytest

from patchwarden.services import views
from patchwarden.services.errors import InvalidRequest
from tests.services.conftest import World, debian_host

BAD_VALUES = [
    pytest.param("type", "vm", "linux, windows, cms, app, emergency", id="type"),
    pytest.param("severity", "hgh", "critical, high, medium, low, none, unknown", id="severity"),
    pytest.param("status", "opn", "unfixed, fixing, fix_failed", id="status"),
    pytest.param("bucket", "soon", "asap, later, can_wait", id="bucket"),
    pytest.param(
        "method",
        "guess",
        "distro-advisory, running-kernel, newest-kernel, repository-update",
        id="method",
    ),
    pytest.param("confidence", "sure", "confirmed, high, medium, low", id="confidence"),
    pytest.param("severity", "high,hgh", "critical, high", id="one bad value in a list"),
]


@pytest.mark.parametrize(("field", "value", "allowed"), BAD_VALUES)
def test_a_misspelt_filter_value_is_refused_naming_field_and_values(
    world: World, field: str, value: str, allowed: str
) -> None:
    world.upload(world.enrol(), debian_host())
    wrong = value.split(",")[-1]
    with pytest.raises(InvalidRequest) as refused:
        views.list_records(world.uow, **{field: value})
    message = str(refused.value)
    assert message.startswith(f"invalid {field} '{wrong}':"), message
    assert allowed in message


def test_all_is_a_status_of_its_own(world: World) -> None:
    with pytest.raises(InvalidRequest, match="'all' cannot be combined"):
        views.list_records(world.uow, status="all,fixed")
    assert views.list_records(world.uow, status="all").total == 0


def test_method_and_confidence_select_records(world: World) -> None:
    agent = world.enrol()
    world.upload(agent, debian_host())
    assert views.list_records(world.uow).total == 2
    assert views.list_records(world.uow, method="distro-advisory").total == 2
    assert views.list_records(world.uow, method="repository-update,running-kernel").total == 0
    assert views.list_records(world.uow, confidence="high").total == 2
    assert views.list_records(world.uow, confidence="low,medium").total == 0
    # Values are matched whatever their case, as the other filters' values.
    high = views.list_records(world.uow, severity="HIGH", method="Distro-Advisory")
    assert [r.vuln_id for r in high.items] == ["CVE-2024-0727"]
