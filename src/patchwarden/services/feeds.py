"""Feed use cases: parse `[KIND:]PATH` specs, import into a store, sync official sources.

Progress is the caller's business: the CLI passes a `FeedProgress` that draws bars, the
scheduler passes none.
"""

from __future__ import annotations

import logging
import re
import socket
import ssl
from collections.abc import Iterable, Iterator, Sequence
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from enum import Enum
from pathlib import Path
from typing import Optional, Protocol
from urllib.parse import urlsplit

import httpx

from patchwarden.core.advisory import FeedItem
from patchwarden.core.clock import Clock
from patchwarden.core.errors import InputError, PatchwardenError
from patchwarden.feeds import FEEDS, detect_kind
from patchwarden.feeds.base import ParseReport
from patchwarden.feeds.download import Progress as DownloadProgress
from patchwarden.feeds.download import download
from patchwarden.feeds.sources import DEFAULT_SOURCES, SOURCES
from patchwarden.paths import bundled_data_dir
from patchwarden.services.index import MemoryIndex
from patchwarden.services.ports import FeedStore, ImportStats

log = logging.getLogger(__name__)
sync_log = logging.getLogger(__name__ + ".sync")
"""Failed sources, for the scheduler's log (the CLI prints its own table instead)."""


class FeedProgress(Protocol):
    """How a caller watches imports and downloads."""

    def counting(self, label: str, items: Iterable[FeedItem]) -> Iterable[FeedItem]:
        """`items`, passed through while their count is shown under `label`."""
        ...

    def downloading(self, name: str) -> AbstractContextManager[Optional[DownloadProgress]]:
        """A byte counter for one source's download (None: nothing to show)."""
        ...


_KIND_LIKE = re.compile(r"[a-z][a-z0-9-]*")
"""What a feed kind looks like (`osv`, `debian-tracker`); `ALSA-2023` (AlmaLinux) does not."""


def parse_spec(spec: str) -> tuple[str, Path]:
    """`KIND:PATH` or `PATH` (kind guessed from the file) -> (kind, path).

    A prefix is a kind only when it names one: AlmaLinux file names contain ':' too
    (`ALSA-2023:1234.json`), so an existing path wins. A prefix that looks like a kind but
    names none (`foo:FILE`) is refused as an unknown kind, not as a missing file.
    """
    prefix, sep, rest = spec.partition(":")
    if sep and prefix in FEEDS:
        kind, path = prefix, Path(rest)
    else:
        path = Path(spec)
        if not path.exists():
            if sep and _KIND_LIKE.fullmatch(prefix):
                known = ", ".join(sorted(FEEDS))
                raise InputError(f"{spec}: unknown feed kind {prefix!r} (known: {known})")
            raise InputError(f"{spec}: no such feed file or directory")
        kind = detect_kind(path)
    if not path.exists():
        raise InputError(f"{path}: no such feed file or directory")
    return kind, path


def parse_items(kind: str, path: Path, report: ParseReport) -> Iterator[FeedItem]:
    """Stream the items of one feed; malformed records are counted in `report`."""
    if kind not in FEEDS:
        raise InputError(f"unknown feed kind {kind!r} (known: {', '.join(sorted(FEEDS))})")
    yield from FEEDS[kind].parse(path, report)


def _log_skips(kind: str, path: Path, report: ParseReport) -> None:
    for record_id, reason in report.skipped[:20]:
        log.warning("%s %s: skipped %s: %s", kind, path, record_id, reason)
    if report.skip_count > 20:
        log.warning("%s %s: … and %d more skipped", kind, path, report.skip_count - 20)


def import_spec(
    store: FeedStore,
    spec: str,
    clock: Clock,
    progress: Optional[FeedProgress] = None,
    location: Optional[str] = None,
    etag: Optional[str] = None,
    last_modified: Optional[str] = None,
) -> tuple[ImportStats, int]:
    """Import one `[KIND:]PATH` into `store` in one transaction; returns (stats, skipped)."""
    kind, path = parse_spec(spec)
    report = ParseReport()
    items: Iterable[FeedItem] = parse_items(kind, path, report)
    if progress is not None:
        items = progress.counting(f"importing {kind} {path.name}", items)
    stats = store.import_items(
        kind,
        location or str(path.resolve()),
        items,
        clock.now(),
        skipped=lambda: report.skip_count,
        etag=etag,
        last_modified=last_modified,
    )
    _log_skips(kind, path, report)
    return stats, report.skip_count


def load_index(specs: Sequence[str]) -> tuple[MemoryIndex, list[str]]:
    """An in-memory index of feeds given on the command line; skip notes as errors."""
    index = MemoryIndex()
    notes: list[str] = []
    for spec in specs:
        kind, path = parse_spec(spec)
        report = ParseReport()
        index.add(parse_items(kind, path, report))
        _log_skips(kind, path, report)
        if report.skip_count:
            notes.append(f"{kind} {path}: {report.skip_count} malformed records skipped")
    return index, notes


def bundled_specs() -> list[str]:
    """`KIND:PATH` of every file of the offline snapshot shipped in the package."""
    root = bundled_data_dir() / "offline"
    specs: list[str] = []
    for kind_dir in sorted(p for p in root.iterdir() if p.is_dir()):
        specs.extend(f"{kind_dir.name}:{f}" for f in sorted(kind_dir.iterdir()) if f.is_file())
    return specs


def http_client(timeout: float = 60.0) -> httpx.Client:
    """The HTTP client feed downloads use."""
    return httpx.Client(timeout=timeout, headers={"User-Agent": "patchwarden-feeds"})


class SyncResult(str, Enum):
    """What syncing one source came to."""

    OK = "ok"
    NOT_MODIFIED = "not modified"
    FAILED = "failed"


