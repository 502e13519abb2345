"""Inventories ingested and matched per second by a real console, 1,000 simulated hosts.

Each host reports a real RHEL 9 package list (corpus `hosts/rpmdb/claircore-rpm-manifest/`,
the httpd and nodejs images, loaded with `load_rpm_manifest`) as AlmaLinux 9, with ~30 % of
its package releases lowered at random (seeded), so hosts differ and have findings. The
console (`patchwarden server` subprocess, no scheduler) has the full AlmaLinux 9 OSV set in
its advisory store. Uploads are gzip envelopes POSTed by 4 client threads through httpx,
exactly as agents send them; each one is stored, matched and folded into records in one
transaction. Two passes: the first creates the records, the second (new reports, same
hosts) updates them. SQLite, then PostgreSQL 15 (started with the tests' helper, tests/pg.py).

Prints figures; asserts nothing.
Run: .venv/bin/python bench/ingest.py [hosts] [threads]
"""

from __future__ import annotations

import dataclasses
import gzip
import json
import os
import random
import re
import subprocess
import sys
import tempfile
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))  # for tests.pg

import httpx  # noqa: E402
from _common import BIN, CORPUS, median  # noqa: E402
from tests.pg import free_port, running_postgres  # noqa: E402

from patchwarden.agent.collectors.rpm_manifest import load_rpm_manifest  # noqa: E402
from patchwarden.core.clock import Clock  # noqa: E402
from patchwarden.core.inventory import Evidence, Host, Inventory, OsRelease, Package  # noqa: E402
from patchwarden.protocol import v1  # noqa: E402
from patchwarden.services import tokens  # noqa: E402
from patchwarden.services.feeds import import_spec  # noqa: E402
from patchwarden.services.index import MemoryIndex  # noqa: E402
from patchwarden.storage.advisory_store import AdvisoryStore  # noqa: E402
from patchwarden.storage.db import make_engine  # noqa: E402
from patchwarden.storage.migrate import upgrade  # noqa: E402
from patchwarden.storage.uow import SqlUnitOfWork  # noqa: E402

MANIFESTS = [
    CORPUS / "hosts/rpmdb/claircore-rpm-manifest/httpd-24_9.5-1734525854.rpm-manifest.json",
    CORPUS / "hosts/rpmdb/claircore-rpm-manifest/nodejs.rpm-manifest.json",
]
ALMA9 = CORPUS / "advisories/almalinux-osv/almalinux9"
OS = OsRelease(
    id="almalinux", family="rhel", release="9", version_id="9.3", name="AlmaLinux 9.3", eol=False
)


def older(pkg: Package, rng: random.Random) -> Package:
    """The package with the first number of its release lowered (e.g. 103.el9 -> 41.el9)."""
    head, _, release = pkg.version.rpartition("-")
    m = re.match(r"\d+", release)
    if not m or int(m.group()) == 0:
        return pkg
    lowered = f"{rng.randrange(int(m.group()))}{release[m.end() :]}"
    return dataclasses.replace(pkg, version=f"{head}-{lowered}", source_version="")


def host_inventories(count: int) -> list[Inventory]:
    """`count` AlmaLinux 9 inventories with varied package versions (seeded)."""
    bases = [load_rpm_manifest(p) for p in MANIFESTS]
    rng = random.Random(3)
    out = []
    for i in range(count):
        pkgs = tuple(older(p, rng) if rng.random() < 0.3 else p for p in bases[i % len(bases)])
        out.append(
            Inventory(
                host=Host(hostname=f"bench-{i:04d}", machine_id=f"{i:032x}"),
                os=OS,
                packages=pkgs,
                collectors=("os-release@1", "rpm@1"),
                covered=(Evidence.INSTALLED_PACKAGES.value,),
                collected_at=datetime.now(timezone.utc).isoformat(),
            )
        )
    return out


def enrol_hosts(url: str, count: int) -> list[tuple[str, str]]:
    """`count` enrolled hosts written straight into the database; (host id, secret)."""
    upgrade(url)
    engine = make_engine(url)
    now = datetime.now(timezone.utc)
    creds = [(str(uuid.uuid4()), tokens.new_secret()) for _ in range(count)]
    with SqlUnitOfWork(engine, MemoryIndex()) as uow:
        for i, (host_id, secret) in enumerate(creds):
            uow.hosts.add(host_id, f"bench-{i:04d}", "", tokens.digest(secret), "", now)
        uow.commit()
    engine.dispose()
    return creds


