"""Feed import into the advisory store: wall time, records/s and store size per set; and the
peak RSS of `patchwarden feeds import` on archives with a 1 GiB member (issue 9).

Sets: AlmaLinux 8 (tarball) + 9 + 10 (directories), the Ubuntu CVE Tracker archive, the
Debian DSA + DLA lists. Each set goes into a fresh store. Prints figures; asserts nothing.
Run: .venv/bin/python bench/feeds_import.py [--bombs-only]
"""

from __future__ import annotations

import io
import json
import sys
import tarfile
import tempfile
import time
import zipfile
from pathlib import Path

from _common import BIN, CORPUS, run_measured, self_peak_rss_mib

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


RECORD = json.dumps(
    {
        "id": "PW-BENCH-1",
        "modified": "2024-01-01T00:00:00Z",
        "affected": [{"package": {"ecosystem": "Debian:12", "name": "openssl"}}],
    }
).encode()


class _Zeros(io.RawIOBase):
    """`size` zero bytes, streamed."""

    def __init__(self, size: int) -> None:
        self.left = size

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]
        n = min(len(buffer), self.left)
        buffer[:n] = bytes(n)
        self.left -= n
        return n


def bombs(tmp: Path, size: int = 2**30) -> dict[str, Path]:
    """A tiny zip, and a zip and a tar.gz of about 1 MB that hold a `size`-byte member."""
    tiny, zipped, tarred = tmp / "tiny.zip", tmp / "bomb.zip", tmp / "bomb.tar.gz"
    with zipfile.ZipFile(tiny, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("good.json", RECORD)
    with zipfile.ZipFile(zipped, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("good.json", RECORD)
        info = zipfile.ZipInfo("big.json")
        info.compress_type = zipfile.ZIP_DEFLATED
        with archive.open(info, "w", force_zip64=True) as member:
            chunk = bytes(2**20)
            for _ in range(size // len(chunk)):
                member.write(chunk)
    with tarfile.open(tarred, "w:gz", compresslevel=9) as archive:
        info = tarfile.TarInfo("good.json")
        info.size = len(RECORD)
        archive.addfile(info, io.BytesIO(RECORD))
        info = tarfile.TarInfo("big.json")
        info.size = size
        archive.addfile(info, io.BufferedReader(_Zeros(size)))
    return {"tiny zip": tiny, "zip, 1 GiB member": zipped, "tar.gz, 1 GiB member": tarred}


def bomb_rss() -> None:
    """Peak RSS of the `feeds import` child per archive (the scheduler runs it in-process)."""
    with tempfile.TemporaryDirectory() as tmpdir:
        tmp = Path(tmpdir)
        print(f"{'archive':<24} {'bytes':>9} {'seconds':>8} {'peak RSS MiB':>13}")
        for n, (label, path) in enumerate(bombs(tmp).items()):
            argv = [str(BIN / "patchwarden"), "feeds", "import", "--data-dir", str(tmp / str(n))]
            wall, peak, rc = run_measured([*argv, f"osv:{path}"])
            if rc != 0:
                raise SystemExit(f"{label}: feeds import exited {rc}")
            print(f"{label:<24} {path.stat().st_size:>9} {wall:>8.1f} {peak:>13}")


def main() -> None:
    bomb_rss()
    if "--bombs-only" in sys.argv:
        return
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
