"""CISA Known Exploited Vulnerabilities catalogue (JSON, or its CSV twin) -> `KevEntry` (R-D10).

Format: https://www.cisa.gov/known-exploited-vulnerabilities-catalog (schema in the corpus,
`known_exploited_vulnerabilities_schema.json`). `knownRansomwareCampaignUse` is `Known` or
`Unknown`; only `Known` sets `ransomware`.
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from patchwarden.core.advisory import KevEntry
from patchwarden.core.errors import FeedError, MalformedRecord
from patchwarden.feeds.base import FeedItem, FeedParser, ParseReport
from patchwarden.feeds.containers import read_bytes

_CVE = re.compile(r"^CVE-\d{4}-\d{4,}$")
_CSV_COLUMNS = {"cveID", "vendorProject", "product", "dateAdded"}


class KevParser(FeedParser):
    """CISA KEV `known_exploited_vulnerabilities.json` (or `.csv`)."""

    kind = "kev"
    version = 1
    description = "CISA Known Exploited Vulnerabilities catalogue, JSON or CSV"

    def _parse(self, path: Path, report: ParseReport) -> Iterator[FeedItem]:
        self.require_file(path)
        data = read_bytes(path)
        if path.suffix.lower() == ".csv":
            yield from _entries(_csv_rows(path, data), report)
            return
        try:
            doc = json.loads(data)
        except ValueError as exc:
            raise FeedError(f"{path}: not valid JSON: {exc}") from exc
        if not isinstance(doc, dict) or not isinstance(doc.get("vulnerabilities"), list):
            raise FeedError(f"{path}: not a KEV catalogue (no `vulnerabilities` list)")
        rows = doc["vulnerabilities"]
        if isinstance(doc.get("count"), int) and doc["count"] != len(rows):
            report.warn(path.name, f"count says {doc['count']}, catalogue holds {len(rows)}")
        yield from _entries(rows, report)


def _csv_rows(path: Path, data: bytes) -> list[dict[str, str]]:
    try:
        reader = csv.DictReader(io.StringIO(data.decode("utf-8-sig")))
        if not set(reader.fieldnames or ()) >= _CSV_COLUMNS:
            raise FeedError(f"{path}: not a KEV CSV (need columns {sorted(_CSV_COLUMNS)})")
        return list(reader)
    except (UnicodeDecodeError, csv.Error) as exc:
        raise FeedError(f"{path}: unreadable CSV: {exc}") from exc


def _entries(rows: Iterable[Any], report: ParseReport) -> Iterator[KevEntry]:
    for index, row in enumerate(rows):
        cve = row.get("cveID") if isinstance(row, dict) else None
        if not isinstance(cve, str) or not _CVE.match(cve.strip()):
            report.skip(MalformedRecord(f"vulnerabilities[{index}]", f"bad cveID {cve!r}"))
            continue
        yield KevEntry(
            cve=cve.strip(),
            vendor=str(row.get("vendorProject") or ""),
            product=str(row.get("product") or ""),
            name=str(row.get("vulnerabilityName") or ""),
            date_added=str(row.get("dateAdded") or ""),
            due_date=str(row.get("dueDate") or ""),
            ransomware=row.get("knownRansomwareCampaignUse") == "Known",
        )
