"""Read services of the web console's pages that the REST API has no view for: a record with
what its user may do on it, the grouped and tagged vulnerability list, a host with its
records and jobs, the users page; and the user management the users page posts.

Every answer of "may this user do that" comes from `services.availability` (the same
evaluation a request of the action gets), every permission is checked here, server-side.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import asdict, dataclass, fields
from datetime import datetime
from typing import Any, Optional

from patchwarden.core.clock import Clock
from patchwarden.core.records import State, Trigger
from patchwarden.services import availability, views
from patchwarden.services.availability import Availability
from patchwarden.services.errors import InvalidRequest, NotFound
from patchwarden.services.ports import (
    PLAN_FEATURES,
    ROLE_PERMISSIONS,
    Feature,
    Permission,
    RecordFilter,
    Role,
    StoredRecord,
    UnitOfWork,
    User,
)
from patchwarden.services.records import OPEN_STATES
from patchwarden.services.users import (
    add_user,
    parse_permissions,
    parse_role,
    remove_user,
    require,
    set_password,
    set_permissions,
    set_role,
)

_PENDING_RESTART = {s.value for s in State if s.value.endswith("_pending_restart")}

_OPEN_VALUES = tuple(s.value for s in OPEN_STATES)

ACTION_ORDER = ("fix", "verify", "restart", "rollback", "ignore", "unignore")
"""The record page's buttons, in order."""


@dataclass(frozen=True)
class RecordPage:
    """A record with its history, its host and every action as `user` may take it now."""

    record: views.RecordDetailView
    host: Optional[views.HostView]
    actions: dict[str, Availability]
    """`ACTION_ORDER` -> allowed, or refused with code and reason."""


def _unignore(user: User, stored: StoredRecord, now: datetime) -> Availability:
    # The REST API's record detail has no unignore entry: its lifecycle and permission here.
    if not user.can(Permission.IGNORE):
        return availability.refused(
            "forbidden", f"unignore needs the ignore permission (you are {user.role.value})"
        )
    found = availability.move_refusal(stored, Trigger.UNIGNORE, now, user.name)
    return found if found is not None else availability.ALLOWED


def record_page(uow: UnitOfWork, clock: Clock, user: User, record_id: int) -> RecordPage:
    """Record `record_id` as its page shows it to `user`: the REST API's record detail (its
    `actions` evaluated by `services.availability`), plus unignore and the record's host."""
    detail = views.record_detail(uow, clock, user, record_id)
    with uow.read():
        listed = uow.records.get(record_id)
        if listed is None:
            raise NotFound(f"unknown record {record_id}")
        settings = uow.settings.get()
        host = uow.hosts.get(listed.stored.host_id)
        # This host's open records only (ix_records_host_status), not every host's count.
        _, count = uow.records.query(
            RecordFilter(statuses=_OPEN_VALUES, host=listed.stored.host_id), 1, 1
        )
    now = clock.now()
    actions = {f.name: getattr(detail.actions, f.name) for f in fields(detail.actions)}
    actions["unignore"] = _unignore(user, listed.stored, now)
    host_view = views.host_view(host, now, settings, count) if host is not None else None
    ordered = {a: actions[a] for a in ACTION_ORDER if a in actions}
    ordered.update({a: v for a, v in actions.items() if a not in ordered})
    return RecordPage(detail, host_view, ordered)


@dataclass(frozen=True)
class ListedRow:
    """A record of the list, with its tags."""

    record: views.RecordView
    tags: list[str]


@dataclass(frozen=True)
class RecordListPage:
    """One page of the vulnerability list: records, or records grouped by vulnerability."""

    rows: list[ListedRow]
    groups: list[views.VulnerabilityView]
    grouped: bool
    total: int
    page: int
    per_page: int
    app_detection: bool
    """False when the console's plan lacks application vulnerability detection."""
    one_click_fix: bool
    """False when the console's plan lacks one-click fix (R-P2)."""
    plan: str


def tags_of(rec: views.RecordView, eol_hosts: set[str]) -> list[str]:
    """The tags a record shows: restart required, exploitable, no update, EOL, confidence."""
    tags = []
    if rec.restart_required or rec.status in _PENDING_RESTART:
        tags.append("Restart required")
    if rec.exploitable:
        tags.append("Exploitable")
    if not rec.fixed_version:
        tags.append("No update available")
    if rec.host_id in eol_hosts:
        tags.append("EOL")
    tags.append(f"Confidence: {rec.confidence}")
    return tags


def record_filter(
    *,
    type: Optional[str] = None,
    severity: Optional[str] = None,
    status: Optional[str] = None,
    host: Optional[str] = None,
    exploitable: Optional[bool] = None,
    bucket: Optional[str] = None,
    vuln_id: Optional[str] = None,
) -> RecordFilter:
    """The record filter of the list's query parameters, checked as the REST API checks them."""
    statuses = views.filter_values("status", status)
    if not statuses:
        statuses = tuple(s.value for s in OPEN_STATES)
    elif statuses == ("all",):
        statuses = ()
    return RecordFilter(
        types=views.filter_values("type", type),
        severities=views.filter_values("severity", severity),
        statuses=statuses,
        host=host or "",
        exploitable=exploitable,
        buckets=views.filter_values("bucket", bucket),
        vuln_id=vuln_id or "",
    )


