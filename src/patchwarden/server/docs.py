"""/api/docs: Swagger UI served by the console itself, so it works on an air-gapped network.

The Swagger UI files (swagger-ui-dist, Apache-2.0) come from the pinned `fastapi-offline`
package; only the three the page loads are served. The page's one inline script is allowed
by its hash in the page's Content-Security-Policy, which lets nothing load from elsewhere.
"""

from __future__ import annotations

import base64
import hashlib
import re
from pathlib import Path
from typing import Any

import fastapi_offline
from fastapi import FastAPI
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import FileResponse, HTMLResponse

from patchwarden.protocol import v1
from patchwarden.services.errors import NotFound

DOCS = "/api/docs"
ASSETS = DOCS + "/assets"
ASSET_DIR = Path(fastapi_offline.__file__).parent / "static"
ASSET_TYPES = {
    "swagger-ui-bundle.js": "text/javascript; charset=utf-8",
    "swagger-ui.css": "text/css; charset=utf-8",
    "favicon.png": "image/png",
}
"""The files the page loads, and their media types (nosniff: browsers trust these)."""

_INLINE_SCRIPT = re.compile(r"<script>(.*?)</script>", re.DOTALL)


def docs_policy(page: str) -> str:
    """The Content-Security-Policy of the docs page: its own assets and inline script only."""
    hashes = " ".join(
        "'sha256-" + base64.b64encode(hashlib.sha256(s.encode()).digest()).decode() + "'"
        for s in _INLINE_SCRIPT.findall(page)
    )
    return (
        f"default-src 'none'; script-src 'self' {hashes}; style-src 'self' 'unsafe-inline'; "
        "img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; "
        "form-action 'none'"
    )


_BOUNDS = ("minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum")


def exact_bounds(node: Any) -> Any:
    """`node` (an OpenAPI document) with its integral bounds written as integers.

    FastAPI's OpenAPI model reads `minimum`/`maximum` as floats, which would document the
    largest id, 2^63-1, as 9.223372036854776e18 (that is 2^63, one past it).
    """
    if isinstance(node, dict):
        return {k: _integral(v) if k in _BOUNDS else exact_bounds(v) for k, v in node.items()}
    if isinstance(node, list):
        return [exact_bounds(v) for v in node]
    return node


_ID = r"(?:SPEC\s+)?R-[A-Z]{1,2}\d+(?:\s*(?:…|\.\.\.|,|/|and)\s*R-[A-Z]{1,2}\d+)*"
_CITATIONS = (
    (re.compile(rf"\s*\({_ID}\)"), ""),  # "… most urgent first (R-D11)."
    (re.compile(rf"[,;]\s*{_ID}(?=\))"), ""),  # "(a pinned default, SPEC R-F5)"
    (re.compile(rf"\({_ID}[,;:]\s*"), "("),  # "(R-F2: the fix button …)"
    (re.compile(rf"^{_ID}:\s*"), ""),  # "R-F1: application vulns get guidance"
)


def without_citations(node: Any) -> Any:
    """`node` (an OpenAPI document) with the requirement ids its descriptions cite removed.

    Descriptions are the docstrings of routes and read models, which cite the spec for those
    who maintain them; /api/docs shows them to users, who should read only what and why.
    """
    if isinstance(node, dict):
        return {
            k: _uncited(v)
            if k in ("description", "title") and isinstance(v, str)
            else without_citations(v)
            for k, v in node.items()
        }
    if isinstance(node, list):
        return [without_citations(v) for v in node]
    return node


def _uncited(text: str) -> str:
    for pattern, replacement in _CITATIONS:
        text = pattern.sub(replacement, text)
    return text


def _integral(value: Any) -> Any:
    if isinstance(value, float) and value == float(v1.MAX_ID):
        return v1.MAX_ID
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def add_docs(app: FastAPI) -> None:
    """Serve Swagger UI for `app.openapi_url` at /api/docs, with its assets; keep integer
    bounds exact in the OpenAPI document and leave requirement ids out of it."""
    openapi_url = app.openapi_url or "/openapi.json"
    default_openapi = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = without_citations(exact_bounds(default_openapi()))
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]

    @app.get(DOCS, include_in_schema=False)
    async def swagger_ui() -> HTMLResponse:
        page = get_swagger_ui_html(
            openapi_url=openapi_url,
            title=f"{app.title} - API",
            swagger_js_url=f"{ASSETS}/swagger-ui-bundle.js",
            swagger_css_url=f"{ASSETS}/swagger-ui.css",
            swagger_favicon_url=f"{ASSETS}/favicon.png",
            # No online validator badge: the console may have no way out.
            swagger_ui_parameters={"validatorUrl": None},
        )
        page.headers["Content-Security-Policy"] = docs_policy(bytes(page.body).decode())
        return page

    @app.get(ASSETS + "/{name}", include_in_schema=False)
    async def swagger_asset(name: str) -> FileResponse:
        media_type = ASSET_TYPES.get(name)
        if media_type is None:
            raise NotFound(f"no docs asset {name!r}")
        # The files change only with the pinned package: a day's caching is safe.
        return FileResponse(
            ASSET_DIR / name, media_type=media_type, headers={"Cache-Control": "max-age=86400"}
        )
