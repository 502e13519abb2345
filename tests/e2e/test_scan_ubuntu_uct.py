"""Done-when of issue #2: an Ubuntu 18.04 root scanned against the Ubuntu CVE Tracker lists
exactly the (source package, CVE) pairs the tracker says are fixed in a newer version, plus
the unfixed ones flagged "no fix yet".

The expected set comes from an independent oracle: its own reading of the tracker files and
python-debian's dpkg ordering, not our parser or comparator (MANIFEST §1.7).
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import tarfile
from pathlib import Path

import pytest
from debian.debian_support import version_compare
from tests.paths import CORPUS, PATCHWARDEN

UCT = CORPUS / "advisories" / "ubuntu-cve-tracker" / "uct-20200618.tar.xz"
BIONIC_LINE = re.compile(r"^bionic_(\S+):\s*(\S+)\s*\(?([^)]*)\)?\s*$")
UNFIXED = {"needed", "pending", "deferred", "active"}
KERNEL_SOURCES = {"linux"}


def oracle_tracker() -> dict[str, list[tuple[str, str, str]]]:
    """source package -> [(CVE, status, version)] from every bionic line of the tracker."""
    by_source: dict[str, list[tuple[str, str, str]]] = {}
    with tarfile.open(UCT) as tar:
        for member in tar:
            if not member.isfile():
                continue
            cve = member.name.rsplit("/", 1)[-1]
            text = tar.extractfile(member).read().decode("utf-8", "replace")
            for line in text.splitlines():
                m = BIONIC_LINE.match(line)
                if m:
                    by_source.setdefault(m.group(1), []).append((cve, m.group(2), m.group(3)))
    return by_source


def oracle_installed(status: Path) -> dict[str, str]:
    """source package -> source version of the installed binaries (dpkg `Source:` rules)."""
    out: dict[str, str] = {}
    for stanza in status.read_text().split("\n\n"):
        fields = dict(
            line.split(":", 1)
            for line in stanza.splitlines()
            if line and line[0] != " " and ":" in line
        )
        fields = {k: v.strip() for k, v in fields.items()}
        if fields.get("Status") != "install ok installed":
            continue
        source, version = fields["Package"], fields["Version"]
        if "Source" in fields:
            src = fields["Source"].split()
            source = src[0]
            if len(src) > 1:
                version = src[1].strip("()")
        out[source] = version
    return out


@pytest.fixture(scope="module")
def tracker():
    return oracle_tracker()


def bionic_root(tmp_path: Path, status: Path) -> Path:
    root = tmp_path / "root"
    (root / "etc").mkdir(parents=True)
    (root / "var/lib/dpkg").mkdir(parents=True)
    for name in ("os-release", "lsb-release"):
        shutil.copy(CORPUS / "hosts/os-release/claircore/ubuntu/18.04/etc" / name, root / "etc")
    shutil.copy(status, root / "var/lib/dpkg/status")
    return root


@pytest.mark.slow
@pytest.mark.parametrize(
    ("status", "fixed_pairs", "unfixed_pairs"),
    [
        # texlive.status is as new as the tracker snapshot: every released fix is installed.
        pytest.param("hosts/dpkg/claircore/texlive.status", 0, 142, id="texlive 357 packages"),
        pytest.param(
            "hosts/dpkg/trivy/ubuntu-18.04-base.status", 33, 32, id="ubuntu:18.04 base image"
        ),
    ],
)
def test_uct_scan_lists_exactly_the_tracker_pairs(
    tmp_path, tracker, status, fixed_pairs, unfixed_pairs
):
    status_file = CORPUS / status
    root = bionic_root(tmp_path, status_file)
    proc = subprocess.run(
        [
            PATCHWARDEN,
            "scan",
            "--root",
            str(root),
            "--feed",
            f"ubuntu-uct:{UCT}",
            "--format",
            "json",
            "--data-dir",
            str(tmp_path / "data"),
        ],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 1, proc.stderr
    doc = json.loads(proc.stdout)
    assert doc["schema"] == 1 and doc["host"]["os"]["release"] == "18.04"

    expected_fixed, expected_unfixed = set(), set()
    for source, version in oracle_installed(status_file).items():
        if source in KERNEL_SOURCES:
            # R-D7: kernel CVEs are judged on the running kernel. The root is not booted and
            # has no kernel image; linux-libc-dev (source `linux`) is headers, not a kernel.
            continue
        for cve, state, fixed in tracker.get(source, ()):
            if state == "released" and version_compare(version, fixed) < 0:
                expected_fixed.add((source, cve))
            elif state in UNFIXED:
                expected_unfixed.add((source, cve))
    # The oracle's own counts, pinned so a change in the corpus or the oracle shows up.
    assert (len(expected_fixed), len(expected_unfixed)) == (fixed_pairs, unfixed_pairs)

    got_fixed = {(f["source_package"], f["id"]) for f in doc["findings"] if f["fixed_version"]}
    got_unfixed = {
        (f["source_package"], f["id"]) for f in doc["findings"] if f["fixed_version"] is None
    }
    assert got_fixed == expected_fixed
    assert got_unfixed == expected_unfixed
    for f in doc["findings"]:
        assert f["type"] == "linux" and f["method"] == "distro-advisory"
        assert f["confidence"] == "high"
        if f["fixed_version"] is None:
            assert "no fix yet" in f["reason"]