def start_console(data_dir: Path, env: dict[str, str]) -> tuple[subprocess.Popen[bytes], str]:
    """`patchwarden server` on a free port; (process, base URL) once /healthz answers."""
    port = free_port()
    proc = subprocess.Popen(
        [str(BIN / "patchwarden"), "server", "--data-dir", str(data_dir), "--port", str(port),
         "--no-scheduler"],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    for _ in range(300):
        try:
            if httpx.get(url + "/healthz", timeout=1).status_code == 200:
                return proc, url
        except httpx.TransportError:
            time.sleep(0.1)
    raise SystemExit("the console did not start")


def upload_all(
    url: str, creds: list[tuple[str, str]], bodies: list[bytes], threads: int
) -> tuple[float, list[float], dict[str, int]]:
    """POST every body (host i sends bodies[i]); (wall s, per-upload latencies, record stats)."""
    stats: dict[str, int] = {"created": 0, "updated": 0, "unchanged": 0, "findings": 0}

    def one(i: int) -> tuple[float, dict[str, Any]]:
        host_id, secret = creds[i]
        headers = {"Authorization": v1.auth_header(host_id, secret), "Content-Encoding": "gzip"}
        start = time.perf_counter()
        reply = client.post(url + v1.INVENTORY, content=bodies[i], headers=headers)
        took = time.perf_counter() - start
        if reply.status_code != 200:
            raise SystemExit(f"upload {i}: HTTP {reply.status_code}: {reply.text}")
        return took, reply.json()

    with httpx.Client(timeout=300, limits=httpx.Limits(max_connections=threads)) as client:
        start = time.perf_counter()
        with ThreadPoolExecutor(threads) as pool:
            results = list(pool.map(one, range(len(bodies))))
        wall = time.perf_counter() - start
    for _, reply in results:
        stats["findings"] += reply["findings"]
        for key in ("created", "updated", "unchanged"):
            stats[key] += reply["records"][key]
    return wall, [took for took, _ in results], stats


def bodies_of(inventories: list[Inventory]) -> list[bytes]:
    """gzip envelopes with fresh report ids, as the agent builds them."""
    return [
        gzip.compress(
            json.dumps(
                {"schema": v1.ENVELOPE_SCHEMA, "report_id": uuid.uuid4().hex, "job_id": None,
                 "inventory": inv.to_dict()},
                separators=(",", ":"),
            ).encode()
        )
        for inv in inventories
    ]  # fmt: skip


def run(backend: str, url: str, data_dir: Path, count: int, threads: int) -> None:
    """Both passes against one console on `url`; prints one line per pass."""
    creds = enrol_hosts(url, count)
    inventories = host_inventories(count)
    env = {k: v for k, v in os.environ.items() if not k.startswith("PATCHWARDEN_")}
    if backend == "postgresql":
        env["PATCHWARDEN_DATABASE_URL"] = url
    proc, base = start_console(data_dir, env)
    try:
        for label in ("first report (creates records)", "second report (updates records)"):
            bodies = bodies_of(inventories)
            size = sum(len(b) for b in bodies) / len(bodies) / 1024
            wall, lat, stats = upload_all(base, creds, bodies, threads)
            lat.sort()
            p50, p95 = median(lat) * 1000, lat[int(0.95 * len(lat))] * 1000
            print(
                f"{backend:<10} {label:<32} {count / wall:7.1f} inventories/s "
                f"({count} hosts in {wall:5.1f} s, {threads} clients; upload {size:.1f} KiB gz; "
                f"latency p50 {p50:5.0f} ms p95 {p95:5.0f} ms; "
                f"{stats['findings']} findings -> {stats['created']} created, "
                f"{stats['updated']} updated, {stats['unchanged']} unchanged)"
            )
    finally:
        proc.terminate()
        proc.wait(30)


def main() -> None:
    """Import AlmaLinux 9 once, then run SQLite and PostgreSQL."""
    count = int(sys.argv[1]) if len(sys.argv) > 1 else 1000
    threads = int(sys.argv[2]) if len(sys.argv) > 2 else 4
    print(f"{os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f} at start")
    with tempfile.TemporaryDirectory(prefix="pw-bench-ingest-") as tmp:
        store_dir = Path(tmp) / "store"
        with AdvisoryStore.in_dir(store_dir) as store:
            stats, _ = import_spec(store, f"osv:{ALMA9}", Clock())
        print(f"advisory store: AlmaLinux 9 OSV, {stats.records} records, "
              f"{stats.affected} affected packages")  # fmt: skip
        sqlite_dir = Path(tmp) / "sqlite"
        sqlite_dir.mkdir()
        for f in store_dir.iterdir():
            (sqlite_dir / f.name).write_bytes(f.read_bytes())
        run("sqlite", f"sqlite:///{sqlite_dir / 'patchwarden.db'}", sqlite_dir, count, threads)
        with running_postgres() as server:
            run("postgresql", server.create_database("bench_ingest"), store_dir, count, threads)


if __name__ == "__main__":
    main()
