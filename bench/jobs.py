"""Job queue throughput: claims/s on PostgreSQL (4 worker processes, FOR UPDATE SKIP LOCKED)
and SQLite (1 and 2 processes, UPDATE … RETURNING), one job per claim and one transaction
per claim, as agent polls do. Also counts double claims (must be 0). Prints numbers; asserts
nothing.

Starts its own throwaway PostgreSQL with the tests' helper (tests/pg.py).
Run: .venv/bin/python bench/jobs.py [jobs]
"""

from __future__ import annotations

import multiprocessing as mp
import os
import sys
import tempfile
import time
from collections import Counter
from datetime import datetime, timezone
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))  # for tests.pg

from sqlalchemy import insert, select  # noqa: E402
from tests.pg import running_postgres  # noqa: E402

from patchwarden.services.ports import JobStatus  # noqa: E402
from patchwarden.storage.db import default_database_url, make_engine, transaction  # noqa: E402
from patchwarden.storage.jobs import SqlJobRepository  # noqa: E402
from patchwarden.storage.migrate import upgrade  # noqa: E402
from patchwarden.storage.tables import hosts  # noqa: E402
from patchwarden.storage.tables import jobs as jobs_table  # noqa: E402

HOST = "bench-host"


def prepare(url: str, count: int) -> None:
    """Migrate, add one host, queue `count` scan jobs."""
    upgrade(url)
    engine = make_engine(url)
    now = datetime.now(timezone.utc)
    with transaction(engine) as conn:
        conn.execute(
            insert(hosts).values(id=HOST, hostname=HOST, secret_hash="0" * 64, enrolled_at=now)
        )
        for _ in range(count):
            SqlJobRepository(conn).enqueue(HOST, "scan", {}, "bench", now)
    engine.dispose()


def worker(url: str, barrier: mp.synchronize.Barrier, out: mp.Queue) -> None:  # type: ignore[type-arg]
    """Claim one job per transaction until the queue is empty; report the ids."""
    engine = make_engine(url, pool_size=1)
    claimed: list[int] = []
    queued = jobs_table.c.status == JobStatus.QUEUED.value
    barrier.wait()
    while True:
        with transaction(engine) as conn:
            got = SqlJobRepository(conn).claim(HOST, datetime.now(timezone.utc), limit=1)
        if not got:
            # SKIP LOCKED returns nothing while others hold the last rows: stop only when
            # nothing is queued any more.
            with transaction(engine, write=False) as conn:
                if conn.execute(select(jobs_table.c.id).where(queued)).first() is None:
                    break
            continue
        claimed.extend(j.id for j in got)
    engine.dispose()
    out.put(claimed)


def measure(label: str, url: str, workers: int, count: int) -> None:
    """Print claims/s for `workers` processes draining `count` queued jobs."""
    prepare(url, count)
    ctx = mp.get_context("fork")
    barrier = ctx.Barrier(workers + 1)
    out: mp.Queue = ctx.Queue()  # type: ignore[type-arg]
    procs = [ctx.Process(target=worker, args=(url, barrier, out)) for _ in range(workers)]
    for p in procs:
        p.start()
    barrier.wait()
    start = time.perf_counter()
    results = [out.get() for _ in procs]
    elapsed = time.perf_counter() - start
    for p in procs:
        p.join()
    ids = [i for r in results for i in r]
    doubles = sum(1 for n in Counter(ids).values() if n > 1)
    print(
        f"{label:<34} {len(ids) / elapsed:8.0f} claims/s  ({len(ids)} jobs in {elapsed:.2f} s, "
        f"per worker {[len(r) for r in results]}, double claims {doubles})"
    )


def main() -> None:
    """Run the PostgreSQL and SQLite measurements."""
    count = int(sys.argv[1]) if len(sys.argv) > 1 else 4000
    # Claims are round-trip bound: other work on this 2-core machine moves the figures a lot.
    print(f"{os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f} at start")
    with running_postgres() as server:
        measure("PostgreSQL 15, 4 processes", server.create_database("bench4"), 4, count)
        measure("PostgreSQL 15, 1 process", server.create_database("bench1"), 1, count)
    for workers in (1, 2):
        with tempfile.TemporaryDirectory() as tmp:
            label = f"SQLite WAL, {workers} process{'es' if workers > 1 else ''}"
            measure(label, default_database_url(tmp), workers, count)


if __name__ == "__main__":
    main()
