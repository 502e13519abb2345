"""The web console's pages (GET): parse the query, call one service, render a template."""

from __future__ import annotations

import time
from typing import Annotated, Any, Optional

from fastapi import APIRouter, Depends, Request
from fastapi.responses import FileResponse, HTMLResponse, Response

from patchwarden.core.advisory import Severity
from patchwarden.core.priority import Bucket
from patchwarden.core.records import State
from patchwarden.core.vocabulary import VulnType
from patchwarden.server.console import charts
from patchwarden.server.console.web import (
    STATIC,
    PageRoute,
    Visitor,
    local_path,
    member,
    redirect,
    render,
    signed_user,
    visitor,
)
from patchwarden.server.params import Page, PathId
from patchwarden.services import audit, catalogue, overview, pages, views
from patchwarden.services.errors import NotFound
from patchwarden.services.settings import get_settings

router = APIRouter(route_class=PageRoute, include_in_schema=False)

Member = Annotated[Visitor, Depends(member)]
Anyone = Annotated[Visitor, Depends(visitor)]

TYPE_TABS = (
    ("", "All types"),
    (VulnType.LINUX.value, "Linux software"),
    (VulnType.WINDOWS.value, "Windows system"),
    (VulnType.CMS.value, "Web-CMS"),
    (VulnType.APP.value, "Application"),
    (VulnType.EMERGENCY.value, "Emergency"),
)
TYPE_NAMES = dict(TYPE_TABS[1:])
BUCKET_NAMES = {
    Bucket.ASAP.value: "Fix now",
    Bucket.LATER.value: "Fix later",
    Bucket.CAN_WAIT.value: "Can wait",
}
OVERVIEW_SECONDS = 30.0
"""How long the overview's figures are reused."""
STATIC_TYPES = {
    ".css": "text/css; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".txt": "text/plain; charset=utf-8",
    ".svg": "image/svg+xml",
}
LABELS: dict[str, Any] = {"type_names": TYPE_NAMES, "bucket_names": BUCKET_NAMES}


@router.get("/static/{name}")
def static(name: str) -> Response:
    """The console's own CSS and JavaScript (and htmx, vendored with its licence)."""
    path = STATIC / name
    kind = STATIC_TYPES.get(path.suffix)
    if "/" in name or name.startswith(".") or kind is None or not path.is_file():
        raise NotFound(f"no console file {name!r}")
    return FileResponse(path, media_type=kind, headers={"cache-control": "max-age=3600"})


@router.get("/login")
def login_page(request: Request, v: Anyone, next: str = "/") -> Response:
    """The login form."""
    if v.user is not None:
        return redirect(v, local_path(next))
    return render(request, v, "login.html", next=local_path(next), error="")


@router.get("/")
def overview_page(request: Request, v: Member) -> HTMLResponse:
    """Counts by type and urgency, exploitable records, hosts, the trend, feed freshness.

    Kept for `OVERVIEW_SECONDS` per console process: with a million records its aggregates
    take a second or two (bench/console_pages.py), and the page says when they were taken.
    """
    state = request.app.state
    clock = state.config.clock
    cached = getattr(state, "overview_cache", None)
    if cached is not None and time.monotonic() - cached[0] < OVERVIEW_SECONDS:
        _, found, as_of = cached
    else:
        found = overview.overview(state.new_uow(), clock, state.store.feeds())
        as_of = clock.now()
        state.overview_cache = (time.monotonic(), found, as_of)
    chart = charts.trend_svg([(p.day, p.open) for p in found.trend])
    return render(
        request, v, "overview.html", o=found, chart=chart, as_of=as_of.isoformat()[:19], **LABELS
    )


