"""Console settings: scan levels (R-D4), scan cycle (R-D5), offline TTLs (R-L1), retention."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from pydantic import TypeAdapter
from starlette.concurrency import run_in_threadpool

from patchwarden.server.bodies import openapi_body, read_model
from patchwarden.server.deps import UowDep, UserDep
from patchwarden.services import admission, settings
from patchwarden.services.ports import Settings

router = APIRouter(prefix="/api/v1/settings", tags=["settings"])

_PATCH = TypeAdapter(dict[str, Any])
_PATCH_SCHEMA = {
    **TypeAdapter(Settings).json_schema(),
    "title": "SettingsPatch",
    "description": "Some settings to change (the others stay); dict values merge key by key.",
}


@router.get("")
def get_settings(uow: UowDep, user: UserDep) -> Settings:
    """Current settings (defaults where nothing is stored)."""
    return settings.get_settings(uow)


@router.put("", openapi_extra=openapi_body(_PATCH_SCHEMA))
async def put_settings(request: Request, uow: UowDep, user: UserDep) -> Settings:
    """Change some settings; the rest stay."""
    patch = await read_model(request, _PATCH, admission.API_REQUEST)
    return await run_in_threadpool(settings.update_settings, uow, user, patch)
