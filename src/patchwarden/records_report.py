"""`patchwarden records`: a console's records as a table or JSON, through its REST API.

For operators without the web console (and for `make run`): the same filters as
`GET /api/v1/records`, most urgent first.
"""

from __future__ import annotations

from typing import Any

import httpx
from rich.console import Console
from rich.table import Table
from rich.text import Text

from patchwarden.core.advisory import Severity
from patchwarden.core.errors import PatchwardenError
from patchwarden.report import SEVERITY_STYLE

MAX_PAGE = 500
"""The API's largest page."""


class ConsoleRequestError(PatchwardenError):
    """The console could not be reached, refused the request or gave no records answer."""


def fetch_records(
    server: str,
    token: str,
    filters: dict[str, str],
    limit: int,
    page_size: int = MAX_PAGE,
    timeout: float = 30.0,
) -> tuple[list[dict[str, Any]], int]:
    """Up to `limit` records matching `filters`, most urgent first, and how many match;
    fetched `page_size` records per request."""
    url = server.rstrip("/") + "/api/v1/records"
    headers = {"Authorization": f"Bearer {token}"}
    items: list[dict[str, Any]] = []
    total, page = 0, 1
    with httpx.Client(timeout=timeout, headers=headers) as client:
        while len(items) < limit:
            per_page = min(page_size, limit - len(items))
            try:
                reply = client.get(url, params={**filters, "page": page, "per_page": per_page})
            except httpx.HTTPError as exc:
                raise ConsoleRequestError(f"cannot reach the console at {server}: {exc}") from None
            if reply.status_code != 200:
                raise ConsoleRequestError(
                    f"console answered HTTP {reply.status_code}: {_detail(reply)}"
                )
            try:
                body = reply.json()
                total, page_items = int(body["total"]), list(body["items"])
            except (ValueError, TypeError, KeyError):
                raise ConsoleRequestError(
                    f"{url} did not answer with records: is {server} a patchwarden console?"
                ) from None
            items += page_items
            if len(page_items) < per_page:
                break
            page += 1
    return items[:limit], total


def _detail(reply: httpx.Response) -> str:
    try:
        return str(reply.json().get("detail"))
    except ValueError:
        return reply.text[:200]


def print_records(console: Console, items: list[dict[str, Any]], total: int) -> None:
    """A table of records (most urgent first) and a count line; the host column only when
    the records are of several hosts."""
    hosts = sorted({r["hostname"] for r in items})
    columns = ["urgency", "severity", "package", "installed", "fixed", "vulnerability", "notes"]
    if len(hosts) > 1:
        columns.insert(2, "host")
    table = Table(header_style="bold", title=hosts[0] if len(hosts) == 1 else None)
    for col in columns:
        table.add_column(col, overflow="fold")
    for r in items:
        severity = Severity.parse(r["severity"])
        notes = []
        if r["exploitable"]:
            notes.append("[bold red]KEV[/]")
        if r["fixed_version"] is None:
            notes.append("no fix")
        if r["status"] != "unfixed":
            notes.append(r["status"])
        if r["confidence"] != "high":
            notes.append(f"{r['method']} ({r['confidence']})")
        cells = {
            "urgency": f"{r['urgency']:.1f} {r['bucket']}",
            "severity": Text(severity.value, style=SEVERITY_STYLE[severity]),
            "host": r["hostname"],
            "package": r["package"],
            "installed": r["installed_version"],
            "fixed": r["fixed_version"] or "—",
            "vulnerability": r["vuln_id"],
            "notes": " ".join(notes),
        }
        table.add_row(*(cells[c] for c in columns))
    if items:
        console.print(table)
    shown = f"; the {len(items)} most urgent shown" if len(items) < total else ""
    console.print(f"{total} records{shown}")