class SyncFailure(str, Enum):
    """Why a source could not be synced."""

    DNS = "DNS"
    REFUSED = "connection refused"
    TIMEOUT = "timeout"
    TLS = "TLS"
    NETWORK = "network"
    HTTP = "HTTP status"
    IMPORT = "import"
    """Downloaded, but the file could not be read as its feed kind."""

    @property
    def unreachable(self) -> bool:
        """The source could not be reached at all (an air-gapped site, a proxy, a firewall)."""
        return self not in (SyncFailure.HTTP, SyncFailure.IMPORT)


@dataclass(frozen=True)
class SourceOutcome:
    """One source of a sync: fetched and imported, unchanged, or failed and why."""

    name: str
    url: str
    result: SyncResult
    detail: str
    """One line for a person: what was imported, since when unchanged, or what went wrong."""
    failure: Optional[SyncFailure] = None
    records: int = 0
    skipped: int = 0
    size: int = 0
    """Bytes downloaded."""

    @property
    def failed(self) -> bool:
        """The source was not synced."""
        return self.result is SyncResult.FAILED

    def __str__(self) -> str:
        return f"{self.name}: {self.result.value}: {self.detail}"


def _causes(exc: BaseException) -> Iterator[BaseException]:
    seen: set[int] = set()
    cur: Optional[BaseException] = exc
    while cur is not None and id(cur) not in seen:
        seen.add(id(cur))
        yield cur
        cur = cur.__cause__ or cur.__context__


_HTTP_STATUS = re.compile(r": HTTP (\d{3}\b.*)$")


def _download_failure(
    exc: PatchwardenError, url: str, timeout: Optional[float]
) -> tuple[SyncFailure, str]:
    """Sort a failed download by cause (walking the exception chain that `feeds.download`
    keeps with `raise … from`), with a line that says it plainly."""
    where = urlsplit(url)
    host = where.hostname or url
    causes = list(_causes(exc))
    if any(isinstance(c, httpx.TimeoutException) for c in causes):
        within = f" within {timeout:g} s" if timeout else ""
        return SyncFailure.TIMEOUT, f"timeout: no answer from {host}{within} ({url})"
    if any(isinstance(c, socket.gaierror) for c in causes):
        return SyncFailure.DNS, f"DNS: cannot resolve {host} ({url})"
    if any(isinstance(c, ConnectionRefusedError) for c in causes):
        port = where.port or (443 if where.scheme == "https" else 80)
        return SyncFailure.REFUSED, f"connection refused by {host}:{port} ({url})"
    tls = next((c for c in causes if isinstance(c, ssl.SSLError)), None)
    if tls is not None:
        why = getattr(tls, "verify_message", None) or getattr(tls, "reason", None) or tls
        return SyncFailure.TLS, f"TLS: {why} ({url})"
    status = _HTTP_STATUS.search(str(exc))
    if status and len(causes) == 1:
        return SyncFailure.HTTP, f"HTTP {status.group(1)} ({url})"
    return SyncFailure.NETWORK, f"network: {causes[-1]}"


def sync_sources(
    store: FeedStore,
    client: httpx.Client,
    cache_dir: Path,
    names: Sequence[str],
    url_overrides: dict[str, str],
    clock: Clock,
    progress: Optional[FeedProgress] = None,
) -> list[SourceOutcome]:
    """Download (conditionally) into `cache_dir` and import each named source (default: the
    default set). Every source is tried: one that fails is reported in its outcome and the
    others go on. Unknown source names are bad input (InputError) and sync nothing."""
    names = list(names) or list(DEFAULT_SOURCES)
    unknown = [n for n in (*names, *url_overrides) if n not in SOURCES]
    if unknown:
        raise InputError(
            f"unknown feed source(s) {', '.join(unknown)} (known: {', '.join(SOURCES)})"
        )
    outcomes = []
    for name in names:
        url = url_overrides.get(name, SOURCES[name].url)
        outcome = _sync_one(store, client, cache_dir, name, url, clock, progress)
        if outcome.failed:
            sync_log.warning("feed source %s", outcome)
        outcomes.append(outcome)
    return outcomes


def _sync_one(
    store: FeedStore,
    client: httpx.Client,
    cache_dir: Path,
    name: str,
    url: str,
    clock: Clock,
    progress: Optional[FeedProgress],
) -> SourceOutcome:
    source = SOURCES[name]
    previous = store.feed(source.kind, url)
    watch = progress.downloading(name) if progress is not None else nullcontext(None)
    try:
        with watch as on_bytes:
            got = download(
                client,
                url,
                cache_dir / source.filename,
                etag=previous.etag if previous else None,
                last_modified=previous.last_modified if previous else None,
                progress=on_bytes,
            )
    except PatchwardenError as exc:
        failure, why = _download_failure(exc, url, client.timeout.read)
        return SourceOutcome(name, url, SyncResult.FAILED, why, failure)
    if not got.modified:
        since = f"since {previous.imported_at}" if previous else "since the last sync"
        return SourceOutcome(name, url, SyncResult.NOT_MODIFIED, since)
    assert got.path is not None
    try:
        stats, skipped = import_spec(
            store,
            f"{source.kind}:{got.path}",
            clock,
            progress,
            location=url,
            etag=got.etag,
            last_modified=got.last_modified,
        )
    except PatchwardenError as exc:
        return SourceOutcome(name, url, SyncResult.FAILED, f"import: {exc}", SyncFailure.IMPORT)
    detail = f"{stats.records} records imported, {skipped} skipped ({got.size} bytes)"
    return SourceOutcome(name, url, SyncResult.OK, detail, None, stats.records, skipped, got.size)
