"""The job table as a queue of typed agent actions (DESIGN §3 Jobs; no extra service).

Life of a job: `queued` → `claimed` (an agent poll took it) → `done` | `failed`; a queued job
may be `cancelled`. A claim whose agent died mid-action goes back to `queued` through
`requeue_stale`, or to `failed` once it has been claimed `max_attempts` times.

Exactly one caller claims a job, with any number of console processes: PostgreSQL locks the
chosen rows with `SELECT … FOR UPDATE SKIP LOCKED` (concurrent pollers skip them instead of
waiting) before the UPDATE; SQLite has a single writer, so one `UPDATE … RETURNING`
statement is atomic on its own.

Every function takes a `Connection` already inside a transaction (`storage.db.transaction`);
the caller commits. Commit a claim promptly: PostgreSQL holds the row locks until then.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from enum import Enum
from typing import Any, Optional

from sqlalchemy import Connection, Row, insert, null, select, update

from patchwarden.core.errors import PatchwardenError
from patchwarden.storage.db import is_sqlite
from patchwarden.storage.tables import jobs


class JobStatus(str, Enum):
    """Where a job is in its life."""

    QUEUED = "queued"
    CLAIMED = "claimed"
    DONE = "done"
    FAILED = "failed"
    CANCELLED = "cancelled"


class JobStateError(PatchwardenError):
    """A job that does not exist, or is in a state that forbids the requested move."""


@dataclass(frozen=True)
class Job:
    """One row of the job table."""

    id: int
    host_id: str
    kind: str
    params: dict[str, Any]
    status: JobStatus
    requested_by: str
    created_at: datetime
    claimed_at: Optional[datetime]
    finished_at: Optional[datetime]
    result: Optional[Any]
    error: Optional[str]
    attempts: int
    """How many times an agent claimed it (requeues included)."""


def enqueue(
    conn: Connection,
    host_id: str,
    kind: str,
    params: dict[str, Any],
    requested_by: str,
    *,
    now: Optional[datetime] = None,
) -> int:
    """Queue a `kind` job for `host_id`; returns its id. Callers validate `kind`/`params`."""
    return int(
        conn.execute(
            insert(jobs)
            .values(
                host_id=host_id,
                kind=kind,
                params=params,
                status=JobStatus.QUEUED.value,
                requested_by=requested_by,
                created_at=now or _utcnow(),
                attempts=0,
            )
            .returning(jobs.c.id)
        ).scalar_one()
    )


def claim(
    conn: Connection, host_id: str, limit: int = 10, *, now: Optional[datetime] = None
) -> list[Job]:
    """Claim up to `limit` of `host_id`'s queued jobs, oldest first; none is ever handed to
    two callers."""
    if limit < 1:
        raise ValueError(f"claim limit must be at least 1, got {limit}")
    oldest = (
        select(jobs.c.id)
        .where(jobs.c.host_id == host_id, jobs.c.status == JobStatus.QUEUED.value)
        .order_by(jobs.c.id)
        .limit(limit)
    )
    if is_sqlite(conn):
        ids: Any = oldest
    else:
        # Lock first, in its own statement: inside `UPDATE … WHERE id IN (subquery)` the
        # planner may re-run a LIMIT subquery and claim more than `limit` rows.
        ids = list(conn.execute(oldest.with_for_update(skip_locked=True)).scalars())
        if not ids:
            return []
    rows = conn.execute(
        update(jobs)
        # `status` again: harmless on the locked rows, and keeps the statement safe alone.
        .where(jobs.c.id.in_(ids), jobs.c.status == JobStatus.QUEUED.value)
        .values(
            status=JobStatus.CLAIMED.value,
            claimed_at=now or _utcnow(),
            attempts=jobs.c.attempts + 1,
        )
        .returning(*jobs.c)
    ).all()
    # RETURNING order is unspecified on both databases.
    return sorted((_job(r) for r in rows), key=lambda j: j.id)


def finish(
    conn: Connection,
    job_id: int,
    ok: bool,
    result: Optional[Any] = None,
    error: Optional[str] = None,
    *,
    now: Optional[datetime] = None,
) -> Job:
    """Record the outcome of a job: `done` if `ok`, else `failed`.

    A job that was requeued as stale but whose agent reports after all is finished too:
    the action did run, and running it a second time (a fix, a rollback) would be wrong.
    Raises `JobStateError` for an unknown job or one already finished or cancelled.
    """
    row = conn.execute(
        update(jobs)
        .where(
            jobs.c.id == job_id,
            jobs.c.status.in_([JobStatus.CLAIMED.value, JobStatus.QUEUED.value]),
        )
        .values(
            status=(JobStatus.DONE if ok else JobStatus.FAILED).value,
            finished_at=now or _utcnow(),
            # SQL NULL like a job that never finished, not the JSON document `null`.
            result=result if result is not None else null(),
            error=error,
        )
        .returning(*jobs.c)
    ).first()
    if row is None:
        raise _state_error(conn, job_id, "finish")
    return _job(row)


def cancel(conn: Connection, job_id: int, *, now: Optional[datetime] = None) -> Job:
    """Cancel a job no agent has claimed yet; raises `JobStateError` otherwise."""
    row = conn.execute(
        update(jobs)
        .where(jobs.c.id == job_id, jobs.c.status == JobStatus.QUEUED.value)
        .values(status=JobStatus.CANCELLED.value, finished_at=now or _utcnow())
        .returning(*jobs.c)
    ).first()
    if row is None:
        raise _state_error(conn, job_id, "cancel")
    return _job(row)


def requeue_stale(
    conn: Connection,
    older_than: timedelta,
    *,
    max_attempts: int = 3,
    now: Optional[datetime] = None,
) -> tuple[int, int]:
    """Put back jobs claimed more than `older_than` ago (their agent died mid-action).

    A job already claimed `max_attempts` times fails instead of looping forever.
    Returns (requeued, failed).
    """
    now = now or _utcnow()
    stale = (
        jobs.c.status == JobStatus.CLAIMED.value,
        jobs.c.claimed_at < now - older_than,
    )
    failed = conn.execute(
        update(jobs)
        .where(*stale, jobs.c.attempts >= max_attempts)
        .values(
            status=JobStatus.FAILED.value,
            finished_at=now,
            error=f"no result after {max_attempts} claims (agent lost mid-action)",
        )
    ).rowcount
    requeued = conn.execute(
        update(jobs).where(*stale).values(status=JobStatus.QUEUED.value, claimed_at=None)
    ).rowcount
    return requeued, failed


def pending_for(conn: Connection, host_id: str) -> list[Job]:
    """`host_id`'s queued and claimed jobs, oldest first."""
    rows = conn.execute(
        select(jobs)
        .where(
            jobs.c.host_id == host_id,
            jobs.c.status.in_([JobStatus.QUEUED.value, JobStatus.CLAIMED.value]),
        )
        .order_by(jobs.c.id)
    )
    return [_job(r) for r in rows]


def get(conn: Connection, job_id: int) -> Optional[Job]:
    """One job by id, or None."""
    row = conn.execute(select(jobs).where(jobs.c.id == job_id)).first()
    return _job(row) if row is not None else None


def _state_error(conn: Connection, job_id: int, verb: str) -> JobStateError:
    job = get(conn, job_id)
    if job is None:
        return JobStateError(f"cannot {verb} job {job_id}: no such job")
    return JobStateError(f"cannot {verb} job {job_id}: it is {job.status.value}")


def _job(row: Row[Any]) -> Job:
    return Job(
        id=int(row.id),
        host_id=row.host_id,
        kind=row.kind,
        params=row.params,
        status=JobStatus(row.status),
        requested_by=row.requested_by,
        created_at=row.created_at,
        claimed_at=row.claimed_at,
        finished_at=row.finished_at,
        result=row.result,
        error=row.error,
        attempts=int(row.attempts),
    )


def _utcnow() -> datetime:
    return datetime.now(timezone.utc)
