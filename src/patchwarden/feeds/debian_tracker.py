"""The `debian-tracker` feed: tracker JSON or the DSA/DLA/DTSA list files.

A file starting with `{` is the tracker JSON (`debian_json`), any other file an advisory list
(`debian_lists`). A directory (e.g. a checkout's `data/`, or a folder holding `DSA.list`,
`DLA.list`, `tracker.json`) is read file by file; files that are neither (CPE.list, README)
are listed in `ParseReport.ignored`.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from patchwarden.core.errors import FeedError
from patchwarden.feeds.base import FeedItem, FeedParser, ParseReport, may_hold_unstorable
from patchwarden.feeds.containers import dir_files, read_bytes
from patchwarden.feeds.debian_json import parse_tracker
from patchwarden.feeds.debian_lists import parse_list
from patchwarden.feeds.decode import load_json

_LIST_NAMES = ("DSA", "DLA", "DTSA")


class DebianTrackerParser(FeedParser):
    """Debian security tracker data: `tracker/data/json`, `data/{DSA,DLA,DTSA}/list`."""

    kind = "debian-tracker"
    version = 1
    description = "Debian security tracker JSON, or DSA/DLA/DTSA list files (or a dir of them)"
    checks_text = True

    def _parse(self, path: Path, report: ParseReport) -> Iterator[FeedItem]:
        if not path.is_dir():
            yield from self._parse_file(path, report)
            return
        # Links out of the directory are skipped (`containers.dir_files`).
        for rel, full in dir_files(path, report.skip, report.ignored):
            if is_advisory_list_name(Path(rel)) or rel.endswith(".json"):
                yield from self._parse_file(full, report)
            else:
                report.ignored.append(rel)

    @staticmethod
    def _parse_file(path: Path, report: ParseReport) -> Iterator[FeedItem]:
        if _first_byte(path) == b"{":
            raw = read_bytes(path)
            try:
                data = load_json(raw)
            except ValueError as exc:
                raise FeedError(f"{path}: {exc}") from exc
            if not isinstance(data, dict):
                raise FeedError(f"{path}: tracker JSON must be an object of source packages")
            yield from parse_tracker(data, report, may_hold_unstorable(raw))
            return
        try:
            # A byte that is not UTF-8 spoils one advisory, not the file: surrogateescape
            # keeps it as a lone surrogate, which `parse_list` refuses with its line.
            with path.open(encoding="utf-8", errors="surrogateescape") as stream:
                yield from parse_list(stream, path, report)
        except OSError as exc:
            raise FeedError(f"{path}: cannot read: {exc.strerror or exc}") from exc


def is_advisory_list_name(path: Path) -> bool:
    """`DSA.list`, `DLA.list`, `DTSA.list` or the tracker's own `DSA/list` layout."""
    if path.name == "list":
        return path.parent.name in _LIST_NAMES
    return path.suffix == ".list" and path.stem in _LIST_NAMES


def _first_byte(path: Path) -> bytes:
    try:
        with path.open("rb") as stream:
            return stream.read(4096).lstrip()[:1]
    except OSError as exc:
        raise FeedError(f"{path}: cannot read: {exc.strerror or exc}") from exc
