"""Web console pages with a large fleet: response times, page weight, first paint.

Bulk-loads synthetic hosts, records and their record events (one detection each, a few
percent ignored later) into a migrated console database, on SQLite (a file, sqlite3
executemany) or PostgreSQL (a throwaway PostgreSQL from tests/pg.py, COPY), starts a real
`patchwarden server` on it, signs in through the login form, and times page requests over
loopback (p50 / p95 after warm-up, and the first, cold request): /vulnerabilities (default,
exploitable switch, a filter combination, a deep page, grouped by advisory), a record page,
the overview (its trend sums the last 30 days' record events per day; the page keeps its
figures for 30 s, so its p50 is a cache hit and "first" the real work), the audit log, a
host. Then the weight of the pages (HTML + CSS + JS bytes) and, in Debian's Chromium under
Playwright, the first paint of the record page.

Prints figures; asserts nothing.
Run: .venv/bin/python bench/console_pages.py [sqlite|postgresql] [records] [requests per page]
"""

from __future__ import annotations

import json
import os
import random
import re
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))  # for tests.pg

import httpx  # noqa: E402
from _common import BIN, median  # noqa: E402
from tests.pg import free_port, running_postgres  # noqa: E402

from patchwarden.core.clock import Clock  # noqa: E402
from patchwarden.services.index import MemoryIndex  # noqa: E402
from patchwarden.services.users import add_user  # noqa: E402
from patchwarden.storage.db import make_engine  # noqa: E402
from patchwarden.storage.migrate import upgrade  # noqa: E402
from patchwarden.storage.uow import SqlUnitOfWork  # noqa: E402

RECORDS_PER_HOST = 200
STATUSES = [("unfixed", 80), ("fixed", 10), ("expired", 5), ("ignored", 3), ("verifying", 2)]
SEVERITIES = [("critical", 5), ("high", 25), ("medium", 45), ("low", 20), ("unknown", 5)]
TYPES = [("linux", 90), ("app", 6), ("cms", 4)]
HOST_COLUMNS = (
    "id", "hostname", "machine_id", "secret_hash", "agent_version", "enrolled_at",
    "last_seen_at", "os", "kernel", "collector_errors", "packages",
)  # fmt: skip
RECORD_COLUMNS = (
    "id", "host_id", "vuln_id", "affected_key", "type", "package", "source_package",
    "installed_version", "fixed_version", "cves", "advisories", "summary", "severity", "cvss",
    "exploitable", "epss", "method", "confidence", "restart_required", "reason", "status",
    "urgency", "bucket", "occurrence", "first_seen", "last_seen", "status_changed_at",
)  # fmt: skip
EVENT_COLUMNS = ("record_id", "at", "actor", "trigger", "from_state", "to_state", "reason")
PASSWORD = "bench-password-1"
PAGES = [
    ("/vulnerabilities (open, page 1)", "/vulnerabilities"),
    ("/vulnerabilities?exploitable=true", "/vulnerabilities?exploitable=true"),
    ("  ?type=linux&severity=high&bucket=later", "/vulnerabilities?type=linux&severity=high"
     "&bucket=later"),
    ("  ?status=all&page=100", "/vulnerabilities?status=all&page=100"),
    ("  ?view=advisories (grouped)", "/vulnerabilities?view=advisories"),
    ("/records/{id}", "/records/{id}"),
    ("/ (overview: cached 30 s; first = cold)", "/"),
    ("/audit", "/audit"),
    ("/hosts/{host}", "/hosts/{host}"),
]  # fmt: skip


def weighted(rng: random.Random, table: list[tuple[str, int]]) -> str:
    """One value of a (value, weight) table."""
    return rng.choices([v for v, _ in table], [w for _, w in table])[0]


