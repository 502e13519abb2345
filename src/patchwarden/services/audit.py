"""The audit log: who moved which record, when, from which state to which, and why."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

from patchwarden.services.ports import UnitOfWork
from patchwarden.services.views import check_page


@dataclass(frozen=True)
class AuditLine:
    """One move of a record."""

    id: int
    at: str
    actor: str
    trigger: str
    record_id: int
    vuln_id: str
    host_id: str
    hostname: str
    from_state: Optional[str]
    to_state: str
    reason: str


@dataclass(frozen=True)
class AuditPage:
    """One page of the audit log, newest first."""

    items: list[AuditLine]
    total: int
    page: int
    per_page: int
    actor: str


def audit_log(uow: UnitOfWork, page: int = 1, per_page: int = 50, actor: str = "") -> AuditPage:
    """Record moves newest first (only `actor`'s when given)."""
    check_page(page, per_page)
    actor = actor.strip()
    with uow.read():
        entries, total = uow.console.audit(page, per_page, actor)
    items = [
        AuditLine(
            id=e.id,
            at=e.event.at.isoformat(),
            actor=e.event.actor,
            trigger=e.event.trigger.value,
            record_id=e.record_id,
            vuln_id=e.vuln_id,
            host_id=e.host_id,
            hostname=e.hostname,
            from_state=e.event.from_state.value if e.event.from_state else None,
            to_state=e.event.to_state.value,
            reason=e.event.reason,
        )
        for e in entries
    ]
    return AuditPage(items, total, page, per_page, actor)
