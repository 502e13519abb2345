"""The job queue on SQLite and PostgreSQL: life cycle, ordering, stale claims, no double claims."""

from __future__ import annotations

import threading
import time
from collections import Counter
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import Engine, insert, select

from patchwarden.services.ports import Job, JobStateError, JobStatus
from patchwarden.storage.db import transaction
from patchwarden.storage.jobs import SqlJobRepository
from patchwarden.storage.tables import hosts, jobs

T0 = datetime(2026, 1, 1, 12, 0, tzinfo=timezone.utc)


def add_hosts(engine: Engine, *host_ids: str) -> None:
    with transaction(engine) as conn:
        for host_id in host_ids:
            conn.execute(
                insert(hosts).values(
                    id=host_id, hostname=host_id, secret_hash="0" * 64, enrolled_at=T0
                )
            )


@pytest.fixture
def engine(db_engine: Engine) -> Engine:
    add_hosts(db_engine, "h1", "h2")
    return db_engine


def enqueue(engine: Engine, host_id: str, n: int, kind: str = "scan") -> list[int]:
    with transaction(engine) as conn:
        return [
            SqlJobRepository(conn).enqueue(
                host_id, kind, {"n": i}, "alice", now=T0 + timedelta(seconds=i)
            )
            for i in range(n)
        ]


def claim(engine: Engine, host_id: str, limit: int = 10, at: datetime = T0) -> list[Job]:
    with transaction(engine) as conn:
        return SqlJobRepository(conn).claim(host_id, at, limit)


def test_enqueue_claim_finish(engine: Engine) -> None:
    with transaction(engine) as conn:
        job_id = SqlJobRepository(conn).enqueue(
            "h1", "fix", {"packages": ["openssl=3.0.13-1"]}, "alice", now=T0
        )
        [pending] = SqlJobRepository(conn).pending_for("h1")
    assert pending == Job(
        id=job_id,
        host_id="h1",
        kind="fix",
        params={"packages": ["openssl=3.0.13-1"]},
        status=JobStatus.QUEUED,
        requested_by="alice",
        created_at=T0,
        claimed_at=None,
        finished_at=None,
        result=None,
        error=None,
        attempts=0,
    )

    [claimed] = claim(engine, "h1", at=T0 + timedelta(minutes=1))
    assert (claimed.id, claimed.status, claimed.attempts) == (job_id, JobStatus.CLAIMED, 1)
    assert claimed.claimed_at == T0 + timedelta(minutes=1)
    assert claim(engine, "h1") == []

    with transaction(engine) as conn:
        done = SqlJobRepository(conn).finish(
            job_id, ok=True, result={"installed": 1}, now=T0 + timedelta(minutes=2)
        )
        assert SqlJobRepository(conn).pending_for("h1") == []
    assert (done.status, done.result, done.error) == (JobStatus.DONE, {"installed": 1}, None)
    assert done.finished_at == T0 + timedelta(minutes=2)
    with transaction(engine, write=False) as conn:
        assert SqlJobRepository(conn).get(job_id) == done


def test_failure_is_recorded(engine: Engine) -> None:
    [job_id] = enqueue(engine, "h1", 1)
    claim(engine, "h1")
    with transaction(engine) as conn:
        failed = SqlJobRepository(conn).finish(job_id, ok=False, now=T0, error="apt-get exited 100")
    assert (failed.status, failed.error, failed.result) == (
        JobStatus.FAILED,
        "apt-get exited 100",
        None,
    )


def test_claims_oldest_first_within_limit_and_only_for_the_host(engine: Engine) -> None:
    h1 = enqueue(engine, "h1", 5)
    h2 = enqueue(engine, "h2", 2)
    assert [j.id for j in claim(engine, "h1", limit=3)] == h1[:3]
    assert [j.id for j in claim(engine, "h1", limit=3)] == h1[3:]
    assert claim(engine, "h1") == []
    assert [j.id for j in claim(engine, "h2")] == h2


def test_pending_lists_queued_and_claimed_only(engine: Engine) -> None:
    ids = enqueue(engine, "h1", 4)
    claim(engine, "h1", limit=2)
    with transaction(engine) as conn:
        SqlJobRepository(conn).finish(ids[0], ok=True, now=T0)
        SqlJobRepository(conn).cancel(ids[3], T0)
        pending = SqlJobRepository(conn).pending_for("h1")
    assert [(j.id, j.status) for j in pending] == [
        (ids[1], JobStatus.CLAIMED),
        (ids[2], JobStatus.QUEUED),
    ]