def rows(count: int) -> tuple[list[tuple[Any, ...]], Iterator[tuple[tuple[Any, ...], ...]]]:
    """Host rows, and per record its row and its events."""
    rng = random.Random(7)
    hosts = max(1, count // RECORDS_PER_HOST)
    now = datetime.now(timezone.utc)
    os_json = json.dumps({"id": "debian", "family": "debian", "release": "12", "eol": False})
    host_rows = [
        (f"00000000-0000-0000-0000-{h:012d}", f"host-{h:05d}", "", "0" * 64, "0.1.0",
         now - timedelta(days=90), now, os_json, "{}", "[]", 800)
        for h in range(hosts)
    ]  # fmt: skip
    vulns = [f"CVE-{2015 + i % 10}-{10000 + i}" for i in range(20_000)]
    packages = [f"pkg{i}" for i in range(3_000)]

    def records() -> Iterator[tuple[tuple[Any, ...], ...]]:
        for i in range(count):
            h = i // RECORDS_PER_HOST
            vuln = vulns[(h * 7 + i * 13) % len(vulns)]
            pkg = packages[(i * 31 + h) % len(packages)]
            exploitable = rng.random() < 0.03
            cvss = round(rng.uniform(2, 10), 1)
            score = cvss * (2 if exploitable else 1)
            bucket = "asap" if score >= 10 else "later" if score >= 6 else "can_wait"
            seen = now - timedelta(days=rng.randrange(60), seconds=rng.randrange(86400))
            status = weighted(rng, STATUSES)
            record = (
                i + 1, host_rows[h][0], vuln, f"{pkg}#{i}", weighted(rng, TYPES), pkg, pkg,
                "1.0-1", "1.0-2", json.dumps([vuln]), json.dumps([f"DSA-{i % 6000}-1"]), "",
                weighted(rng, SEVERITIES), cvss, exploitable, None, "distro-advisory", "high",
                False, "", status, score, bucket, 1, seen, now, seen,
            )  # fmt: skip
            events = [(i + 1, seen, "system", "detected", None, "unfixed", "first detection")]
            if status in ("fixed", "ignored"):
                later = seen + timedelta(days=rng.randrange(1, 5))
                actor, trigger = ("system", "clear") if status == "fixed" else ("bob", "ignore")
                events.append((i + 1, min(later, now), actor, trigger, "unfixed", status, "bench"))
            yield record, tuple(events)

    return host_rows, records()


def load_sqlite(path: Path, count: int) -> float:
    """Insert the fleet into a migrated SQLite file; seconds."""
    hosts, records = rows(count)
    start = time.perf_counter()
    db = sqlite3.connect(path)
    db.execute("PRAGMA journal_mode=WAL")

    def lite(row: tuple[Any, ...]) -> tuple[Any, ...]:
        # SQLAlchemy's SQLite DateTime text form, UTC.
        return tuple(
            v.astimezone(timezone.utc).strftime("%Y-%m-%d %H:%M:%S.%f")
            if isinstance(v, datetime)
            else v
            for v in row
        )

    db.executemany(
        f"INSERT INTO hosts ({', '.join(HOST_COLUMNS)}) VALUES ({', '.join('?' * 11)})",
        [lite(h) for h in hosts],
    )
    batch_r: list[tuple[Any, ...]] = []
    batch_e: list[tuple[Any, ...]] = []
    marks_r = ", ".join("?" * len(RECORD_COLUMNS))
    marks_e = ", ".join("?" * len(EVENT_COLUMNS))

    def flush() -> None:
        db.executemany(
            f"INSERT INTO records ({', '.join(RECORD_COLUMNS)}) VALUES ({marks_r})", batch_r
        )
        db.executemany(
            f"INSERT INTO record_events ({', '.join(EVENT_COLUMNS)}) VALUES ({marks_e})", batch_e
        )
        batch_r.clear()
        batch_e.clear()

    for record, events in records:
        batch_r.append(lite(record))
        batch_e.extend(lite(e) for e in events)
        if len(batch_r) >= 20_000:
            flush()
    flush()
    db.commit()
    db.execute("ANALYZE")
    db.close()
    return time.perf_counter() - start


def load_postgres(conninfo: str, count: int) -> float:
    """COPY the fleet into a migrated PostgreSQL database; seconds."""
    import psycopg

    hosts, records = rows(count)
    start = time.perf_counter()
    with psycopg.connect(conninfo) as conn, conn.cursor() as cur:
        with cur.copy(f"COPY hosts ({', '.join(HOST_COLUMNS)}) FROM STDIN") as copy:
            for h in hosts:
                copy.write_row(h)
        events: list[tuple[Any, ...]] = []
        with cur.copy(f"COPY records ({', '.join(RECORD_COLUMNS)}) FROM STDIN") as copy:
            for record, evs in records:
                copy.write_row(record)
                events.extend(evs)
        with cur.copy(f"COPY record_events ({', '.join(EVENT_COLUMNS)}) FROM STDIN") as copy:
            for e in events:
                copy.write_row(e)
        cur.execute("SELECT setval(pg_get_serial_sequence('records', 'id'), %s)", (count,))
        conn.commit()
        conn.autocommit = True
        cur.execute("ANALYZE")
    return time.perf_counter() - start


def sign_in(http: httpx.Client) -> None:
    """Log in through the form (the client keeps the session cookie)."""
    page = http.get("/login").text
    token = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert token
    form = {"username": "bench", "password": PASSWORD, "csrf_token": token.group(1), "next": "/"}
    reply = http.post("/login", data=form)
    assert reply.status_code == 303, reply.text


def time_pages(http: httpx.Client, record_id: int, host_id: str, repeat: int) -> None:
    """p50 / p95 of each page, and its first (cold) request."""
    print(f"page response times over loopback, {repeat} requests each after 3 warm-up"
          " (first: the first request, before any cache):")  # fmt: skip
    for label, path in PAGES:
        url = path.format(id=record_id, host=host_id)
        times: list[float] = []
        warmup: list[float] = []
        for n in range(repeat + 3):
            start = time.perf_counter()
            reply = http.get(url)
            took = time.perf_counter() - start
            if reply.status_code != 200:
                raise SystemExit(f"{url}: HTTP {reply.status_code} {reply.text[:300]}")
            if n >= 3:
                times.append(took)
            else:
                warmup.append(took)
        times.sort()
        p95 = times[min(len(times) - 1, int(0.95 * len(times)))]
        print(f"  {label:<42} p50 {median(times) * 1000:7.1f} ms  p95 {p95 * 1000:7.1f} ms"
              f"  first {warmup[0] * 1000:7.1f} ms  ({len(reply.content):,} B HTML)")  # fmt: skip


def weight(http: httpx.Client, record_id: int) -> None:
    """HTML + CSS + JS bytes of the list and the record page (uncompressed)."""
    assets = sum(
        len(http.get(f"/static/{name}").content)
        for name in ("console.css", "htmx-2.0.11.min.js", "console.js")
    )
    for label, url in (
        ("/vulnerabilities", "/vulnerabilities"),
        ("/records/{id}", f"/records/{record_id}"),
    ):
        html = len(http.get(url).content)
        print(f"page weight {label}: {html:,} B HTML + {assets:,} B CSS/JS = {html + assets:,} B"
              " (uncompressed; CSS/JS cached an hour)")  # fmt: skip


def first_paint(base: str, record_id: int) -> None:
    """First (contentful) paint of the record page in Debian's Chromium, median of 5."""
    from playwright.sync_api import sync_playwright

    flags = [
        "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-quic",
        "--no-first-run", "--disable-component-update", "--disable-sync",
    ]  # fmt: skip
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path="/usr/bin/chromium", args=flags)
        page = browser.new_context(viewport={"width": 1280, "height": 800}).new_page()
        page.goto(base + "/login")
        page.fill("input[name=username]", "bench")
        page.fill("input[name=password]", PASSWORD)
        page.click("button[type=submit]")
        page.wait_for_url(base + "/")
        paints = []
        for _ in range(6):
            page.goto(base + f"/records/{record_id}")
            entries: list[Any] = []
            for _ in range(50):  # wait_for_function would need eval, which the page forbids
                entries = page.evaluate(
                    "performance.getEntriesByType('paint').map(e => [e.name, e.startTime])"
                )
                if entries:
                    break
                page.wait_for_timeout(100)
            found = dict(entries)
            # An unchanged repaint may report no contentful paint: take first-paint then.
            paint = found.get("first-contentful-paint", found.get("first-paint"))
            if paint is not None:
                paints.append(paint)
        browser.close()
    loads = ", ".join(f"{p:.0f}" for p in paints[1:])
    print(f"record page first contentful paint in Chromium: median {median(paints[1:]):.0f} ms"
          f" (loads after a warm-up: {loads} ms)")  # fmt: skip


