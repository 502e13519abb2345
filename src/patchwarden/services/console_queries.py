"""Read side of the console: hosts, records, vulnerabilities, catalogue (R-T7)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Connection

from patchwarden.services.console_settings import ConsoleSettings
from patchwarden.services.errors import Refused
from patchwarden.services.records import OPEN_STATES
from patchwarden.storage import records_repo as rr
from patchwarden.storage import repositories as repo

MAX_PER_PAGE = 500


def _iso(value: Any) -> Any:
    return value.isoformat() if isinstance(value, datetime) else value


def host_view(
    host: dict[str, Any], now: datetime, settings: ConsoleSettings, open_records: int
) -> dict[str, Any]:
    """Public form of a host: online flag, OS and EOL, kernel facts (R-D7), last scan."""
    last = host.get("last_seen_at")
    online = (
        last is not None and (now - last).total_seconds() <= settings.agent_offline_after_seconds
    )
    os_ = host.get("os") or {}
    return {
        "id": host["id"],
        "hostname": host["hostname"],
        "machine_id": host.get("machine_id", ""),
        "online": online,
        "last_seen_at": _iso(last),
        "last_scan_at": _iso(host.get("last_inventory_at")),
        "enrolled_at": _iso(host.get("enrolled_at")),
        "agent_version": host.get("agent_version", ""),
        "os": os_,
        "eol": bool(os_.get("eol")),
        "kernel": host.get("kernel") or {},
        "packages": host.get("packages", 0),
        "collector_errors": host.get("collector_errors") or [],
        "open_records": open_records,
    }


def list_hosts(conn: Connection, now: datetime, settings: ConsoleSettings) -> list[dict[str, Any]]:
    """Every host with its open record count."""
    counts = rr.counts_by_host(conn, OPEN_STATES)
    return [host_view(h, now, settings, counts.get(h["id"], 0)) for h in repo.list_hosts(conn)]


def record_view(row: dict[str, Any]) -> dict[str, Any]:
    """Public form of a record row (the list contract of issue #3)."""
    return {
        "id": row["id"],
        "host_id": row["host_id"],
        "hostname": row.get("hostname", ""),
        "vuln_id": row["vuln_id"],
        "cves": row["cves"] or [],
        "type": row["type"],
        "package": row["package"],
        "source_package": row["source_package"],
        "installed_version": row["installed_version"],
        "fixed_version": row["fixed_version"],
        "status": row["status"],
        "severity": row["severity"],
        "cvss": row["cvss"],
        "urgency": row["urgency"],
        "bucket": row["bucket"],
        "exploitable": bool(row["exploitable"]),
        "epss": row["epss"],
        "method": row["method"],
        "confidence": row["confidence"],
        "restart_required": bool(row["restart_required"]),
        "reason": row["reason"],
        "advisories": row["advisories"] or [],
        "occurrence": row["occurrence"],
        "first_seen": _iso(row["first_seen"]),
        "last_seen": _iso(row["last_seen"]),
        "status_changed_at": _iso(row["status_changed_at"]),
        "undetected_since": _iso(row["undetected_since"]),
        "ignored_reason": row["ignored_reason"],
        "ignored_by": row["ignored_by"],
    }


def _csv(value: str | None) -> tuple[str, ...]:
    return tuple(v.strip() for v in (value or "").split(",") if v.strip())


def list_records(
    conn: Connection,
    *,
    type: str | None = None,
    severity: str | None = None,
    status: str | None = None,
    host: str | None = None,
    exploitable: bool | None = None,
    bucket: str | None = None,
    vuln_id: str | None = None,
    page: int = 1,
    per_page: int = 50,
) -> dict[str, Any]:
    """Filtered, most-urgent-first page of records (R-D10 exploitable filter, R-D11 sort).

    `status` defaults to the open list (not fixed, not ignored: R-L5); `status=all` lifts it.
    """
    if page < 1 or not 1 <= per_page <= MAX_PER_PAGE:
        raise Refused(f"page must be >= 1 and per_page within 1..{MAX_PER_PAGE}", 422)
    statuses = _csv(status)
    if not statuses:
        statuses = OPEN_STATES
    elif statuses == ("all",):
        statuses = ()
    f = rr.RecordFilter(
        types=_csv(type),
        severities=_csv(severity),
        statuses=statuses,
        host=host or "",
        exploitable=exploitable,
        buckets=_csv(bucket),
        vuln_id=vuln_id or "",
    )
    rows, total = rr.query(conn, f, page, per_page)
    return {
        "items": [record_view(r) for r in rows],
        "total": total,
        "page": page,
        "per_page": per_page,
    }


def record_detail(conn: Connection, record_id: int) -> dict[str, Any]:
    """One record with its history."""
    row = rr.get(conn, record_id)
    if row is None:
        raise Refused(f"unknown record {record_id}", 404)
    view = record_view(row)
    view["summary"] = row["summary"]
    view["history"] = [{**e, "at": _iso(e["at"])} for e in rr.events_of(conn, record_id)]
    return view


def vulnerabilities(conn: Connection, page: int = 1, per_page: int = 50) -> dict[str, Any]:
    """Open records grouped by vulnerability with affected-host counts."""
    if page < 1 or not 1 <= per_page <= MAX_PER_PAGE:
        raise Refused(f"page must be >= 1 and per_page within 1..{MAX_PER_PAGE}", 422)
    rows, total = rr.vulnerabilities(conn, OPEN_STATES, page, per_page)
    names = {4: "critical", 3: "high", 2: "medium", 1: "low", 0: "unknown"}
    items = [
        {
            "vuln_id": r["vuln_id"],
            "type": r["type"],
            "hosts": r["hosts"],
            "records": r["records"],
            "severity": names.get(int(r["severity_rank"] or 0), "unknown"),
            "urgency": r["urgency"],
            "exploitable": bool(r["exploitable"]),
        }
        for r in rows
    ]
    return {"items": items, "total": total, "page": page, "per_page": per_page}
