"""Golden test over every dpkg status file of the corpus (MANIFEST §1.5), bad ones included.

For each file the golden records the package count, a digest of all packages, the first
packages in full and the problems reported (or the failure message), so a change in any
package shows up while the file stays reviewable. Regenerate with `pytest --update-golden`.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from dataclasses import astuple
from pathlib import Path
from typing import Dict

import pytest

from patchwarden.agent.collectors.base import CollectorFailed, Context
from patchwarden.agent.collectors.dpkg import DpkgCollector, parse_status
from patchwarden.agent.collectors.textfile import read_text

CORPUS = Path(__file__).resolve().parents[3] / ".." / "shared" / "corpus"
CASES = CORPUS / "hosts" / "dpkg"
GOLDEN = Path(__file__).resolve().parents[2] / "data" / "collectors" / "dpkg" / "expected.json"
NOT_STATUS = {"os-release", "debian_version"}


def observe() -> Dict[str, Dict[str, object]]:
    """Parse result of every status-like file of the corpus."""
    out: Dict[str, Dict[str, object]] = {}
    for path in sorted(p for p in CASES.rglob("*") if p.is_file() and p.name not in NOT_STATUS):
        rel = str(path.relative_to(CASES))
        # status.d/ entries are distroless one-package files without a Status field.
        distroless = "status.d" in rel
        try:
            parsed = parse_status(read_text(path, rel), rel, default_installed=distroless)
        except CollectorFailed as exc:
            out[rel] = {"error": str(exc)}
            continue
        rows = [list(astuple(p)) for p in parsed.packages]
        out[rel] = {
            "packages": len(rows),
            "stanzas": parsed.stanzas,
            "sha256": hashlib.sha256(json.dumps(rows).encode()).hexdigest(),
            "first": rows[:3],
            "problems": list(parsed.problems),
        }
    return out


def test_every_corpus_status_file_matches_golden(update_golden: bool) -> None:
    got = observe()
    if update_golden:
        GOLDEN.parent.mkdir(parents=True, exist_ok=True)
        GOLDEN.write_text(json.dumps(got, indent=1, sort_keys=True) + "\n", encoding="utf-8")
        pytest.skip("golden file rewritten")
    assert got == json.loads(GOLDEN.read_text(encoding="utf-8"))


@pytest.mark.parametrize(
    ("case", "installed"),
    [
        ("local-debian12/status", 843),
        ("claircore/texlive.status", 357),
        ("trivy/ubuntu-18.04-base.status", 90),
    ],
)
def test_counts_from_the_manifest(case: str, installed: int) -> None:
    """MANIFEST §1.5/§1.7 counts, independent of the golden file."""
    parsed = parse_status((CASES / case).read_text(encoding="utf-8"), case)
    assert len(parsed.packages) == installed
    assert parsed.problems == ()


def test_source_identity_of_a_binnmu_and_a_renamed_source() -> None:
    """texlive.status is Ubuntu 18.04: check binary → source mapping on real stanzas."""
    parsed = parse_status((CASES / "claircore/texlive.status").read_text(encoding="utf-8"))
    by_name = {p.name: p for p in parsed.packages}
    assert len({p.source for p in parsed.packages}) == 214  # MANIFEST §1.7
    libc = by_name["libc6"]
    assert (libc.source, libc.arch) == ("glibc", "amd64")


@pytest.mark.parametrize(
    ("case", "message"),
    [
        ("claircore/vcpkg.status", "vcpkg status file"),
        ("osv-scalibr/invalid", "line 1: not a 'Field: value' line: 'asdf'"),
        ("syft-status.d/corrupt", "line 5: not a 'Field: value' line"),
    ],
)
def test_bad_files_fail_with_a_clear_message(case: str, message: str, tmp_path: Path) -> None:
    """Through the collector: the failure names the file under the root and the reason."""
    status = tmp_path / "var/lib/dpkg/status"
    status.parent.mkdir(parents=True)
    shutil.copyfile(CASES / case, status)
    with pytest.raises(CollectorFailed) as info:
        DpkgCollector().collect(Context(root=tmp_path))
    assert info.value.path == "var/lib/dpkg/status"
    assert message in info.value.message


def test_distroless_status_d_with_a_corrupt_entry_keeps_the_others(tmp_path: Path) -> None:
    status_d = tmp_path / "var/lib/dpkg/status.d"
    status_d.mkdir(parents=True)
    for name in ("single", "corrupt", "multiple"):
        shutil.copyfile(CASES / "syft-status.d" / name, status_d / name)
    shutil.copyfile(CASES / "osv-scalibr/status.d/foo.md5sums", status_d / "foo.md5sums")
    part = DpkgCollector().collect(Context(root=tmp_path))
    assert len(part.packages) == 3
    assert [(w.path, w.message.split(":")[0]) for w in part.warnings] == [
        ("var/lib/dpkg/status.d/corrupt", "no usable dpkg stanza; first problem"),
        ("var/lib/dpkg/status.d/multiple", "line 1"),
        ("var/lib/dpkg/status.d/multiple", "line 3"),
    ]
