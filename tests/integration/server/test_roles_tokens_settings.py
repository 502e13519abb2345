"""Roles, API token expiry and revocation, and settings bounds at the REST API (SQLite and
PostgreSQL): a viewer reads but every write is a 403 that stores nothing; an expired or
revoked token is a 401; a setting that would overflow the lifecycle's arithmetic is a 422
naming the field, and one already stored reads as its default instead of a 500."""

from __future__ import annotations

import json
import logging
import re
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import delete, insert
from tests.integration.server.conftest import InProcessConsole, envelope, gz

from patchwarden.services.ports import Role
from patchwarden.services.users import add_user, issue_api_token, revoke_api_token
from patchwarden.storage import settings as stored_settings
from patchwarden.storage.db import transaction
from patchwarden.storage.tables import settings as settings_table


def token_for(console: InProcessConsole, name: str, role: Role, **kwargs: Any) -> str:
    add_user(console.new_uow(), console.clock, name, role)
    return issue_api_token(console.new_uow(), console.clock, name, **kwargs).secret


def as_user(console: InProcessConsole, token: str, method: str, path: str, **kw: Any) -> Any:
    headers = {"Authorization": f"Bearer {token}"}
    return console.client.request(method, path, headers=headers, **kw)


WRITES = [
    pytest.param("POST", "/api/v1/actions", {"action": "scan", "host_ids": "all"}, id="scan"),
    pytest.param(
        "POST", "/api/v1/actions", {"action": "ignore", "record_ids": [1], "reason": "r"},
        id="ignore",
    ),
    pytest.param("POST", "/api/v1/actions", {"action": "verify", "record_ids": [1]}, id="verify"),
    pytest.param("PUT", "/api/v1/settings", {"scan_levels": ["critical"]}, id="settings"),
    pytest.param("POST", "/api/v1/maintenance/tick", None, id="maintenance tick"),
]  # fmt: skip


@pytest.mark.parametrize(("method", "path", "body"), WRITES)
def test_a_viewer_reads_but_may_not_write(
    console: InProcessConsole, method: str, path: str, body: Any
) -> None:
    viewer = token_for(console, "vera", Role.VIEWER)
    for read in ("/api/v1/hosts", "/api/v1/records", "/api/v1/settings", "/api/v1/catalogue"):
        assert as_user(console, viewer, "GET", read).status_code == 200, read
    settings_before = console.api("GET", "/api/v1/settings").json()
    before = console.counts()
    reply = as_user(console, viewer, method, path, json=body)
    assert reply.status_code == 403, reply.text
    assert re.search(r"needs the admin (or operator )?or owner role", reply.json()["detail"])
    assert console.counts() == before
    assert console.api("GET", "/api/v1/settings").json() == settings_before
    # An admin may.
    admin = token_for(console, "adam", Role.ADMIN)
    assert as_user(console, admin, method, path, json=body).status_code == 200


def test_expired_and_revoked_tokens_are_refused(console: InProcessConsole) -> None:
    add_user(console.new_uow(), console.clock, "tim", Role.ADMIN)
    issued = issue_api_token(console.new_uow(), console.clock, "tim", timedelta(days=90))
    assert as_user(console, issued.secret, "GET", "/api/v1/hosts").status_code == 200
    console.clock.advance(timedelta(days=90))
    reply = as_user(console, issued.secret, "GET", "/api/v1/hosts")
    assert (reply.status_code, reply.json()["detail"]) == (401, "API token expired")
    # The fixture's token has the default expiry too; a new never-expiring one, then revoked.
    forever = issue_api_token(console.new_uow(), console.clock, "tim", None)
    console.clock.advance(timedelta(days=3000))
    assert as_user(console, forever.secret, "GET", "/api/v1/hosts").status_code == 200
    revoke_api_token(console.new_uow(), forever.token_id)
    reply = as_user(console, forever.secret, "GET", "/api/v1/hosts")
    assert (reply.status_code, reply.json()["detail"]) == (401, "unknown API token")


OUT_OF_BOUNDS = [
    pytest.param({"clear_after_days": 1e10}, "clear_after_days", id="clear 1e10 days"),
    pytest.param('{"clear_after_days": Infinity}', "clear_after_days", id="clear Infinity"),
    pytest.param('{"clear_after_days": NaN}', "clear_after_days", id="clear NaN"),
    pytest.param({"clear_after_days": 0}, "clear_after_days", id="clear 0"),
    pytest.param({"retention_days": 1e9}, "retention_days", id="retention 1e9"),
    pytest.param({"offline_ttl_days": {"linux": 1e12}}, "offline_ttl_days.linux", id="ttl"),
    pytest.param({"offline_ttl_days": {"cms": 0.01}}, "offline_ttl_days.cms", id="ttl tiny"),
    pytest.param({"scan_cycle_hours": {"linux": 1e300}}, "scan_cycle_hours.linux", id="cycle"),
    pytest.param({"scan_cycle_hours": {"app": 0}}, "scan_cycle_hours.app", id="cycle 0"),
    pytest.param({"agent_offline_after_seconds": 1}, "agent_offline_after_seconds", id="1 s"),
    pytest.param(
        {"agent_offline_after_seconds": 1e7}, "agent_offline_after_seconds", id="offline 1e7 s"
    ),
    pytest.param({"feed_sync_hours": 0.5}, "feed_sync_hours", id="sync every 30 min"),
    pytest.param({"feed_sync_hours": 1e6}, "feed_sync_hours", id="sync 1e6 h"),
    pytest.param({"retention_days": True}, "retention_days", id="true as a number"),
    pytest.param('{"retention_days": 1' + "0" * 400 + "}", "retention_days", id="10^400"),
]


