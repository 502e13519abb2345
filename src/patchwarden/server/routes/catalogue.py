"""Supported-vulnerability catalogue (R-T7) and maintenance triggers."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from starlette.concurrency import run_in_threadpool

from patchwarden.server.deps import UserDep
from patchwarden.services.catalogue import catalogue
from patchwarden.services.scheduler import tick

router = APIRouter(prefix="/api/v1", tags=["catalogue"])


@router.get("/catalogue")
def get_catalogue(
    request: Request, user: UserDep, q: str = "", page: int = 1, per_page: int = 50
) -> dict[str, Any]:
    """Counts per vulnerability type and a searchable list of what can be detected."""
    return catalogue(request.app.state.store, q, page, per_page)


@router.post("/maintenance/tick")
async def run_tick(request: Request, user: UserDep) -> dict[str, Any]:
    """Run the scheduler's periodic work now (scan cycle, expiry sweep, stale jobs)."""
    app = request.app
    report = await run_in_threadpool(
        tick,
        app.state.engine,
        app.state.config.clock.now(),
        app.state.holder,
        app.state.lease_ttl,
    )
    return report.__dict__
