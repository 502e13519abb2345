"""Batch actions: scan (hosts or all), verify, ignore, unignore."""

from __future__ import annotations

from typing import Any, Literal, Union

from fastapi import APIRouter
from pydantic import BaseModel, Field

from patchwarden.server.deps import ConnDep, NowDep, UserDep
from patchwarden.services import console_settings
from patchwarden.services.errors import Refused
from patchwarden.services.records import act_on_records
from patchwarden.storage import jobs
from patchwarden.storage import repositories as repo

router = APIRouter(prefix="/api/v1", tags=["actions"])


class ActionRequest(BaseModel):
    """One batch action."""

    action: Literal["scan", "verify", "ignore", "unignore"]
    record_ids: list[int] = Field(default_factory=list, max_length=10_000)
    host_ids: Union[list[str], Literal["all"]] = Field(default_factory=list)
    reason: str = Field("", max_length=2000)


@router.post("/actions")
def run_action(body: ActionRequest, conn: ConnDep, now: NowDep, user: UserDep) -> dict[str, Any]:
    """Queue scans or apply record actions; each item reports success or why not."""
    actor = user["name"]
    if body.action == "scan":
        hosts = repo.list_hosts(conn)
        wanted = [h["id"] for h in hosts] if body.host_ids == "all" else list(body.host_ids)
        known = {h["id"] for h in hosts}
        unknown = [h for h in wanted if h not in known]
        if unknown:
            raise Refused(f"unknown hosts {unknown}", 404)
        if not wanted:
            raise Refused('scan needs host_ids (a list or "all")', 422)
        queued = [
            {
                "host_id": h,
                "job_id": jobs.enqueue(conn, h, "scan", {"types": ["linux"]}, actor, now=now),
            }
            for h in wanted
        ]
        return {"action": "scan", "items": queued}
    if not body.record_ids:
        raise Refused(f"{body.action} needs record_ids", 422)
    settings = console_settings.load(repo.get_settings(conn))
    outcomes = act_on_records(conn, body.action, body.record_ids, actor, body.reason, now, settings)
    return {
        "action": body.action,
        "items": [o.as_dict() for o in outcomes],
        "ok": sum(o.ok for o in outcomes),
        "refused": sum(not o.ok for o in outcomes),
    }


@router.get("/jobs/{job_id}")
def get_job(job_id: int, conn: ConnDep, user: UserDep) -> dict[str, Any]:
    """One job (scan / verify) and its result."""
    job = jobs.get(conn, job_id)
    if job is None:
        raise Refused(f"unknown job {job_id}", 404)
    return {
        "id": job.id,
        "host_id": job.host_id,
        "kind": job.kind,
        "params": job.params,
        "status": job.status.value,
        "requested_by": job.requested_by,
        "created_at": job.created_at.isoformat(),
        "finished_at": job.finished_at.isoformat() if job.finished_at else None,
        "result": job.result,
        "error": job.error,
    }
