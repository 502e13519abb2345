"""CISA Known Exploited Vulnerabilities catalogue (JSON, or its CSV twin) -> `KevEntry` (R-D10).

Format: https://www.cisa.gov/known-exploited-vulnerabilities-catalog (schema in the corpus,
`known_exploited_vulnerabilities_schema.json`). `knownRansomwareCampaignUse` is `Known` or
`Unknown`; only `Known` sets `ransomware`.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from patchwarden.core.advisory import KevEntry
from patchwarden.core.errors import FeedError, MalformedRecord
from patchwarden.core.text import text_problem
from patchwarden.feeds.base import (
    FeedItem,
    FeedParser,
    ParseReport,
    keep_storable,
    may_hold_unstorable,
)
from patchwarden.feeds.containers import read_bytes
from patchwarden.feeds.decode import load_json

_CVE = re.compile(r"^CVE-[0-9]{4}-[0-9]{4,}$")
_CSV_COLUMNS = {"cveID", "vendorProject", "product", "dateAdded"}


class KevParser(FeedParser):
    """CISA KEV `known_exploited_vulnerabilities.json` (or `.csv`)."""

    kind = "kev"
    version = 1
    description = "CISA Known Exploited Vulnerabilities catalogue, JSON or CSV"
    checks_text = True

    def _parse(self, path: Path, report: ParseReport) -> Iterator[FeedItem]:
        self.require_file(path)
        data = read_bytes(path)
        if path.suffix.lower() == ".csv":
            text = data.decode("utf-8-sig", errors="surrogateescape")
            yield from _entries(_csv_rows(path, text), report, text_problem(text) is not None)
            return
        try:
            doc = load_json(data)
        except ValueError as exc:
            raise FeedError(f"{path}: {exc}") from exc
        if not isinstance(doc, dict) or not isinstance(doc.get("vulnerabilities"), list):
            raise FeedError(f"{path}: not a KEV catalogue (no `vulnerabilities` list)")
        rows = doc["vulnerabilities"]
        if isinstance(doc.get("count"), int) and doc["count"] != len(rows):
            report.warn(path.name, f"count says {doc['count']}, catalogue holds {len(rows)}")
        yield from _entries(rows, report, may_hold_unstorable(data))


def _csv_rows(path: Path, text: str) -> list[dict[str, str] | csv.Error]:
    """The rows of a KEV CSV, a row the csv module cannot read as its error (one bad row is
    a skip, not the end of the file)."""
    # A byte that is not UTF-8 spoils one row, not the file: surrogateescape (by the caller)
    # keeps it as a lone surrogate, and `_entries` refuses to store that row.
    reader = csv.DictReader(io.StringIO(text))
    try:
        if not set(reader.fieldnames or ()) >= _CSV_COLUMNS:
            raise FeedError(f"{path}: not a KEV CSV (need columns {sorted(_CSV_COLUMNS)})")
    except csv.Error as exc:
        raise FeedError(f"{path}: unreadable CSV: {exc}") from exc
    rows: list[dict[str, str] | csv.Error] = []
    while True:
        try:
            rows.append(next(reader))
        except StopIteration:
            return rows
        except csv.Error as exc:  # a field over csv.field_size_limit(), for one
            rows.append(exc)


def _entries(rows: Iterable[Any], report: ParseReport, suspect: bool) -> Iterator[KevEntry]:
    """The entries of `rows`; each checked for unstorable text when the input is `suspect`."""
    for index, row in enumerate(rows):
        entry = report.attempt(f"vulnerabilities[{index}]", _entry, index, row)
        if entry is not None and (not suspect or keep_storable(entry, report)):
            yield entry


def _entry(index: int, row: Any) -> KevEntry:
    if isinstance(row, csv.Error):
        raise MalformedRecord(f"vulnerabilities[{index}]", f"unreadable CSV row: {row}")
    cve = row.get("cveID") if isinstance(row, dict) else None
    if not isinstance(cve, str) or not _CVE.match(cve.strip()):
        raise MalformedRecord(f"vulnerabilities[{index}]", f"bad cveID {cve!r}")
    return KevEntry(
        cve=cve.strip(),
        vendor=str(row.get("vendorProject") or ""),
        product=str(row.get("product") or ""),
        name=str(row.get("vulnerabilityName") or ""),
        date_added=str(row.get("dateAdded") or ""),
        due_date=str(row.get("dueDate") or ""),
        ransomware=row.get("knownRansomwareCampaignUse") == "Known",
    )
