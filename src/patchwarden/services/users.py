"""Console users: roles, API tokens (expiry, listing, revocation) and the authentication and
permission checks of REST requests. Roles are defined in `services.ports.ROLE_PERMISSIONS`."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Optional

from patchwarden.core.clock import Clock
from patchwarden.services import passwords, tokens
from patchwarden.services.errors import AuthError, Conflict, Forbidden, InvalidRequest, NotFound
from patchwarden.services.ports import (
    ROLE_PERMISSIONS,
    ApiToken,
    Permission,
    Role,
    UnitOfWork,
    User,
)

TOKEN_USE_RESOLUTION = timedelta(minutes=10)
"""How stale an API token's last use may get before a read request stores a new one."""

DEFAULT_TOKEN_DAYS = 90
"""API tokens expire after this many days unless told otherwise."""
MAX_TOKEN_DAYS = 3650
MAX_NAME = 200
"""Longest user name (the column's width)."""


@dataclass(frozen=True)
class IssuedToken:
    """A new API token: the secret (shown once, only its digest is stored) and whose it is."""

    secret: str
    token_id: int
    user: User
    new_user: bool
    """The user did not exist and was created for this token."""
    expires_at: Optional[datetime]


def require(user: User, permission: Permission, doing: str) -> None:
    """Forbidden unless `user`'s role, or a permission granted to them, allows `permission`;
    `doing` names the request."""
    if user.can(permission):
        return
    roles = sorted(r.value for r, granted in ROLE_PERMISSIONS.items() if permission in granted)
    raise Forbidden(f"{doing} needs the {' or '.join(roles)} role (you are {user.role.value})")


def parse_role(value: str) -> Role:
    """A role from its name; InvalidRequest naming the known roles otherwise."""
    try:
        return Role(value)
    except ValueError:
        known = ", ".join(r.value for r in Role)
        raise InvalidRequest(f"unknown role {value!r} (known: {known})") from None


def _check_name(name: str) -> str:
    name = name.strip()
    if not name or len(name) > MAX_NAME or not name.isprintable():
        raise InvalidRequest(f"a user name is 1 to {MAX_NAME} printable characters: {name!r}")
    return name


def _default_role(uow: UnitOfWork) -> Role:
    # The first user is the owner (someone must be); later ones see only, until promoted.
    return Role.OWNER if not uow.users.all() else Role.VIEWER


def add_user(
    uow: UnitOfWork,
    clock: Clock,
    name: str,
    role: Optional[Role] = None,
    permissions: Iterable[Permission] = (),
    password: Optional[str] = None,
) -> User:
    """Create user `name` with `role` (default: owner for the first user, else viewer), the
    `permissions` granted on top of the role's, and a console `password` (None: none, the
    user works with API tokens only)."""
    name = _check_name(name)
    granted = frozenset(permissions)
    hashed = passwords.hash_password(password) if password is not None else None
    with uow:
        if uow.users.get(name) is not None:
            raise Conflict(f"user {name!r} already exists")
        now = clock.now()
        user = uow.users.add(name, role or _default_role(uow), now)
        if granted:
            uow.users.set_permissions(user.id, granted)
            user = replace(user, permissions=granted)
        if hashed is not None:
            uow.users.set_password(user.id, hashed, now)
        uow.commit()
    return user


def set_password(uow: UnitOfWork, clock: Clock, name: str, password: str) -> User:
    """Give user `name` a new console password (their open console sessions end)."""
    hashed = passwords.hash_password(password)
    with uow:
        user = _existing(uow, name)
        uow.users.set_password(user.id, hashed, clock.now())
        uow.commit()
    return user


def parse_permissions(values: Iterable[str]) -> frozenset[Permission]:
    """Permissions from their names; InvalidRequest naming the known ones otherwise."""
    found = set()
    for value in values:
        try:
            found.add(Permission(value.strip().lower()))
        except ValueError:
            known = ", ".join(p.value for p in Permission)
            raise InvalidRequest(f"unknown permission {value!r} (known: {known})") from None
    return frozenset(found)


def set_permissions(uow: UnitOfWork, name: str, permissions: Iterable[Permission]) -> User:
    """Grant user `name` exactly `permissions` on top of their role's."""
    granted = frozenset(permissions)
    with uow:
        user = _existing(uow, name)
        uow.users.set_permissions(user.id, granted)
        uow.commit()
    return replace(user, permissions=granted)


