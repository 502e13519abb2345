"""Errors the use cases raise: domain words only, never HTTP codes.

    PatchwardenError                    (core.errors)
    └── Refused(code, reason)           a request the console will not carry out as it stands
        ├── AuthError                   missing or wrong credentials
        ├── Forbidden                   known user or agent, but not allowed to do this
        ├── NotFound                    no such host, record, job …
        ├── Conflict                    the current state forbids it (a job already finished)
        ├── InvalidRequest              well-formed, but a value is wrong or missing
        ├── MalformedRequest            not what the protocol says (not JSON, broken gzip)
        ├── TooLarge                    a body over the size the protocol allows
        └── TooManyRequests             too many failed attempts: try again after `retry_after`

`code` is a short machine-readable word ("not_found", "agent_offline" …) for clients that
act on refusals; `reason` is the sentence shown to people. The HTTP layer maps each class to
a status code in one place (`server/app.py`); the CLI maps them to exit codes.
"""

from __future__ import annotations

from typing import ClassVar

from patchwarden.core.errors import PatchwardenError


class Refused(PatchwardenError):
    """A request the console refuses; `code` says which refusal, `reason` why."""

    default_code: ClassVar[str] = "refused"

    def __init__(self, reason: str, code: str = "") -> None:
        super().__init__(reason)
        self.reason = reason
        self.code = code or self.default_code


class AuthError(Refused):
    """Missing or wrong credentials."""

    default_code = "unauthenticated"


class Forbidden(Refused):
    """The caller is known but may not do this (role, permission)."""

    default_code = "forbidden"


class NotFound(Refused):
    """The named host, record or job does not exist (for this caller)."""

    default_code = "not_found"


class Conflict(Refused):
    """The current state forbids the request."""

    default_code = "conflict"


class InvalidRequest(Refused):
    """A parameter is missing or out of range."""

    default_code = "invalid"


class MalformedRequest(Refused):
    """A body that does not follow the protocol at all (not JSON, broken gzip)."""

    default_code = "malformed"


class TooLarge(Refused):
    """A body over the size the protocol allows."""

    default_code = "too_large"


class TooManyRequests(Refused):
    """Too many failed authentications from this client or with this credential: refused
    until `retry_after` seconds have passed."""

    default_code = "too_many_requests"

    def __init__(self, reason: str, retry_after: int, code: str = "") -> None:
        super().__init__(reason, code)
        self.retry_after = retry_after
