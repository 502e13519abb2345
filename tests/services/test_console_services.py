"""The web console's services (issue 11) on the fake, SQLite and PostgreSQL: passwords and
logins, per-user permissions (R-P1), signed sessions bound to the password, CSRF tokens, the
overview with its trend, the audit log, the grouped and tagged list, the record page's
actions, user management."""

from __future__ import annotations

from dataclasses import replace
from datetime import date, datetime, timedelta, timezone

import pytest

from patchwarden.services import audit, overview, pages, sessions
from patchwarden.services.actions import run_action
from patchwarden.services.errors import AuthError, Conflict, Forbidden, InvalidRequest
from patchwarden.services.ports import Permission, Role, User
from patchwarden.services.users import (
    add_user,
    list_users,
    login,
    parse_permissions,
    require,
    set_password,
    set_role,
)
from tests.services.conftest import World, debian_host

SECRET = b"k" * 64
PASSWORD = "correct horse battery"


def test_password_login_and_per_user_permissions(world: World) -> None:
    owner = add_user(world.uow, world.clock, "olga", Role.OWNER, password=PASSWORD)
    sam = add_user(
        world.uow, world.clock, "sam", Role.VIEWER, parse_permissions(["verify", "IGNORE"])
    )
    assert sam.permissions == {Permission.VERIFY, Permission.IGNORE}
    assert sam.can(Permission.VERIFY) and sam.can(Permission.VIEW)
    assert not sam.can(Permission.FIX)
    with pytest.raises(Forbidden, match="fix needs the"):
        require(sam, Permission.FIX, "fix")
    user, hashed = login(world.uow, "olga", PASSWORD)
    assert user == owner and hashed.startswith("$argon2id$") and PASSWORD not in hashed
    for name, password in (("olga", "wrong password"), ("nobody", PASSWORD), ("sam", PASSWORD)):
        with pytest.raises(AuthError, match="^wrong user name or password$"):
            login(world.uow, name, password)  # sam has no password: API tokens only
    with pytest.raises(InvalidRequest, match="10 to 1024 characters"):
        set_password(world.uow, world.clock, "sam", "short")
    with pytest.raises(InvalidRequest, match="unknown permission 'fly'"):
        parse_permissions(["fly"])
    set_password(world.uow, world.clock, "sam", "a long enough one")
    assert login(world.uow, "sam", "a long enough one")[0].permissions == sam.permissions
    # A new role keeps the granted permissions; listing shows them.
    assert set_role(world.uow, "sam", Role.OPERATOR).permissions == sam.permissions
    listed = {u.name: u for u in list_users(world.uow)}
    assert listed["sam"].role is Role.OPERATOR and listed["sam"].permissions == sam.permissions


def test_sessions_are_signed_expire_and_end_with_a_new_password(world: World) -> None:
    add_user(world.uow, world.clock, "olga", Role.OWNER, password=PASSWORD)
    user, hashed = login(world.uow, "olga", PASSWORD)
    now = world.clock.now()
    session = sessions.new_session(now, user.name, sessions.binding_of(SECRET, hashed))
    cookie = sessions.encode(SECRET, session)
    assert sessions.decode(SECRET, cookie, now) == session
    assert sessions.session_user(world.uow, SECRET, session) == user
    # Forged, tampered, signed with another key, too old: no session.
    payload, sig = cookie.split(".")
    assert sessions.decode(SECRET, payload + "." + sig[::-1], now) is None
    assert sessions.decode(b"x" * 64, cookie, now) is None
    assert sessions.decode(SECRET, "garbage", now) is None
    later = now + timedelta(hours=sessions.SESSION_HOURS, seconds=1)
    assert sessions.decode(SECRET, cookie, later) is None
    # CSRF: the session's token passes, anything else is Forbidden.
    sessions.check_csrf(SECRET, session, sessions.csrf_token(SECRET, session))
    other = sessions.new_session(now, user.name, session.binding)
    for token in ("", sessions.csrf_token(SECRET, other)):
        with pytest.raises(Forbidden, match="CSRF token"):
            sessions.check_csrf(SECRET, session, token)
    # A new password ends the session.
    set_password(world.uow, world.clock, "olga", "another long password")
    assert sessions.session_user(world.uow, SECRET, session) is None