@router.get("/vulnerabilities")
def vulnerabilities_page(
    request: Request,
    v: Member,
    type: Optional[str] = None,
    severity: Optional[str] = None,
    status: Optional[str] = None,
    host: Optional[str] = None,
    exploitable: Optional[bool] = None,
    bucket: Optional[str] = None,
    vuln_id: Optional[str] = None,
    view: str = "records",
    page: Page = 1,
    per_page: int = 50,
) -> HTMLResponse:
    """The vulnerability list: a tab per type, filters, the exploitable switch, records or
    advisories with affected-host counts, most urgent first."""
    found = pages.record_list(
        request.app.state.new_uow(),
        grouped=view == "advisories",
        type=type,
        severity=severity,
        status=status,
        host=host,
        exploitable=exploitable,
        bucket=bucket,
        vuln_id=vuln_id,
        page=page,
        per_page=per_page,
    )
    filters = {
        "type": type or "",
        "severity": severity or "",
        "status": status or "",
        "host": host or "",
        "exploitable": "true" if exploitable else "",
        "bucket": bucket or "",
        "vuln_id": vuln_id or "",
        "view": view if view == "advisories" else "",
    }
    return render(
        request,
        v,
        "vulnerabilities.html",
        found=found,
        filters=filters,
        tabs=TYPE_TABS,
        severities=[s.value for s in Severity],
        statuses=[s.value for s in State],
        buckets=[b.value for b in Bucket],
        **LABELS,
    )


@router.get("/records/{record_id}")
def record_page(request: Request, record_id: PathId, v: Member) -> HTMLResponse:
    """One record: what is affected, evidence, history, the actions and why any is refused."""
    state = request.app.state
    found = pages.record_page(state.new_uow(), state.config.clock, signed_user(v), record_id)
    return render(request, v, "record.html", p=found, **LABELS)


@router.get("/hosts")
def hosts_page(request: Request, v: Member) -> HTMLResponse:
    """Every host: OS, end of life, agent, last scan, open records."""
    state = request.app.state
    found = views.list_hosts(state.new_uow(), state.config.clock)
    return render(request, v, "hosts.html", hosts=found)


@router.get("/hosts/{host_id}")
def host_page(request: Request, host_id: str, v: Member, page: Page = 1) -> HTMLResponse:
    """One host: OS, agent, kernel facts, processes needing a restart, scans, its records."""
    state = request.app.state
    found = pages.host_page(state.new_uow(), state.config.clock, host_id, page)
    return render(request, v, "host.html", h=found, **LABELS)


@router.get("/catalogue")
def catalogue_page(
    request: Request, v: Member, q: str = "", page: Page = 1, per_page: int = 50
) -> HTMLResponse:
    """What the console can detect: counts per type, a searchable list (R-T7)."""
    found = catalogue.catalogue(request.app.state.new_uow(), q, page, per_page)
    return render(request, v, "catalogue.html", c=found, q=q, **LABELS)


@router.get("/settings")
def settings_page(request: Request, v: Member) -> HTMLResponse:
    """Scan cycles and levels, offline TTLs, plan, feeds and their sync status."""
    state = request.app.state
    current = get_settings(state.new_uow())
    return render(
        request,
        v,
        "settings.html",
        s=current,
        feeds=state.store.feeds(),
        form=settings_form_spec(),
        **LABELS,
    )


@router.get("/users")
def users_page(request: Request, v: Member) -> HTMLResponse:
    """Users, roles and permissions (managed by users with the users permission)."""
    found = pages.users_page(request.app.state.new_uow(), signed_user(v))
    return render(request, v, "users.html", u=found)


@router.get("/audit")
def audit_page(
    request: Request, v: Member, actor: str = "", page: Page = 1, per_page: int = 50
) -> HTMLResponse:
    """Who did what to which record, when, and why."""
    found = audit.audit_log(request.app.state.new_uow(), page, per_page, actor)
    return render(request, v, "audit.html", a=found)


def settings_form_spec() -> dict[str, object]:
    """What the settings form offers (names of the choices it lists)."""
    from patchwarden.feeds.sources import SOURCES
    from patchwarden.protocol.v1 import MAX_MEMORY_CAP_MB, MIN_MEMORY_CAP_MB
    from patchwarden.services.ports import (
        FEATURE_NAMES,
        LEVELS,
        PLAN_FEATURES,
        VULN_TYPES,
        Feature,
        Plan,
    )

    return {
        "types": VULN_TYPES,
        "levels": LEVELS,
        "plans": [p.value for p in Plan],
        "plan_features": {
            p.value: {FEATURE_NAMES[f]: f in PLAN_FEATURES[p] for f in Feature} for p in Plan
        },
        "sources": list(SOURCES),
        "memory_cap_bounds": f"0 or {MIN_MEMORY_CAP_MB} to {MAX_MEMORY_CAP_MB} MB",
    }
