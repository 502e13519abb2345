"""Records and vulnerabilities (filters, urgency sort, pagination, history)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Query

from patchwarden.server.deps import ConnDep, UserDep
from patchwarden.services import console_queries

router = APIRouter(prefix="/api/v1", tags=["records"])


@router.get("/records")
def list_records(
    conn: ConnDep,
    user: UserDep,
    type: str | None = Query(None, description="linux,windows,cms,app,emergency (comma list)"),
    severity: str | None = Query(None, description="critical,high,medium,low,unknown"),
    status: str | None = Query(None, description="states (comma list); default open; 'all'"),
    host: str | None = Query(None, description="host id or hostname"),
    exploitable: bool | None = Query(None, description="only known-exploited (KEV) records"),
    bucket: str | None = Query(None, description="asap,later,can_wait"),
    vuln_id: str | None = None,
    page: int = 1,
    per_page: int = 50,
) -> dict[str, Any]:
    """Records, most urgent first (R-D11); `exploitable=true` is the R-D10 switch."""
    return console_queries.list_records(
        conn,
        type=type,
        severity=severity,
        status=status,
        host=host,
        exploitable=exploitable,
        bucket=bucket,
        vuln_id=vuln_id,
        page=page,
        per_page=per_page,
    )


@router.get("/records/{record_id}")
def get_record(record_id: int, conn: ConnDep, user: UserDep) -> dict[str, Any]:
    """One record with its full history (every transition, who, when, why)."""
    return console_queries.record_detail(conn, record_id)


@router.get("/vulnerabilities")
def list_vulnerabilities(
    conn: ConnDep, user: UserDep, page: int = 1, per_page: int = 50
) -> dict[str, Any]:
    """Open records grouped by vulnerability, with affected-host counts."""
    return console_queries.vulnerabilities(conn, page, per_page)
