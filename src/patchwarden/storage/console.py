"""Aggregates of the web console's pages: open counts, daily moves, audit log, grouped list."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any, Optional

from sqlalchemy import Connection, case, func, select

from patchwarden.core.records import RecordEvent, State, Trigger
from patchwarden.services.ports import AuditEntry, OpenCount, RecordFilter, VulnerabilityGroup
from patchwarden.storage.records import _where, vulnerability_group, vulnerability_groups
from patchwarden.storage.tables import hosts, record_events, records


class SqlConsoleReadRepository:
    """`services.ports.ConsoleReadRepository` over `records`, `record_events` and `hosts`."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def open_counts(self, statuses: Sequence[State]) -> list[OpenCount]:
        """Records in `statuses` counted by type, bucket and exploitability."""
        rows = self.conn.execute(
            select(records.c.type, records.c.bucket, records.c.exploitable, func.count())
            .where(records.c.status.in_([s.value for s in statuses]))
            .group_by(records.c.type, records.c.bucket, records.c.exploitable)
        )
        return [OpenCount(t, b, bool(e), int(n)) for t, b, e, n in rows]

    def daily_moves(self, states: Sequence[State], since: datetime) -> dict[str, int]:
        """UTC day -> records entering `states` minus records leaving them, from `since` on
        (a range of ix_record_events_at)."""
        inside = [s.value for s in states]
        to_in = record_events.c.to_state.in_(inside)
        from_in = record_events.c.from_state.is_not(None) & record_events.c.from_state.in_(inside)
        delta = case((to_in & ~from_in, 1), (from_in & ~to_in, -1), else_=0)
        if self.conn.dialect.name == "postgresql":
            # The day in UTC, whatever the session's zone.
            day: Any = func.date(func.timezone("UTC", record_events.c.at)).label("day")
        else:
            # SQLite keeps UTC text (YYYY-MM-DD HH:MM:SS…): its first ten characters are the
            # day, cheaper than parsing each value with date().
            day = func.substr(record_events.c.at, 1, 10).label("day")
        rows = self.conn.execute(
            select(day, func.sum(delta)).where(record_events.c.at >= since).group_by(day)
        )
        return {str(d): int(n or 0) for d, n in rows if n}

    def audit(
        self, page: int, per_page: int, actor: str = "", record_id: Optional[int] = None
    ) -> tuple[list[AuditEntry], int]:
        """Record moves newest first, and how many there are."""
        conds = []
        if actor:
            conds.append(record_events.c.actor == actor)
        if record_id is not None:
            conds.append(record_events.c.record_id == record_id)
        count = select(func.count()).select_from(record_events).where(*conds)
        total = int(self.conn.execute(count).scalar_one())
        stmt = (
            select(
                record_events,
                records.c.vuln_id,
                records.c.host_id,
                hosts.c.hostname,
            )
            .select_from(
                record_events.join(records, records.c.id == record_events.c.record_id).join(
                    hosts, hosts.c.id == records.c.host_id
                )
            )
            .where(*conds)
            .order_by(record_events.c.at.desc(), record_events.c.id.desc())
            .limit(per_page)
            .offset((page - 1) * per_page)
        )
        entries = [
            AuditEntry(
                id=int(r.id),
                record_id=int(r.record_id),
                vuln_id=r.vuln_id,
                host_id=r.host_id,
                hostname=r.hostname,
                event=RecordEvent(
                    at=r.at,
                    actor=r.actor,
                    trigger=Trigger(r.trigger),
                    from_state=State(r.from_state) if r.from_state else None,
                    to_state=State(r.to_state),
                    reason=r.reason,
                ),
            )
            for r in self.conn.execute(stmt)
        ]
        return entries, total

    def vulnerability_groups(
        self, where: RecordFilter, page: int, per_page: int
    ) -> tuple[list[VulnerabilityGroup], int]:
        """Matching records grouped by vulnerability and type, most urgent first."""
        grouped = vulnerability_groups()
        cond = _where(where)
        if cond is not None:
            grouped = grouped.where(cond)
        # One aggregation, paged here: counting the groups in SQL would aggregate twice.
        ordered = self.conn.execute(
            grouped.order_by(func.max(records.c.urgency).desc(), records.c.vuln_id)
        ).all()
        rows = ordered[(page - 1) * per_page : page * per_page]
        return [vulnerability_group(r) for r in rows], len(ordered)
