"""Headers every response carries, and URLs refused before routing.

Browsers are told not to sniff types, frame the console, send referrers or keep API answers
in caches; a route may set its own Cache-Control or Content-Security-Policy (the docs page
and its assets do, the web console's pages use `PAGE_POLICY`). A NUL character in the URL is
refused here: PostgreSQL cannot store or compare text holding one, so it must never reach a
query.
"""

from __future__ import annotations

import json

from starlette.types import ASGIApp, Message, Receive, Scope, Send

SECURITY_HEADERS: tuple[tuple[bytes, bytes], ...] = (
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"content-security-policy", b"default-src 'none'; frame-ancestors 'none'"),
    (b"referrer-policy", b"no-referrer"),
    (b"cache-control", b"no-store"),
)


PAGE_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'; "
    "object-src 'none'"
)
"""The Content-Security-Policy of the web console's pages (server/console): the package's
own CSS and JavaScript only, no inline script or style, forms posting to the console only."""


class SecureHeaders:
    """ASGI middleware adding `SECURITY_HEADERS` (unless the response set that header)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_secured(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                present = {name.lower() for name, _ in headers}
                headers += [h for h in SECURITY_HEADERS if h[0] not in present]
                message = {**message, "headers": headers}
            await send(message)

        if "\x00" in scope["path"] or b"%00" in scope.get("query_string", b""):
            await _refuse_nul(send_secured)
            return
        await self.app(scope, receive, send_secured)


async def _refuse_nul(send: Send) -> None:
    body = json.dumps({"detail": "the URL contains a NUL character (%00)"}).encode()
    await send(
        {
            "type": "http.response.start",
            "status": 400,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})