@pytest.mark.parametrize(
    ("setup", "verb", "message"),
    [
        pytest.param("done", "finish", "cannot finish job {id}: it is done", id="finish twice"),
        pytest.param("cancelled", "finish", "it is cancelled", id="finish a cancelled job"),
        pytest.param("claimed", "cancel", "cannot cancel job {id}: it is claimed", id="cancel"),
        pytest.param("none", "finish", "cannot finish job {id}: no such job", id="unknown job"),
    ],
)
def test_illegal_moves_are_refused(engine: Engine, setup: str, verb: str, message: str) -> None:
    [job_id] = enqueue(engine, "h1", 1)
    with transaction(engine) as conn:
        if setup in ("done", "claimed"):
            SqlJobRepository(conn).claim("h1", T0)
        if setup == "done":
            SqlJobRepository(conn).finish(job_id, ok=True, now=T0)
        if setup == "cancelled":
            SqlJobRepository(conn).cancel(job_id, T0)
        if setup == "none":
            job_id += 1000
    with (
        pytest.raises(JobStateError, match=message.format(id=job_id)),
        transaction(engine) as conn,
    ):
        if verb == "finish":
            SqlJobRepository(conn).finish(job_id, ok=True, now=T0)
        else:
            SqlJobRepository(conn).cancel(job_id, T0)


def test_requeue_stale_claims(engine: Engine) -> None:
    old, fresh = enqueue(engine, "h1", 2)
    claim(engine, "h1", limit=1, at=T0)
    claim(engine, "h1", limit=1, at=T0 + timedelta(minutes=9))
    now = T0 + timedelta(minutes=10)
    with transaction(engine) as conn:
        assert SqlJobRepository(conn).requeue_stale(timedelta(minutes=5), now=now) == (1, 0)
        statuses = {j.id: j.status for j in SqlJobRepository(conn).pending_for("h1")}
    assert statuses == {old: JobStatus.QUEUED, fresh: JobStatus.CLAIMED}
    [again] = claim(engine, "h1", at=now)
    assert (again.id, again.attempts) == (old, 2)


def test_job_that_keeps_losing_its_agent_fails(engine: Engine) -> None:
    [job_id] = enqueue(engine, "h1", 1)
    at = T0
    for attempt in (1, 2, 3):
        [job] = claim(engine, "h1", at=at)
        assert job.attempts == attempt
        at += timedelta(hours=1)
        with transaction(engine) as conn:
            expected = (0, 1) if attempt == 3 else (1, 0)
            assert SqlJobRepository(conn).requeue_stale(timedelta(minutes=5), now=at) == expected
    with transaction(engine, write=False) as conn:
        job = SqlJobRepository(conn).get(job_id)
    assert job is not None
    assert job.status == JobStatus.FAILED
    assert job.error == "no result after 3 claims (agent lost mid-action)"


def test_late_result_after_requeue_is_kept(engine: Engine) -> None:
    # The agent was only slow: its result lands after the job went back to the queue, and
    # the action must not run a second time.
    [job_id] = enqueue(engine, "h1", 1)
    claim(engine, "h1", at=T0)
    with transaction(engine) as conn:
        SqlJobRepository(conn).requeue_stale(timedelta(minutes=5), now=T0 + timedelta(minutes=10))
        assert SqlJobRepository(conn).finish(job_id, ok=True, now=T0).status == JobStatus.DONE
    assert claim(engine, "h1") == []


def test_claim_limit_must_be_positive(engine: Engine) -> None:
    with pytest.raises(ValueError, match="claim limit must be at least 1, got 0"):
        claim(engine, "h1", limit=0)


def test_no_job_is_claimed_twice_under_concurrency(engine: Engine) -> None:
    # Separate connections claiming at once, like pollers in several console processes.
    workers = 4 if engine.dialect.name == "postgresql" else 2
    total = 240
    ids = enqueue(engine, "h1", total)
    barrier = threading.Barrier(workers)
    claimed: list[list[int]] = [[] for _ in range(workers)]
    errors: list[BaseException] = []

    def worker(n: int) -> None:
        try:
            barrier.wait()
            while True:
                got = claim(engine, "h1", limit=3)
                if not got:
                    # Rows other workers hold locked are skipped, not waited for: stop only
                    # when nothing is queued any more.
                    with transaction(engine, write=False) as conn:
                        left = conn.execute(
                            select(jobs.c.id).where(jobs.c.status == "queued")
                        ).first()
                    if left is None:
                        return
                claimed[n].extend(j.id for j in got)
                # A poller hands its jobs to an agent before it polls again; without the
                # pause SQLite's sleeping busy handler lets one spinning thread take all.
                time.sleep(0.002)
        except BaseException as exc:  # surfaced by the assert below
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(workers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    everything = [i for part in claimed for i in part]
    assert [i for i, n in Counter(everything).items() if n > 1] == []
    assert sorted(everything) == ids
    with transaction(engine, write=False) as conn:
        rows = conn.execute(select(jobs.c.status, jobs.c.attempts)).all()
    assert Counter(tuple(r) for r in rows) == {("claimed", 1): total}
    # The claims really were concurrent: every worker got some.
    assert all(claimed), [len(c) for c in claimed]


def test_finish_without_result_stores_sql_null(engine: Engine) -> None:
    [job_id] = enqueue(engine, "h1", 1)
    claim(engine, "h1")
    with transaction(engine) as conn:
        SqlJobRepository(conn).finish(
            job_id, ok=False, now=T0, error="agent refused: unknown action"
        )
        assert conn.execute(select(jobs.c.id).where(jobs.c.result.is_(None))).scalars().all() == [
            job_id
        ]
