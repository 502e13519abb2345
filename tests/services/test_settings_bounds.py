"""Settings bounds in the `Settings` read model itself, whatever the caller: values that would
overflow the lifecycle's timedelta arithmetic (or make no sense) are refused naming the field,
and every accepted value turns into a lifecycle policy and a scan cycle without error."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any

import pytest

from patchwarden.core.errors import InputError
from patchwarden.services.ports import Settings
from patchwarden.services.settings import lifecycle_policy, merge

BAD = [
    pytest.param({"clear_after_days": float("inf")}, "clear_after_days", id="infinite"),
    pytest.param({"clear_after_days": float("nan")}, "clear_after_days", id="nan"),
    pytest.param({"retention_days": 10**400}, "retention_days", id="huge integer"),
    pytest.param({"retention_days": 0.5}, "retention_days", id="half a day"),
    pytest.param({"offline_ttl_days": {"emergency": 3651}}, "offline_ttl_days.emergency", id="ttl"),
    pytest.param({"scan_cycle_hours": {"cms": 0.9}}, "scan_cycle_hours.cms", id="cycle"),
    pytest.param({"scan_cycle_hours": {"cms": "24"}}, None, id="numeric string is fine"),
    pytest.param({"agent_offline_after_seconds": 29}, "agent_offline_after_seconds", id="29 s"),
    pytest.param({"agent_offline_after_seconds": 86_401}, "agent_offline_after_seconds", id="day"),
    pytest.param({"feed_sync_hours": 8761}, "feed_sync_hours", id="sync"),
    pytest.param({"feed_sync_hours": False}, "feed_sync_hours", id="false"),
]


@pytest.mark.parametrize(("patch", "field"), BAD)
def test_out_of_bounds_values_are_refused_naming_the_field(
    patch: dict[str, Any], field: str | None
) -> None:
    if field is None:
        merge(Settings(), patch)
        return
    with pytest.raises(InputError, match=f"invalid setting {field}"):
        merge(Settings(), patch)


def test_the_widest_settings_still_make_durations() -> None:
    widest = merge(
        Settings(),
        {
            "clear_after_days": 3650,
            "retention_days": 3650,
            "offline_ttl_days": dict.fromkeys(Settings().offline_ttl_days, 3650),
            "scan_cycle_hours": dict.fromkeys(Settings().scan_cycle_hours, 8760),
            "agent_offline_after_seconds": 86_400,
            "feed_sync_hours": 8760,
        },
    )
    policy = lifecycle_policy(widest)
    far = datetime(9000, 1, 1, tzinfo=timezone.utc)
    assert far + policy.retention + max(policy.offline_expiry.values()) > far
    assert timedelta(hours=max(widest.scan_cycle_hours.values())) == timedelta(days=365)
    assert widest.agent_online(far, far + timedelta(days=1))
