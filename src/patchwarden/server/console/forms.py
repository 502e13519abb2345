"""The web console's forms (POST): CSRF first, then the signed-in user, then one service call,
then a redirect (303) to the page to show, with a message saying what happened.

Refusals that a person fixes in the form (a bad value, a name taken) come back as that
message; refusals of the request itself (no CSRF token, a permission the user lacks) are
answered with their status code (403 …) as an HTML page.
"""

from __future__ import annotations

from typing import Annotated, Any, Union

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from patchwarden.core.errors import InputError
from patchwarden.server.console.web import (
    PageRoute,
    Visitor,
    first,
    local_path,
    read_form,
    redirect,
    render,
    visitor,
)
from patchwarden.server.params import PathId
from patchwarden.services import actions, pages, sessions, users
from patchwarden.services.errors import (
    AuthError,
    Conflict,
    InvalidRequest,
    NotFound,
    TooManyRequests,
)
from patchwarden.services.ports import User
from patchwarden.services.remediation import RemediationBatch
from patchwarden.services.settings import update_settings
from patchwarden.services.throttle import Subject, SubjectKind

router = APIRouter(route_class=PageRoute, include_in_schema=False)

Anyone = Annotated[Visitor, Depends(visitor)]
MAX_IDS = 10_000


def _user(v: Visitor) -> User:
    """The signed-in user of a form post (CSRF was checked first); AuthError otherwise."""
    if v.user is None:
        raise AuthError("sign in first: your console session ended")
    return v.user


@router.post("/login")
async def login(request: Request, v: Anyone) -> Response:
    """Sign in with user name and password; repeated failures lock the address and the name
    out for a while (the REST API's failed-authentication throttle)."""
    form = await read_form(request, v)
    name = first(form, "username").strip()
    password = first(form, "password")
    target = local_path(first(form, "next", "/"))
    state = request.app.state
    throttle = state.throttle
    subjects = (
        Subject(SubjectKind.ADDRESS, f"console:{throttle.client(request)}"),
        Subject(SubjectKind.CREDENTIAL, f"console:{name.lower()[:200]}"),
    )
    try:
        if throttle.enabled:
            throttle.counter.check(subjects, throttle.now())
        user, hashed = await run_in_threadpool(users.login, state.new_uow(), name, password)
    except TooManyRequests as exc:
        response = render(request, v, "login.html", code=429, next=target, error=str(exc))
        response.headers["retry-after"] = str(exc.retry_after)
        return response
    except AuthError as exc:
        if throttle.enabled:
            throttle.counter.failed(subjects, throttle.now())
        return render(request, v, "login.html", code=401, next=target, error=str(exc), name=name)
    v.sign_in(user, sessions.binding_of(v.secret, hashed), state.config.clock.now())
    return redirect(v, target)


@router.post("/logout")
async def logout(request: Request, v: Anyone) -> Response:
    """End the session."""
    await read_form(request, v)
    v.sign_out(request.app.state.config.clock.now())
    v.say("signed out")
    return redirect(v, "/login")


def _summary(
    result: Union[actions.RecordBatch, actions.ScanBatch, RemediationBatch],
) -> tuple[str, bool]:
    """A sentence about a batch's outcome, and whether anything was refused."""
    if isinstance(result, actions.ScanBatch):
        return f"scan: {len(result.items)} queued", False
    if isinstance(result, actions.RecordBatch):
        done, refused = result.ok, result.refused
        reasons = [i.reason for i in result.items if not i.ok and i.reason]
    else:
        done, refused = result.queued, result.refused
        reasons = [i.reason or "" for i in result.items if i.status == "refused"]
    text = f"{result.action}: {done} done" if done or not refused else f"{result.action}: refused"
    if refused:
        text += f", {refused} refused ({reasons[0] if reasons else 'see the record'})"
    return text, refused > 0


