"""Request dependencies: database transaction, agent and user authentication (A4 aliases)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Annotated, Any

from fastapi import Depends, Header, Request
from sqlalchemy import Connection, Engine

from patchwarden.server.config import ServerConfig
from patchwarden.services import agents, tokens
from patchwarden.services.errors import AuthError
from patchwarden.storage import repositories as repo
from patchwarden.storage.db import transaction


def get_config(request: Request) -> ServerConfig:
    """The server configuration of this app."""
    config: ServerConfig = request.app.state.config
    return config


READ_METHODS = frozenset({"GET", "HEAD"})
TOKEN_USE_RESOLUTION = timedelta(minutes=10)
"""How stale an API token's `last_used_at` may get before a read request refreshes it."""


def get_conn(request: Request) -> Iterator[Connection]:
    """One transaction per request: committed when the handler returns, rolled back on error.

    Reads (GET/HEAD) run in a read transaction, so on SQLite they neither wait for nor
    block the writer (an agent's inventory being applied); everything else takes the
    write lock up front.
    """
    write = request.method not in READ_METHODS
    with transaction(request.app.state.engine, write=write) as conn:
        yield conn


def get_now(config: Annotated[ServerConfig, Depends(get_config)]) -> datetime:
    """Current time from the injectable clock."""
    return config.clock.now()


ConfigDep = Annotated[ServerConfig, Depends(get_config)]
ConnDep = Annotated[Connection, Depends(get_conn)]
NowDep = Annotated[datetime, Depends(get_now)]


def current_agent(
    conn: ConnDep, now: NowDep, authorization: Annotated[str | None, Header()] = None
) -> str:
    """The authenticated agent's host id (401 otherwise)."""
    return agents.authenticate(conn, authorization, now)


def authenticate_user(
    conn: Connection, authorization: str | None, now: datetime, read_only: Engine | None = None
) -> dict[str, Any]:
    """The user behind `Authorization: Bearer <api token>` (401 otherwise).

    The token's last use is stored in `conn`; when `conn` is a read transaction, pass its
    engine as `read_only`: the use is then stored in a short transaction of its own, and
    only when the stored time is stale.
    """
    scheme, _, token = (authorization or "").partition(" ")
    if scheme.lower() != "bearer" or not token:
        raise AuthError("missing API token (Authorization: Bearer <token>)")
    user = repo.user_by_token(conn, tokens.digest(token.strip()))
    if user is None:
        raise AuthError("unknown API token")
    if read_only is None:
        repo.mark_token_used(conn, user["token_id"], now)
    elif user["token_used_at"] is None or now - user["token_used_at"] > TOKEN_USE_RESOLUTION:
        with transaction(read_only) as write_conn:
            repo.mark_token_used(write_conn, user["token_id"], now)
    return user


def current_user(
    request: Request,
    conn: ConnDep,
    now: NowDep,
    authorization: Annotated[str | None, Header()] = None,
) -> dict[str, Any]:
    """The user of this request (see `authenticate_user`)."""
    read_only = request.app.state.engine if request.method in READ_METHODS else None
    return authenticate_user(conn, authorization, now, read_only)


AgentDep = Annotated[str, Depends(current_agent)]
UserDep = Annotated[dict[str, Any], Depends(current_user)]
