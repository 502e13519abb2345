"""What an error response looks like, for the OpenAPI document and the 401 challenge."""

from __future__ import annotations

from typing import Any, Union

from pydantic import BaseModel, ConfigDict

from patchwarden.protocol import v1

REASONS = {
    400: "Malformed request: not JSON, broken gzip, nested too deeply, a NUL in the URL",
    401: "Missing or wrong credentials",
    403: "Not allowed for this user",
    404: "No such host, record or job",
    409: "The current state forbids it",
    413: "Body over the size allowed",
    422: "A value is missing, of the wrong type or out of range (the detail names it)",
    429: "Too many requests: retry later",
}


class FieldError(BaseModel):
    """One validation error: where (`loc`) and what."""

    model_config = ConfigDict(extra="allow")

    loc: list[Union[str, int]]
    msg: str
    type: str


class ErrorBody(BaseModel):
    """Every error answer: a sentence, or (validation) one entry per wrong field."""

    detail: Union[str, list[FieldError]]


def error_responses(statuses: set[int]) -> dict[Union[int, str], dict[str, Any]]:
    """The `responses` of an operation that may answer with any of `statuses`."""
    out: dict[Union[int, str], dict[str, Any]] = {}
    for status in sorted(statuses | {422}):
        entry: dict[str, Any] = {"model": ErrorBody, "description": REASONS.get(status, "Error")}
        if status == 401:
            entry["headers"] = {
                "WWW-Authenticate": {
                    "description": "The scheme to authenticate with (Bearer or Agent)",
                    "schema": {"type": "string"},
                }
            }
        out[status] = entry
    return out


def challenge(path: str) -> str:
    """The WWW-Authenticate value of a 401 on `path`: the agent API wants Agent credentials,
    the REST API a bearer token."""
    if path.startswith(v1.PREFIX + "/"):
        return f'{v1.AUTH_SCHEME} realm="patchwarden agents"'
    return 'Bearer realm="patchwarden"'
