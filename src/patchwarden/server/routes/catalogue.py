"""Supported-vulnerability catalogue (R-T7) and maintenance triggers."""

from __future__ import annotations

from fastapi import APIRouter, Request

from patchwarden.server.deps import ClockDep, UowDep, UserDep
from patchwarden.server.params import Page
from patchwarden.services.catalogue import Catalogue, catalogue
from patchwarden.services.scheduler import TickSummary, tick_now

router = APIRouter(prefix="/api/v1", tags=["catalogue"])


@router.get("/catalogue")
def get_catalogue(
    uow: UowDep, user: UserDep, q: str = "", page: Page = 1, per_page: int = 50
) -> Catalogue:
    """Counts per vulnerability type and a searchable list of what can be detected."""
    return catalogue(uow, q, page, per_page)


@router.post("/maintenance/tick")
def run_tick(request: Request, uow: UowDep, clock: ClockDep, user: UserDep) -> TickSummary:
    """Run the scheduler's periodic work now (scan cycle, expiry sweep, stale jobs); admins
    and owners only."""
    state = request.app.state
    return tick_now(uow, clock, user, state.holder, state.lease_ttl)
