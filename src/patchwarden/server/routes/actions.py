"""Batch actions (scan hosts or all; verify, ignore, unignore records) and their jobs."""

from __future__ import annotations

from typing import Literal, Union

from fastapi import APIRouter
from pydantic import BaseModel, Field

from patchwarden.server.deps import ClockDep, UowDep, UserDep
from patchwarden.services import actions, views

router = APIRouter(prefix="/api/v1", tags=["actions"])


class ActionRequest(BaseModel):
    """One batch action."""

    action: Literal["scan", "verify", "ignore", "unignore"]
    record_ids: list[int] = Field(default_factory=list, max_length=10_000)
    host_ids: Union[list[str], Literal["all"]] = Field(default_factory=list)
    reason: str = Field("", max_length=2000)


@router.post("/actions")
def run_action(
    body: ActionRequest, uow: UowDep, clock: ClockDep, user: UserDep
) -> Union[actions.RecordBatch, actions.ScanBatch]:
    """Queue scans or apply record actions; each item reports success or why not."""
    return actions.run_action(
        uow, clock, user.name, body.action, body.record_ids, body.host_ids, body.reason
    )


@router.get("/jobs/{job_id}")
def get_job(job_id: int, uow: UowDep, user: UserDep) -> views.JobView:
    """One job (scan / verify) and its result."""
    return views.job(uow, job_id)
