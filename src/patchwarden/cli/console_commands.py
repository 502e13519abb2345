"""Console commands: `server`, `db`, `enrolment-token`, `api-token`."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Optional, TypeVar

import click

from patchwarden.cli.common import data_dir_option, err_console, fail, resolve_data_dir

F = TypeVar("F", bound=Callable[..., Any])

DEFAULT_TOKEN_DAYS = 90
MAX_TOKEN_DAYS = 3650
"""As `services.users` (not imported here: `--help` stays fast)."""


@click.command()
@data_dir_option
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", type=int, default=8080, show_default=True)
@click.option("--no-scheduler", is_flag=True, help="Do not run the periodic sweeps here.")
@click.option(
    "--tick", type=float, default=30.0, show_default=True, help="Seconds between scheduler rounds."
)
@click.option(
    "--auth-failures",
    type=click.IntRange(min=0),
    default=10,
    show_default=True,
    help="Failed authentications a client address, and a credential, may make per minute "
    "before it is locked out (0: no limit).",
)
@click.option(
    "--auth-lockout-max",
    type=click.FloatRange(min=1),
    default=900.0,
    show_default=True,
    help="Longest lock-out (seconds); lock-outs start at a minute and double.",
)
@click.option(
    "--trusted-proxy",
    "trusted_proxies",
    multiple=True,
    metavar="ADDRESS[/BITS]",
    help="A reverse proxy whose X-Forwarded-For header names the client. Repeatable.",
)
def server(
    data_dir: Path | None,
    host: str,
    port: int,
    no_scheduler: bool,
    tick: float,
    auth_failures: int,
    auth_lockout_max: float,
    trusted_proxies: tuple[str, ...],
) -> None:
    """Run the console (REST API; SQLite under the data dir unless PATCHWARDEN_DATABASE_URL)."""
    import uvicorn

    from patchwarden.server.app import create_app
    from patchwarden.server.config import ServerConfig
    from patchwarden.server.throttle import TrustedProxies
    from patchwarden.services.throttle import ThrottlePolicy
    from patchwarden.storage.files import private_dir

    try:
        TrustedProxies(trusted_proxies)
    except ValueError as exc:
        fail(f"--trusted-proxy: {exc}")
    config = ServerConfig.from_env(
        resolve_data_dir(data_dir),
        host=host,
        port=port,
        scheduler=not no_scheduler,
        tick_seconds=tick,
        throttle=ThrottlePolicy(
            per_address=auth_failures,
            per_credential=auth_failures,
            max_backoff=auth_lockout_max,
        ),
        trusted_proxies=trusted_proxies,
    )
    private_dir(config.data_dir)
    err_console.print(f"patchwarden console on http://{host}:{port}/ (API /api/v1, docs /api/docs)")
    # No `server: uvicorn` banner: the console does not advertise what it runs on.
    uvicorn.run(create_app(config), host=host, port=port, log_level="warning", server_header=False)


def init_option(fn: F) -> F:
    """`--init`: create the console database when there is none yet."""
    return click.option(
        "--init",
        is_flag=True,
        help="Create a new console database if there is none (else such a command refuses).",
    )(fn)


def console_db(data_dir: Path | None, init: bool = False) -> Any:
    """A migrated console database for one-off commands: (unit of work, config, engine).

    Without `init` a database that does not exist yet is an error (exit 2) naming where it
    was looked for: a forgotten --data-dir would otherwise quietly start a second, empty
    console database whose tokens the running console knows nothing of.
    """
    from patchwarden.server.config import ServerConfig
    from patchwarden.services.index import MemoryIndex
    from patchwarden.storage.db import describe, is_initialised, make_engine
    from patchwarden.storage.files import private_dir
    from patchwarden.storage.migrate import upgrade
    from patchwarden.storage.uow import SqlUnitOfWork

    config = ServerConfig.from_env(resolve_data_dir(data_dir))
    if not init and not is_initialised(config.database_url):
        fail(
            f"no console database at {describe(config.database_url)}: give the --data-dir "
            "(or PATCHWARDEN_DATABASE_URL) of your console, or --init to create a new one there"
        )
    private_dir(config.data_dir)
    upgrade(config.database_url)
    engine = make_engine(config.database_url)
    # These commands read no advisories: an empty index stands in for the store.
    return SqlUnitOfWork(engine, MemoryIndex()), config, engine


@click.group()
def db() -> None:
    """Console database maintenance."""


@db.command("upgrade")
@data_dir_option
def db_upgrade(data_dir: Path | None) -> None:
    """Apply database migrations (the server also does this at start)."""
    _, config, engine = console_db(data_dir, init=True)
    engine.dispose()
    click.echo(f"database at head: {config.database_url.split('@')[-1]}")


@click.group("enrolment-token")
def enrolment_token() -> None:
    """One-time tokens agents enrol with."""


@enrolment_token.command("create")
@data_dir_option
@init_option
def enrolment_token_create(data_dir: Path | None, init: bool) -> None:
    """Print a new one-time enrolment token (valid 7 days)."""
    from patchwarden.services.agents import create_enrolment_token

    uow, config, engine = console_db(data_dir, init)
    token = create_enrolment_token(uow, config.clock)
    engine.dispose()
    click.echo(token)


@click.group("api-token")
def api_token() -> None:
    """API tokens of console users."""


@api_token.command("create")
@data_dir_option
@click.option(
    "--user",
    "user_name",
    required=True,
    help="User name (created if missing: the first user is the owner, later ones viewers).",
)
@click.option(
    "--expires-in",
    "days",
    type=click.IntRange(0, MAX_TOKEN_DAYS),
    default=DEFAULT_TOKEN_DAYS,
    show_default=True,
    metavar="DAYS",
    help="Days until the token expires (0: never).",
)
@init_option
def api_token_create(data_dir: Path | None, user_name: str, days: int, init: bool) -> None:
    """Print a new API token for USER (shown once: only a digest is stored)."""
    from patchwarden.services.errors import Refused
    from patchwarden.services.users import issue_api_token

    uow, config, engine = console_db(data_dir, init)
    try:
        issued = issue_api_token(
            uow, config.clock, user_name, timedelta(days=days) if days else None
        )
    except Refused as exc:
        fail(str(exc))
    finally:
        engine.dispose()
    user = issued.user
    if issued.new_user:
        err_console.print(
            f"new user {user.name} ({user.role.value}); `patchwarden users set-role` changes it"
        )
    err_console.print(
        f"API token {issued.token_id} of {user.name} ({user.role.value}), "
        f"{_expiry(issued.expires_at)}"
    )
    click.echo(issued.secret)


@api_token.command("list")
@data_dir_option
def api_token_list(data_dir: Path | None) -> None:
    """List API tokens: id, user, created, last used, expires (never the secrets)."""
    from patchwarden.services.users import list_api_tokens

    uow, config, engine = console_db(data_dir)
    try:
        listed = list_api_tokens(uow)
        now = config.clock.now()
    finally:
        engine.dispose()
    rows = [("ID", "USER", "CREATED", "LAST USED", "EXPIRES")]
    for t in listed:
        expires = _when(t.expires_at) if t.expires_at else "never"
        if t.expires_at is not None and t.expires_at <= now:
            expires += " (expired)"
        rows.append(
            (str(t.id), t.user, _when(t.created_at), _when(t.last_used_at) or "never", expires)
        )
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    for r in rows:
        click.echo("  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip())


@api_token.command("revoke")
@data_dir_option
@click.argument("token_id", metavar="ID", type=int)
def api_token_revoke(data_dir: Path | None, token_id: int) -> None:
    """Revoke API token ID (see `api-token list`): requests with it are refused from now on."""
    from patchwarden.services.errors import Refused
    from patchwarden.services.users import revoke_api_token

    uow, _, engine = console_db(data_dir)
    try:
        revoked = revoke_api_token(uow, token_id)
    except Refused as exc:
        fail(str(exc))
    finally:
        engine.dispose()
    click.echo(f"revoked API token {revoked.id} of {revoked.user}")


def _when(at: Optional[datetime]) -> str:
    return at.strftime("%Y-%m-%d %H:%M UTC") if at is not None else ""


def _expiry(at: Optional[datetime]) -> str:
    return f"expires {_when(at)}" if at is not None else "never expires"
