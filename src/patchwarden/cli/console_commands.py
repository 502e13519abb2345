"""Console commands: `server`, `db`, `enrolment-token`, `api-token`."""

from __future__ import annotations

import errno
import socket
import sys
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
@click.option("--port", type=click.IntRange(1, 65535), default=8080, show_default=True)
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
@click.option(
    "--tls-cert",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    metavar="FILE",
    help="Serve HTTPS with this PEM certificate (chain); needs --tls-key.",
)
@click.option(
    "--tls-key",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    metavar="FILE",
    help="The PEM private key (unencrypted) of --tls-cert.",
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
    tls_cert: Path | None,
    tls_key: Path | None,
) -> None:
    """Run the console (REST API; SQLite under the data dir unless PATCHWARDEN_DATABASE_URL).

    Exits 2 on bad input (an address already in use, TLS files that do not load) and 3 when
    the console cannot start (its database cannot be reached or migrated).
    """
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
    if (tls_cert is None) != (tls_key is None):
        fail("--tls-cert and --tls-key go together: give both to serve HTTPS, or neither")
    if tls_cert is not None and tls_key is not None:
        check_tls_files(tls_cert, tls_key)
    # Bound here and handed to uvicorn: a port in use is a clear message and exit 2, and
    # nothing can take the port between this check and the server starting on it.
    sock = listen_socket(host, port)
    private_dir(config.data_dir)
    scheme = "https" if tls_cert else "http"
    where = f"[{host}]" if ":" in host else host
    err_console.print(
        f"patchwarden console on {scheme}://{where}:{port}/ (API /api/v1, docs /api/docs)",
        soft_wrap=True,
        highlight=False,
    )
    uv_config = uvicorn.Config(
        create_app(config),
        host=host,
        port=port,
        log_level="warning",
        # No `server: uvicorn` banner: the console does not advertise what it runs on.
        server_header=False,
        ssl_certfile=str(tls_cert) if tls_cert else None,
        ssl_keyfile=str(tls_key) if tls_key else None,
    )
    console = uvicorn.Server(uv_config)
    console.run(sockets=[sock])
    if not console.started:
        sys.exit(EXIT_NOT_STARTED)


EXIT_NOT_STARTED = 3
"""`server`: the console could not start (as `uvicorn.run` exits then)."""


def check_tls_files(cert: Path, key: Path) -> None:
    """Exit 2 naming the file unless they are a PEM certificate and its unencrypted key."""
    import ssl

    try:
        cert_text = cert.read_text(errors="replace")
        key_text = key.read_text(errors="replace")
    except OSError as exc:
        fail(f"cannot read {exc.filename}: {exc.strerror}")
    if "-----BEGIN CERTIFICATE-----" not in cert_text:
        fail(f"--tls-cert {cert}: no PEM certificate in it (-----BEGIN CERTIFICATE-----)")
    if "PRIVATE KEY-----" not in key_text:
        fail(f"--tls-key {key}: no PEM private key in it (-----BEGIN … PRIVATE KEY-----)")
    if "ENCRYPTED" in key_text:
        fail(
            f"--tls-key {key}: the key is encrypted; the server needs it unencrypted "
            "(openssl pkey -in KEY -out PLAIN-KEY, then keep that file private)"
        )
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    try:
        context.load_cert_chain(cert, key)
    except ssl.SSLError as exc:
        reason = exc.reason or str(exc)
        plainly = {"KEY_VALUES_MISMATCH": "the key is not the certificate's"}.get(reason, reason)
        fail(f"--tls-cert {cert} / --tls-key {key}: cannot use them: {plainly} ({reason})")


def listen_socket(host: str, port: int) -> socket.socket:
    """A socket bound to (host, port), or exit 2 saying why it cannot be."""
    try:
        family, kind, proto, _, address = socket.getaddrinfo(
            host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
        )[0]
    except socket.gaierror as exc:
        fail(f"--host {host}: not an address to listen on ({exc.strerror})")
    sock = socket.socket(family, kind, proto)
    # As uvicorn does: a restart may reuse the port while old connections linger in
    # TIME_WAIT; a live listener still makes bind() fail.
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind(address)
    except OSError as exc:
        sock.close()
        if exc.errno == errno.EADDRINUSE:
            fail(
                f"{host}:{port} is already in use (another patchwarden server, or another "
                f"program, listens there): stop it, or pick another port with --port, "
                f"e.g. --port {port + 1 if port < 65535 else 8080}"
            )
        if exc.errno == errno.EACCES:
            fail(
                f"cannot listen on {host}:{port}: permission denied (ports below 1024 need "
                "root): pick another port with --port, e.g. --port 8080"
            )
        fail(f"cannot listen on {host}:{port}: {exc.strerror or exc}")
    return sock


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
