"""`patchwarden feeds`: import local files, sync the official sources, show what is stored."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from patchwarden.cli.common import data_dir_option, err_console, fail, resolve_data_dir
from patchwarden.core.errors import PatchwardenError

EXIT_FAILED_SOURCES = 1
"""`feeds sync`: at least one source could not be synced (the others were)."""


@click.group()
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
    from patchwarden.services.freshness import snapshot_date
    from patchwarden.storage.advisory_store import AdvisoryStore

    shipped = bundled_specs() if bundled else []
    all_specs = list(specs) + shipped
    if not all_specs:
        fail("nothing to import: give [KIND:]PATH arguments or --bundled")
    progress = RichFeedProgress(err_console)
    # The snapshot's data date is kept with its feeds (`feeds status`, the scan header).
    date = snapshot_date() if shipped else ""
    try:
        with AdvisoryStore.in_dir(resolve_data_dir(data_dir)) as store:
            for spec in all_specs:
                stats, skipped = import_spec(
                    store,
                    spec,
                    Clock(),
                    progress,
                    last_modified=date if spec in shipped and date else None,
                )
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
    """Download the official feeds over HTTPS (conditional requests) and import them.

    Every source is tried; a table says what became of each. Exit 0 when all are synced or
    unchanged, 1 when any failed, 2 on bad input.
    """
    import logging

    from patchwarden.cli.progress import RichFeedProgress
    from patchwarden.core.clock import Clock
    from patchwarden.services.feeds import http_client, sync_log, sync_sources
    from patchwarden.storage.advisory_store import AdvisoryStore

    overrides = {}
    for item in urls:
        name, sep, url = item.partition("=")
        if not sep or not url:
            fail(f"--url wants NAME=URL, got {item!r}")
        overrides[name] = url
    root = resolve_data_dir(data_dir)
    # The table below says what failed; the service's log line would say it twice.
    sync_log.setLevel(logging.ERROR)
    try:
        with AdvisoryStore.in_dir(root) as store, http_client(timeout) as client:
            outcomes = sync_sources(
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
    width = max(len("source"), *(len(o.name) for o in outcomes))
    click.echo(f"{'source':<{width}}  {'result':<12}  detail")
    for o in outcomes:
        click.echo(f"{o.name:<{width}}  {o.result.value:<12}  {o.detail}")
    failed = [o for o in outcomes if o.failed]
    if not failed:
        return
    rest = "; the others are synced" if len(failed) < len(outcomes) else ""
    err_console.print(
        f"{len(failed)} of {len(outcomes)} sources failed{rest}.", soft_wrap=True, highlight=False
    )
    if any(o.failure is not None and o.failure.unreachable for o in failed):
        err_console.print(
            "No way out to these sources (an air-gapped site, a proxy)? Download the files "
            "on a machine that has one (URLs: `patchwarden feeds sources`) and load them here "
            "with `patchwarden feeds import [KIND:]PATH`.",
            soft_wrap=True,
            highlight=False,
            markup=False,
        )
    sys.exit(EXIT_FAILED_SOURCES)


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
    """What the local advisory store holds, and whether it is current."""
    from datetime import datetime, timezone

    from patchwarden.services.freshness import freshness
    from patchwarden.storage.advisory_store import AdvisoryStore

    try:
        with AdvisoryStore.in_dir(resolve_data_dir(data_dir)) as store:
            feeds = store.feeds()
            for f in feeds:
                click.echo(
                    f"{f.kind:<15} {f.records:>7} records {f.skipped:>5} skipped"
                    f"  {f.imported_at}  {f.location}"
                )
            counts = store.counts()
    except PatchwardenError as exc:
        fail(str(exc))
        return
    click.echo(", ".join(f"{n} {t}" for t, n in counts.items()))
    data = freshness(feeds, datetime.now(timezone.utc))
    click.echo(data.summary)
    for warning in data.warnings:
        err_console.print(f"[yellow]warning:[/] {warning}", soft_wrap=True, highlight=False)
