"""`patchwarden` commands: scan, feeds, server, db, tokens, records. Each one parses its
options, composes what it needs (a unit of work, the advisory store, the agent's collectors)
and calls services; output formats live beside it."""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click
from rich.console import Console

from patchwarden.core.advisory import Severity
from patchwarden.core.errors import PatchwardenError
from patchwarden.paths import ENV_DATA_DIR, default_data_dir

F = TypeVar("F", bound=Callable[..., Any])

EXIT_CLEAN, EXIT_FINDINGS, EXIT_INPUT = 0, 1, 2

err_console = Console(stderr=True)


def data_dir_option(fn: F) -> F:
    """`--data-dir D` on every command (default `$PATCHWARDEN_DATA_DIR`, else platform dir)."""
    return click.option(
        "--data-dir",
        type=click.Path(file_okay=False, path_type=Path),
        default=None,
        help=f"Data directory (default ${ENV_DATA_DIR}, else {default_data_dir()}).",
    )(fn)


def _data_dir(value: Path | None) -> Path:
    return value if value is not None else default_data_dir()


def fail(message: str) -> None:
    """Print an input error and exit 2."""
    err_console.print(f"[bold red]error:[/] {message}", soft_wrap=True, markup=True)
    sys.exit(EXIT_INPUT)


@click.group()
@click.option("-v", "--verbose", is_flag=True, help="Log what happens (skipped records, …).")
@click.version_option(package_name="patchwarden")
def main(verbose: bool) -> None:
    """patchwarden: self-hosted vulnerability management."""
    logging.basicConfig(
        level=logging.INFO if verbose else logging.WARNING,
        format="%(levelname)s %(name)s: %(message)s",
    )


@main.command()
@data_dir_option
@click.option(
    "--root",
    type=click.Path(path_type=Path),
    default=Path("/"),
    show_default=True,
    help="Scan this root (a mounted filesystem or chroot) instead of the running system.",
)
@click.option(
    "--feed",
    "feeds",
    multiple=True,
    metavar="[KIND:]PATH",
    help="Also match against this feed file or directory (not stored). Repeatable.",
)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["table", "json"]),
    default="table",
    show_default=True,
)
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path), default=None)
@click.option(
    "--fail-on",
    type=click.Choice([s.value for s in Severity if s.rank > 0]),
    default=None,
    help="Exit 1 only when a finding of this severity or higher exists.",
)
@click.option("--offline", is_flag=True, help="No network at all (no changelog downloads).")
@click.option(
    "--include-wont-fix",
    is_flag=True,
    help="Also report vulnerabilities the vendor will not fix / has declared end-of-life.",
)
def scan(
    data_dir: Path | None,
    root: Path,
    feeds: tuple[str, ...],
    fmt: str,
    output: Path | None,
    fail_on: str | None,
    offline: bool,
    include_wont_fix: bool,
) -> None:
    """Inventory this host (or --root) and match it against the advisories.

    Exit code 0 when no findings, 1 when findings (at or above --fail-on), 2 on input errors.
    """
    from patchwarden.cli.scan import scan_host

    try:
        result = scan_host(
            _data_dir(data_dir),
            root=root,
            feed_specs=feeds,
            online=not offline,
            include_wont_fix=include_wont_fix,
            progress=None if fmt == "json" else err_console,
        )
    except PatchwardenError as exc:
        fail(str(exc))
        return
    from patchwarden.cli.output import print_table, scan_document

    if fmt == "json":
        text = json.dumps(scan_document(result.inventory, result.matches, result.errors), indent=2)
        if output:
            output.write_text(text + "\n")
        else:
            click.echo(text)
    else:
        if output:
            with output.open("w") as fh:
                print_table(
                    Console(file=fh, width=160), result.inventory, result.matches, result.errors
                )
        else:
            print_table(Console(), result.inventory, result.matches, result.errors)
    threshold = Severity(fail_on).rank if fail_on else 0
    failing = [m for m in result.matches if m.severity.rank >= threshold]
    sys.exit(EXIT_FINDINGS if failing else EXIT_CLEAN)


@main.group()
def feeds() -> None:
    """Advisory feeds: import local files, sync the official sources, show status."""


@feeds.command("import")
@data_dir_option
@click.argument("specs", nargs=-1, metavar="[KIND:]PATH...")
@click.option(
    "--bundled", is_flag=True, help="Import the offline snapshot shipped with patchwarden."
)
def feeds_import(data_dir: Path | None, specs: tuple[str, ...], bundled: bool) -> None:
    """Import feed files or directories into the local advisory store (transactional)."""
    from patchwarden.cli.progress import RichFeedProgress
    from patchwarden.core.clock import Clock
    from patchwarden.services.feeds import bundled_specs, import_spec
    from patchwarden.storage.advisory_store import AdvisoryStore

    all_specs = list(specs) + (bundled_specs() if bundled else [])
    if not all_specs:
        fail("nothing to import: give [KIND:]PATH arguments or --bundled")
    progress = RichFeedProgress(err_console)
    try:
        with AdvisoryStore.in_dir(_data_dir(data_dir)) as store:
            for spec in all_specs:
                stats, skipped = import_spec(store, spec, Clock(), progress)
                click.echo(
                    f"{stats.kind}: {stats.location}: {stats.records} records stored"
                    f" ({stats.affected} affected packages), {skipped} skipped"
                )
    except PatchwardenError as exc:
        fail(str(exc))