def record_list(
    uow: UnitOfWork,
    *,
    grouped: bool = False,
    type: Optional[str] = None,
    severity: Optional[str] = None,
    status: Optional[str] = None,
    host: Optional[str] = None,
    exploitable: Optional[bool] = None,
    bucket: Optional[str] = None,
    vuln_id: Optional[str] = None,
    page: int = 1,
    per_page: int = 50,
) -> RecordListPage:
    """A page of the vulnerability list, most urgent first (R-D10 switch, R-D11 sort)."""
    views.check_page(page, per_page)
    where = record_filter(
        type=type,
        severity=severity,
        status=status,
        host=host,
        exploitable=exploitable,
        bucket=bucket,
        vuln_id=vuln_id,
    )
    rows: list[ListedRow] = []
    groups: list[views.VulnerabilityView] = []
    with uow.read():
        settings = uow.settings.get()
        if grouped:
            found, total = uow.console.vulnerability_groups(where, page, per_page)
            groups = [
                views.VulnerabilityView(
                    g.vuln_id,
                    g.type,
                    g.hosts,
                    g.records,
                    g.severity.value,
                    g.urgency,
                    g.exploitable,
                )
                for g in found
            ]
        else:
            listed, total = uow.records.query(where, page, per_page)
            host_ids = {r.stored.host_id for r in listed}
            hosts = [uow.hosts.get(h) for h in host_ids]
            eol = {h.id for h in hosts if h is not None and h.os is not None and h.os.eol}
            for r in listed:
                view = views.record_view(r)
                rows.append(ListedRow(view, tags_of(view, eol)))
    return RecordListPage(
        rows,
        groups,
        grouped,
        total,
        page,
        per_page,
        Feature.APP_DETECTION in PLAN_FEATURES[settings.plan],
        Feature.ONE_CLICK_FIX in PLAN_FEATURES[settings.plan],
        settings.plan.value,
    )


@dataclass(frozen=True)
class HostPage:
    """A host, its pending jobs and a page of its records."""

    host: views.HostDetailView
    reboot_needed: Optional[bool]
    boot_default_pinned: Optional[bool]
    remediation: dict[str, Any]
    """The latest inventory's remediation facts ({} when its agent sent none)."""
    jobs: list[views.JobView]
    records: views.RecordPage


def host_page(uow: UnitOfWork, clock: Clock, host_id: str, page: int = 1) -> HostPage:
    """Host `host_id` with its queued jobs and its open records."""
    host = views.get_host(uow, clock, host_id)
    with uow.read():
        found = uow.hosts.get(host_id)
        pending = uow.jobs.pending_for(host_id)
    facts = found.remediation if found is not None else None
    kernel = found.kernel if found is not None else None
    pinned = facts.boot_default_pinned if facts is not None else None
    if pinned is None and kernel is not None:
        pinned = kernel.default_pinned
    jobs = [views.job(uow, j.id) for j in pending]
    records = views.list_records(uow, host=host_id, status="all", page=page, per_page=50)
    return HostPage(
        host=host,
        reboot_needed=kernel.reboot_needed if kernel is not None else None,
        boot_default_pinned=pinned,
        remediation=asdict(facts) if facts is not None else {},
        jobs=jobs,
        records=records,
    )


@dataclass(frozen=True)
class UserLine:
    """A user as the users page lists them."""

    name: str
    role: str
    granted: list[str]
    """Permissions beyond the role's."""
    effective: list[str]
    """Everything the user may do."""


@dataclass(frozen=True)
class UsersPage:
    """Every user, and whether the viewer may manage them."""

    users: list[UserLine]
    can_manage: bool
    roles: list[str]
    permissions: list[str]
    role_permissions: dict[str, list[str]]


def users_page(uow: UnitOfWork, viewer: User) -> UsersPage:
    """The users page as `viewer` sees it."""
    with uow.read():
        found = uow.users.all()
    lines = [
        UserLine(
            u.name,
            u.role.value,
            sorted(p.value for p in u.permissions),
            [p.value for p in Permission if u.can(p)],
        )
        for u in found
    ]
    return UsersPage(
        lines,
        viewer.can(Permission.USERS),
        [r.value for r in Role],
        [p.value for p in Permission],
        {r.value: [p.value for p in Permission if p in ROLE_PERMISSIONS[r]] for r in Role},
    )


USER_OPERATIONS = ("add", "set", "password", "remove")


def manage_user(
    uow: UnitOfWork,
    clock: Clock,
    actor: User,
    operation: str,
    name: str,
    role: str = "",
    permissions: Iterable[str] = (),
    password: str = "",
) -> str:
    """Carry out a users-page form as `actor` (the users permission); what was done."""
    require(actor, Permission.USERS, "managing users")
    if operation == "add":
        user = add_user(
            uow,
            clock,
            name,
            parse_role(role) if role else None,
            parse_permissions(permissions),
            password or None,
        )
        return f"added user {user.name} ({user.role.value})"
    if operation == "set":
        if role:
            set_role(uow, name, parse_role(role))
        user = set_permissions(uow, name, parse_permissions(permissions))
        return f"{user.name}: role and permissions saved"
    if operation == "password":
        set_password(uow, clock, name, password)
        return f"password of {name} changed"
    if operation == "remove":
        if name.strip() == actor.name:
            raise InvalidRequest("you cannot remove yourself")
        remove_user(uow, name)
        return f"removed user {name}"
    raise InvalidRequest(f"unknown operation {operation!r} (known: {', '.join(USER_OPERATIONS)})")
