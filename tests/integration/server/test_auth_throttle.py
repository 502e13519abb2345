"""Failed authentication is throttled on the agent API, enrolment and the REST API (SQLite and
PostgreSQL): after 10 failures in a minute from one address, or with one credential, the
11th request is answered 429 with Retry-After; a minute later it goes through again;
successful requests are never refused, and other clients are not concerned."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from tests.integration.server.conftest import InProcessConsole

from patchwarden.protocol import v1

LIMIT = 10


def from_address(console: InProcessConsole, address: str) -> TestClient:
    """A client of the same console app whose requests come from `address`."""
    return TestClient(console.client.app, client=(address, 40000), raise_server_exceptions=False)


def locked(reply: Any) -> int:
    """Assert a 429 with Retry-After; the seconds it says."""
    assert reply.status_code == 429, (reply.status_code, reply.text)
    assert "too many failed authentication attempts" in reply.json()["detail"]
    return int(reply.headers["retry-after"])


def wrong_agent(console: InProcessConsole, host_id: str = "") -> dict[str, str]:
    return {"Authorization": v1.auth_header(host_id or console.host_id, "not-the-secret")}


def test_wrong_agent_secrets_lock_out_the_address_and_the_host_id(
    console: InProcessConsole,
) -> None:
    client = console.client
    for _ in range(LIMIT):
        assert client.post(v1.HEARTBEAT, headers=wrong_agent(console)).status_code == 401
    assert locked(client.post(v1.HEARTBEAT, headers=wrong_agent(console))) == 60
    # Locked-out address: even right credentials wait (the check comes before them) …
    good = {"Authorization": v1.auth_header(console.host_id, console.secret)}
    assert locked(client.post(v1.HEARTBEAT, headers=good)) == 60
    # … and the guessed host id is locked out from any address.
    other = from_address(console, "198.51.100.20")
    assert locked(other.post(v1.HEARTBEAT, headers=good)) == 60
    # Another agent from another address is not concerned.
    host_b, secret_b = console.enrol()
    reply = other.get(v1.JOBS, headers={"Authorization": v1.auth_header(host_b, secret_b)})
    assert reply.status_code == 200, reply.text
    console.clock.advance(timedelta(seconds=61))
    assert client.post(v1.HEARTBEAT, headers=good).status_code == 200


def test_the_lock_out_doubles_when_failures_go_on(console: InProcessConsole) -> None:
    client = console.client
    unknown = "00000000-0000-0000-0000-000000000000"
    waits = []
    for _ in range(3):
        for _ in range(LIMIT):
            reply = client.get(v1.JOBS, headers=wrong_agent(console, unknown))
            assert reply.status_code == 401
        waits.append(locked(client.get(v1.JOBS, headers=wrong_agent(console, unknown))))
        console.clock.advance(timedelta(seconds=waits[-1]))
    assert waits == [60, 120, 240]


def test_unknown_api_tokens_lock_out_the_address(console: InProcessConsole) -> None:
    for i in range(LIMIT):
        reply = console.client.get("/api/v1/hosts", headers={"Authorization": f"Bearer pwa_{i}"})
        assert reply.status_code == 401
    assert locked(console.client.get("/api/v1/hosts")) == 60
    assert locked(console.api("GET", "/api/v1/hosts")) == 60
    # The agent API of the same address is another area: an agent there keeps working.
    agent = {"Authorization": v1.auth_header(console.host_id, console.secret)}
    assert console.client.post(v1.HEARTBEAT, headers=agent).status_code == 200
    other = from_address(console, "203.0.113.5")
    headers = {"Authorization": f"Bearer {console.api_token}"}
    assert other.get("/api/v1/hosts", headers=headers).status_code == 200


def test_one_api_token_tried_from_many_addresses_is_locked_out(
    console: InProcessConsole,
) -> None:
    stale = {"Authorization": "Bearer pwa_revoked-or-expired"}
    for i in range(LIMIT):
        reply = from_address(console, f"198.51.100.{i}").get("/api/v1/records", headers=stale)
        assert reply.status_code == 401
    assert locked(from_address(console, "198.51.100.99").get("/api/v1/records", headers=stale))


def test_wrong_enrolment_tokens_lock_out_the_address(console: InProcessConsole) -> None:
    before = console.counts()
    for i in range(LIMIT):
        reply = console.client.post(v1.ENROL, json={"token": f"pwe_guess{i}", "hostname": "h"})
        assert reply.status_code == 401
    assert locked(console.client.post(v1.ENROL, json={"token": "pwe_x", "hostname": "h"}))
    assert console.counts() == before
    other = from_address(console, "192.0.2.44")
    assert other.post(v1.ENROL, json={"token": "pwe_y", "hostname": "h"}).status_code == 401


def test_one_enrolment_token_replayed_from_many_addresses_is_locked_out(
    console: InProcessConsole,
) -> None:
    body = {"token": "pwe_leaked-and-used", "hostname": "h"}
    for i in range(LIMIT):
        reply = from_address(console, f"192.0.2.{i}").post(v1.ENROL, json=body)
        assert reply.status_code == 401
    locked(from_address(console, "192.0.2.200").post(v1.ENROL, json=body))


@pytest.mark.parametrize(
    "request_ok",
    [
        pytest.param(lambda c: c.api("GET", "/api/v1/hosts"), id="REST read"),
        pytest.param(lambda c: c.api("PUT", "/api/v1/settings", json={}), id="REST write"),
        pytest.param(
            lambda c: c.client.post(
                v1.HEARTBEAT, headers={"Authorization": v1.auth_header(c.host_id, c.secret)}
            ),
            id="agent heartbeat",
        ),
    ],
)
def test_successful_requests_are_never_refused(
    console: InProcessConsole, request_ok: Callable[[InProcessConsole], Any]
) -> None:
    for _ in range(5 * LIMIT):
        reply = request_ok(console)
        assert reply.status_code == 200, reply.text


def test_refused_requests_other_than_authentication_do_not_count(
    console: InProcessConsole,
) -> None:
    for _ in range(3 * LIMIT):
        reply = console.api("GET", "/api/v1/records/999999")
        assert reply.status_code == 404
        reply = console.client.post(v1.ENROL, json={"hostname": "no token"})
        assert reply.status_code == 422
    assert console.api("GET", "/api/v1/hosts").status_code == 200


def test_x_forwarded_for_counts_only_behind_a_trusted_proxy(console: InProcessConsole) -> None:
    # Without trusted proxies a forged header changes nothing: the socket peer is locked out.
    for i in range(LIMIT):
        headers = {"Authorization": "Bearer pwa_x", "X-Forwarded-For": f"10.0.0.{i}"}
        assert console.client.get("/api/v1/hosts", headers=headers).status_code == 401
    locked(console.client.get("/api/v1/hosts", headers={"X-Forwarded-For": "10.9.9.9"}))
    # Behind a trusted proxy the client it names is counted, each on its own.
    from patchwarden.server.throttle import TrustedProxies

    app: Any = console.client.app
    app.state.throttle.proxies = TrustedProxies(["192.0.2.0/24"])
    proxy = from_address(console, "192.0.2.1")
    for _ in range(LIMIT):
        headers = {"Authorization": "Bearer pwa_y", "X-Forwarded-For": "10.1.1.1, 192.0.2.9"}
        assert proxy.get("/api/v1/hosts", headers=headers).status_code == 401
    locked(proxy.get("/api/v1/hosts", headers={"X-Forwarded-For": "10.1.1.1"}))
    good = {"Authorization": f"Bearer {console.api_token}", "X-Forwarded-For": "10.2.2.2"}
    assert proxy.get("/api/v1/hosts", headers=good).status_code == 200


@pytest.mark.parametrize(
    "body",
    [
        pytest.param(b'{"token": "\\ud800", "hostname": "h"}', id="lone surrogate token"),
        pytest.param(b'{"token": "\xff", "hostname": "h"}', id="invalid UTF-8"),
        pytest.param(b"[" * 30_000 + b"]" * 30_000, id="deep nesting"),
        pytest.param(b'["token"]', id="not an object"),
    ],
)
def test_enrolment_bodies_the_throttle_cannot_read_are_left_to_the_route(
    console: InProcessConsole, body: bytes
) -> None:
    reply = console.client.post(
        v1.ENROL, content=body, headers={"Content-Type": "application/json"}
    )
    assert 400 <= reply.status_code < 500, reply.text
