"""Application matching throughput: components of running processes per second against a
Maven advisory store (issue 12).

The store holds the corpus' seven GHSA records plus synthetic Maven advisories (SYNTHETIC
packages, 1-3 advisories each, 1-3 ECOSYSTEM ranges per affected entry, real-looking
versions). The host runs PROCESSES JVMs holding COMPONENTS JARs each, drawn from those
packages (half of them with an advisory, the rest unknown to the store) plus log4j-core
2.14.1 and fastjson 1.2.24 in every JVM, each process with its own versions.

Measured, each over ROUNDS rounds (median): `app_matches` through the console's path
(`CachedIndex` over the SQLite `AdvisoryStore`), cold (a new cache: every lookup reaches
SQLite, every range is compiled) and warm (the next host with the same software: cached
lookups, compiled ranges), and through the in-memory index of `scan --feed`; and `detect()`
of the whole inventory (enrichment included). Prints components/s; asserts nothing.

Run: .venv/bin/python bench/app_matching.py [--processes 20] [--components 100]
"""

from __future__ import annotations

import argparse
import random
import tempfile
import time
from collections.abc import Callable
from datetime import datetime, timezone
from pathlib import Path

from patchwarden.core.advisory import (
    Advisory,
    Affected,
    AffectedPackage,
    Event,
    EventKind,
    FeedItem,
    Range,
    Severity,
)
from patchwarden.core.app_matching import app_matches
from patchwarden.core.inventory import Component, Host, Inventory, ListeningPort, ProcessInstance
from patchwarden.core.matching import MatchErrors
from patchwarden.services.detection import detect
from patchwarden.services.feeds import load_index
from patchwarden.services.index import CachedIndex, MemoryIndex
from patchwarden.storage.advisory_store import AdvisoryStore

CORPUS = Path(__file__).resolve().parents[1] / ".." / "shared" / "corpus"
GHSA = CORPUS / "advisories" / "ghsa-osv" / "github-reviewed"
SYNTHETIC = 3000
ROUNDS = 5
NOW = datetime(2026, 11, 30, tzinfo=timezone.utc)


def _version(rng: random.Random) -> str:
    parts = [str(rng.randint(0, 9)), str(rng.randint(0, 30)), str(rng.randint(0, 40))]
    suffix = rng.choice(["", "", "", ".RELEASE", "-beta1", ".Final", ".1"])
    return ".".join(parts) + suffix


def synthetic_advisories(rng: random.Random) -> tuple[list[Advisory], list[str]]:
    """Advisories over SYNTHETIC Maven packages; and the package names."""
    names = [f"org.bench{i % 97}:artifact-{i}" for i in range(SYNTHETIC)]
    advisories = []
    for i, name in enumerate(names):
        for n in range(rng.randint(1, 3)):
            ranges = []
            for _ in range(rng.randint(1, 3)):
                low, high = sorted((_version(rng), _version(rng)))
                ranges.append(
                    Range(
                        "ECOSYSTEM",
                        (Event(EventKind.INTRODUCED, low), Event(EventKind.FIXED, high)),
                    )
                )
            advisories.append(
                Advisory(
                    id=f"GHSA-bench-{i}-{n}",
                    source="osv",
                    aliases=(f"CVE-2099-{i * 3 + n}",),
                    severity=rng.choice(list(Severity)[:4]),
                    affected=(Affected(AffectedPackage("Maven", name), ranges=tuple(ranges)),),
                )
            )
    return advisories, names


def host(rng: random.Random, names: list[str], processes: int, components: int) -> Inventory:
    """PROCESSES JVMs with COMPONENTS JARs each."""
    known = names[: len(names) // 2]
    procs = []
    for pid in range(1000, 1000 + processes):
        libs = [
            Component(f"/opt/p{pid}/log4j-core.jar", "Maven",
                      "org.apache.logging.log4j:log4j-core", "2.14.1", "pom.properties", "high"),
            Component(f"/opt/p{pid}/fastjson.jar", "Maven", "com.alibaba:fastjson", "1.2.24",
                      "pom.properties", "high"),
        ]  # fmt: skip
        for n in range(components - len(libs)):
            name = rng.choice(known) if n % 2 else f"org.unknown{n}:lib-{pid}-{n}"
            libs.append(
                Component(f"/opt/p{pid}/lib{n}.jar", "Maven", name, _version(rng),
                          "pom.properties", "high")
            )  # fmt: skip
        procs.append(
            ProcessInstance(
                pid=pid,
                start_time="2026-11-30T08:00:00Z",
                exe="/usr/bin/java",
                cmdline=("java", "-jar", f"/opt/p{pid}/app.jar"),
                ports=(ListeningPort("tcp", "0.0.0.0", 8000 + pid),),
                runtime="java",
                components=tuple(libs),
            )
        )
    return Inventory(host=Host("bench"), processes=tuple(procs))


def timed(fn: Callable[[], int]) -> tuple[float, int]:
    """Median seconds of ROUNDS calls, and what the last call returned."""
    times, result = [], 0
    for _ in range(ROUNDS):
        start = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - start)
    return sorted(times)[len(times) // 2], result


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--processes", type=int, default=20)
    parser.add_argument("--components", type=int, default=100)
    args = parser.parse_args()
    rng = random.Random(12)
    advisories, names = synthetic_advisories(rng)
    ghsa, errors = load_index([f"osv:{GHSA}"])
    assert not errors and isinstance(ghsa, MemoryIndex)
    items: list[FeedItem] = [*ghsa.search("", 100, 0)[0], *advisories]
    inv = host(rng, names, args.processes, args.components)
    total = args.processes * args.components
    print(
        f"{len(items)} advisories ({SYNTHETIC} synthetic Maven packages + 7 GHSA);"
        f" {args.processes} processes x {args.components} components = {total}"
    )
    with tempfile.TemporaryDirectory() as tmp, AdvisoryStore.in_dir(Path(tmp)) as store:
        store.import_items("osv", "/bench", items, NOW)
        cached = CachedIndex(store)

        def run(index: CachedIndex | MemoryIndex) -> int:
            return len(
                app_matches(inv.processes, index.lookup, MatchErrors(), index.artifact_names)
            )

        def cold() -> int:
            return run(CachedIndex(store))

        memory = MemoryIndex(items)
        rows = [
            ("console, cold cache (SQLite store)", *timed(cold)),
            ("console, warm cache", *timed(lambda: run(cached))),
            ("scan --feed (in-memory index)", *timed(lambda: run(memory))),
            ("detect() whole inventory, warm", *timed(lambda: len(detect(inv, cached).matches))),
        ]
    for label, seconds, found in rows:
        print(
            f"{label:38} {seconds * 1000:8.1f} ms  {total / seconds:>10,.0f} components/s"
            f"  {found} findings"
        )


if __name__ == "__main__":
    main()
