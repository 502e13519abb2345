"""Agent API (protocol v1): enrol, heartbeat, inventory upload, job long-poll, results.

The agent is known from its headers (`AgentDep`) before its body is read; enrolment has no
credentials, so its body is small (`admission.ENROLMENT`).
"""

from __future__ import annotations

import asyncio
from typing import Any

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel, Field, TypeAdapter
from starlette.concurrency import run_in_threadpool

from patchwarden.core.inventory import Inventory
from patchwarden.protocol import v1
from patchwarden.server.bodies import openapi_body, read_object
from patchwarden.server.deps import AgentAuthDep, AgentDep, ClockDep, UowDep
from patchwarden.server.params import PathId
from patchwarden.services import admission, agents, inventory

router = APIRouter(prefix=v1.PREFIX, tags=["agent"])


class EnrolRequest(BaseModel):
    """What an agent sends to enrol (documentation: `agents.enrol` checks it)."""

    token: str = Field(description="One-time enrolment token (`patchwarden enrolment-token`).")
    hostname: str = Field(min_length=1, max_length=255)
    machine_id: str = Field("", max_length=64)
    agent_version: str = Field("", max_length=32)


ENVELOPE_SCHEMA: dict[str, Any] = {
    "title": "InventoryUpload",
    "description": "An inventory upload envelope, JSON, usually sent with Content-Encoding: gzip.",
    "type": "object",
    "required": ["schema", "report_id", "inventory"],
    "properties": {
        "schema": {"type": "integer", "enum": [v1.ENVELOPE_SCHEMA]},
        "report_id": {"type": "string", "pattern": v1.REPORT_ID_PATTERN},
        "job_id": {
            "anyOf": [{"type": "integer", "minimum": 1, "maximum": v1.MAX_ID}, {"type": "null"}]
        },
        "inventory": TypeAdapter(Inventory).json_schema(),
    },
}


@router.post("/enrol", openapi_extra=openapi_body(EnrolRequest.model_json_schema()))
async def enrol(request: Request, uow: UowDep, clock: ClockDep) -> agents.Enrolment:
    """Trade a one-time enrolment token for a host id and an agent secret."""
    body, _ = await read_object(request, admission.ENROLMENT)
    return await run_in_threadpool(agents.enrol, uow, clock, body)


@router.post("/heartbeat")
def heartbeat(uow: UowDep, clock: ClockDep, authorization: AgentAuthDep = None) -> agents.Heartbeat:
    """The agent is alive; how many jobs wait for it."""
    return agents.heartbeat(uow, clock, authorization)


@router.post(
    "/inventory", response_model_exclude_none=True, openapi_extra=openapi_body(ENVELOPE_SCHEMA)
)
async def upload_inventory(
    request: Request,
    uow: UowDep,
    clock: ClockDep,
    agent: AgentDep,
    authorization: AgentAuthDep = None,
) -> inventory.UploadOutcome:
    """Accept one (gzip) JSON inventory envelope; one transaction, idempotent by report id."""
    # `agent` is known from the headers: only now is the body read.
    envelope, body = await read_object(request, admission.INVENTORY)
    upload = inventory.Upload(envelope, body.wire)
    return await run_in_threadpool(inventory.accept_upload, uow, clock, authorization, upload)


@router.get("/jobs")
async def poll_jobs(
    request: Request,
    uow: UowDep,
    clock: ClockDep,
    authorization: AgentAuthDep = None,
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


@router.post(
    "/jobs/{job_id}/result",
    openapi_extra=openapi_body(TypeAdapter(v1.ActionResult).json_schema()),
)
async def job_result(
    job_id: PathId,
    request: Request,
    uow: UowDep,
    clock: ClockDep,
    agent: AgentDep,
    authorization: AgentAuthDep = None,
) -> agents.JobResultAck:
    """Apply an action result (idempotent)."""
    body, _ = await read_object(request, admission.JOB_RESULT)
    return await run_in_threadpool(
        agents.record_job_result, uow, clock, authorization, job_id, body
    )
