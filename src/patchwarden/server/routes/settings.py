"""Console settings: scan levels (R-D4), scan cycle (R-D5), offline TTLs (R-L1), retention."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body

from patchwarden.server.deps import UowDep, UserDep
from patchwarden.services import settings
from patchwarden.services.ports import Settings

router = APIRouter(prefix="/api/v1/settings", tags=["settings"])


@router.get("")
def get_settings(uow: UowDep, user: UserDep) -> Settings:
    """Current settings (defaults where nothing is stored)."""
    return settings.get_settings(uow)


@router.put("")
def put_settings(uow: UowDep, user: UserDep, patch: Annotated[dict[str, Any], Body()]) -> Settings:
    """Change some settings; the rest stay."""
    return settings.update_settings(uow, user, patch)
