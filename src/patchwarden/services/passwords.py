"""Console passwords: argon2id hashes (argon2-cffi, the RFC 9106 parameters it defaults to)."""

from __future__ import annotations

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from patchwarden.services.errors import InvalidRequest

MIN_LENGTH = 10
MAX_LENGTH = 1024
"""Longer passwords are refused: hashing megabytes per login would be a cheap way to load
the console."""

_HASHER = PasswordHasher()
_DUMMY = _HASHER.hash("a password nobody has")


def check_password(password: str) -> str:
    """`password` if it is acceptable; InvalidRequest saying what is wrong otherwise."""
    if not MIN_LENGTH <= len(password) <= MAX_LENGTH:
        raise InvalidRequest(
            f"a password is {MIN_LENGTH} to {MAX_LENGTH} characters (this one has {len(password)})"
        )
    if password != password.strip():
        raise InvalidRequest("a password may not start or end with white space")
    return password


def hash_password(password: str) -> str:
    """The argon2id hash of an acceptable `password` (InvalidRequest otherwise)."""
    return _HASHER.hash(check_password(password))


def verify_password(hashed: str, password: str) -> bool:
    """Whether `password` matches the stored `hashed`."""
    if len(password) > MAX_LENGTH:
        return False
    try:
        return _HASHER.verify(hashed, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def waste_time(password: str) -> None:
    """Spend what a verification costs (for unknown users: their names stay secret)."""
    verify_password(_DUMMY, password)
