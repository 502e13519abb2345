"""`scan --format csv`: one row per finding under a header line, quoted as RFC 4180 says
(fields holding a comma, a quote or a line break in double quotes, quotes doubled, CRLF
line ends), so spreadsheets and `csv` readers get the fields back intact."""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from typing import Any

from patchwarden.core.matching import Match

COLUMNS = (
    "id",
    "severity",
    "cvss",
    "package",
    "source_package",
    "installed_version",
    "fixed_version",
    "exploitable",
    "epss",
    "cves",
    "advisories",
    "type",
    "method",
    "confidence",
    "restart_required",
    "reason",
    "summary",
    # Added by issue 8, at the end so that scripts reading columns by position go on working.
    "severity_source",
    "cvss_vector",
    "title",
    "references",
)
"""The header line; list fields are space-separated inside their cell."""


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (list, tuple)):
        return " ".join(str(v) for v in value)
    return str(value)


def csv_text(matches: Sequence[Match]) -> str:
    """The CSV of `matches`, in the order the JSON lists them."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n", quoting=csv.QUOTE_MINIMAL)
    writer.writerow(COLUMNS)
    for m in matches:
        row = m.to_dict()
        writer.writerow([_cell(row.get(c)) for c in COLUMNS])
    return out.getvalue()
