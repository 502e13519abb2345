"""`patchwarden scan` wall time and peak RSS, and matching throughput at fleet scale.

(a) this machine (`scan --offline`: no changelog downloads), (b) the 357-package Ubuntu 18.04
status against the Ubuntu CVE Tracker, (c) a 301-package RHEL 9 manifest against AlmaLinux 9,
(d) 1,000 synthetic RHEL 9 hosts (matching only, one shared cached index).
Prints figures; asserts nothing. Run: .venv/bin/python bench/scan.py
"""

from __future__ import annotations

import random
import shutil
import tempfile
import time
from pathlib import Path

from _common import BIN, CORPUS, median, run_measured, self_peak_rss_mib

from patchwarden.agent.collectors.rpm_manifest import load_rpm_manifest
from patchwarden.core.clock import Clock
from patchwarden.core.inventory import Host, Inventory, OsRelease, Package
from patchwarden.services.detection import detect
from patchwarden.services.feeds import import_spec
from patchwarden.services.index import CachedIndex
from patchwarden.storage.advisory_store import AdvisoryStore

UCT = CORPUS / "advisories/ubuntu-cve-tracker/uct-20200618.tar.xz"
ALMA9 = CORPUS / "advisories/almalinux-osv/almalinux9"
MANIFEST = CORPUS / "hosts/rpmdb/claircore-rpm-manifest/nodejs.rpm-manifest.json"
PW = str(BIN / "patchwarden")
RUNS = 3


def scan_runs(label: str, argv: list[str]) -> None:
    walls, rss = [], []
    for _ in range(RUNS):
        wall, peak, rc = run_measured(argv)
        if rc not in (0, 1):
            raise SystemExit(f"{label}: scan failed with exit code {rc}")
        walls.append(wall)
        rss.append(peak)
    print(f"{label:<44} wall median {median(walls):6.2f} s   peak RSS {max(rss):4d} MiB")


def bionic_root(tmp: Path) -> Path:
    root = tmp / "bionic"
    (root / "etc").mkdir(parents=True)
    (root / "var/lib/dpkg").mkdir(parents=True)
    for name in ("os-release", "lsb-release"):
        shutil.copy(CORPUS / "hosts/os-release/claircore/ubuntu/18.04/etc" / name, root / "etc")
    shutil.copy(CORPUS / "hosts/dpkg/claircore/texlive.status", root / "var/lib/dpkg/status")
    return root


def rhel9_inventory(packages: tuple[Package, ...], name: str) -> Inventory:
    os_ = OsRelease(id="rhel", family="rhel", release="9", version_id="9.5")
    return Inventory(host=Host(name), os=os_, packages=packages)


def jitter(packages: tuple[Package, ...], rng: random.Random) -> tuple[Package, ...]:
    """A plausible other host: some packages one release older or newer."""
    out = []
    for p in packages:
        epoch, sep, vr = p.version.rpartition(":")
        v, _, r = vr.rpartition("-")
        roll = rng.random()
        if roll < 0.15 and r[:1].isdigit():
            head, _, tail = r.partition(".")
            r = f"{max(1, int(head) - 1) if head.isdigit() else head}.{tail}" if tail else r
        elif roll < 0.25:
            r = r + ".1"
        version = f"{epoch}{sep}{v}-{r}"
        out.append(Package(p.name, version, p.format, p.arch, p.source_name))
    return tuple(out)


def main() -> None:
    with tempfile.TemporaryDirectory() as tmpdir:
        tmp = Path(tmpdir)
        print("patchwarden scan (2 cores; medians of 3 runs)")
        data = tmp / "data-local"
        run_measured([PW, "feeds", "import", "--bundled", "--data-dir", str(data)])
        scan_runs(
            "(a) this machine, --offline",
            [PW, "scan", "--offline", "--format", "json", "--data-dir", str(data)],
        )

        uct_data = tmp / "data-uct"
        wall, _, _ = run_measured(
            [PW, "feeds", "import", f"ubuntu-uct:{UCT}", "--data-dir", str(uct_data)]
        )
        print(f"    (import of the UCT archive for (b): {wall:.1f} s)")
        scan_runs(
            "(b) Ubuntu 18.04, 357 packages vs UCT",
            [
                PW,
                "scan",
                "--root",
                str(bionic_root(tmp)),
                "--format",
                "json",
                "--data-dir",
                str(uct_data),
            ],
        )

        with AdvisoryStore.in_dir(tmp / "data-alma") as store:
            import_spec(store, f"osv:{ALMA9}", Clock())
            packages = load_rpm_manifest(MANIFEST)
            inv = rhel9_inventory(packages, "rhel9")
            times = []
            for _ in range(RUNS):
                start = time.perf_counter()
                found = detect(inv, store)
                times.append(time.perf_counter() - start)
            print(
                f"{'(c) RHEL 9 manifest, ' + str(len(packages)) + ' pkgs vs AlmaLinux 9':<44}"
                f" match median {median(times):6.3f} s   {len(found.matches)} findings"
                f"   peak RSS {self_peak_rss_mib()} MiB (in-process)"
            )

            rng = random.Random(7)
            hosts = [rhel9_inventory(jitter(packages, rng), f"h{i}") for i in range(1000)]
            index = CachedIndex(store)
            start = time.perf_counter()
            total = 0
            for h in hosts:
                total += len(detect(h, index).matches)
            elapsed = time.perf_counter() - start
            queries = sum(len(h.packages) for h in hosts)
            print(
                f"{'(d) 1,000 synthetic RHEL 9 hosts (matching)':<44} {elapsed:6.2f} s"
                f"   {1000 / elapsed:6.1f} hosts/s   {queries / elapsed:8.0f} packages/s"
                f"   {total / elapsed:8.0f} findings/s   peak RSS {self_peak_rss_mib()} MiB"
            )


if __name__ == "__main__":
    main()
