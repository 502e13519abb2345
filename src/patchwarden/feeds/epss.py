"""FIRST EPSS daily scores (CSV, optionally gzip-compressed) -> `EpssScore`.

Format (https://www.first.org/epss/data_stats): an optional first line
`#model_version:v2023.03.01,score_date:2025-02-20T00:00:00+0000`, then `cve,epss,percentile`.
The file is streamed row by row (today's file has ~300k rows, 12 MB inflated), and bounded:
the scheduler imports it inside the console, and a 1 MB .gz can inflate to 1 GB. A line over
`MAX_LINE` characters is skipped without being held whole, and a file over `MAX_CHARACTERS`
is refused.
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

_CVE = re.compile(r"^CVE-[0-9]{4}-[0-9]{4,}$")
_SCORE_DATE = re.compile(r"score_date:(\d{4}-\d{2}-\d{2})")
_COLUMNS = ("cve", "epss", "percentile")

MAX_LINE = 64 * 1024
"""Characters of one line (a row is about 40)."""
MAX_CHARACTERS = 2**30
"""Characters of the whole file, inflated (80 times today's)."""


class EpssParser(FeedParser):
    """FIRST EPSS `epss_scores-YYYY-MM-DD.csv[.gz]`."""

    kind = "epss"
    version = 1
    description = "FIRST EPSS scores CSV (plain or .gz)"
    checks_text = True  # a CVE id matched in ASCII, two numbers checked, a date of digits

    def _parse(self, path: Path, report: ParseReport) -> Iterator[FeedItem]:
        self.require_file(path)
        try:
            with _open(path) as stream:
                yield from _rows(path, stream, report)
        except (OSError, EOFError, zlib.error, UnicodeDecodeError) as exc:
            # gzip.BadGzipFile is an OSError; a truncated .gz raises EOFError mid-stream.
            raise FeedError(f"{path}: unreadable EPSS file: {exc}") from exc


def _open(path: Path) -> IO[str]:
    # surrogateescape: a byte that is not UTF-8 spoils its row (its CVE id or number does
    # not parse), not the file.
    if path.suffix.lower() == ".gz":
        return io.TextIOWrapper(
            gzip.open(path, "rb"), encoding="utf-8", errors="surrogateescape", newline=""
        )
    return path.open(encoding="utf-8", errors="surrogateescape", newline="")


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
    reader = csv.reader(_bounded_lines(path, stream, header_line, report))
    while True:
        record_id = f"{path.name}:{reader.line_num + header_line + 1}"
        try:
            row = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:  # a field over csv.field_size_limit(), for one
            report.skip(MalformedRecord(record_id, f"unreadable CSV row: {exc}"))
            continue
        if not row:
            continue  # a trailing blank line
        score = report.attempt(record_id, _score, record_id, row, (cve_i, epss_i, pct_i), date)
        if score is not None:
            yield score


def _bounded_lines(
    path: Path, stream: IO[str], header_lines: int, report: ParseReport
) -> Iterator[str]:
    """The lines of `stream`; a line over MAX_LINE is skipped (an empty line stands in for
    it, so csv line numbers stay right) and a file over MAX_CHARACTERS is a FeedError."""
    total = 0
    number = header_lines
    while True:
        line = stream.readline(MAX_LINE + 1)
        if not line:
            return
        number += 1
        total += len(line)
        if len(line) > MAX_LINE:
            while line and not line.endswith("\n"):  # drop the rest, a chunk at a time
                line = stream.readline(MAX_LINE)
                total += len(line)
                if total > MAX_CHARACTERS:
                    break
            report.skip(MalformedRecord(f"{path.name}:{number}", f"line over {MAX_LINE} chars"))
            line = "\n"
        if total > MAX_CHARACTERS:
            raise FeedError(f"{path}: more than {MAX_CHARACTERS} characters")
        yield line


def _score(record_id: str, row: list[str], columns: tuple[int, int, int], date: str) -> EpssScore:
    cve_i, epss_i, pct_i = columns
    try:
        cve = row[cve_i].strip()
        if not _CVE.match(cve):
            raise ValueError(f"bad CVE id {cve!r}")
        epss, percentile = float(row[epss_i]), float(row[pct_i])
        # Both are probabilities; NaN fails the test too (SQLite would store it as NULL).
        if not (0.0 <= epss <= 1.0 and 0.0 <= percentile <= 1.0):
            raise ValueError("epss and percentile must lie between 0 and 1")
    except (IndexError, ValueError) as exc:
        raise MalformedRecord(record_id, f"bad row {row!r}: {exc}") from None
    return EpssScore(cve, epss, percentile, date)
