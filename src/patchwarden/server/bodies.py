"""The one way a route takes a JSON body: streamed within limits, then parsed and validated.

A route awaits one of these after its user or agent dependency has run, so credentials are
always checked before a byte of body is read. The body is consumed as it arrives
(`admission.BodyReader` refuses it as soon as it passes a limit, chunked or not, inflated or
not); parsing runs in the thread pool. What the reader, the parser or validation refuses is a
4xx naming the problem, never a 5xx.

Routes declare no FastAPI body parameter (FastAPI would read the body before solving the
dependencies), so each documents its body with `openapi_body()`.
"""

from __future__ import annotations

from typing import Any, TypeVar

from fastapi import Request
from fastapi.exceptions import RequestValidationError
from pydantic import TypeAdapter, ValidationError
from starlette.concurrency import run_in_threadpool
from starlette.requests import ClientDisconnect

from patchwarden.services import admission
from patchwarden.services.admission import Body, BodyLimits
from patchwarden.services.errors import MalformedRequest

T = TypeVar("T")


async def read_body(request: Request, limits: BodyLimits) -> Body:
    """The request's body, read chunk by chunk within `limits`."""
    reader = admission.BodyReader(
        limits,
        request.headers.get("content-encoding", ""),
        request.headers.get("content-length"),
    )
    try:
        async for chunk in request.stream():
            reader.feed(chunk)
    except ClientDisconnect:
        # Nobody is left to read the answer; it only keeps this out of the server errors.
        raise MalformedRequest(f"{limits.what}: the client left before sending it") from None
    return reader.finish()


async def read_object(request: Request, limits: BodyLimits) -> tuple[dict[str, Any], Body]:
    """The request's body as a JSON object (and the body as read)."""
    body = await read_body(request, limits)
    return await run_in_threadpool(admission.parse_object, body.data, limits), body


async def read_model(request: Request, adapter: TypeAdapter[T], limits: BodyLimits) -> T:
    """The request's JSON body validated as `adapter`'s type.

    A validation failure answers exactly as FastAPI's own body validation does (422, one
    entry per error, located under `body`).
    """
    body = await read_body(request, limits)
    document = await run_in_threadpool(admission.parse_json, body.data, limits)
    try:
        return adapter.validate_python(document, from_attributes=True)
    except ValidationError as exc:
        errors = [{**e, "loc": ("body", *e["loc"])} for e in exc.errors(include_url=False)]
        raise RequestValidationError(errors, body=document) from None


def openapi_body(schema: dict[str, Any], description: str = "") -> dict[str, Any]:
    """`openapi_extra` documenting a required JSON request body of `schema` (inlined)."""
    content: dict[str, Any] = {"application/json": {"schema": inline_refs(schema)}}
    body: dict[str, Any] = {"required": True, "content": content}
    if description:
        body["description"] = description
    return {"requestBody": body}


def inline_refs(schema: dict[str, Any]) -> dict[str, Any]:
    """`schema` with its local `$defs` references replaced by the definitions themselves
    (an operation's request body cannot point into its own `$defs`)."""
    defs: dict[str, Any] = {}

    def collect(node: Any) -> None:
        if isinstance(node, dict):
            defs.update(node.get("$defs", {}))
            for value in node.values():
                collect(value)
        elif isinstance(node, list):
            for value in node:
                collect(value)

    collect(schema)

    def resolve(node: Any) -> Any:
        if isinstance(node, dict):
            ref = node.get("$ref", "")
            if ref.startswith("#/$defs/"):
                return resolve(defs[ref.removeprefix("#/$defs/")])
            return {k: resolve(v) for k, v in node.items() if k != "$defs"}
        if isinstance(node, list):
            return [resolve(v) for v in node]
        return node

    resolved: dict[str, Any] = resolve(schema)
    return resolved
