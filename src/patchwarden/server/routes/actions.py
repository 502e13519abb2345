"""Batch actions (scan hosts or all; verify, ignore, unignore, fix, restart, rollback records),
their jobs, and remediation batches."""

from __future__ import annotations

from typing import Literal, Union

from fastapi import APIRouter, Request
from pydantic import BaseModel, Field, TypeAdapter
from starlette.concurrency import run_in_threadpool

from patchwarden.server.bodies import openapi_body, read_model
from patchwarden.server.deps import ClockDep, UowDep, UserDep
from patchwarden.server.params import PathId, RowId
from patchwarden.services import actions, admission, remediation, views

router = APIRouter(prefix="/api/v1", tags=["actions"])


class ActionRequest(BaseModel):
    """One batch action."""

    action: Literal["scan", "verify", "ignore", "unignore", "fix", "restart", "rollback"]
    record_ids: list[RowId] = Field(default_factory=list, max_length=10_000)
    host_ids: Union[list[str], Literal["all"]] = Field(default_factory=list)
    reason: str = Field("", max_length=2000)
    without_snapshot: bool = False
    """fix: go ahead without the snapshot a fix otherwise takes first."""
    dry_run: bool = False
    """fix, restart, rollback: plan the jobs and answer with them; queue nothing."""


_ACTION_REQUEST = TypeAdapter(ActionRequest)


@router.post("/actions", openapi_extra=openapi_body(ActionRequest.model_json_schema()))
async def run_action(
    request: Request, uow: UowDep, clock: ClockDep, user: UserDep
) -> Union[actions.RecordBatch, actions.ScanBatch, remediation.RemediationBatch]:
    """Queue scans or apply record actions; each item reports success or why not (a refused
    fix, restart or rollback with a `code`). Follow a fix, restart or rollback with
    `GET /api/v1/actions/{batch_id}`."""
    body = await read_model(request, _ACTION_REQUEST, admission.API_REQUEST)
    return await run_in_threadpool(
        actions.run_action,
        uow,
        clock,
        user,
        body.action,
        body.record_ids,
        body.host_ids,
        body.reason,
        body.without_snapshot,
        body.dry_run,
    )


@router.get("/actions/{batch_id}")
def get_batch(batch_id: PathId, uow: UowDep, user: UserDep) -> remediation.BatchView:
    """A fix, restart or rollback request: each record's outcome (queued, running, succeeded,
    failed with the agent's error code, or refused) and its state now."""
    return remediation.batch_view(uow, batch_id)


@router.get("/jobs/{job_id}")
def get_job(job_id: PathId, uow: UowDep, user: UserDep) -> views.JobView:
    """One job (scan / verify) and its result."""
    return views.job(uow, job_id)
