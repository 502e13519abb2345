"""Console commands: `server`, `db`, `enrolment-token`, `api-token`."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from patchwarden.cli.common import data_dir_option, err_console, resolve_data_dir


@click.command()
@data_dir_option
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", type=int, default=8080, show_default=True)
@click.option("--no-scheduler", is_flag=True, help="Do not run the periodic sweeps here.")
@click.option(
    "--tick", type=float, default=30.0, show_default=True, help="Seconds between scheduler rounds."
)
def server(data_dir: Path | None, host: str, port: int, no_scheduler: bool, tick: float) -> None:
    """Run the console (REST API; SQLite under the data dir unless PATCHWARDEN_DATABASE_URL)."""
    import uvicorn

    from patchwarden.server.app import create_app
    from patchwarden.server.config import ServerConfig

    config = ServerConfig.from_env(
        resolve_data_dir(data_dir),
        host=host,
        port=port,
        scheduler=not no_scheduler,
        tick_seconds=tick,
    )
    config.data_dir.mkdir(parents=True, exist_ok=True)
    err_console.print(f"patchwarden console on http://{host}:{port}/ (API /api/v1, docs /api/docs)")
    uvicorn.run(create_app(config), host=host, port=port, log_level="warning")


def _console_db(data_dir: Path | None) -> Any:
    """A migrated console database for one-off commands: (unit of work, config, engine)."""
    from patchwarden.server.config import ServerConfig
    from patchwarden.services.index import MemoryIndex
    from patchwarden.storage.db import make_engine
    from patchwarden.storage.migrate import upgrade
    from patchwarden.storage.uow import SqlUnitOfWork

    config = ServerConfig.from_env(resolve_data_dir(data_dir))
    config.data_dir.mkdir(parents=True, exist_ok=True)
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
    _, config, engine = _console_db(data_dir)
    engine.dispose()
    click.echo(f"database at head: {config.database_url.split('@')[-1]}")


@click.group("enrolment-token")
def enrolment_token() -> None:
    """One-time tokens agents enrol with."""


@enrolment_token.command("create")
@data_dir_option
def enrolment_token_create(data_dir: Path | None) -> None:
    """Print a new one-time enrolment token (valid 7 days)."""
    from patchwarden.services.agents import create_enrolment_token

    uow, config, engine = _console_db(data_dir)
    token = create_enrolment_token(uow, config.clock)
    engine.dispose()
    click.echo(token)


@click.group("api-token")
def api_token() -> None:
    """API tokens of console users."""


@api_token.command("create")
@data_dir_option
@click.option("--user", "user_name", required=True, help="User name (created if missing).")
def api_token_create(data_dir: Path | None, user_name: str) -> None:
    """Print a new API token for USER (the first user created is the owner)."""
    from patchwarden.services.users import create_api_token

    uow, config, engine = _console_db(data_dir)
    token = create_api_token(uow, config.clock, user_name)
    engine.dispose()
    click.echo(token)
