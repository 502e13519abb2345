"""Errors the use cases raise; the HTTP layer maps each to a status code."""

from __future__ import annotations

from patchwarden.core.errors import PatchwardenError


class AuthError(PatchwardenError):
    """Missing or wrong credentials (HTTP 401)."""


class Refused(PatchwardenError):
    """A request the console refuses as it stands; `status` is the HTTP code to answer."""

    def __init__(self, message: str, status: int = 409) -> None:
        super().__init__(message)
        self.status = status
