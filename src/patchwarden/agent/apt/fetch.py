"""Fetch the changelog of a pending update's candidate, once per (source, version), bounded.

Two ways, in order (live roots only, and only when the agent may use the network):

1. `apt-get changelog BIN=VER` asks the distribution's changelog server
   (metadata.ftp-master.debian.org, changelogs.ubuntu.com). Often unreachable from servers
   that can reach only a mirror: the first failure switches this way off for the whole run,
   so one dead server costs one short timeout, not one per package.
2. `apt-get download BIN=VER` from the host's own mirror into a private temp dir, then read
   `usr/share/doc/BIN/changelog.Debian.gz` from the .deb (`deb.read_doc_changelog`). When the
   doc dir is a symlink to another binary's (Policy §12.5), that binary is downloaded instead.

The binary downloaded for a source is its smallest .deb for the host's architectures: every
binary of one source upload carries the same source changelog. Downloads run on a small thread
pool under an overall time budget; whatever is left when it runs out gets a note, not a guess.
"""

from __future__ import annotations

import shutil
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, Optional, Sequence, Tuple

from patchwarden.agent.apt.deb import DebError, read_doc_changelog
from patchwarden.agent.apt.lists import AvailablePackage
from patchwarden.agent.runner import CommandNotFound, Runner

SourceKey = Tuple[str, str]
"""(source package, source version)."""


@dataclass(frozen=True)
class FetchRequest:
    """Fetch the changelog of one source upload; `binaries` are its .debs we may download."""

    source: str
    source_version: str
    binaries: Tuple[AvailablePackage, ...]
    """Binaries of that source and version for the host's architectures, smallest first."""

    @property
    def key(self) -> SourceKey:
        """The cache key: one fetch per (source, version)."""
        return (self.source, self.source_version)


@dataclass(frozen=True)
class FetchResult:
    """The changelog text, or why there is none."""

    text: Optional[str]
    note: str = ""
    method: str = ""
    """"apt-get changelog" or "apt-get download" when `text` is set."""


class ChangelogFetcher:
    """Fetches changelogs for many source uploads with a thread pool and a time budget."""

    def __init__(
        self,
        runner: Runner,
        workers: int = 4,
        budget_seconds: float = 300.0,
        changelog_timeout: float = 15.0,
        download_timeout: float = 120.0,
        try_changelog_server: bool = True,
    ) -> None:
        self.runner = runner
        self.workers = workers
        self.budget_seconds = budget_seconds
        self.changelog_timeout = changelog_timeout
        self.download_timeout = download_timeout
        self._server_ok = try_changelog_server
        self._server_note = ""
        self._lock = threading.Lock()
        self._deadline = 0.0

    def fetch_all(self, requests: Sequence[FetchRequest]) -> Dict[SourceKey, FetchResult]:
        """Fetch each request's changelog; every request gets a result (text or note)."""
        self._deadline = time.monotonic() + self.budget_seconds
        results: Dict[SourceKey, FetchResult] = {}
        pending = list({r.key: r for r in requests}.values())
        if pending and self._server_ok:
            # Probe the changelog server with the first request alone: if it is unreachable,
            # the pool below goes straight to downloads instead of N parallel timeouts.
            first = pending.pop(0)
            results[first.key] = self._fetch_one(first)
        with ThreadPoolExecutor(max_workers=max(1, self.workers)) as pool:
            for request, result in zip(pending, pool.map(self._fetch_one, pending)):
                results[request.key] = result
        return results

    def _remaining(self) -> float:
        """Seconds left of the overall budget."""
        return self._deadline - time.monotonic()

    def _fetch_one(self, request: FetchRequest) -> FetchResult:
        """Changelog server first (while it works), then the .deb from the mirror."""
        if self._remaining() <= 0:
            return FetchResult(
                None, f"changelog not fetched (time budget of {self.budget_seconds:.0f}s spent)"
            )
        if not request.binaries:
            return FetchResult(None, "changelog unavailable: no binary of this source to fetch")
        if self._server_ok:
            text = self._from_server(request.binaries[0])
            if text is not None:
                return FetchResult(text, method="apt-get changelog")
        return self._from_deb(request)

    def _from_server(self, binary: AvailablePackage) -> Optional[str]:
        """`apt-get changelog`; on failure switch the server off for the rest of the run."""
        timeout = min(self.changelog_timeout, max(1.0, self._remaining()))
        try:
            done = self.runner.run(
                ["apt-get", "changelog", f"{binary.name}={binary.version}"], timeout=timeout
            )
        except CommandNotFound:
            done = None
        if done is not None and done.ok and done.stdout.strip():
            return done.stdout
        with self._lock:
            self._server_ok = False
            if done is None:
                self._server_note = "apt-get not found"
            else:
                last = (done.stderr.strip().splitlines() or [f"exit {done.returncode}"])[-1]
                self._server_note = last[:200]
        return None

    @property
    def server_note(self) -> str:
        """Why the changelog server was given up ("" when it was not)."""
        return self._server_note

    def _from_deb(self, request: FetchRequest) -> FetchResult:
        """Download the smallest binary's .deb; follow one doc-dir symlink to a sibling."""
        by_name = {b.name: b for b in request.binaries}
        binary = request.binaries[0]
        for _hop in range(2):
            outcome = self._download_and_read(binary)
            if isinstance(outcome, FetchResult):
                return outcome
            target = by_name.get(outcome)
            if target is None:
                return FetchResult(
                    None,
                    f"changelog unavailable: /usr/share/doc/{binary.name} links to {outcome}, "
                    "which is not a binary of this source update",
                )
            binary = target
        return FetchResult(None, f"changelog unavailable: doc dir symlink chain at {binary.name}")

    def _download_and_read(self, binary: AvailablePackage) -> FetchResult | str:
        """A FetchResult, or the name of the package the doc dir symlinks to."""
        remaining = self._remaining()
        if remaining <= 0:
            return FetchResult(
                None, f"changelog not fetched (time budget of {self.budget_seconds:.0f}s spent)"
            )
        workdir = Path(tempfile.mkdtemp(prefix="pw-changelog-"))
        try:
            spec = f"{binary.name}:{binary.arch}" if binary.arch != "all" else binary.name
            try:
                done = self.runner.run(
                    ["apt-get", "download", f"{spec}={binary.version}"],
                    timeout=min(self.download_timeout, remaining),
                    cwd=str(workdir),
                )
            except CommandNotFound:
                return FetchResult(None, "changelog unavailable: apt-get not found")
            debs = sorted(workdir.glob("*.deb"))
            if not done.ok or not debs:
                last = (done.stderr.strip().splitlines() or [f"exit {done.returncode}"])[-1]
                return FetchResult(
                    None, f"changelog unavailable: apt-get download {spec}: {last[:200]}"
                )
            try:
                found = read_doc_changelog(debs[0], binary.name, self.runner)
            except DebError as exc:
                return FetchResult(None, f"changelog unavailable: {exc}")
            if found.symlink_to:
                return found.symlink_to
            if found.text is None:
                return FetchResult(
                    None, f"changelog unavailable: {binary.name}_{binary.version} ships none"
                )
            return FetchResult(found.text, method="apt-get download")
        finally:
            shutil.rmtree(workdir, ignore_errors=True)
