"""The agents' scan memory cap (R-D3) at the REST API, on the web settings page and in the
agent protocol's jobs poll, on SQLite and PostgreSQL."""

from __future__ import annotations

import re
from typing import Any

import pytest
from tests.integration.server.conftest import InProcessConsole
from tests.integration.server.test_web_console import PASSWORD, csrf, log_in

from patchwarden.protocol import v1
from patchwarden.services.users import set_password


def poll(console: InProcessConsole) -> dict[str, Any]:
    """The agent's jobs poll answer."""
    reply = console.client.get(v1.JOBS, headers=console.agent_headers(gzip_body=False))
    assert reply.status_code == 200, reply.text
    return dict(reply.json())


@pytest.mark.parametrize(
    ("body", "why"),
    [
        pytest.param('{"agent_memory_cap_mb": 8}', "at least 16 MB", id="below the least"),
        pytest.param('{"agent_memory_cap_mb": -1}', "greater than or equal to 0", id="negative"),
        pytest.param('{"agent_memory_cap_mb": 65537}', "less than or equal to 65536", id="huge"),
        pytest.param('{"agent_memory_cap_mb": 64.5}', "valid integer", id="fraction"),
        pytest.param('{"agent_memory_cap_mb": "64"}', "valid integer", id="string"),
        pytest.param('{"agent_memory_cap_mb": true}', "not true/false", id="true"),
    ],
)
def test_a_bad_cap_is_refused_with_422_naming_the_field(
    console: InProcessConsole, body: str, why: str
) -> None:
    before = console.api("GET", "/api/v1/settings").json()
    headers = {"Authorization": f"Bearer {console.api_token}", "Content-Type": "application/json"}
    reply = console.client.put("/api/v1/settings", content=body, headers=headers)
    assert reply.status_code == 422, reply.text
    detail = reply.json()["detail"]
    assert "agent_memory_cap_mb" in detail and why in detail, detail
    assert console.api("GET", "/api/v1/settings").json() == before
    assert poll(console)["memory_cap_mb"] == 200


def test_the_cap_is_set_through_the_api_and_every_poll_carries_it(
    console: InProcessConsole,
) -> None:
    assert console.api("GET", "/api/v1/settings").json()["agent_memory_cap_mb"] == 200
    assert poll(console) == {"jobs": [], "memory_cap_mb": 200}
    for cap in (0, 16, 65_536, 512):
        reply = console.api("PUT", "/api/v1/settings", json={"agent_memory_cap_mb": cap})
        assert reply.status_code == 200, reply.text
        assert reply.json()["agent_memory_cap_mb"] == cap
        assert poll(console)["memory_cap_mb"] == cap
    # The OpenAPI schema documents the setting and the poll answer's field.
    schema = console.client.get("/api/openapi.json").json()["components"]["schemas"]
    prop = schema["Settings"]["properties"]["agent_memory_cap_mb"]
    assert (prop["type"], prop["default"]) == ("integer", 200)
    assert schema["PolledJobs"]["properties"]["memory_cap_mb"]["type"] == "integer"


def test_the_settings_page_edits_the_cap(console: InProcessConsole) -> None:
    client = console.client
    set_password(console.new_uow(), console.clock, "alice", PASSWORD)
    log_in(client)
    page = client.get("/settings").text
    field = re.search(r'<label for="memcap">([^<]+)</label><input id="memcap" [^>]*>', page)
    assert field, page
    assert field.group(1) == "Agent scan memory cap (MB, 0 = no cap)"
    assert 'name="agent_memory_cap_mb" value="200"' in field.group(0)
    hint = re.search(r'<p class="hint" id="memcap-hint">([^<]+)</p>', page)
    assert hint and "0 or 16 to 65536 MB" in hint.group(1)
    assert "own configuration sets a cap keeps its own" in hint.group(1)
    token = csrf(page)
    saved = client.post("/settings", data={"csrf_token": token, "agent_memory_cap_mb": "64"})
    assert saved.status_code == 200 and "settings saved" in saved.text
    assert 'name="agent_memory_cap_mb" value="64"' in saved.text
    assert console.api("GET", "/api/v1/settings").json()["agent_memory_cap_mb"] == 64
    assert poll(console)["memory_cap_mb"] == 64
    # Bad values come back as a message naming the field; nothing is stored.
    for bad, why in (("8", "at least 16 MB"), ("lots", "must be a number"), ("1.5", "number")):
        answer = client.post("/settings", data={"csrf_token": token, "agent_memory_cap_mb": bad})
        assert "agent_memory_cap_mb" in answer.text and why in answer.text, bad
        assert console.api("GET", "/api/v1/settings").json()["agent_memory_cap_mb"] == 64
