"""Agent API (protocol v1): enrol, heartbeat, inventory upload, job long-poll, results."""

from __future__ import annotations

import asyncio
from typing import Any

from fastapi import APIRouter, Query, Request
from starlette.concurrency import run_in_threadpool

from patchwarden.protocol import v1
from patchwarden.server.deps import AuthorizationDep, ClockDep, UowDep
from patchwarden.services import agents, inventory
from patchwarden.services.errors import TooLarge

router = APIRouter(prefix=v1.PREFIX, tags=["agent"])

SMALL_BODY = 64 * 1024
"""Largest enrolment or job-result body (bytes)."""


async def _small_json(request: Request) -> dict[str, Any]:
    body = await request.body()
    if len(body) > SMALL_BODY:
        raise TooLarge(f"request body over {SMALL_BODY} bytes")
    return inventory.decode_json(body)


@router.post("/enrol")
async def enrol(request: Request, uow: UowDep, clock: ClockDep) -> agents.Enrolment:
    """Trade a one-time enrolment token for a host id and an agent secret."""
    body = await _small_json(request)
    return await run_in_threadpool(agents.enrol, uow, clock, body)


@router.post("/heartbeat")
def heartbeat(
    uow: UowDep, clock: ClockDep, authorization: AuthorizationDep = None
) -> agents.Heartbeat:
    """The agent is alive; how many jobs wait for it."""
    return agents.heartbeat(uow, clock, authorization)


@router.post("/inventory", response_model_exclude_none=True)
async def upload_inventory(
    request: Request, uow: UowDep, clock: ClockDep, authorization: AuthorizationDep = None
) -> inventory.UploadOutcome:
    """Accept one gzip JSON inventory envelope; one transaction, idempotent by report id."""
    inventory.check_upload_size(int(request.headers.get("content-length") or 0))
    body = await request.body()
    encoding = request.headers.get("content-encoding", "")
    return await run_in_threadpool(
        inventory.accept_inventory, uow, clock, authorization, body, encoding
    )


@router.get("/jobs")
async def poll_jobs(
    request: Request,
    uow: UowDep,
    clock: ClockDep,
    authorization: AuthorizationDep = None,
    wait: int = Query(0, ge=0, le=v1.MAX_POLL_WAIT),
) -> agents.PolledJobs:
    """Long-poll: return queued actions as soon as there are any, or after `wait` seconds.

    Polls the job table (no in-process signal), so any replica can serve any agent.
    """
    loop = asyncio.get_running_loop()
    deadline = loop.time() + wait
    while True:
        found = await run_in_threadpool(agents.claim_jobs, uow, clock, authorization)
        if found.jobs or loop.time() >= deadline or await request.is_disconnected():
            return found
        await asyncio.sleep(min(1.0, max(0.0, deadline - loop.time())))


@router.post("/jobs/{job_id}/result")
async def job_result(
    job_id: int,
    request: Request,
    uow: UowDep,
    clock: ClockDep,
    authorization: AuthorizationDep = None,
) -> agents.JobResultAck:
    """Apply an action result (idempotent)."""
    body = await _small_json(request)
    return await run_in_threadpool(
        agents.record_job_result, uow, clock, authorization, job_id, body
    )
