"""The job table as a queue of typed agent actions (DESIGN §3 Jobs; no extra service).

Life of a job: `queued` → `claimed` (an agent poll took it) → `done` | `failed`; a queued job
may be `cancelled`. A claim whose agent died mid-action goes back to `queued` through
`requeue_stale`, or to `failed` once it has been claimed `max_attempts` times.

Exactly one caller claims a job, with any number of console processes: PostgreSQL locks the
chosen rows with `SELECT … FOR UPDATE SKIP LOCKED` (concurrent pollers skip them instead of
waiting) before the UPDATE; SQLite has a single writer, so one `UPDATE … RETURNING`
statement is atomic on its own.

The repository works on a `Connection` already inside a transaction (the unit of work's);
the caller commits. Commit a claim promptly: PostgreSQL holds the row locks until then.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any, Optional

from sqlalchemy import Connection, Row, insert, null, select, update

from patchwarden.services.ports import Job, JobStateError, JobStatus
from patchwarden.storage.db import is_sqlite
from patchwarden.storage.tables import jobs


class SqlJobRepository:
    """`services.ports.JobRepository` over the `jobs` table."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def enqueue(
        self, host_id: str, kind: str, params: dict[str, Any], requested_by: str, now: datetime
    ) -> int:
        """Queue a `kind` job for `host_id`; returns its id. Callers validate `kind`/`params`."""
        return int(
            self.conn.execute(
                insert(jobs)
                .values(
                    host_id=host_id,
                    kind=kind,
                    params=params,
                    status=JobStatus.QUEUED.value,
                    requested_by=requested_by,
                    created_at=now,
                    attempts=0,
                )
                .returning(jobs.c.id)
            ).scalar_one()
        )

    def claim(self, host_id: str, now: datetime, limit: int = 10) -> list[Job]:
        """Claim up to `limit` of `host_id`'s queued jobs, oldest first; none is ever handed
        to two callers."""
        if limit < 1:
            raise ValueError(f"claim limit must be at least 1, got {limit}")
        oldest = (
            select(jobs.c.id)
            .where(jobs.c.host_id == host_id, jobs.c.status == JobStatus.QUEUED.value)
            .order_by(jobs.c.id)
            .limit(limit)
        )
        if is_sqlite(self.conn):
            ids: Any = oldest
        else:
            # Lock first, in its own statement: inside `UPDATE … WHERE id IN (subquery)` the
            # planner may re-run a LIMIT subquery and claim more than `limit` rows.
            ids = list(self.conn.execute(oldest.with_for_update(skip_locked=True)).scalars())
            if not ids:
                return []
        rows = self.conn.execute(
            update(jobs)
            # `status` again: harmless on the locked rows, and keeps the statement safe alone.
            .where(jobs.c.id.in_(ids), jobs.c.status == JobStatus.QUEUED.value)
            .values(status=JobStatus.CLAIMED.value, claimed_at=now, attempts=jobs.c.attempts + 1)
            .returning(*jobs.c)
        ).all()
        # RETURNING order is unspecified on both databases.
        return sorted((_job(r) for r in rows), key=lambda j: j.id)

    def finish(
        self,
        job_id: int,
        ok: bool,
        now: datetime,
        result: Optional[Any] = None,
        error: Optional[str] = None,
    ) -> Job:
        """Record the outcome of a job: `done` if `ok`, else `failed`.

        A job that was requeued as stale but whose agent reports after all is finished too:
        the action did run, and running it a second time (a fix, a rollback) would be wrong.
        Raises `JobStateError` for an unknown job or one already finished or cancelled.
        """
        row = self.conn.execute(
            update(jobs)
            .where(
                jobs.c.id == job_id,
                jobs.c.status.in_([JobStatus.CLAIMED.value, JobStatus.QUEUED.value]),
            )
            .values(
                status=(JobStatus.DONE if ok else JobStatus.FAILED).value,
                finished_at=now,
                # SQL NULL like a job that never finished, not the JSON document `null`.
                result=result if result is not None else null(),
                error=error,
            )
            .returning(*jobs.c)
        ).first()
        if row is None:
            raise self._state_error(job_id, "finish")
        return _job(row)

    def cancel(self, job_id: int, now: datetime) -> Job:
        """Cancel a job no agent has claimed yet; raises `JobStateError` otherwise."""
        row = self.conn.execute(
            update(jobs)
            .where(jobs.c.id == job_id, jobs.c.status == JobStatus.QUEUED.value)
            .values(status=JobStatus.CANCELLED.value, finished_at=now)
            .returning(*jobs.c)
        ).first()
        if row is None:
            raise self._state_error(job_id, "cancel")
        return _job(row)

    def requeue_stale(
        self, older_than: timedelta, now: datetime, max_attempts: int = 3
    ) -> tuple[int, int]:
        """Put back jobs claimed more than `older_than` ago (their agent died mid-action).

        A job already claimed `max_attempts` times fails instead of looping forever.
        Returns (requeued, failed).
        """
        stale = (
            jobs.c.status == JobStatus.CLAIMED.value,
            jobs.c.claimed_at < now - older_than,
        )
        failed = self.conn.execute(
            update(jobs)
            .where(*stale, jobs.c.attempts >= max_attempts)
            .values(
                status=JobStatus.FAILED.value,
                finished_at=now,
                error=f"no result after {max_attempts} claims (agent lost mid-action)",
            )
        ).rowcount
        requeued = self.conn.execute(
            update(jobs).where(*stale).values(status=JobStatus.QUEUED.value, claimed_at=None)
        ).rowcount
        return requeued, failed

    def pending_for(self, host_id: str) -> list[Job]:
        """`host_id`'s queued and claimed jobs, oldest first."""
        rows = self.conn.execute(
            select(jobs)
            .where(
                jobs.c.host_id == host_id,
                jobs.c.status.in_([JobStatus.QUEUED.value, JobStatus.CLAIMED.value]),
            )
            .order_by(jobs.c.id)
        )
        return [_job(r) for r in rows]

    def get(self, job_id: int) -> Optional[Job]:
        """One job by id, or None."""
        row = self.conn.execute(select(jobs).where(jobs.c.id == job_id)).first()
        return _job(row) if row is not None else None

    def unfinished(self, kinds: Sequence[str]) -> list[Job]:
        """Every host's queued and claimed jobs of these kinds, oldest first."""
        rows = self.conn.execute(
            select(jobs)
            .where(
                jobs.c.status.in_([JobStatus.QUEUED.value, JobStatus.CLAIMED.value]),
                jobs.c.kind.in_(list(kinds)),
            )
            .order_by(jobs.c.id)
        )
        return [_job(r) for r in rows]

    def _state_error(self, job_id: int, verb: str) -> JobStateError:
        job = self.get(job_id)
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