@feeds.command("sync")
@data_dir_option
@click.option("--source", "sources", multiple=True, help="Source name (see `feeds sources`).")
@click.option("--url", "urls", multiple=True, metavar="NAME=URL", help="Override a source URL.")
@click.option("--timeout", type=float, default=60.0, show_default=True)
def feeds_sync(
    data_dir: Path | None, sources: tuple[str, ...], urls: tuple[str, ...], timeout: float
) -> None:
    """Download the official feeds over HTTPS (conditional requests) and import them."""
    from patchwarden.cli.progress import RichFeedProgress
    from patchwarden.core.clock import Clock
    from patchwarden.services.feeds import http_client, sync_sources
    from patchwarden.storage.advisory_store import AdvisoryStore

    overrides = {}
    for item in urls:
        name, sep, url = item.partition("=")
        if not sep or not url:
            fail(f"--url wants NAME=URL, got {item!r}")
        overrides[name] = url
    root = _data_dir(data_dir)
    try:
        with AdvisoryStore.in_dir(root) as store, http_client(timeout) as client:
            results = sync_sources(
                store,
                client,
                root / "feeds",
                sources,
                overrides,
                Clock(),
                RichFeedProgress(err_console),
            )
    except PatchwardenError as exc:
        fail(str(exc))
        return
    for line in results:
        click.echo(line)


@feeds.command("sources")
def feeds_sources() -> None:
    """List the sources `feeds sync` knows."""
    from patchwarden.feeds.sources import DEFAULT_SOURCES, SOURCES

    for s in SOURCES.values():
        mark = "*" if s.name in DEFAULT_SOURCES else " "
        click.echo(f"{mark} {s.name:<16} {s.kind:<15} {s.url}")


@feeds.command("status")
@data_dir_option
def feeds_status(data_dir: Path | None) -> None:
    """What the local advisory store holds."""
    from patchwarden.storage.advisory_store import AdvisoryStore

    try:
        with AdvisoryStore.in_dir(_data_dir(data_dir)) as store:
            for f in store.feeds():
                click.echo(
                    f"{f.kind:<15} {f.records:>7} records {f.skipped:>5} skipped"
                    f"  {f.imported_at}  {f.location}"
                )
            counts = store.counts()
    except PatchwardenError as exc:
        fail(str(exc))
        return
    click.echo(", ".join(f"{n} {t}" for t, n in counts.items()))


@main.command()
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
        _data_dir(data_dir), host=host, port=port, scheduler=not no_scheduler, tick_seconds=tick
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

    config = ServerConfig.from_env(_data_dir(data_dir))
    config.data_dir.mkdir(parents=True, exist_ok=True)
    upgrade(config.database_url)
    engine = make_engine(config.database_url)
    # These commands read no advisories: an empty index stands in for the store.
    return SqlUnitOfWork(engine, MemoryIndex()), config, engine


@main.group()
def db() -> None:
    """Console database maintenance."""


@db.command("upgrade")
@data_dir_option
def db_upgrade(data_dir: Path | None) -> None:
    """Apply database migrations (the server also does this at start)."""
    _, config, engine = _console_db(data_dir)
    engine.dispose()
    click.echo(f"database at head: {config.database_url.split('@')[-1]}")


@main.group("enrolment-token")
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


@main.group("api-token")
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


@main.command()
@click.option(
    "--server",
    envvar="PATCHWARDEN_SERVER",
    default="http://127.0.0.1:8080",
    show_default=True,
    help="Console URL (or $PATCHWARDEN_SERVER).",
)
@click.option(
    "--token", envvar="PATCHWARDEN_TOKEN", required=True, help="API token (or $PATCHWARDEN_TOKEN)."
)
@click.option("--type", "vuln_type", help="linux, windows, cms, app, emergency (comma list).")
@click.option("--severity", help="critical, high, medium, low, unknown (comma list).")
@click.option("--status", help="States (comma list) or `all`; default the open ones.")
@click.option("--host", help="Host id or hostname.")
@click.option("--exploitable", is_flag=True, help="Only known-exploited (CISA KEV).")
@click.option("--bucket", help="asap, later, can_wait (comma list).")
@click.option("--limit", type=click.IntRange(1, 100_000), default=50, show_default=True)
@click.option(
    "--page-size",
    type=click.IntRange(1, 500),
    default=500,
    show_default=True,
    help="Records per API request.",
)
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table")
def records(
    server: str,
    token: str,
    vuln_type: str | None,
    severity: str | None,
    status: str | None,
    host: str | None,
    exploitable: bool,
    bucket: str | None,
    limit: int,
    page_size: int,
    fmt: str,
) -> None:
    """A console's records, most urgent first (the REST API's filters)."""
    from patchwarden.cli.client import ConsoleClient
    from patchwarden.cli.records import print_records

    filters = {
        k: v
        for k, v in {
            "type": vuln_type,
            "severity": severity,
            "status": status,
            "host": host,
            "exploitable": "true" if exploitable else None,
            "bucket": bucket,
        }.items()
        if v
    }
    try:
        with ConsoleClient(server, token) as client:
            items, total = client.records(filters, limit, page_size)
    except PatchwardenError as exc:
        fail(str(exc))
    if fmt == "json":
        click.echo(json.dumps({"items": items, "total": total}, indent=2))
    else:
        print_records(Console(), items, total)


if __name__ == "__main__":
    main()
