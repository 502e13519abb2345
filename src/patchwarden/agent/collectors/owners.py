"""Which distro package owns a file: dpkg file lists and rpm file lists, read once per run.

dpkg keeps one `var/lib/dpkg/info/<package>[:<arch>].list` per package, a path per line;
rpm keeps the file list in each header (BASENAMES + DIRNAMES + DIRINDEXES, rpm `rpmtag.h`),
in the same database the rpm collector reads. Holding every path of a host in memory would
cost tens of MB, so `FileOwners.lookup` answers batches: one pass over the lists per batch
of paths not asked before, keeping only the answers.

Paths are compared as the package manager lists them; merged-/usr hosts list `/bin/bash`
while processes see `/usr/bin/bash`, so both spellings are tried.
"""

from __future__ import annotations

import os
from typing import Dict, Iterable, List, Optional, Set

from patchwarden.agent.collectors.base import Context
from patchwarden.agent.collectors.rpm import find_database
from patchwarden.agent.collectors.rpm_header import BadHeader, parse_header
from patchwarden.agent.collectors.rpmdb import BadDatabase, read_blobs

DPKG_INFO = "var/lib/dpkg/info"
SHARED_KEY = "owners"
TAG_NAME = 1000
TAG_DIRINDEXES = 1116
TAG_BASENAMES = 1117
TAG_DIRNAMES = 1118
_RPM_TAGS = frozenset({TAG_NAME, TAG_DIRINDEXES, TAG_BASENAMES, TAG_DIRNAMES})
_MERGED = ("/bin/", "/sbin/", "/lib/", "/lib32/", "/lib64/", "/libx32/")


def spellings(path: str) -> List[str]:
    """`path` and its merged-/usr twin (`/usr/bin/x` <-> `/bin/x`)."""
    if path.startswith("/usr/") and path[4:].startswith(_MERGED):
        return [path, path[4:]]
    if path.startswith(_MERGED):
        return [path, "/usr" + path]
    return [path]


class FileOwners:
    """Package owning each path asked for, from the root's dpkg and rpm file lists."""

    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx
        self.known: Dict[str, str] = {}
        """path -> owning package ("" = none) for every path asked so far."""
        self.problems: List[str] = []
        """Lists that could not be read (a warning for the collector that asked)."""

    def lookup(self, paths: Iterable[str]) -> Dict[str, str]:
        """path -> owning package ("" when none owns it) for each of `paths`."""
        wanted = {p for p in paths if p and p not in self.known}
        if wanted:
            self._scan(wanted)
        return {p: self.known.get(p, "") for p in paths if p}

    def owner(self, path: str) -> str:
        """The package owning `path`, "" when none does."""
        return self.lookup([path])[path]

    def _scan(self, wanted: Set[str]) -> None:
        """One pass over the file lists for `wanted`; records an answer for each."""
        alias: Dict[str, str] = {}
        for path in wanted:
            for spelling in spellings(path):
                alias.setdefault(spelling, path)
        found: Dict[str, str] = {}
        self._scan_dpkg(alias, found)
        if len(found) < len(wanted):
            self._scan_rpm(alias, found)
        for path in wanted:
            self.known[path] = found.get(path, "")

    def _scan_dpkg(self, alias: Dict[str, str], found: Dict[str, str]) -> None:
        info = self.ctx.path(DPKG_INFO)
        try:
            entries = sorted(e.name for e in os.scandir(info) if e.name.endswith(".list"))
        except OSError:
            return  # no dpkg here
        for name in entries:
            package = name[: -len(".list")].split(":", 1)[0]
            try:
                with open(os.path.join(info, name), "rb") as fh:
                    for raw in fh:
                        line = os.fsdecode(raw.rstrip(b"\n"))
                        target = alias.get(line)
                        if target is not None and target not in found:
                            found[target] = package
            except OSError as exc:
                self.problems.append(f"{DPKG_INFO}/{name}: {exc.strerror or exc}")

    def _scan_rpm(self, alias: Dict[str, str], found: Dict[str, str]) -> None:
        rel = find_database(self.ctx)
        if rel is None:
            return
        try:
            blobs = read_blobs(self.ctx.path(rel))
        except (BadDatabase, OSError) as exc:
            self.problems.append(f"{rel}: {exc}")
            return
        for blob in blobs:
            try:
                tags = parse_header(blob, _RPM_TAGS)
            except BadHeader:
                continue  # the rpm collector reports bad headers
            name = tags.get(TAG_NAME)
            bases, dirs, indexes = (
                tags.get(TAG_BASENAMES),
                tags.get(TAG_DIRNAMES),
                tags.get(TAG_DIRINDEXES),
            )
            if not isinstance(name, str) or not isinstance(bases, list):
                continue
            if not isinstance(dirs, list):
                continue
            if isinstance(indexes, int):
                indexes = [indexes]
            if not isinstance(indexes, list) or len(indexes) != len(bases):
                continue
            for base, index in zip(bases, indexes):
                if not isinstance(index, int) or not 0 <= index < len(dirs):
                    continue
                target = alias.get(f"{dirs[index]}{base}")
                if target is not None and target not in found:
                    found[target] = name


def file_owners(ctx: Context) -> FileOwners:
    """The run's FileOwners (one per collection run, shared by the collectors)."""
    owners: Optional[object] = ctx.shared.get(SHARED_KEY)
    if not isinstance(owners, FileOwners):
        owners = FileOwners(ctx)
        ctx.shared[SHARED_KEY] = owners
    return owners
