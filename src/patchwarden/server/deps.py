"""Request dependencies (STYLE A4 `Annotated` aliases): the clock, a unit of work and the
authenticated user. What they hand out was built once in `app.create_app`."""

from __future__ import annotations

from typing import Annotated, Optional

from fastapi import Depends, Header, Request

from patchwarden.core.clock import Clock
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
AuthorizationDep = Annotated[Optional[str], Header(alias="authorization")]


def current_user(
    request: Request, uow: UowDep, clock: ClockDep, authorization: AuthorizationDep = None
) -> User:
    """The user of this request (401 without a valid API token)."""
    write = request.method not in READ_METHODS
    return authenticate_user(uow, clock, authorization, write_request=write)


UserDep = Annotated[User, Depends(current_user)]
