"""Records and their audit trail: rows <-> `core.records.Record` (STYLE A5)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, and_, bindparam, case, func, insert, or_, select, update

from patchwarden.core.advisory import Severity
from patchwarden.core.records import Record, RecordEvent, State, VulnType
from patchwarden.storage.tables import hosts, record_events, records

DETAIL_COLUMNS = (
    "package",
    "source_package",
    "installed_version",
    "fixed_version",
    "cves",
    "advisories",
    "summary",
    "cvss",
    "exploitable",
    "epss",
    "method",
    "confidence",
    "restart_required",
    "reason",
    "urgency",
    "bucket",
)
"""Columns describing what was found (refreshed by every detection), beside the lifecycle."""


@dataclass(frozen=True)
class StoredRecord:
    """A record row: identity, lifecycle and detail."""

    id: int
    host_id: str
    vuln_id: str
    affected_key: str
    record: Record
    detail: dict[str, Any]


def to_record(row: Any) -> Record:
    """The lifecycle part of a row."""
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


def lifecycle_values(rec: Record) -> dict[str, Any]:
    """Column values of the lifecycle part."""
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


def _stored(row: Any) -> StoredRecord:
    return StoredRecord(
        id=row.id,
        host_id=row.host_id,
        vuln_id=row.vuln_id,
        affected_key=row.affected_key,
        record=to_record(row),
        detail={c: getattr(row, c) for c in DETAIL_COLUMNS},
    )


def host_records(conn: Connection, host_id: str, vuln_type: str) -> list[StoredRecord]:
    """Every record of a host and type."""
    rows = conn.execute(
        select(records).where(records.c.host_id == host_id, records.c.type == vuln_type)
    )
    return [_stored(r) for r in rows]


def by_ids(conn: Connection, ids: Sequence[int]) -> list[StoredRecord]:
    """Records by id (unknown ids are simply absent)."""
    if not ids:
        return []
    return [_stored(r) for r in conn.execute(select(records).where(records.c.id.in_(ids)))]


def insert_record(
    conn: Connection,
    host_id: str,
    vuln_id: str,
    affected_key: str,
    rec: Record,
    detail: dict[str, Any],
) -> int:
    """A new record row; returns its id."""
    return int(
        conn.execute(
            insert(records).values(
                host_id=host_id,
                vuln_id=vuln_id,
                affected_key=affected_key,
                **lifecycle_values(rec),
                **detail,
            )
        ).inserted_primary_key[0]
    )


def update_record(
    conn: Connection, record_id: int, rec: Record, detail: dict[str, Any] | None = None
) -> None:
    """Write back the lifecycle (and, when given, the detail) of a record."""
    conn.execute(
        update(records)
        .where(records.c.id == record_id)
        .values(**lifecycle_values(rec), **(detail or {}))
    )


def insert_records(
    conn: Connection, rows: Sequence[tuple[str, str, str, Record, dict[str, Any]]]
) -> list[int]:
    """New record rows `(host id, vuln id, affected key, record, detail)`; their ids in input
    order.

    One executemany (a host's first inventory creates hundreds), then one SELECT for the ids:
    `INSERT … RETURNING` over many rows renders one huge statement that psycopg re-parses in
    Python, four times slower on PostgreSQL than the pipelined executemany.
    """
    if not rows:
        return []
    params = [
        {"host_id": h, "vuln_id": v, "affected_key": k, **lifecycle_values(rec), **detail}
        for h, v, k, rec, detail in rows
    ]
    conn.execute(insert(records), params)
    ids: dict[tuple[str, str, str], int] = {}
    for host_id in {h for h, *_ in rows}:
        found = conn.execute(
            select(records.c.id, records.c.vuln_id, records.c.affected_key).where(
                records.c.host_id == host_id
            )
        )
        ids.update({(host_id, r.vuln_id, r.affected_key): int(r.id) for r in found})
    return [ids[(h, v, k)] for h, v, k, _, _ in rows]


def update_records(
    conn: Connection, rows: Sequence[tuple[StoredRecord, Record, dict[str, Any] | None]]
) -> None:
    """Write back many records `(as stored, new lifecycle, new detail or None)`.

    Only the columns that changed are written, one executemany per set of such columns: a
    host's report mostly moves `last_seen` alone, and rewriting every column of hundreds of
    unchanged records dominated the second and later uploads.
    """
    groups: dict[tuple[str, ...], list[dict[str, Any]]] = {}
    for stored, rec, detail in rows:
        old = {**lifecycle_values(stored.record), **stored.detail}
        values = {
            k: v for k, v in {**lifecycle_values(rec), **(detail or {})}.items() if old[k] != v
        }
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
        conn.execute(stmt, params)


def add_events_of(conn: Connection, pairs: Sequence[tuple[int, RecordEvent]]) -> None:
    """Audit events of many records `(record id, event)` in one statement."""
    rows = [_event_row(record_id, e) for record_id, e in pairs]
    if rows:
        conn.execute(insert(record_events), rows)


def add_events(conn: Connection, record_id: int, events: Iterable[RecordEvent]) -> None:
    """Append audit events."""
    add_events_of(conn, [(record_id, e) for e in events])


def _event_row(record_id: int, e: RecordEvent) -> dict[str, Any]:
    return {
        "record_id": record_id,
        "at": e.at,
        "actor": e.actor,
        "trigger": e.trigger.value,
        "from_state": e.from_state.value if e.from_state else None,
        "to_state": e.to_state.value,
        "reason": e.reason,
    }


def events_of(conn: Connection, record_id: int) -> list[dict[str, Any]]:
    """A record's history, oldest first."""
    rows = conn.execute(
        select(record_events)
        .where(record_events.c.record_id == record_id)
        .order_by(record_events.c.at, record_events.c.id)
    ).mappings()
    return [{k: v for k, v in r.items() if k not in ("record_id",)} for r in rows]


@dataclass(frozen=True)
class RecordFilter:
    """Filters of the record list (all optional)."""

    types: tuple[str, ...] = ()
    severities: tuple[str, ...] = ()
    statuses: tuple[str, ...] = ()
    host: str = ""
    """Host id or hostname."""
    exploitable: bool | None = None
    buckets: tuple[str, ...] = ()
    vuln_id: str = ""


def _where(f: RecordFilter) -> Any:
    conds = []
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
    return and_(*conds) if conds else None


def query(
    conn: Connection, f: RecordFilter, page: int, per_page: int
) -> tuple[list[dict[str, Any]], int]:
    """One page of records, most urgent first, and the total count."""
    joined = records.join(hosts, hosts.c.id == records.c.host_id)
    where = _where(f)
    # The filters only read `records` and every record has its host (foreign key): the count
    # needs no join.
    count = select(func.count()).select_from(records)
    stmt = select(records, hosts.c.hostname).select_from(joined)
    if where is not None:
        count, stmt = count.where(where), stmt.where(where)
    total = conn.execute(count).scalar_one()
    rows = conn.execute(
        stmt.order_by(records.c.urgency.desc(), records.c.id)
        .limit(per_page)
        .offset((page - 1) * per_page)
    ).mappings()
    return [dict(r) for r in rows], int(total)


def get(conn: Connection, record_id: int) -> dict[str, Any] | None:
    """One record with its hostname."""
    row = (
        conn.execute(
            select(records, hosts.c.hostname)
            .select_from(records.join(hosts, hosts.c.id == records.c.host_id))
            .where(records.c.id == record_id)
        )
        .mappings()
        .first()
    )
    return dict(row) if row else None


SEVERITY_ORDER = case(
    {"critical": 4, "high": 3, "medium": 2, "low": 1}, value=records.c.severity, else_=0
)


def vulnerabilities(
    conn: Connection, statuses: Sequence[str], page: int, per_page: int
) -> tuple[list[dict[str, Any]], int]:
    """Records grouped by vulnerability: affected hosts and records, worst severity."""
    where = records.c.status.in_(statuses)
    grouped = (
        select(
            records.c.vuln_id,
            records.c.type,
            func.count(func.distinct(records.c.host_id)).label("hosts"),
            func.count().label("records"),
            func.max(SEVERITY_ORDER).label("severity_rank"),
            func.max(records.c.urgency).label("urgency"),
            func.max(case((records.c.exploitable, 1), else_=0)).label("exploitable"),
        )
        .where(where)
        .group_by(records.c.vuln_id, records.c.type)
    )
    total = conn.execute(select(func.count()).select_from(grouped.subquery())).scalar_one()
    rows = conn.execute(
        grouped.order_by(func.max(records.c.urgency).desc(), records.c.vuln_id)
        .limit(per_page)
        .offset((page - 1) * per_page)
    ).mappings()
    return [dict(r) for r in rows], int(total)


def counts_by_host(conn: Connection, statuses: Sequence[str]) -> dict[str, int]:
    """Open records per host."""
    rows = conn.execute(
        select(records.c.host_id, func.count())
        .where(records.c.status.in_(statuses))
        .group_by(records.c.host_id)
    )
    return {h: int(n) for h, n in rows}
