"""The agents' scan memory cap as a console setting (R-D3): bounded and refused naming the
field, stored, and handed to every agent with each jobs poll (fake, SQLite, PostgreSQL)."""

from __future__ import annotations

from typing import Any

import pytest

from patchwarden.core.errors import InputError
from patchwarden.services import agents
from patchwarden.services.ports import Role, Settings, User
from patchwarden.services.settings import get_settings, update_settings
from tests.services.conftest import World

ADMIN = User(1, "admin", Role.ADMIN)

BAD = [
    pytest.param(15, "must be 0 (no cap) or at least 16 MB", id="below the least cap"),
    pytest.param(1, "must be 0 (no cap) or at least 16 MB", id="one MB"),
    pytest.param(-1, "greater than or equal to 0", id="negative"),
    pytest.param(65_537, "less than or equal to 65536", id="above 64 GiB"),
    pytest.param(200.5, "valid integer", id="fraction"),
    pytest.param("200", "valid integer", id="string"),
    pytest.param(True, "must be a number, not true/false", id="true"),
    pytest.param(None, "valid integer", id="null"),
]


@pytest.mark.parametrize(("value", "why"), BAD)
def test_a_bad_cap_is_refused_naming_the_field_and_nothing_is_stored(
    world: World, value: Any, why: str
) -> None:
    update_settings(world.uow, ADMIN, {"agent_memory_cap_mb": 300})
    with pytest.raises(InputError, match="invalid setting agent_memory_cap_mb") as refused:
        update_settings(world.uow, ADMIN, {"agent_memory_cap_mb": value, "retention_days": 9})
    assert why in str(refused.value)
    kept = get_settings(world.uow)
    assert (kept.agent_memory_cap_mb, kept.retention_days) == (300, Settings().retention_days)


@pytest.mark.parametrize("value", [0, 16, 200, 65_536], ids=["no cap", "least", "mid", "most"])
def test_caps_within_the_bounds_are_stored(world: World, value: int) -> None:
    assert get_settings(world.uow).agent_memory_cap_mb == 200  # the spec's default
    assert update_settings(
        world.uow, ADMIN, {"agent_memory_cap_mb": value}
    ).agent_memory_cap_mb == (value)
    assert get_settings(world.uow).agent_memory_cap_mb == value


def test_every_jobs_poll_carries_the_current_cap(world: World) -> None:
    agent = world.enrol()
    assert agents.claim_jobs(world.uow, world.clock, agent.auth).memory_cap_mb == 200
    update_settings(world.uow, ADMIN, {"agent_memory_cap_mb": 64})
    polled = agents.claim_jobs(world.uow, world.clock, agent.auth)
    assert (polled.jobs, polled.memory_cap_mb) == ([], 64)
    update_settings(world.uow, ADMIN, {"agent_memory_cap_mb": 0})
    assert agents.claim_jobs(world.uow, world.clock, agent.auth).memory_cap_mb == 0
