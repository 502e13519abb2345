"""Request dependencies (STYLE A4 `Annotated` aliases): the clock, a unit of work, the
credentials and the authenticated user or agent. What they hand out was built once in
`app.create_app`.

Credentials are read from the headers alone, before any body: a route that takes a body
reads it itself (`server.bodies`) once its user or agent is known. The two credential
schemes are declared as OpenAPI security schemes, so /api/docs has an Authorize button.
"""

from __future__ import annotations

from typing import Annotated, Optional

from fastapi import Depends, Request, Security
from fastapi.security import APIKeyHeader, HTTPBearer
from starlette.concurrency import run_in_threadpool

from patchwarden.core.clock import Clock
from patchwarden.protocol import v1
from patchwarden.services import admission
from patchwarden.services.ports import UnitOfWork, User
from patchwarden.services.users import authenticate_user

READ_METHODS = frozenset({"GET", "HEAD"})


# The two cheap dependencies are coroutines: FastAPI would run plain functions in its thread
# pool, one hop each per request.
async def get_clock(request: Request) -> Clock:
    """The app's clock (injectable: tests move it by days)."""
    clock: Clock = request.app.state.config.clock
    return clock


async def get_uow(request: Request) -> UnitOfWork:
    """A fresh unit of work on the console database (services open its transactions)."""
    uow: UnitOfWork = request.app.state.new_uow()
    return uow


ClockDep = Annotated[Clock, Depends(get_clock)]
UowDep = Annotated[UnitOfWork, Depends(get_uow)]


class _BearerHeader(HTTPBearer):
    """The REST API's scheme in the OpenAPI document; hands over the raw header (the users
    service reads it: its messages name what is wrong with it)."""

    async def __call__(self, request: Request) -> Optional[str]:  # type: ignore[override]
        return request.headers.get("authorization")


bearer = _BearerHeader(
    scheme_name="bearer",
    bearerFormat="pwa_…",
    description="API token of a console user: `patchwarden api-token create --user NAME`.",
    auto_error=False,
)
agent_key = APIKeyHeader(
    name="Authorization",
    scheme_name="agent",
    description=f"An enrolled agent: `{v1.AUTH_SCHEME} <host_id>:<secret>`.",
    auto_error=False,
)
BearerDep = Annotated[Optional[str], Security(bearer)]
"""The raw `Authorization` header of a REST request (None when absent)."""
AgentAuthDep = Annotated[Optional[str], Security(agent_key)]
"""The raw `Authorization` header of an agent request (None when absent)."""


def current_user(
    request: Request, uow: UowDep, clock: ClockDep, authorization: BearerDep = None
) -> User:
    """The user of this request (401 without a valid API token)."""
    write = request.method not in READ_METHODS
    return authenticate_user(uow, clock, authorization, write_request=write)


async def current_agent(uow: UowDep, authorization: AgentAuthDep = None) -> str:
    """The host id of the agent sending this request (401 otherwise), known from its
    headers before its body is read."""
    return await run_in_threadpool(admission.check_agent, uow, authorization)


UserDep = Annotated[User, Depends(current_user)]
AgentDep = Annotated[str, Depends(current_agent)]