def serve(url: str, tmp: str, count: int, repeat: int) -> None:
    """Start the console on `url`, then measure."""
    engine = make_engine(url)
    add_user(SqlUnitOfWork(engine, MemoryIndex()), Clock(), "bench", password=PASSWORD)
    engine.dispose()
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("PATCHWARDEN_")}
    env["PATCHWARDEN_DATABASE_URL"] = url
    log = open(Path(tmp) / "server.log", "wb")  # noqa: SIM115  (closed with the process)
    proc = subprocess.Popen(
        [str(BIN / "patchwarden"), "server", "--data-dir", tmp, "--port", str(port),
         "--no-scheduler"],
        env=env, stdout=log, stderr=log,
    )  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    try:
        with httpx.Client(base_url=base, timeout=300) as http:
            deadline = time.monotonic() + 300
            while True:
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise SystemExit(
                        "the console did not start:\n" + (Path(tmp) / "server.log").read_text()
                    )
                try:
                    http.get("/healthz", timeout=2)
                    break
                except httpx.TransportError:
                    time.sleep(0.2)
            sign_in(http)
            record_id = count // 2
            time_pages(http, record_id, f"00000000-0000-0000-0000-{1:012d}", repeat)
            weight(http, record_id)
        first_paint(base, record_id)
    finally:
        proc.terminate()
        proc.wait(30)
        log.close()


def main() -> None:
    """Load, start the console, measure."""
    backend = sys.argv[1] if len(sys.argv) > 1 else "sqlite"
    count = int(sys.argv[2]) if len(sys.argv) > 2 else 100_000
    repeat = int(sys.argv[3]) if len(sys.argv) > 3 else 20
    print(f"{backend}, {count:,} records: {os.cpu_count()} cores, load average "
          f"{os.getloadavg()[0]:.1f} at start")  # fmt: skip
    with tempfile.TemporaryDirectory(prefix="pw-bench-") as tmp:
        if backend == "sqlite":
            url = f"sqlite:///{tmp}/patchwarden.db"
            upgrade(url)
            took = load_sqlite(Path(tmp) / "patchwarden.db", count)
            print(f"loaded {count:,} records and their events in {took:.1f} s")
            serve(url, tmp, count, repeat)
            return
        with running_postgres() as server:
            url = server.create_database("bench_console")
            upgrade(url)
            took = load_postgres(
                f"host=127.0.0.1 port={server.port} user=postgres dbname=bench_console", count
            )
            print(f"loaded {count:,} records and their events with COPY in {took:.1f} s")
            serve(url, tmp, count, repeat)


if __name__ == "__main__":
    main()
