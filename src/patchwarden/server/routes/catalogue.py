"""Supported-vulnerability catalogue (R-T7) and maintenance triggers."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Header, Request
from starlette.concurrency import run_in_threadpool

from patchwarden.server.deps import UserDep, authenticate_user
from patchwarden.services.catalogue import catalogue
from patchwarden.services.scheduler import tick
from patchwarden.storage.db import transaction

router = APIRouter(prefix="/api/v1", tags=["catalogue"])


@router.get("/catalogue")
def get_catalogue(
    request: Request, user: UserDep, q: str = "", page: int = 1, per_page: int = 50
) -> dict[str, Any]:
    """Counts per vulnerability type and a searchable list of what can be detected."""
    return catalogue(request.app.state.store, q, page, per_page)


@router.post("/maintenance/tick")
async def run_tick(
    request: Request, authorization: Annotated[str | None, Header()] = None
) -> dict[str, Any]:
    """Run the scheduler's periodic work now (scan cycle, expiry sweep, stale jobs)."""
    app = request.app

    def work() -> dict[str, Any]:
        # Authenticate in a transaction of its own, committed before the tick: the request
        # transaction of `UserDep` would hold SQLite's write lock (BEGIN IMMEDIATE) while
        # `tick` waits for it in its own transactions, a deadlock until the busy timeout.
        with transaction(app.state.engine) as conn:
            authenticate_user(conn, authorization, app.state.config.clock.now())
        now = app.state.config.clock.now()
        return tick(app.state.engine, now, app.state.holder, app.state.lease_ttl).__dict__

    return await run_in_threadpool(work)
