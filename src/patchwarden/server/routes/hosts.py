"""Hosts: online state, OS and EOL, kernel facts, last scan, open records."""

from __future__ import annotations

from fastapi import APIRouter

from patchwarden.server.deps import ClockDep, UowDep, UserDep
from patchwarden.services import snapshots, views

router = APIRouter(prefix="/api/v1/hosts", tags=["hosts"])


@router.get("")
def list_hosts(uow: UowDep, clock: ClockDep, user: UserDep) -> views.HostList:
    """Every enrolled host."""
    return views.list_hosts(uow, clock)


@router.get("/{host_id}")
def get_host(host_id: str, uow: UowDep, clock: ClockDep, user: UserDep) -> views.HostDetailView:
    """One host, with the running processes, restart needs and scan events of its latest
    inventory."""
    return views.get_host(uow, clock, host_id)


@router.get("/{host_id}/snapshots")
def host_snapshots(
    host_id: str, uow: UowDep, clock: ClockDep, user: UserDep
) -> snapshots.SnapshotList:
    """The snapshots fixes took on a host, newest first: valid, expired or deleted."""
    return snapshots.host_snapshots(uow, clock, host_id)