async def _act(request: Request, v: Visitor, form: dict[str, list[str]], ids: list[int]) -> bool:
    state = request.app.state
    result = await run_in_threadpool(
        actions.run_action,
        state.new_uow(),
        state.config.clock,
        _user(v),
        first(form, "action"),
        ids,
        (),
        first(form, "reason"),
    )
    text, refused = _summary(result)
    v.say(text, error=refused)
    return not refused


@router.post("/records/{record_id}/actions")
async def record_action(request: Request, record_id: PathId, v: Anyone) -> Response:
    """An action on one record (fields `action`, `reason`, `csrf_token`)."""
    form = await read_form(request, v)
    await _act(request, v, form, [record_id])
    return redirect(v, f"/records/{record_id}")


@router.post("/records/actions")
async def batch_action(request: Request, v: Anyone) -> Response:
    """An action on the records selected in the list (fields `record_id` …, `action`,
    `reason`, `next`)."""
    form = await read_form(request, v)
    _user(v)
    raw = form.get("record_id", [])
    if not raw:
        raise InvalidRequest("select at least one record")
    if len(raw) > MAX_IDS:
        raise InvalidRequest(f"at most {MAX_IDS} records at once")
    try:
        ids = [int(x) for x in raw]
    except ValueError:
        raise InvalidRequest("record_id must be record ids (numbers)") from None
    await _act(request, v, form, ids)
    return redirect(v, local_path(first(form, "next", "/vulnerabilities"), "/vulnerabilities"))


def _number(form: dict[str, list[str]], name: str, kind: type = float) -> Any:
    raw = first(form, name).strip()
    try:
        return kind(raw)
    except ValueError:
        raise InvalidRequest(f"{name} must be a number (got {raw!r})") from None


def settings_patch(form: dict[str, list[str]]) -> dict[str, Any]:
    """The settings a settings form sets (fields it does not hold are kept)."""
    patch: dict[str, Any] = {}
    for field in ("scan_cycle_hours", "offline_ttl_days"):
        values = {
            key.split(".", 1)[1]: _number(form, key) for key in form if key.startswith(field + ".")
        }
        if values:
            patch[field] = values
    for field in ("clear_after_days", "retention_days", "agent_offline_after_seconds"):
        if field in form:
            patch[field] = _number(form, field)
    if "feed_sync_hours" in form:
        patch["feed_sync_hours"] = _number(form, "feed_sync_hours")
    for field in ("snapshot_expiry_days", "agent_memory_cap_mb"):
        if field in form:
            patch[field] = _number(form, field, int)
    if "plan" in form:
        patch["plan"] = first(form, "plan")
    # Checkbox lists: the form says it holds them, so none ticked means an empty list.
    for field in form.get("lists", []):
        if field in ("scan_levels", "feed_sources"):
            patch[field] = form.get(field, [])
    return patch


@router.post("/settings")
async def settings(request: Request, v: Anyone) -> Response:
    """Change settings (the settings permission)."""
    form = await read_form(request, v)
    user = _user(v)
    try:
        await run_in_threadpool(
            update_settings, request.app.state.new_uow(), user, settings_patch(form)
        )
    except (InputError, InvalidRequest) as exc:
        v.say(str(exc), error=True)
    else:
        v.say("settings saved")
    return redirect(v, "/settings")


@router.post("/users")
async def manage_users(request: Request, v: Anyone) -> Response:
    """Add a user, change their role and permissions or password, remove them (the users
    permission)."""
    form = await read_form(request, v)
    user = _user(v)
    state = request.app.state
    try:
        text = await run_in_threadpool(
            pages.manage_user,
            state.new_uow(),
            state.config.clock,
            user,
            first(form, "operation"),
            first(form, "name"),
            first(form, "role"),
            form.get("permission", []),
            first(form, "password"),
        )
    except (InvalidRequest, Conflict, NotFound) as exc:
        v.say(str(exc), error=True)
    else:
        v.say(text)
    return redirect(v, "/users")
