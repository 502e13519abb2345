"""The `debian-tracker` feed: tracker JSON or the DSA/DLA/DTSA list files.

A file starting with `{` is the tracker JSON (`debian_json`), any other file an advisory list
(`debian_lists`). A directory (e.g. a checkout's `data/`, or a folder holding `DSA.list`,
`DLA.list`, `tracker.json`) is read file by file; files that are neither (CPE.list, README)
are listed in `ParseReport.ignored`.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path

from patchwarden.core.errors import FeedError
from patchwarden.feeds.base import FeedItem, FeedParser, ParseReport
from patchwarden.feeds.containers import read_bytes
from patchwarden.feeds.debian_json import parse_tracker
from patchwarden.feeds.debian_lists import parse_list

_LIST_NAMES = ("DSA", "DLA", "DTSA")


class DebianTrackerParser(FeedParser):
    """Debian security tracker data: `tracker/data/json`, `data/{DSA,DLA,DTSA}/list`."""

    kind = "debian-tracker"
    version = 1
    description = "Debian security tracker JSON, or DSA/DLA/DTSA list files (or a dir of them)"

    def _parse(self, path: Path, report: ParseReport) -> Iterator[FeedItem]:
        if not path.is_dir():
            yield from self._parse_file(path, report)
            return
        for dirpath, dirnames, filenames in os.walk(path):
            dirnames.sort()
            for fname in sorted(filenames):
                full = Path(dirpath) / fname
                if is_advisory_list_name(full) or fname.endswith(".json"):
                    yield from self._parse_file(full, report)
                else:
                    report.ignored.append(full.relative_to(path).as_posix())

    @staticmethod
    def _parse_file(path: Path, report: ParseReport) -> Iterator[FeedItem]:
        if _first_byte(path) == b"{":
            try:
                data = json.loads(read_bytes(path))
            except ValueError as exc:
                raise FeedError(f"{path}: not valid JSON: {exc}") from exc
            if not isinstance(data, dict):
                raise FeedError(f"{path}: tracker JSON must be an object of source packages")
            yield from parse_tracker(data, report)
            return
        try:
            with path.open(encoding="utf-8") as stream:
                yield from parse_list(stream, path, report)
        except UnicodeDecodeError as exc:
            raise FeedError(f"{path}: not UTF-8 text: {exc}") from exc
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
