"""`patchwarden users`: console users, their roles (owner, admin, operator, viewer), the
permissions granted to them on top of their role's, and their web console passwords.

Run on the console's host against its database, like the token commands: whoever can run them
can read the database anyway, so they need no API token.
"""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import click

from patchwarden.cli.common import data_dir_option, fail
from patchwarden.cli.console_commands import console_db, init_option

ROLES = ("owner", "admin", "operator", "viewer")
"""`services.ports.Role` values (not imported here: `--help` stays fast)."""
PERMISSIONS = (
    "view", "scan", "fix", "verify", "ignore", "rollback", "snapshot", "restart", "settings",
    "maintenance", "users",
)  # fmt: skip
"""`services.ports.Permission` values."""


def _read_password() -> str:
    """The password on the first line of standard input (its line break dropped)."""
    line = click.get_text_stream("stdin").readline()
    if not line.strip():
        fail("--password-stdin: standard input holds no password (one line expected)")
    return line.rstrip("\r\n")


@click.group()
def users() -> None:
    """Console users and their roles: owner (everything), admin (all but managing users),
    operator (fix, verify, ignore, restart; no snapshots, rollbacks or settings), viewer (read
    only); `--permission` grants more on top of a role."""


@users.command("add")
@data_dir_option
@click.argument("name")
@click.option(
    "--role",
    type=click.Choice(ROLES),
    default=None,
    help="Role of the new user (default: owner for the first user, else viewer).",
)
@click.option(
    "--permission",
    "permissions",
    multiple=True,
    type=click.Choice(PERMISSIONS),
    help="A permission granted on top of the role's (repeatable).",
)
@click.option(
    "--password-stdin",
    is_flag=True,
    help="Read the user's web console password from the first line of standard input.",
)
@init_option
def users_add(
    data_dir: Path | None,
    name: str,
    role: Optional[str],
    permissions: tuple[str, ...],
    password_stdin: bool,
    init: bool,
) -> None:
    """Add user NAME (a web console login with --password-stdin; an API token with
    `patchwarden api-token create --user NAME`)."""
    from patchwarden.services.errors import Refused
    from patchwarden.services.users import add_user, parse_permissions, parse_role

    password = _read_password() if password_stdin else None
    uow, config, engine = console_db(data_dir, init)
    try:
        user = add_user(
            uow,
            config.clock,
            name,
            parse_role(role) if role else None,
            parse_permissions(permissions),
            password,
        )
    except Refused as exc:
        fail(str(exc))
    finally:
        engine.dispose()
    extra = f" + {', '.join(sorted(p.value for p in user.permissions))}" if user.permissions else ""
    login = ", web console password set" if password is not None else ""
    click.echo(f"added user {user.name} ({user.role.value}{extra}){login}")


@users.command("passwd")
@data_dir_option
@click.argument("name")
@click.option(
    "--password-stdin",
    is_flag=True,
    required=True,
    help="Read the new password from the first line of standard input.",
)
def users_passwd(data_dir: Path | None, name: str, password_stdin: bool) -> None:
    """Set user NAME's web console password (their open console sessions end)."""
    from patchwarden.services.errors import Refused
    from patchwarden.services.users import set_password

    password = _read_password()
    uow, config, engine = console_db(data_dir)
    try:
        user = set_password(uow, config.clock, name, password)
    except Refused as exc:
        fail(str(exc))
    finally:
        engine.dispose()
    click.echo(f"password of {user.name} changed")


@users.command("list")
@data_dir_option
def users_list(data_dir: Path | None) -> None:
    """List users and their roles."""
    from patchwarden.services.users import list_users

    uow, _, engine = console_db(data_dir)
    try:
        found = list_users(uow)
    finally:
        engine.dispose()
    width = max([4, *(len(u.name) for u in found)])
    # The permissions column appears once a user has permissions beyond their role's.
    extras = "  PERMISSIONS (beyond the role's)" if any(u.permissions for u in found) else ""
    click.echo(f"{'NAME'.ljust(width)}  {'ROLE'.ljust(8)}{extras}".rstrip())
    for user in found:
        extra = ", ".join(sorted(p.value for p in user.permissions))
        click.echo(f"{user.name.ljust(width)}  {user.role.value.ljust(8)}  {extra}".rstrip())


@users.command("set-role")
@data_dir_option
@click.argument("name")
@click.argument("role", type=click.Choice(ROLES))
def users_set_role(data_dir: Path | None, name: str, role: str) -> None:
    """Give user NAME another ROLE (the last owner stays an owner)."""
    from patchwarden.services.errors import Refused
    from patchwarden.services.users import parse_role, set_role

    uow, _, engine = console_db(data_dir)
    try:
        user = set_role(uow, name, parse_role(role))
    except Refused as exc:
        fail(str(exc))
    finally:
        engine.dispose()
    click.echo(f"{user.name} is now {user.role.value}")


@users.command("remove")
@data_dir_option
@click.argument("name")
def users_remove(data_dir: Path | None, name: str) -> None:
    """Remove user NAME and their API tokens (never the last owner)."""
    from patchwarden.services.errors import Refused
    from patchwarden.services.users import remove_user

    uow, _, engine = console_db(data_dir)
    try:
        user = remove_user(uow, name)
    except Refused as exc:
        fail(str(exc))
    finally:
        engine.dispose()
    click.echo(f"removed user {user.name} and their API tokens")
