"""Feed use cases: parse `[KIND:]PATH` specs, import into the store, sync official sources."""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

import httpx
from rich.console import Console
from rich.progress import (
    BarColumn,
    DownloadColumn,
    Progress,
    SpinnerColumn,
    TextColumn,
    TimeElapsedColumn,
    TransferSpeedColumn,
)

from patchwarden.core.errors import InputError
from patchwarden.feeds import FEEDS, detect_kind
from patchwarden.feeds.base import FeedItem as Item
from patchwarden.feeds.base import ParseReport
from patchwarden.feeds.download import Progress as DownloadProgress
from patchwarden.feeds.download import download
from patchwarden.feeds.sources import DEFAULT_SOURCES, SOURCES
from patchwarden.paths import bundled_data_dir
from patchwarden.services.index import MemoryIndex
from patchwarden.storage.advisory_store import AdvisoryStore, ImportStats

log = logging.getLogger(__name__)


def parse_spec(spec: str) -> tuple[str, Path]:
    """`KIND:PATH` or `PATH` (kind guessed from the file) -> (kind, path).

    A prefix is a kind only when it names one: AlmaLinux file names contain ':' too.
    """
    prefix, sep, rest = spec.partition(":")
    if sep and prefix in FEEDS:
        kind, path = prefix, Path(rest)
    else:
        path = Path(spec)
        if not path.exists():
            raise InputError(f"{spec}: no such feed file or directory")
        kind = detect_kind(path)
    if not path.exists():
        raise InputError(f"{path}: no such feed file or directory")
    return kind, path


def parse_items(kind: str, path: Path, report: ParseReport) -> Iterator[Item]:
    """Stream the items of one feed; malformed records are counted in `report`."""
    if kind not in FEEDS:
        raise InputError(f"unknown feed kind {kind!r} (known: {', '.join(sorted(FEEDS))})")
    yield from FEEDS[kind].parse(path, report)


def _log_skips(kind: str, path: Path, report: ParseReport) -> None:
    for record_id, reason in report.skipped[:20]:
        log.warning("%s %s: skipped %s: %s", kind, path, record_id, reason)
    if len(report.skipped) > 20:
        log.warning("%s %s: … and %d more skipped", kind, path, len(report.skipped) - 20)


def import_spec(
    store: AdvisoryStore,
    spec: str,
    console: Console | None = None,
    location: str | None = None,
    etag: str | None = None,
    last_modified: str | None = None,
) -> tuple[ImportStats, int]:
    """Import one `[KIND:]PATH` into `store` in one transaction; returns (stats, skipped)."""
    kind, path = parse_spec(spec)
    report = ParseReport()
    items: Iterable[Item] = parse_items(kind, path, report)
    if console is not None:
        items = _counting(items, console, f"importing {kind} {path.name}")
    stats = store.import_items(
        kind,
        location or str(path.resolve()),
        items,
        skipped=lambda: len(report.skipped),
        etag=etag,
        last_modified=last_modified,
    )
    _log_skips(kind, path, report)
    return stats, len(report.skipped)


def _counting(items: Iterable[Item], console: Console, label: str) -> Iterator[Item]:
    with Progress(
        SpinnerColumn(),
        TextColumn("{task.description}"),
        TextColumn("{task.completed} records"),
        TimeElapsedColumn(),
        console=console,
        transient=True,
    ) as progress:
        task = progress.add_task(label, total=None)
        for item in items:
            progress.advance(task)
            yield item


def load_index(specs: Sequence[str]) -> tuple[MemoryIndex, list[str]]:
    """An in-memory index of feeds given on the command line; skip notes as errors."""
    index = MemoryIndex()
    notes: list[str] = []
    for spec in specs:
        kind, path = parse_spec(spec)
        report = ParseReport()
        index.add(parse_items(kind, path, report))
        _log_skips(kind, path, report)
        if report.skipped:
            notes.append(f"{kind} {path}: {len(report.skipped)} malformed records skipped")
    return index, notes


def bundled_specs() -> list[str]:
    """`KIND:PATH` of every file of the offline snapshot shipped in the package."""
    root = bundled_data_dir() / "offline"
    specs = []
    for kind_dir in sorted(p for p in root.iterdir() if p.is_dir()):
        specs.extend(f"{kind_dir.name}:{f}" for f in sorted(kind_dir.iterdir()) if f.is_file())
    return specs


def sync_sources(
    data_dir: Path,
    names: Sequence[str],
    url_overrides: dict[str, str],
    timeout: float = 60.0,
    console: Console | None = None,
) -> list[str]:
    """Download (conditionally) and import each named source; one line of outcome each."""
    names = list(names) or list(DEFAULT_SOURCES)
    unknown = [n for n in (*names, *url_overrides) if n not in SOURCES]
    if unknown:
        raise InputError(
            f"unknown feed source(s) {', '.join(unknown)} (known: {', '.join(SOURCES)})"
        )
    cache = data_dir / "feeds"
    lines = []
    with (
        AdvisoryStore.in_dir(data_dir) as store,
        httpx.Client(timeout=timeout, headers={"User-Agent": "patchwarden-feeds"}) as client,
    ):
        for name in names:
            source = SOURCES[name]
            url = url_overrides.get(name, source.url)
            previous = store.feed(source.kind, url)
            with _download_progress(console, name) as progress:
                got = download(
                    client,
                    url,
                    cache / source.filename,
                    etag=previous.etag if previous else None,
                    last_modified=previous.last_modified if previous else None,
                    progress=progress,
                )
            if not got.modified:
                since = previous.imported_at if previous else "the last sync"
                lines.append(f"{name}: not modified since {since}")
                continue
            assert got.path is not None
            stats, skipped = import_spec(
                store,
                f"{source.kind}:{got.path}",
                console=console,
                location=url,
                etag=got.etag,
                last_modified=got.last_modified,
            )
            lines.append(
                f"{name}: {got.size} bytes, {stats.records} records imported, {skipped} skipped"
            )
    return lines


@contextmanager
def _download_progress(console: Console | None, name: str) -> Iterator[DownloadProgress | None]:
    """A rich download bar for one source (None without a console)."""
    if console is None:
        yield None
        return
    with Progress(
        TextColumn(name),
        BarColumn(),
        DownloadColumn(),
        TransferSpeedColumn(),
        console=console,
        transient=True,
    ) as progress:
        task = progress.add_task(name, total=None)

        def update(done: int, total: int | None) -> None:
            progress.update(task, completed=done, total=total)

        yield update
