"""p50 / p95 latency of the filtered record list with >= 1,000,000 records on PostgreSQL.

Bulk-loads hosts and records with COPY through psycopg into a migrated console database on a
throwaway PostgreSQL 15 (the tests' helper, tests/pg.py), runs ANALYZE, starts a real
`patchwarden server` process on it, and times `GET /api/v1/records?...` through httpx for a
few filter combinations (after warm-up requests). The data are synthetic but shaped like a
fleet: 5,000 hosts x 200 records, most open, a few percent exploitable, severities and
buckets skewed like real findings.

Prints figures; asserts nothing.
Run: .venv/bin/python bench/records_list.py [records] [requests per query]
"""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))  # for tests.pg

import httpx  # noqa: E402
import psycopg  # noqa: E402
from _common import BIN, median  # noqa: E402
from tests.pg import free_port, running_postgres  # noqa: E402

from patchwarden.core.clock import Clock  # noqa: E402
from patchwarden.services.index import MemoryIndex  # noqa: E402
from patchwarden.services.users import create_api_token  # noqa: E402
from patchwarden.storage.db import make_engine  # noqa: E402
from patchwarden.storage.migrate import upgrade  # noqa: E402
from patchwarden.storage.uow import SqlUnitOfWork  # noqa: E402

RECORDS_PER_HOST = 200
STATUSES = [("unfixed", 80), ("fixed", 10), ("expired", 5), ("ignored", 3), ("verifying", 2)]
SEVERITIES = [("critical", 5), ("high", 25), ("medium", 45), ("low", 20), ("unknown", 5)]
TYPES = [("linux", 90), ("app", 6), ("cms", 4)]
COLUMNS = (
    "host_id", "vuln_id", "affected_key", "type", "package", "source_package",
    "installed_version", "fixed_version", "cves", "advisories", "summary", "severity", "cvss",
    "exploitable", "epss", "method", "confidence", "restart_required", "reason", "status",
    "urgency", "bucket", "occurrence", "first_seen", "last_seen", "status_changed_at",
)  # fmt: skip
QUERIES = [
    ("default (open, page 1)", {}),
    ("severity=critical", {"severity": "critical"}),
    ("exploitable=true", {"exploitable": "true"}),
    ("host=<hostname>", {"host": "host-01234"}),
    ("type=linux&bucket=asap", {"type": "linux", "bucket": "asap"}),
    ("severity=high&exploitable=true", {"severity": "high", "exploitable": "true"}),
    ("status=all, page 100", {"status": "all", "page": "100"}),
]


def weighted(rng: random.Random, table: list[tuple[str, int]]) -> str:
    """One value of a (value, weight) table."""
    return rng.choices([v for v, _ in table], [w for _, w in table])[0]


