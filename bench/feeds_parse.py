"""Parse time and records/s of the big corpus feeds (AlmaLinux 8+9+10, UCT tarball, DSA+DLA).

Run: .venv/bin/python bench/feeds_parse.py   (figures depend on the machine and its load)
"""

from __future__ import annotations

import os
import platform
import time
from pathlib import Path

from patchwarden.core.advisory import Advisory
from patchwarden.feeds import FEEDS, ParseReport

CORPUS = Path(__file__).resolve().parents[1] / ".." / "shared" / "corpus" / "advisories"

RUNS = [
    (
        "AlmaLinux 8+9+10 OSV",
        "osv",
        [
            "almalinux-osv/almalinux8.tar.gz",
            "almalinux-osv/almalinux9",
            "almalinux-osv/almalinux10",
        ],
    ),
    ("Ubuntu CVE Tracker tar.xz", "ubuntu-uct", ["ubuntu-cve-tracker/uct-20200618.tar.xz"]),
    (
        "Debian DSA+DLA lists",
        "debian-tracker",
        ["debian-security-tracker/DSA.list", "debian-security-tracker/DLA.list"],
    ),
]


def main() -> None:
    """Parse each set once and print records, affected entries, seconds and rates."""
    print(
        f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, "
        f"Python {platform.python_version()}"
    )
    print(f"{'set':28} {'records':>8} {'affected':>9} {'seconds':>8} {'rec/s':>8} {'aff/s':>9}")
    for label, kind, paths in RUNS:
        records = affected = 0
        start = time.perf_counter()
        for rel in paths:
            report = ParseReport()
            for item in FEEDS[kind].parse(CORPUS / rel, report):
                records += 1
                if isinstance(item, Advisory):
                    affected += len(item.affected)
            if report.skipped:
                raise SystemExit(f"{rel}: {len(report.skipped)} malformed records")
        seconds = time.perf_counter() - start
        print(
            f"{label:28} {records:8d} {affected:9d} {seconds:8.2f} "
            f"{records / seconds:8.0f} {affected / seconds:9.0f}"
        )


if __name__ == "__main__":
    main()
