"""Feed import into the advisory store: wall time, records/s and store size per set.

Sets: AlmaLinux 8 (tarball) + 9 + 10 (directories), the Ubuntu CVE Tracker archive, the
Debian DSA + DLA lists. Each set goes into a fresh store. Prints figures; asserts nothing.
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

from _common import CORPUS, self_peak_rss_mib

from patchwarden.core.clock import Clock
from patchwarden.services.feeds import import_spec
from patchwarden.storage.advisory_store import AdvisoryStore

ADV = CORPUS / "advisories"
SETS = {
    "AlmaLinux 8+9+10": [
        f"osv:{ADV / 'almalinux-osv/almalinux8.tar.gz'}",
        f"osv:{ADV / 'almalinux-osv/almalinux9'}",
        f"osv:{ADV / 'almalinux-osv/almalinux10'}",
    ],
    "Ubuntu CVE Tracker (33k files)": [
        f"ubuntu-uct:{ADV / 'ubuntu-cve-tracker/uct-20200618.tar.xz'}"
    ],
    "Debian DSA + DLA lists": [
        f"debian-tracker:{ADV / 'debian-security-tracker/DSA.list'}",
        f"debian-tracker:{ADV / 'debian-security-tracker/DLA.list'}",
    ],
}


def store_size(directory: Path) -> int:
    """Bytes of the store file and its WAL."""
    return sum(p.stat().st_size for p in directory.glob("advisories.db*"))


def main() -> None:
    print(
        f"{'set':<32} {'records':>8} {'affected':>9} {'seconds':>8} {'rec/s':>8} {'store MiB':>9}"
    )
    for name, specs in SETS.items():
        with tempfile.TemporaryDirectory() as tmp:
            records = affected = 0
            start = time.perf_counter()
            with AdvisoryStore.in_dir(Path(tmp)) as store:
                for spec in specs:
                    stats, _ = import_spec(store, spec, Clock())
                    records += stats.records
                    affected += stats.affected
                store._db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            elapsed = time.perf_counter() - start
            size = store_size(Path(tmp)) / 2**20
            print(
                f"{name:<32} {records:>8} {affected:>9} {elapsed:>8.1f} "
                f"{records / elapsed:>8.0f} {size:>9.1f}"
            )
    print(f"peak RSS of the importing process: {self_peak_rss_mib()} MiB")


if __name__ == "__main__":
    main()
