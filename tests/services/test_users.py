"""Users, roles and API tokens on the fake, SQLite and PostgreSQL: default roles, the last
owner, token expiry, listing and revocation, and the role checks of every write use case."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest

from patchwarden.services.actions import run_action
from patchwarden.services.errors import AuthError, Conflict, Forbidden, InvalidRequest, NotFound
from patchwarden.services.ports import Role, User
from patchwarden.services.scheduler import tick_now
from patchwarden.services.settings import get_settings, update_settings
from patchwarden.services.users import (
    add_user,
    authenticate_user,
    issue_api_token,
    list_api_tokens,
    list_users,
    remove_user,
    revoke_api_token,
    set_role,
)
from tests.services.conftest import World

DAY = timedelta(days=1)


def login(world: World, secret: str) -> User:
    return authenticate_user(world.uow, world.clock, f"Bearer {secret}", write_request=False)


def test_the_first_user_is_the_owner_and_later_ones_viewers_unless_told(world: World) -> None:
    alice = add_user(world.uow, world.clock, "alice")
    bob = add_user(world.uow, world.clock, "bob")
    carol = add_user(world.uow, world.clock, "carol", Role.ADMIN)
    dave = issue_api_token(world.uow, world.clock, "dave")  # a token for a new user
    assert (alice.role, bob.role, carol.role) == (Role.OWNER, Role.VIEWER, Role.ADMIN)
    assert (dave.new_user, dave.user.role) == (True, Role.VIEWER)
    assert [(u.name, u.role) for u in list_users(world.uow)] == [
        ("alice", Role.OWNER), ("bob", Role.VIEWER), ("carol", Role.ADMIN), ("dave", Role.VIEWER)
    ]  # fmt: skip
    with pytest.raises(Conflict, match="user 'bob' already exists"):
        add_user(world.uow, world.clock, "bob", Role.OWNER)
    with pytest.raises(InvalidRequest, match="a user name is 1 to 200 printable characters"):
        add_user(world.uow, world.clock, "  ")


def test_the_last_owner_can_be_neither_demoted_nor_removed(world: World) -> None:
    add_user(world.uow, world.clock, "alice")
    add_user(world.uow, world.clock, "bob", Role.ADMIN)
    with pytest.raises(Conflict, match="cannot make 'alice' a viewer: it is the last owner"):
        set_role(world.uow, "alice", Role.VIEWER)
    with pytest.raises(Conflict, match="cannot remove 'alice': it is the last owner"):
        remove_user(world.uow, "alice")
    with pytest.raises(NotFound, match="no user 'zoe'"):
        set_role(world.uow, "zoe", Role.ADMIN)
    assert set_role(world.uow, "bob", Role.OWNER).role is Role.OWNER
    assert set_role(world.uow, "alice", Role.VIEWER).role is Role.VIEWER
    remove_user(world.uow, "alice")
    assert [(u.name, u.role) for u in list_users(world.uow)] == [("bob", Role.OWNER)]


def test_tokens_expire_list_without_secrets_and_revoke(world: World) -> None:
    short = issue_api_token(world.uow, world.clock, "alice", expires_in=30 * DAY)
    forever = issue_api_token(world.uow, world.clock, "alice", expires_in=None)
    assert short.expires_at == world.clock.now() + 30 * DAY and forever.expires_at is None
    assert login(world, short.secret).name == "alice"
    listed = list_api_tokens(world.uow)
    assert [(t.id, t.user, t.expires_at) for t in listed] == [
        (short.token_id, "alice", short.expires_at), (forever.token_id, "alice", None)
    ]  # fmt: skip
    assert listed[0].last_used_at == world.clock.now() and listed[1].last_used_at is None
    assert short.secret not in repr(listed)
    world.clock.advance(30 * DAY)
    with pytest.raises(AuthError, match="API token expired"):
        login(world, short.secret)
    assert login(world, forever.secret).name == "alice"
    revoke_api_token(world.uow, forever.token_id)
    with pytest.raises(AuthError, match="unknown API token"):
        login(world, forever.secret)
    with pytest.raises(NotFound, match=f"no API token {forever.token_id}"):
        revoke_api_token(world.uow, forever.token_id)
    with pytest.raises(InvalidRequest, match="1 to 3650 days"):
        issue_api_token(world.uow, world.clock, "alice", expires_in=timedelta(days=4000))


def test_removing_a_user_removes_their_tokens(world: World) -> None:
    add_user(world.uow, world.clock, "alice")
    bob = issue_api_token(world.uow, world.clock, "bob")
    remove_user(world.uow, "bob")
    with pytest.raises(AuthError, match="unknown API token"):
        login(world, bob.secret)
    assert list_api_tokens(world.uow) == []


def test_viewers_may_read_but_not_act_change_settings_or_run_maintenance(world: World) -> None:
    add_user(world.uow, world.clock, "alice")
    add_user(world.uow, world.clock, "adam", Role.ADMIN)
    viewer = login(world, issue_api_token(world.uow, world.clock, "vera").secret)
    admin = login(world, issue_api_token(world.uow, world.clock, "adam").secret)
    assert (viewer.role, admin.role) == (Role.VIEWER, Role.ADMIN)
    agent = world.enrol()
    needs = re.escape("needs the admin or owner role (you are viewer)")
    # Operators may act on records, not change settings or run maintenance.
    acts = re.escape("needs the admin or operator or owner role (you are viewer)")
    for action, kwargs in [
        ("scan", {"host_ids": "all"}),
        ("verify", {"record_ids": [1]}),
        ("ignore", {"record_ids": [1], "reason": "r"}),
        ("unignore", {"record_ids": [1], "reason": "r"}),
    ]:
        with pytest.raises(Forbidden, match=f"^{action} {acts}"):
            run_action(world.uow, world.clock, viewer, action, **kwargs)  # type: ignore[arg-type]
    with pytest.raises(Forbidden, match=f"changing settings {needs}"):
        update_settings(world.uow, viewer, {"scan_levels": ["critical"]})
    with pytest.raises(Forbidden, match=f"running maintenance {needs}"):
        tick_now(world.uow, world.clock, viewer, "replica", timedelta(minutes=1))
    with world.uow.read():
        assert world.uow.jobs.pending_for(agent.host_id) == []
    assert get_settings(world.uow).scan_levels != ["critical"]
    # The same requests as an admin go through.
    run_action(world.uow, world.clock, admin, "scan", host_ids="all")
    assert update_settings(world.uow, admin, {"scan_levels": ["critical"]}).scan_levels == [
        "critical"
    ]
    assert tick_now(world.uow, world.clock, admin, "replica", timedelta(minutes=1)).ran