def load(conninfo: str, count: int) -> tuple[int, float]:
    """COPY hosts and `count` records; (hosts, seconds)."""
    rng = random.Random(7)
    hosts = max(1, count // RECORDS_PER_HOST)
    now = datetime.now(timezone.utc)
    vulns = [f"CVE-{2015 + i % 10}-{10000 + i}" for i in range(20_000)]
    packages = [f"pkg{i}" for i in range(3_000)]
    start = time.perf_counter()
    with psycopg.connect(conninfo) as conn, conn.cursor() as cur:
        with cur.copy(
            "COPY hosts (id, hostname, machine_id, secret_hash, agent_version, enrolled_at,"
            " last_seen_at, os, kernel, collector_errors, packages) FROM STDIN"
        ) as copy:
            for h in range(hosts):
                copy.write_row((
                    f"00000000-0000-0000-0000-{h:012d}", f"host-{h:05d}", "", "0" * 64,
                    "0.1.0", now, now, json.dumps({"id": "debian", "release": "12"}), "{}",
                    "[]", 800,
                ))  # fmt: skip
        with cur.copy(f"COPY records ({', '.join(COLUMNS)}) FROM STDIN") as copy:
            for i in range(count):
                h = i // RECORDS_PER_HOST
                vuln = vulns[(h * 7 + i * 13) % len(vulns)]
                pkg = packages[(i * 31 + h) % len(packages)]
                severity = weighted(rng, SEVERITIES)
                exploitable = rng.random() < 0.03
                cvss = round(rng.uniform(2, 10), 1)
                score = cvss * (2 if exploitable else 1)
                bucket = "asap" if score >= 10 else "later" if score >= 6 else "can_wait"
                seen = now - timedelta(days=rng.randrange(60))
                copy.write_row((
                    f"00000000-0000-0000-0000-{h:012d}", vuln, f"{pkg}#{i}",
                    weighted(rng, TYPES), pkg, pkg, "1.0-1", "1.0-2", json.dumps([vuln]),
                    json.dumps([f"DSA-{i % 6000}-1"]), "", severity, cvss, exploitable, None,
                    "distro-advisory", "high", False, "", weighted(rng, STATUSES), score, bucket,
                    1, seen, now, seen,
                ))  # fmt: skip
        conn.commit()
        conn.autocommit = True
        cur.execute("ANALYZE")
    return hosts, time.perf_counter() - start


def main() -> None:
    """Load, start the console, time the queries."""
    count = int(sys.argv[1]) if len(sys.argv) > 1 else 1_000_000
    repeat = int(sys.argv[2]) if len(sys.argv) > 2 else 30
    print(f"{os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f} at start")
    with running_postgres() as server, tempfile.TemporaryDirectory(prefix="pw-bench-") as tmp:
        name = "bench_records"
        url = server.create_database(name)
        upgrade(url)
        conninfo = f"host=127.0.0.1 port={server.port} user=postgres dbname={name}"
        hosts, took = load(conninfo, count)
        print(f"loaded {hosts} hosts and {count} records with COPY in {took:.1f} s "
              f"({count / took:,.0f} records/s, indexes and ANALYZE included)")  # fmt: skip
        engine = make_engine(url)
        api_token = create_api_token(SqlUnitOfWork(engine, MemoryIndex()), Clock(), "bench")
        engine.dispose()
        port = free_port()
        env = {k: v for k, v in os.environ.items() if not k.startswith("PATCHWARDEN_")}
        env["PATCHWARDEN_DATABASE_URL"] = url
        proc = subprocess.Popen(
            [str(BIN / "patchwarden"), "server", "--data-dir", tmp, "--port", str(port),
             "--no-scheduler"],
            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        base = f"http://127.0.0.1:{port}"
        try:
            with httpx.Client(
                base_url=base, timeout=120, headers={"Authorization": f"Bearer {api_token}"}
            ) as http:
                for _ in range(300):
                    try:
                        http.get("/healthz", timeout=1)
                        break
                    except httpx.TransportError:
                        time.sleep(0.1)
                print(f"GET /api/v1/records through a real console, {repeat} requests each "
                      "(after 3 warm-up), per_page 50, sorted by urgency:")  # fmt: skip
                for label, params in QUERIES:
                    times, total = [], 0
                    for n in range(repeat + 3):
                        start = time.perf_counter()
                        reply = http.get("/api/v1/records", params=params)
                        took = time.perf_counter() - start
                        if reply.status_code != 200:
                            raise SystemExit(f"{label}: HTTP {reply.status_code} {reply.text}")
                        total = reply.json()["total"]
                        if n >= 3:
                            times.append(took)
                    times.sort()
                    p95 = times[min(len(times) - 1, int(0.95 * len(times)))]
                    print(f"  {label:<34} total {total:>9,}  p50 {median(times) * 1000:7.1f} ms"
                          f"  p95 {p95 * 1000:7.1f} ms")  # fmt: skip
        finally:
            proc.terminate()
            proc.wait(30)


if __name__ == "__main__":
    main()
