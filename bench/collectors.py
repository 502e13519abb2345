"""Collector timings: dpkg status parsing (ours vs python-debian), each rpmdb format, and a
full `collect_inventory(Path("/"))` with its peak RSS. Prints numbers; asserts nothing.

Run: .venv/bin/python bench/collectors.py
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Callable

from patchwarden.agent.collectors.dpkg import parse_status
from patchwarden.agent.collectors.rpm import parse_rpmdb

CORPUS = Path(__file__).resolve().parents[1] / ".." / "shared" / "corpus"
STATUS = CORPUS / "hosts" / "dpkg" / "local-debian12" / "status"
RPMDBS = {
    "sqlite (129 pkgs)": CORPUS / "hosts/rpmdb/go-rpmdb/cbl-mariner-2.0/rpmdb.sqlite",
    "ndb (35 pkgs)": CORPUS / "hosts/rpmdb/go-rpmdb/sle15-bci/Packages.db",
    "bdb (1 pkg, 94 KB)": CORPUS / "hosts/rpmdb/go-rpmdb/libuuid/Packages",
}

_CHILD = """
import json, resource, sys, time
from pathlib import Path
t0 = time.perf_counter()
from patchwarden.agent.inventory import collect_inventory
t1 = time.perf_counter()
inv = collect_inventory(Path("/"), online=False)
t2 = time.perf_counter()
print(json.dumps({"import_s": t1 - t0, "collect_s": t2 - t1, "packages": len(inv.packages),
                  "maxrss_kb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss}))
"""


def best_of(fn: Callable[[], object], repeat: int = 7) -> float:
    """Fastest of `repeat` runs, in milliseconds."""
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times) * 1000


def main() -> int:
    """Print one line per measurement."""
    print(f"machine: {os.cpu_count()} cpus, python {sys.version.split()[0]}")
    text = STATUS.read_text(encoding="utf-8")
    ours = best_of(lambda: parse_status(text))
    print(f"dpkg status, 843 pkgs: ours {ours:.1f} ms")
    try:
        from debian.deb822 import Deb822
    except ImportError:
        print("dpkg status: python-debian not installed, no comparison")
    else:

        def with_deb822() -> object:
            return [
                p
                for p in Deb822.iter_paragraphs(text.splitlines(keepends=True), use_apt_pkg=False)
                if p.get("Status", "").endswith(" installed")
            ]

        theirs = best_of(with_deb822, repeat=3)
        print(f"dpkg status, 843 pkgs: python-debian Deb822 {theirs:.1f} ms ({theirs / ours:.0f}x)")
    with tempfile.TemporaryDirectory() as tmp:
        for label, path in RPMDBS.items():
            db = Path(tmp) / path.name
            shutil.copyfile(path, db)
            print(f"rpmdb {label}: {best_of(lambda db=db: parse_rpmdb(db)):.1f} ms")
    out = subprocess.run(
        [sys.executable, "-c", _CHILD], capture_output=True, text=True, check=True
    ).stdout
    child = json.loads(out)
    print(
        f"collect_inventory('/'): {child['collect_s'] * 1000:.0f} ms for {child['packages']}"
        f" packages (+{child['import_s'] * 1000:.0f} ms import),"
        f" peak RSS {child['maxrss_kb'] / 1024:.1f} MiB"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
