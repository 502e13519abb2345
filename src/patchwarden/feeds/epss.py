"""FIRST EPSS daily scores (CSV, optionally gzip-compressed) -> `EpssScore`.

Format (https://www.first.org/epss/data_stats): an optional first line
`#model_version:v2023.03.01,score_date:2025-02-20T00:00:00+0000`, then `cve,epss,percentile`.
The file is streamed row by row (today's file has ~300k rows).
"""

from __future__ import annotations

import csv
import gzip
import io
import re
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import IO

from patchwarden.core.advisory import EpssScore
from patchwarden.core.errors import FeedError, MalformedRecord
from patchwarden.feeds.base import FeedItem, FeedParser, ParseReport

_CVE = re.compile(r"^CVE-\d{4}-\d{4,}$")
_SCORE_DATE = re.compile(r"score_date:(\d{4}-\d{2}-\d{2})")
_COLUMNS = ("cve", "epss", "percentile")


class EpssParser(FeedParser):
    """FIRST EPSS `epss_scores-YYYY-MM-DD.csv[.gz]`."""

    kind = "epss"
    version = 1
    description = "FIRST EPSS scores CSV (plain or .gz)"

    def _parse(self, path: Path, report: ParseReport) -> Iterator[FeedItem]:
        self.require_file(path)
        try:
            with _open(path) as stream:
                yield from _rows(path, stream, report)
        except (OSError, EOFError, zlib.error, UnicodeDecodeError) as exc:
            # gzip.BadGzipFile is an OSError; a truncated .gz raises EOFError mid-stream.
            raise FeedError(f"{path}: unreadable EPSS file: {exc}") from exc


def _open(path: Path) -> IO[str]:
    if path.suffix.lower() == ".gz":
        return io.TextIOWrapper(gzip.open(path, "rb"), encoding="utf-8", newline="")
    return path.open(encoding="utf-8", newline="")


def _rows(path: Path, stream: IO[str], report: ParseReport) -> Iterator[EpssScore]:
    first = stream.readline()
    date = ""
    header_line = 1
    if first.startswith("#"):
        header_line = 2
        found = _SCORE_DATE.search(first)
        date = found.group(1) if found else ""
        first = stream.readline()
    header = [h.strip() for h in first.split(",")]
    if not all(col in header for col in _COLUMNS):
        raise FeedError(f"{path}: not an EPSS CSV (header {first.strip()[:60]!r})")
    cve_i, epss_i, pct_i = (header.index(col) for col in _COLUMNS)
    for number, row in enumerate(csv.reader(stream), start=header_line + 1):
        if not row:
            continue  # a trailing blank line
        try:
            cve = row[cve_i].strip()
            if not _CVE.match(cve):
                raise ValueError(f"bad CVE id {cve!r}")
            yield EpssScore(cve, float(row[epss_i]), float(row[pct_i]), date)
        except (IndexError, ValueError) as exc:
            report.skip(MalformedRecord(f"{path.name}:{number}", f"bad row {row!r}: {exc}"))
