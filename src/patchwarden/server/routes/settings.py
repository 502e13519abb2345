"""Console settings: scan levels (R-D4), scan cycle (R-D5), offline TTLs (R-L1), retention."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body

from patchwarden.server.deps import ConnDep, UserDep
from patchwarden.services import console_settings
from patchwarden.services.errors import Refused
from patchwarden.storage import repositories as repo

router = APIRouter(prefix="/api/v1/settings", tags=["settings"])


@router.get("")
def get_settings(conn: ConnDep, user: UserDep) -> dict[str, Any]:
    """Current settings (defaults where nothing is stored)."""
    return console_settings.load(repo.get_settings(conn)).model_dump()


@router.put("")
def put_settings(
    conn: ConnDep, user: UserDep, patch: Annotated[dict[str, Any], Body()]
) -> dict[str, Any]:
    """Change some settings; the rest stay."""
    if user["role"] not in ("owner", "admin"):
        raise Refused("changing settings needs the owner or an admin", 403)
    current = console_settings.load(repo.get_settings(conn))
    new = console_settings.merge(current, patch)
    repo.put_settings(conn, new.model_dump())
    return new.model_dump()
