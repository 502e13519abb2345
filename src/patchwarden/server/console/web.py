"""The web console's request plumbing: the session cookie, CSRF, forms, rendering, redirects.

A `Visitor` is built per page request from the session cookie (`services.sessions`); pages
that need a signed-in user raise `LoginRequired` (a redirect to /login). Domain errors a page
or form runs into are rendered as an HTML page with the status the REST API would answer
(`PageRoute`), not as JSON. Every form post carries the session's CSRF token, checked before
anything else is read from the form.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Callable, Coroutine, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional
from urllib.parse import parse_qs, quote, unquote

from fastapi import Request, Response
from fastapi.responses import HTMLResponse, RedirectResponse
from fastapi.routing import APIRoute
from jinja2 import Environment, FileSystemLoader, select_autoescape
from starlette.concurrency import run_in_threadpool

from patchwarden import __version__
from patchwarden.core.errors import PatchwardenError
from patchwarden.core.records import IllegalTransition
from patchwarden.server.headers import PAGE_POLICY
from patchwarden.services import sessions
from patchwarden.services.errors import MalformedRequest, TooLarge
from patchwarden.services.ports import Permission, User

SESSION_COOKIE = "pw_session"
FLASH_COOKIE = "pw_flash"
SECRET_FILE = "console-secret"
"""The key sessions and CSRF tokens are signed with, in the data dir (0600)."""
MAX_FORM = 512 * 1024
"""Form bodies up to this size are read (a batch of a few thousand record ids fits)."""

TEMPLATES = Path(__file__).parent / "templates"
STATIC = Path(__file__).parent / "static"

_env = Environment(
    loader=FileSystemLoader(TEMPLATES),
    autoescape=select_autoescape(["html"]),
    trim_blocks=True,
    lstrip_blocks=True,
)


def console_secret(data_dir: Path) -> bytes:
    """The console's signing key: read from the data dir, created (0600) on first use."""
    path = data_dir / SECRET_FILE
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        key = path.read_bytes().strip()
        if len(key) < 32:
            raise RuntimeError(f"{path}: the console secret is too short; delete it") from None
        return key
    key = secrets.token_hex(32).encode()
    with os.fdopen(fd, "wb") as f:
        f.write(key + b"\n")
    return key


class LoginRequired(Exception):
    """The page needs a signed-in user."""

    def __init__(self, path: str) -> None:
        super().__init__(path)
        self.path = path


@dataclass
class Visitor:
    """Who is asking: their session (possibly anonymous), user, CSRF token, flash message."""

    secret: bytes
    session: sessions.Session
    user: Optional[User]
    new_cookie: bool
    """The session is new: its cookie goes out with the response."""
    flash: str = ""
    flash_error: bool = False
    secure: bool = False
    """Served over TLS: cookies get the Secure flag."""
    cookies: list[tuple[str, str, int]] = field(default_factory=list)
    """Cookies to set (name, value, max-age; 0 deletes)."""

    @property
    def csrf(self) -> str:
        """The CSRF token this visitor's forms carry."""
        return sessions.csrf_token(self.secret, self.session)

    def can(self, permission: str) -> bool:
        """Whether the signed-in user has `permission` (templates grey out what they lack)."""
        return self.user is not None and self.user.can(Permission(permission))

    def sign_in(self, user: User, binding: str, now: Any) -> None:
        """Start a new session for `user` (a new nonce: tokens seen before are void)."""
        self.session = sessions.new_session(now, user.name, binding)
        self.user = user
        self.new_cookie = True

    def sign_out(self, now: Any) -> None:
        """End the session: a new anonymous one replaces it."""
        self.session = sessions.new_session(now)
        self.user = None
        self.new_cookie = True

    def say(self, message: str, error: bool = False) -> None:
        """Show `message` on the next page rendered."""
        self.cookies.append((FLASH_COOKIE, ("!" if error else "") + quote(message[:500]), 60))

    def apply(self, response: Response) -> Response:
        """Set this visitor's cookies on `response`."""
        common: dict[str, Any] = {"httponly": True, "samesite": "strict", "secure": self.secure}
        if self.new_cookie:
            value = sessions.encode(self.secret, self.session)
            age = sessions.SESSION_HOURS * 3600
            response.set_cookie(SESSION_COOKIE, value, max_age=age, path="/", **common)
        for name, value, age in self.cookies:
            if age:
                response.set_cookie(name, value, max_age=age, path="/", **common)
            else:
                response.delete_cookie(name, path="/", **common)
        return response


