"""Web console sessions and CSRF tokens: signed, stateless, bound to the password.

A session is a small signed value (HMAC-SHA256 with the console's own secret, kept in its data
dir) that the browser holds in a cookie: a random nonce, the user name (empty before login),
a fingerprint of the user's password hash, and when it was issued. Nothing is stored per
session: a new password ends every session of that user (the fingerprint no longer matches),
a session older than `SESSION_HOURS` is refused, and logging out replaces the cookie.

The CSRF token of a form is an HMAC of the session's nonce: a page from this console can put
it into its forms, another site cannot read it; a new nonce at login makes tokens seen before
useless (no session fixation).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import secrets
from dataclasses import dataclass
from datetime import datetime
from typing import Optional

from patchwarden.services.errors import Forbidden
from patchwarden.services.ports import UnitOfWork, User

SESSION_HOURS = 12
"""A console session lasts this long after login."""
MAX_COOKIE = 1024
"""Longer cookie values are not even decoded."""


@dataclass(frozen=True)
class Session:
    """What a session cookie says, once its signature is checked."""

    nonce: str
    user: str
    """The signed-in user's name ("" before login)."""
    binding: str
    """A fingerprint of the user's password hash when the session began."""
    issued: int
    """Seconds since the epoch."""

    @property
    def signed_in(self) -> bool:
        """True once a user logged in."""
        return bool(self.user)


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _mac(secret: bytes, purpose: str, data: str) -> bytes:
    return hmac.new(secret, f"{purpose}|{data}".encode(), hashlib.sha256).digest()


def new_session(now: datetime, user: str = "", binding: str = "") -> Session:
    """A fresh session (anonymous unless `user` is given) with a new random nonce."""
    return Session(secrets.token_urlsafe(18), user, binding, int(now.timestamp()))


def binding_of(secret: bytes, password_hash: str) -> str:
    """The fingerprint of a password hash a session is bound to."""
    return _b64(_mac(secret, "password", password_hash))[:22]


def encode(secret: bytes, session: Session) -> str:
    """The signed cookie value of `session`."""
    payload = _b64(
        json.dumps(
            [session.nonce, session.user, session.binding, session.issued],
            separators=(",", ":"),
        ).encode()
    )
    return f"{payload}.{_b64(_mac(secret, 'session', payload))}"


def decode(secret: bytes, value: str, now: datetime) -> Optional[Session]:
    """The session a cookie value holds; None when it is forged, malformed or too old."""
    if not value or len(value) > MAX_COOKIE or value.count(".") != 1:
        return None
    payload, signature = value.split(".")
    try:
        given = _unb64(signature)
        if not hmac.compare_digest(given, _mac(secret, "session", payload)):
            return None
        nonce, user, binding, issued = json.loads(_unb64(payload))
    except (ValueError, binascii.Error, TypeError):
        return None
    if not all(isinstance(x, str) for x in (nonce, user, binding)) or not isinstance(issued, int):
        return None
    if user and not 0 <= now.timestamp() - issued <= SESSION_HOURS * 3600:
        return None
    return Session(nonce, user, binding, issued)


def csrf_token(secret: bytes, session: Session) -> str:
    """The CSRF token the forms of `session`'s pages carry."""
    return _b64(_mac(secret, "csrf", session.nonce))


def check_csrf(secret: bytes, session: Optional[Session], token: str) -> None:
    """Forbidden unless `token` is the CSRF token of `session`."""
    if session is None or not token:
        raise Forbidden("missing CSRF token: reload the page and submit the form again")
    if not hmac.compare_digest(token.encode(), csrf_token(secret, session).encode()):
        raise Forbidden("invalid CSRF token: reload the page and submit the form again")


def session_user(uow: UnitOfWork, secret: bytes, session: Optional[Session]) -> Optional[User]:
    """The user signed in with `session`, or None (anonymous, user gone, password changed)."""
    if session is None or not session.signed_in:
        return None
    with uow.read():
        found = uow.users.password_hash(session.user)
    if found is None:
        return None
    user, hashed = found
    if not hmac.compare_digest(binding_of(secret, hashed), session.binding):
        return None
    return user