def login(uow: UnitOfWork, name: str, password: str) -> tuple[User, str]:
    """The user whose console password `password` is, and their password hash (sessions are
    bound to it); AuthError, naming neither which part was wrong, otherwise."""
    with uow.read():
        found = uow.users.password_hash(name.strip()) if name.strip() else None
    if found is None:
        passwords.waste_time(password)  # as slow as a wrong password: names stay secret
        raise AuthError("wrong user name or password")
    user, hashed = found
    if not passwords.verify_password(hashed, password):
        raise AuthError("wrong user name or password")
    return user, hashed


def list_users(uow: UnitOfWork) -> list[User]:
    """Every user, by name."""
    with uow.read():
        return uow.users.all()


def set_role(uow: UnitOfWork, name: str, role: Role) -> User:
    """Give user `name` another role; the last owner stays an owner."""
    with uow:
        user = _existing(uow, name)
        if user.role is Role.OWNER and role is not Role.OWNER:
            _keep_an_owner(uow, user, f"cannot make {name!r} a {role.value}")
        uow.users.set_role(user.id, role)
        uow.commit()
    return replace(user, role=role)


def remove_user(uow: UnitOfWork, name: str) -> User:
    """Delete user `name` and their API tokens; never the last owner."""
    with uow:
        user = _existing(uow, name)
        if user.role is Role.OWNER:
            _keep_an_owner(uow, user, f"cannot remove {name!r}")
        uow.users.remove(user.id)
        uow.commit()
    return user


def _existing(uow: UnitOfWork, name: str) -> User:
    user = uow.users.get(name.strip())
    if user is None:
        raise NotFound(f"no user {name!r}")
    return user


def _keep_an_owner(uow: UnitOfWork, user: User, what: str) -> None:
    if [o.id for o in uow.users.owners()] == [user.id]:
        raise Conflict(f"{what}: it is the last owner (make another user the owner first)")


def issue_api_token(
    uow: UnitOfWork,
    clock: Clock,
    user_name: str,
    expires_in: Optional[timedelta] = timedelta(days=DEFAULT_TOKEN_DAYS),
) -> IssuedToken:
    """A new API token for `user_name`, valid for `expires_in` (None: never expires).

    A missing user is created with the default role (owner for the first user, else viewer).
    """
    name = _check_name(user_name)
    if expires_in is not None and not timedelta(0) < expires_in <= timedelta(MAX_TOKEN_DAYS):
        raise InvalidRequest(f"a token expires in 1 to {MAX_TOKEN_DAYS} days (or never)")
    secret = tokens.new_secret(tokens.API_PREFIX)
    with uow:
        now = clock.now()
        user = uow.users.get(name)
        new_user = user is None
        if user is None:
            user = uow.users.add(name, _default_role(uow), now)
        expires_at = now + expires_in if expires_in is not None else None
        token_id = uow.users.add_api_token(user.id, tokens.digest(secret), now, expires_at)
        uow.commit()
    return IssuedToken(secret, token_id, user, new_user, expires_at)


def create_api_token(
    uow: UnitOfWork,
    clock: Clock,
    user_name: str,
    expires_in: Optional[timedelta] = timedelta(days=DEFAULT_TOKEN_DAYS),
) -> str:
    """The secret of a new API token for `user_name` (see `issue_api_token`)."""
    return issue_api_token(uow, clock, user_name, expires_in).secret


def list_api_tokens(uow: UnitOfWork) -> list[ApiToken]:
    """Every API token, oldest first (never the secrets: only digests are stored)."""
    with uow.read():
        return uow.users.tokens()


def revoke_api_token(uow: UnitOfWork, token_id: int) -> ApiToken:
    """Delete an API token: requests with it are refused from now on."""
    with uow:
        revoked = uow.users.revoke_token(token_id)
        if revoked is None:
            raise NotFound(f"no API token {token_id}")
        uow.commit()
    return revoked


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
    if owner.expires_at is not None and owner.expires_at <= now:
        raise AuthError("API token expired")
    used = owner.last_used_at
    if write_request or used is None or now - used > TOKEN_USE_RESOLUTION:
        with uow:
            uow.users.mark_token_used(owner.token_id, now)
            uow.commit()
    return owner.user
