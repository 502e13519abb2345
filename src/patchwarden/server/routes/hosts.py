"""Hosts: online state, OS and EOL, kernel facts, last scan, open records."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from patchwarden.server.deps import ConnDep, NowDep, UserDep
from patchwarden.services import console_queries, console_settings
from patchwarden.services.errors import Refused
from patchwarden.storage import repositories as repo

router = APIRouter(prefix="/api/v1/hosts", tags=["hosts"])


@router.get("")
def list_hosts(conn: ConnDep, now: NowDep, user: UserDep) -> dict[str, Any]:
    """Every enrolled host."""
    settings = console_settings.load(repo.get_settings(conn))
    items = console_queries.list_hosts(conn, now, settings)
    return {"items": items, "total": len(items)}


@router.get("/{host_id}")
def get_host(host_id: str, conn: ConnDep, now: NowDep, user: UserDep) -> dict[str, Any]:
    """One host."""
    settings = console_settings.load(repo.get_settings(conn))
    for item in console_queries.list_hosts(conn, now, settings):
        if item["id"] == host_id:
            return item
    raise Refused(f"unknown host {host_id}", 404)