def test_overview_audit_grouped_list_and_record_page(world: World) -> None:
    agent = world.enrol()
    world.upload(agent, debian_host())
    admin = User(1, "alice", Role.ADMIN)
    viewer = User(2, "vera", Role.VIEWER)
    found = overview.overview(world.uow, world.clock, [])
    assert found.open_records == 2 and found.type_totals["linux"] == 2
    assert found.hosts == found.online == 1 and found.eol == 0
    assert found.trend[-1].open == 2 and found.trend[0].open == 0
    assert len(found.trend) == overview.TREND_DAYS
    listing = pages.record_list(world.uow)
    assert listing.total == 2 and not listing.grouped
    assert all("Confidence: high" in row.tags for row in listing.rows)
    grouped = pages.record_list(world.uow, grouped=True, severity="high")
    assert [(g.vuln_id, g.hosts) for g in grouped.groups] == [("CVE-2024-0727", 1)]
    with pytest.raises(InvalidRequest, match="invalid severity 'hgih'"):
        pages.record_list(world.uow, severity="hgih")
    target = listing.rows[0].record.id
    page = pages.record_page(world.uow, world.clock, viewer, target)
    assert list(page.actions)[:6] == list(pages.ACTION_ORDER)
    assert not page.actions["fix"].allowed and page.actions["fix"].code == "forbidden"
    assert not page.actions["unignore"].allowed
    run_action(world.uow, world.clock, admin, "ignore", [target], reason="isolated box")
    assert pages.record_page(world.uow, world.clock, admin, target).actions["unignore"].allowed
    log = audit.audit_log(world.uow)
    assert log.total == 3  # two detections, one ignore
    newest = log.items[0]
    assert (newest.actor, newest.to_state, newest.reason) == ("alice", "ignored", "isolated box")
    assert (newest.record_id, newest.hostname) == (target, "deb12")
    assert audit.audit_log(world.uow, actor="alice").total == 1
    after = overview.overview(world.uow, world.clock, [])
    assert after.open_records == 1 and after.trend[-1].open == 1


def test_user_management_needs_the_users_permission(world: World) -> None:
    owner = add_user(world.uow, world.clock, "olga", Role.OWNER)
    admin = replace(add_user(world.uow, world.clock, "adam", Role.ADMIN))
    with pytest.raises(Forbidden, match="managing users needs the owner role"):
        pages.manage_user(world.uow, world.clock, admin, "add", "eve", "owner")
    said = pages.manage_user(
        world.uow, world.clock, owner, "add", "sam", "viewer", ["fix"], PASSWORD
    )
    assert said == "added user sam (viewer)"
    assert login(world.uow, "sam", PASSWORD)[0].can(Permission.FIX)
    pages.manage_user(world.uow, world.clock, owner, "set", "sam", "operator", [])
    sam = {u.name: u for u in list_users(world.uow)}["sam"]
    assert sam.role is Role.OPERATOR and sam.permissions == frozenset()
    with pytest.raises(Conflict, match="already exists"):
        pages.manage_user(world.uow, world.clock, owner, "add", "sam", "viewer")
    with pytest.raises(InvalidRequest, match="cannot remove yourself"):
        pages.manage_user(world.uow, world.clock, owner, "remove", "olga")
    assert pages.manage_user(world.uow, world.clock, owner, "remove", "sam") == "removed user sam"
    shown = pages.users_page(world.uow, admin)
    assert not shown.can_manage and [u.name for u in shown.users] == ["adam", "olga"]


def test_trend_reads_only_the_shown_days() -> None:
    today = date(2026, 3, 31)
    start = overview.window_start(today, 5)
    assert start == datetime(2026, 3, 27, tzinfo=timezone.utc)
    # 10 open now; the window saw +4 on the 28th and -1 on the 31st: 7 before it.
    moves = {"2026-03-28": 4, "2026-03-31": -1}
    points = overview.trend_of(moves, 10, today, 5)
    assert [(p.day, p.open) for p in points] == [
        ("2026-03-27", 7),
        ("2026-03-28", 11),
        ("2026-03-29", 11),
        ("2026-03-30", 11),
        ("2026-03-31", 10),
    ]
