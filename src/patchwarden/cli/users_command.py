"""`patchwarden users`: console users and their roles (owner, admin, viewer).

Run on the console's host against its database, like the token commands: whoever can run them
can read the database anyway, so they need no API token.
"""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import click

from patchwarden.cli.common import data_dir_option, fail
from patchwarden.cli.console_commands import console_db, init_option

ROLES = ("owner", "admin", "viewer")
"""`services.ports.Role` values (not imported here: `--help` stays fast)."""


@click.group()
def users() -> None:
    """Console users and their roles: owner (everything), admin (all but managing users),
    viewer (read only)."""


@users.command("add")
@data_dir_option
@click.argument("name")
@click.option(
    "--role",
    type=click.Choice(ROLES),
    default=None,
    help="Role of the new user (default: owner for the first user, else viewer).",
)
@init_option
def users_add(data_dir: Path | None, name: str, role: Optional[str], init: bool) -> None:
    """Add user NAME (give them a token with `patchwarden api-token create --user NAME`)."""
    from patchwarden.services.errors import Refused
    from patchwarden.services.users import add_user, parse_role

    uow, config, engine = console_db(data_dir, init)
    try:
        user = add_user(uow, config.clock, name, parse_role(role) if role else None)
    except Refused as exc:
        fail(str(exc))
    finally:
        engine.dispose()
    click.echo(f"added user {user.name} ({user.role.value})")


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
    click.echo(f"{'NAME'.ljust(width)}  ROLE")
    for user in found:
        click.echo(f"{user.name.ljust(width)}  {user.role.value}")


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
