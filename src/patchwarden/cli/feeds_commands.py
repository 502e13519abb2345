"""`patchwarden feeds`: import local files, sync the official sources, show what is stored."""

from __future__ import annotations

from pathlib import Path

import click

from patchwarden.cli.common import data_dir_option, err_console, fail, resolve_data_dir
from patchwarden.core.errors import PatchwardenError


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
    from patchwarden.storage.advisory_store import AdvisoryStore

    all_specs = list(specs) + (bundled_specs() if bundled else [])
    if not all_specs:
        fail("nothing to import: give [KIND:]PATH arguments or --bundled")
    progress = RichFeedProgress(err_console)
    try:
        with AdvisoryStore.in_dir(resolve_data_dir(data_dir)) as store:
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
    root = resolve_data_dir(data_dir)
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
        with AdvisoryStore.in_dir(resolve_data_dir(data_dir)) as store:
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
