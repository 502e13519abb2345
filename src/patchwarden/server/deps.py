"""Request dependencies: database transaction, agent and user authentication (A4 aliases)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import Annotated, Any

from fastapi import Depends, Header, Request
from sqlalchemy import Connection

from patchwarden.server.config import ServerConfig
from patchwarden.services import agents, tokens
from patchwarden.services.errors import AuthError
from patchwarden.storage import repositories as repo
from patchwarden.storage.db import transaction


def get_config(request: Request) -> ServerConfig:
    """The server configuration of this app."""
    config: ServerConfig = request.app.state.config
    return config


def get_conn(request: Request) -> Iterator[Connection]:
    """One transaction per request: committed when the handler returns, rolled back on error."""
    with transaction(request.app.state.engine) as conn:
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


def current_user(
    conn: ConnDep, now: NowDep, authorization: Annotated[str | None, Header()] = None
) -> dict[str, Any]:
    """The user behind `Authorization: Bearer <api token>` (401 otherwise)."""
    scheme, _, token = (authorization or "").partition(" ")
    if scheme.lower() != "bearer" or not token:
        raise AuthError("missing API token (Authorization: Bearer <token>)")
    user = repo.user_by_token(conn, tokens.digest(token.strip()), now)
    if user is None:
        raise AuthError("unknown API token")
    return user


AgentDep = Annotated[str, Depends(current_agent)]
UserDep = Annotated[dict[str, Any], Depends(current_user)]
