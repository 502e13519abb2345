"""Records and their audit trail: rows <-> `core.records` values and `services.ports` read
models (STYLE A5)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import fields
from typing import Any, Optional

from sqlalchemy import (
    ColumnElement,
    Connection,
    Select,
    and_,
    bindparam,
    case,
    func,
    insert,
    or_,
    select,
    update,
)

from patchwarden.core.advisory import Severity
from patchwarden.core.app_instances import AppComponent, AppProcess
from patchwarden.core.records import Record, RecordEvent, State, Trigger
from patchwarden.core.vocabulary import VulnType
from patchwarden.services.ports import (
    ListedRecord,
    NewRecord,
    RecordDetail,
    RecordFilter,
    StoredEvent,
    StoredRecord,
    VulnerabilityGroup,
)
from patchwarden.storage.tables import hosts, record_events, records

DETAIL_COLUMNS = tuple(f.name for f in fields(RecordDetail))
"""Columns describing what was found (refreshed by every detection), beside the lifecycle."""

_SEVERITY_RANK = case(
    {"critical": 4, "high": 3, "medium": 2, "low": 1}, value=records.c.severity, else_=0
)
_RANKED = {4: Severity.CRITICAL, 3: Severity.HIGH, 2: Severity.MEDIUM, 1: Severity.LOW}


def vulnerability_groups() -> Select[Any]:
    """Records grouped by vulnerability and type: affected hosts, records, worst severity,
    highest urgency, exploitable (rows for `vulnerability_group`; the caller filters, orders
    and pages)."""
    return select(
        records.c.vuln_id,
        records.c.type,
        func.count(func.distinct(records.c.host_id)).label("hosts"),
        func.count().label("records"),
        func.max(_SEVERITY_RANK).label("severity_rank"),
        func.max(records.c.urgency).label("urgency"),
        func.max(case((records.c.exploitable, 1), else_=0)).label("exploitable"),
    ).group_by(records.c.vuln_id, records.c.type)


def vulnerability_group(row: Any) -> VulnerabilityGroup:
    """A row of `vulnerability_groups()` as its read model."""
    return VulnerabilityGroup(
        vuln_id=row.vuln_id,
        type=row.type,
        hosts=int(row.hosts),
        records=int(row.records),
        severity=_RANKED.get(int(row.severity_rank or 0), Severity.UNKNOWN),
        urgency=float(row.urgency),
        exploitable=bool(row.exploitable),
    )


def _record(row: Any) -> Record:
    return Record(
        state=State(row.status),
        vuln_type=VulnType(row.type),
        severity=Severity(row.severity),
        first_seen=row.first_seen,
        last_seen=row.last_seen,
        changed_at=row.status_changed_at,
        undetected_since=row.undetected_since,
        occurrence=row.occurrence,
        state_before=State(row.state_before) if row.state_before else None,
        ignored_reason=row.ignored_reason,
        ignored_by=row.ignored_by,
        offline_since=row.offline_since,
    )


def _lifecycle_values(rec: Record) -> dict[str, Any]:
    return {
        "status": rec.state.value,
        "type": rec.vuln_type.value,
        "severity": rec.severity.value,
        "first_seen": rec.first_seen,
        "last_seen": rec.last_seen,
        "status_changed_at": rec.changed_at,
        "undetected_since": rec.undetected_since,
        "occurrence": rec.occurrence,
        "state_before": rec.state_before.value if rec.state_before else None,
        "ignored_reason": rec.ignored_reason,
        "ignored_by": rec.ignored_by,
        "offline_since": rec.offline_since,
    }


def _detail_values(detail: RecordDetail) -> dict[str, Any]:
    # Not dataclasses.asdict: that deep-copies, and this runs for every record of an upload.
    values = {c: getattr(detail, c) for c in DETAIL_COLUMNS}
    # An application record's process and component are JSON objects (0006).
    if detail.process is not None:
        values["process"] = detail.process.to_dict()
    if detail.component is not None:
        values["component"] = detail.component.to_dict()
    return values


def _detail(row: Any) -> RecordDetail:
    return RecordDetail(
        package=row.package,
        source_package=row.source_package,
        installed_version=row.installed_version,
        fixed_version=row.fixed_version,
        cves=tuple(row.cves or ()),
        advisories=tuple(row.advisories or ()),
        summary=row.summary,
        cvss=row.cvss,
        exploitable=bool(row.exploitable),
        epss=row.epss,
        method=row.method,
        confidence=row.confidence,
        restart_required=bool(row.restart_required),
        reason=row.reason,
        urgency=row.urgency,
        bucket=row.bucket,
        severity_source=row.severity_source,
        cvss_vector=row.cvss_vector or "",
        title=row.title or "",
        references=tuple(row.references or ()),
        process=AppProcess.from_dict(row.process) if row.process else None,
        component=AppComponent.from_dict(row.component) if row.component else None,
    )


def _stored(row: Any) -> StoredRecord:
    return StoredRecord(
        id=int(row.id),
        host_id=row.host_id,
        vuln_id=row.vuln_id,
        affected_key=row.affected_key,
        record=_record(row),
        detail=_detail(row),
    )


def _changed(stored: StoredRecord, rec: Record, detail: Optional[RecordDetail]) -> dict[str, Any]:
    """The columns whose values differ between `stored` and (`rec`, `detail`)."""
    values: dict[str, Any] = {}
    # Equal dataclasses first: most records of a report keep their detail, and the
    # column-by-column comparison is what an upload of hundreds of records spends time on.
    if rec != stored.record:
        old = _lifecycle_values(stored.record)
        values.update((k, v) for k, v in _lifecycle_values(rec).items() if old[k] != v)
    if detail is not None and detail != stored.detail:
        old = _detail_values(stored.detail)
        values.update((k, v) for k, v in _detail_values(detail).items() if old[k] != v)
    return values


def _where(f: RecordFilter) -> Any:
    conds: list[ColumnElement[bool]] = []
    if f.types:
        conds.append(records.c.type.in_(f.types))
    if f.severities:
        conds.append(records.c.severity.in_(f.severities))
    if f.statuses:
        conds.append(records.c.status.in_(f.statuses))
    if f.host:
        # Hostname -> host ids first: an OR over both sides of the join cannot use
        # ix_records_host_status and scanned every record (2.9 s at 1M records on PostgreSQL).
        conds.append(
            records.c.host_id.in_(
                select(hosts.c.id).where(or_(hosts.c.id == f.host, hosts.c.hostname == f.host))
            )
        )
    if f.exploitable is not None:
        conds.append(records.c.exploitable.is_(f.exploitable))
    if f.buckets:
        conds.append(records.c.bucket.in_(f.buckets))
    if f.vuln_id:
        conds.append(records.c.vuln_id == f.vuln_id)
    if f.methods:
        conds.append(records.c.method.in_(f.methods))
    if f.confidences:
        conds.append(records.c.confidence.in_(f.confidences))
    return and_(*conds) if conds else None


class SqlRecordRepository:
    """`services.ports.RecordRepository` over the `records` table."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def of_host(self, host_id: str, vuln_type: VulnType) -> list[StoredRecord]:
        """Every record of a host and type."""
        rows = self.conn.execute(
            select(records)
            .where(records.c.host_id == host_id, records.c.type == vuln_type.value)
            .order_by(records.c.id)  # PostgreSQL's heap order moves with updates
        )
        return [_stored(r) for r in rows]

    def by_ids(self, ids: Sequence[int]) -> list[StoredRecord]:
        """Records by id (unknown ids are absent)."""
        if not ids:
            return []
        rows = self.conn.execute(select(records).where(records.c.id.in_(ids)))
        return [_stored(r) for r in rows]

    def add(self, new: Sequence[NewRecord]) -> list[int]:
        """Create records; their ids in input order.

        One executemany (a host's first inventory creates hundreds), then one SELECT for the
        ids: `INSERT … RETURNING` over many rows renders one huge statement that psycopg
        re-parses in Python, four times slower on PostgreSQL than the pipelined executemany.
        """
        if not new:
            return []
        params = [
            {
                "host_id": n.host_id,
                "vuln_id": n.vuln_id,
                "affected_key": n.affected_key,
                **_lifecycle_values(n.record),
                **_detail_values(n.detail),
            }
            for n in new
        ]
        self.conn.execute(insert(records), params)
        ids: dict[tuple[str, str, str], int] = {}
        for host_id in {n.host_id for n in new}:
            found = self.conn.execute(
                select(records.c.id, records.c.vuln_id, records.c.affected_key).where(
                    records.c.host_id == host_id
                )
            )
            ids.update({(host_id, r.vuln_id, r.affected_key): int(r.id) for r in found})
        return [ids[(n.host_id, n.vuln_id, n.affected_key)] for n in new]

    def update(
        self, changes: Sequence[tuple[StoredRecord, Record, Optional[RecordDetail]]]
    ) -> None:
        """Write back `(as stored, new lifecycle, new detail or None)`.

        Only the columns that changed are written, one executemany per set of such columns:
        a host's report mostly moves `last_seen` alone, and rewriting every column of
        hundreds of unchanged records dominated the second and later uploads.
        """
        groups: dict[tuple[str, ...], list[dict[str, Any]]] = {}
        for stored, rec, detail in changes:
            values = _changed(stored, rec, detail)
            if not values:
                continue
            groups.setdefault(tuple(values), []).append(
                {"_id": stored.id, **{f"_{k}": v for k, v in values.items()}}
            )
        for columns, params in groups.items():
            # Bind names must differ from column names in an UPDATE's SET clause (SQLAlchemy).
            stmt = (
                update(records)
                .where(records.c.id == bindparam("_id"))
                .values({c: bindparam(f"_{c}") for c in columns})
            )
            self.conn.execute(stmt, params)

    def query(
        self, where: RecordFilter, page: int, per_page: int
    ) -> tuple[list[ListedRecord], int]:
        """One page of records, most urgent first, and the total count."""
        joined = records.join(hosts, hosts.c.id == records.c.host_id)
        cond = _where(where)
        # The filters only read `records` and every record has its host (foreign key): the
        # count needs no join.
        count = select(func.count()).select_from(records)
        stmt = select(records, hosts.c.hostname).select_from(joined)
        if cond is not None:
            count, stmt = count.where(cond), stmt.where(cond)
        total = self.conn.execute(count).scalar_one()
        rows = self.conn.execute(
            stmt.order_by(records.c.urgency.desc(), records.c.id)
            .limit(per_page)
            .offset((page - 1) * per_page)
        )
        return [ListedRecord(_stored(r), r.hostname) for r in rows], int(total)

    def get(self, record_id: int) -> Optional[ListedRecord]:
        """One record with its hostname."""
        row = self.conn.execute(
            select(records, hosts.c.hostname)
            .select_from(records.join(hosts, hosts.c.id == records.c.host_id))
            .where(records.c.id == record_id)
        ).first()
        return ListedRecord(_stored(row), row.hostname) if row else None

    def vulnerabilities(
        self, statuses: Sequence[State], page: int, per_page: int
    ) -> tuple[list[VulnerabilityGroup], int]:
        """Records grouped by vulnerability: affected hosts and records, worst severity."""
        grouped = vulnerability_groups().where(records.c.status.in_([s.value for s in statuses]))
        total = self.conn.execute(select(func.count()).select_from(grouped.subquery())).scalar_one()
        rows = self.conn.execute(
            grouped.order_by(func.max(records.c.urgency).desc(), records.c.vuln_id)
            .limit(per_page)
            .offset((page - 1) * per_page)
        )
        return [vulnerability_group(r) for r in rows], int(total)

    def counts_by_host(self, statuses: Sequence[State]) -> dict[str, int]:
        """Records in `statuses` per host."""
        rows = self.conn.execute(
            select(records.c.host_id, func.count())
            .where(records.c.status.in_([s.value for s in statuses]))
            .group_by(records.c.host_id)
        )
        return {h: int(n) for h, n in rows}


class SqlEventRepository:
    """`services.ports.EventRepository` over `record_events`."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def add(self, events: Sequence[tuple[int, RecordEvent]]) -> None:
        """Append `(record id, event)` pairs in one statement."""
        rows = [
            {
                "record_id": record_id,
                "at": e.at,
                "actor": e.actor,
                "trigger": e.trigger.value,
                "from_state": e.from_state.value if e.from_state else None,
                "to_state": e.to_state.value,
                "reason": e.reason,
            }
            for record_id, e in events
        ]
        if rows:
            self.conn.execute(insert(record_events), rows)

    def of_record(self, record_id: int) -> list[StoredEvent]:
        """A record's history, oldest first."""
        rows = self.conn.execute(
            select(record_events)
            .where(record_events.c.record_id == record_id)
            .order_by(record_events.c.at, record_events.c.id)
        )
        return [
            StoredEvent(
                int(r.id),
                RecordEvent(
                    at=r.at,
                    actor=r.actor,
                    trigger=Trigger(r.trigger),
                    from_state=State(r.from_state) if r.from_state else None,
                    to_state=State(r.to_state),
                    reason=r.reason,
                ),
            )
            for r in rows
        ]
