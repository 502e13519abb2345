"""Agent API (protocol v1): enrol, heartbeat, inventory upload, job long-poll, results."""

from __future__ import annotations

import asyncio
from typing import Any

from fastapi import APIRouter, Query, Request
from starlette.concurrency import run_in_threadpool

from patchwarden.protocol import v1
from patchwarden.server.deps import AgentDep, ConnDep, NowDep
from patchwarden.services import agents, console_settings, inventory
from patchwarden.services.errors import Refused
from patchwarden.storage import repositories as repo
from patchwarden.storage.db import transaction

router = APIRouter(prefix=v1.PREFIX, tags=["agent"])


async def _json_body(request: Request, limit: int = 64 * 1024) -> dict[str, Any]:
    body = await request.body()
    if len(body) > limit:
        raise Refused(f"request body over {limit} bytes", 413)
    return inventory.decode_upload(body, "")


@router.post("/enrol")
async def enrol(request: Request) -> dict[str, str]:
    """Trade a one-time enrolment token for a host id and an agent secret."""
    body = await _json_body(request)
    app = request.app

    def work() -> dict[str, str]:
        with transaction(app.state.engine) as conn:
            return agents.enrol(conn, body, app.state.config.clock.now())

    return await run_in_threadpool(work)


@router.post("/heartbeat")
def heartbeat(conn: ConnDep, host_id: AgentDep, now: NowDep) -> dict[str, Any]:
    """The agent is alive (authentication already recorded it); jobs waiting."""
    return {
        "host_id": host_id,
        "time": now.isoformat(),
        "pending_jobs": agents.pending_jobs(conn, host_id),
    }


@router.post("/inventory")
async def upload_inventory(request: Request) -> dict[str, Any]:
    """Accept one gzip JSON inventory envelope; one transaction, idempotent by report id."""
    app = request.app
    length = int(request.headers.get("content-length") or 0)
    if length > v1.MAX_INVENTORY_GZIP:
        raise Refused(f"inventory upload of {length} bytes exceeds {v1.MAX_INVENTORY_GZIP}", 413)
    body = await request.body()
    encoding = request.headers.get("content-encoding", "")
    auth = request.headers.get("authorization")

    def work() -> dict[str, Any]:
        envelope = inventory.decode_upload(body, encoding)
        with transaction(app.state.engine) as conn:
            now = app.state.config.clock.now()
            host_id = agents.authenticate(conn, auth, now)
            settings = console_settings.load(repo.get_settings(conn))
            return inventory.accept_inventory(
                conn, host_id, envelope, body, now, app.state.index, settings
            )

    return await run_in_threadpool(work)


@router.get("/jobs")
async def poll_jobs(
    request: Request, wait: int = Query(0, ge=0, le=v1.MAX_POLL_WAIT)
) -> dict[str, Any]:
    """Long-poll: return queued actions as soon as there are any, or after `wait` seconds.

    Polls the job table (no in-process signal), so any replica can serve any agent.
    """
    app = request.app
    auth = request.headers.get("authorization")
    loop = asyncio.get_running_loop()
    deadline = loop.time() + wait

    def claim() -> list[dict[str, Any]]:
        with transaction(app.state.engine) as conn:
            now = app.state.config.clock.now()
            host_id = agents.authenticate(conn, auth, now)
            return agents.claim_jobs(conn, host_id, now)

    while True:
        found = await run_in_threadpool(claim)
        if found or loop.time() >= deadline or await request.is_disconnected():
            return {"jobs": found}
        await asyncio.sleep(min(1.0, max(0.0, deadline - loop.time())))


@router.post("/jobs/{job_id}/result")
async def job_result(job_id: int, request: Request) -> dict[str, Any]:
    """Apply an action result (idempotent)."""
    body = await _json_body(request)
    if body.get("job_id") != job_id:
        raise Refused("job_id in the body does not match the URL", 422)
    app = request.app
    auth = request.headers.get("authorization")

    def work() -> dict[str, Any]:
        with transaction(app.state.engine) as conn:
            now = app.state.config.clock.now()
            host_id = agents.authenticate(conn, auth, now)
            return agents.report_result(conn, host_id, body, now)

    return await run_in_threadpool(work)
