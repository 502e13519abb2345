"""Read requests (GET) run in read transactions: they do not wait for a writer holding the
database (on SQLite, the single write lock an inventory being applied holds), and still keep
the API token's last use, at a ten-minute resolution."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

from sqlalchemy import select, update
from tests.integration.server.conftest import InProcessConsole

from patchwarden.storage.db import transaction
from patchwarden.storage.tables import api_tokens, hosts


def _token_used_at(console: InProcessConsole):  # type: ignore[no-untyped-def]
    with console.engine.connect() as conn:
        return conn.execute(select(api_tokens.c.last_used_at)).scalar_one()


def test_reads_do_not_wait_for_a_writer(console: InProcessConsole) -> None:
    assert console.api("GET", "/api/v1/hosts").status_code == 200  # marks the token used
    with transaction(console.engine) as writer, ThreadPoolExecutor(1) as pool:
        writer.execute(update(hosts).values(last_seen_at=console.clock.now()))
        for path in ("/api/v1/hosts", "/api/v1/records", "/api/v1/settings"):
            reply = pool.submit(console.api, "GET", path).result(timeout=10)
            assert reply.status_code == 200, reply.text


def test_reads_keep_the_token_last_use_at_ten_minute_resolution(
    console: InProcessConsole,
) -> None:
    console.api("GET", "/api/v1/hosts")
    first = _token_used_at(console)
    assert first is not None
    console.clock.advance(timedelta(minutes=5))
    console.api("GET", "/api/v1/records")
    assert _token_used_at(console) == first
    console.clock.advance(timedelta(minutes=6))
    console.api("GET", "/api/v1/records")
    assert _token_used_at(console) > first
    # A write request stores its use with its own writes, however recent the last one.
    before = _token_used_at(console)
    console.clock.advance(timedelta(seconds=1))
    assert console.api("PUT", "/api/v1/settings", json={}).status_code == 200
    assert _token_used_at(console) > before