@pytest.mark.parametrize(("patch", "field"), OUT_OF_BOUNDS)
def test_settings_out_of_bounds_are_refused_naming_the_field(
    console: InProcessConsole, patch: Any, field: str
) -> None:
    before = console.api("GET", "/api/v1/settings").json()
    content = patch if isinstance(patch, str) else json.dumps(patch)
    headers = {"Authorization": f"Bearer {console.api_token}", "Content-Type": "application/json"}
    reply = console.client.put("/api/v1/settings", content=content, headers=headers)
    assert reply.status_code == 422, reply.text
    # Non-finite numbers are refused by the body parser already, the rest by the settings.
    assert field in reply.json()["detail"], reply.text
    assert console.api("GET", "/api/v1/settings").json() == before


@pytest.mark.parametrize(
    ("good", "value"),
    [
        ({"clear_after_days": 3650}, 3650),
        ({"feed_sync_hours": 0}, 0),
        ({"scan_cycle_hours": {"linux": 8760}}, {"linux": 8760}),
        ({"agent_offline_after_seconds": 30}, 30),
    ],
)
def test_settings_at_the_bounds_are_taken(
    console: InProcessConsole, good: dict[str, Any], value: Any
) -> None:
    reply = console.api("PUT", "/api/v1/settings", json=good)
    assert reply.status_code == 200, reply.text
    [(key, _)] = good.items()
    got = reply.json()[key]
    assert (got if not isinstance(value, dict) else {k: got[k] for k in value}) == value


STORED_BAD = {
    "clear_after_days": 1e10,
    "retention_days": 1e9,
    "offline_ttl_days": {"linux": 1e12, "windows": 3, "cms": 10, "app": 30, "emergency": 90},
    "scan_cycle_hours": {"linux": 1e300, "windows": 24, "cms": 24, "app": 24, "emergency": 24},
    "agent_offline_after_seconds": "soon",
    "feed_sync_hours": -5,
    "scan_levels": ["critical", "urgent"],
}
"""What an older console or a hand edit could have left in the settings table."""


def test_bad_stored_settings_fall_back_to_defaults_and_the_console_keeps_working(
    console: InProcessConsole,
    debian_inventory: dict[str, Any],
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Each bad value is logged once per process: forget what earlier tests logged.
    monkeypatch.setattr(stored_settings, "_warned", set())
    with transaction(console.engine) as conn:
        conn.execute(delete(settings_table))
        rows = [{"key": k, "value": v} for k, v in STORED_BAD.items()]
        conn.execute(insert(settings_table), rows)
    caplog.set_level(logging.WARNING, logger="patchwarden.storage.settings")
    reply = console.api("GET", "/api/v1/settings")
    assert reply.status_code == 200, reply.text
    current = reply.json()
    assert current["clear_after_days"] == 3 and current["retention_days"] == 7
    assert current["offline_ttl_days"]["linux"] == 3 and current["offline_ttl_days"]["cms"] == 10
    assert current["scan_cycle_hours"]["linux"] == 24
    assert current["agent_offline_after_seconds"] == 600 and current["feed_sync_hours"] == 0
    assert current["scan_levels"] == ["critical", "high", "medium", "low"]
    warned = " ".join(r.getMessage() for r in caplog.records)
    for where in ("clear_after_days=1", "offline_ttl_days.linux=1", "scan_levels=["):
        assert where in warned, (where, warned)
    # Uploads, actions, ticks: every path that turns settings into durations.
    upload = console.upload(gz(envelope(debian_inventory)))
    assert upload.status_code == 200, upload.text
    scan = console.api("POST", "/api/v1/actions", json={"action": "scan", "host_ids": "all"})
    assert scan.status_code == 200, scan.text
    [record, *_] = console.api("GET", "/api/v1/records").json()["items"]
    body = {"action": "verify", "record_ids": [record["id"]]}
    verify = console.api("POST", "/api/v1/actions", json=body)
    assert verify.status_code == 200, verify.text
    console.clock.advance(timedelta(days=3, minutes=1))
    tick = console.api("POST", "/api/v1/maintenance/tick")
    assert tick.status_code == 200 and tick.json()["ran"], tick.text
    # A change through the API stores every setting valid again.
    fixed = console.api("PUT", "/api/v1/settings", json={"scan_levels": ["critical", "high"]})
    assert fixed.status_code == 200, fixed.text
    assert fixed.json()["clear_after_days"] == 3
