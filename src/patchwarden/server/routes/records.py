"""Records and vulnerabilities (filters, urgency sort, pagination, history)."""

from __future__ import annotations

from typing import Optional

from fastapi import APIRouter, Query

from patchwarden.core.matching import Method
from patchwarden.server.deps import ClockDep, UowDep, UserDep
from patchwarden.server.params import Page, PathId
from patchwarden.services import views

router = APIRouter(prefix="/api/v1", tags=["records"])


@router.get("/records")
def list_records(
    uow: UowDep,
    user: UserDep,
    type: Optional[str] = Query(None, description="linux,windows,cms,app,emergency (comma list)"),
    severity: Optional[str] = Query(None, description="critical,high,medium,low,none,unknown"),
    status: Optional[str] = Query(None, description="states (comma list); default open; 'all'"),
    host: Optional[str] = Query(None, description="host id or hostname"),
    exploitable: Optional[bool] = Query(None, description="only known-exploited (KEV) records"),
    bucket: Optional[str] = Query(None, description="asap,later,can_wait"),
    vuln_id: Optional[str] = None,
    method: Optional[str] = Query(None, description=",".join(m.value for m in Method)),
    confidence: Optional[str] = Query(None, description="confirmed,high,medium,low"),
    page: Page = 1,
    per_page: int = 50,
) -> views.RecordPage:
    """Records, most urgent first; `exploitable=true` lists only those with known exploitation."""
    # Urgency order: R-D11; the exploitable switch: R-D10.
    return views.list_records(
        uow,
        type=type,
        severity=severity,
        status=status,
        host=host,
        exploitable=exploitable,
        bucket=bucket,
        vuln_id=vuln_id,
        method=method,
        confidence=confidence,
        page=page,
        per_page=per_page,
    )


@router.get("/records/{record_id}")
def get_record(
    record_id: PathId, uow: UowDep, clock: ClockDep, user: UserDep
) -> views.RecordDetailView:
    """One record with its full history (every transition, who, when, why) and whether each
    action (fix, verify, restart, rollback, ignore) is allowed to this user now, or why not."""
    return views.record_detail(uow, clock, user, record_id)


@router.get("/vulnerabilities")
def list_vulnerabilities(
    uow: UowDep, user: UserDep, page: Page = 1, per_page: int = 50
) -> views.VulnerabilityPage:
    """Open records grouped by vulnerability, with affected-host counts."""
    return views.vulnerabilities(uow, page, per_page)