def _visitor(request: Request) -> Visitor:
    """The visitor of a request (reads the database: call it in a worker thread)."""
    app = request.app
    secret: bytes = app.state.console_secret
    now = app.state.config.clock.now()
    session = sessions.decode(secret, request.cookies.get(SESSION_COOKIE, ""), now)
    user = sessions.session_user(app.state.new_uow(), secret, session)
    fresh = session is None or (session.signed_in and user is None)
    if fresh:
        session = sessions.new_session(now)
    assert session is not None
    visitor = Visitor(secret, session, user, fresh, secure=request.url.scheme == "https")
    flash = request.cookies.get(FLASH_COOKIE, "")
    if flash:
        visitor.flash_error = flash.startswith("!")
        visitor.flash = unquote(flash.lstrip("!"))[:500]
        visitor.cookies.append((FLASH_COOKIE, "", 0))
    request.state.visitor = visitor
    return visitor


def visitor(request: Request) -> Visitor:
    """Dependency: the visitor (anonymous or signed in)."""
    return _visitor(request)


def member(request: Request) -> Visitor:
    """Dependency: a signed-in visitor; LoginRequired (a redirect to /login) otherwise."""
    found = _visitor(request)
    if found.user is None:
        query = request.url.query
        raise LoginRequired(request.url.path + (f"?{query}" if query else ""))
    return found


def signed_user(v: Visitor) -> User:
    """The signed-in user of a `member` visitor."""
    assert v.user is not None
    return v.user


async def read_form(request: Request, v: Visitor) -> dict[str, list[str]]:
    """The urlencoded form of a POST, once its CSRF token is checked (Forbidden otherwise)."""
    kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if kind != "application/x-www-form-urlencoded":
        raise MalformedRequest("a console form is sent as application/x-www-form-urlencoded")
    length = request.headers.get("content-length", "")
    if length.isdigit() and int(length) > MAX_FORM:
        raise TooLarge(f"a console form is at most {MAX_FORM} bytes")
    body = b""
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_FORM:
            raise TooLarge(f"a console form is at most {MAX_FORM} bytes")
    try:
        form = parse_qs(body.decode("utf-8"), keep_blank_values=True, max_num_fields=20_000)
    except (UnicodeDecodeError, ValueError):
        raise MalformedRequest("the form is not valid UTF-8 urlencoded data") from None
    sessions.check_csrf(v.secret, v.session, first(form, "csrf_token"))
    return form


def first(form: Mapping[str, list[str]], name: str, default: str = "") -> str:
    """The first value of form field `name`."""
    values = form.get(name)
    return values[0] if values else default


def local_path(target: str, fallback: str = "/") -> str:
    """`target` when it is a path on this console (never another site), else `fallback`."""
    if target.startswith("/") and not target.startswith("//") and "\\" not in target:
        return target
    return fallback


def render(
    request: Request, v: Optional[Visitor], template: str, *, code: int = 200, **data: Any
) -> HTMLResponse:
    """The HTML page `template` with `data`, the visitor's cookies and the page policy."""
    body = _env.get_template(template).render(
        v=v, path=request.url.path, version=__version__, **data
    )
    response = HTMLResponse(body, status_code=code)
    response.headers["content-security-policy"] = PAGE_POLICY
    if v is not None:
        v.apply(response)
    return response


def redirect(v: Visitor, target: str) -> Response:
    """A 303 to `target` (a local path) with the visitor's cookies."""
    return v.apply(RedirectResponse(local_path(target), status_code=303))


def error_page(request: Request, exc: PatchwardenError, status: int) -> HTMLResponse:
    """A domain error as an HTML page."""
    detail = exc.why if isinstance(exc, IllegalTransition) else str(exc)
    v: Optional[Visitor] = getattr(request.state, "visitor", None)
    return render(request, v, "error.html", code=status, status=status, detail=detail)


class PageRoute(APIRoute):
    """A console route: domain errors become HTML pages, a missing login a redirect."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def page_handler(request: Request) -> Response:
            try:
                return await handler(request)
            except LoginRequired as exc:
                target = "/login" if exc.path in ("/", "") else f"/login?next={quote(exc.path)}"
                return RedirectResponse(target, status_code=303)
            except PatchwardenError as exc:
                # The app's one status table (`app.status_of`, handed over by `add_console`).
                status = request.app.state.status_of(exc)
                return await run_in_threadpool(error_page, request, exc, status)

        return page_handler
