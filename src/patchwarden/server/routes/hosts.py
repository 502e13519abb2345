"""Hosts: online state, OS and EOL, kernel facts, last scan, open records."""

from __future__ import annotations

from fastapi import APIRouter

from patchwarden.server.deps import ClockDep, UowDep, UserDep
from patchwarden.services import views

router = APIRouter(prefix="/api/v1/hosts", tags=["hosts"])


@router.get("")
def list_hosts(uow: UowDep, clock: ClockDep, user: UserDep) -> views.HostList:
    """Every enrolled host."""
    return views.list_hosts(uow, clock)


@router.get("/{host_id}")
def get_host(host_id: str, uow: UowDep, clock: ClockDep, user: UserDep) -> views.HostView:
    """One host."""
    return views.get_host(uow, clock, host_id)
