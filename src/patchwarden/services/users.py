"""Console users: API tokens and the authentication of REST requests."""

from __future__ import annotations

from datetime import timedelta

from patchwarden.core.clock import Clock
from patchwarden.services import tokens
from patchwarden.services.errors import AuthError
from patchwarden.services.ports import UnitOfWork, User

TOKEN_USE_RESOLUTION = timedelta(minutes=10)
"""How stale an API token's last use may get before a read request stores a new one."""


def create_api_token(uow: UnitOfWork, clock: Clock, user_name: str) -> str:
    """A new API token for `user_name` (created if missing; the first user is the owner).

    Printed once: only its digest is stored.
    """
    token = tokens.new_secret(tokens.API_PREFIX)
    with uow:
        now = clock.now()
        user_id = uow.users.ensure(user_name, now)
        uow.users.add_api_token(user_id, tokens.digest(token), now)
        uow.commit()
    return token


def authenticate_user(
    uow: UnitOfWork, clock: Clock, authorization: str | None, write_request: bool
) -> User:
    """The user behind `Authorization: Bearer <api token>`, or AuthError.

    The token's last use is stored by every write request, and by a read request only when
    the stored time is older than TOKEN_USE_RESOLUTION: reads then stay read transactions,
    which on SQLite neither wait for nor block the writer.
    """
    scheme, _, token = (authorization or "").partition(" ")
    if scheme.lower() != "bearer" or not token:
        raise AuthError("missing API token (Authorization: Bearer <token>)")
    with uow.read():
        owner = uow.users.by_token(tokens.digest(token.strip()))
    if owner is None:
        raise AuthError("unknown API token")
    now = clock.now()
    used = owner.last_used_at
    if write_request or used is None or now - used > TOKEN_USE_RESOLUTION:
        with uow:
            uow.users.mark_token_used(owner.token_id, now)
            uow.commit()
    return owner.user
