"""agent.apt.dpkg_version: Debian Policy §5.6.12 ordering, checked against dpkg itself."""

from __future__ import annotations

import random
import re
import shutil
import subprocess
from pathlib import Path
from typing import List, Tuple

import pytest

from patchwarden.agent.apt import dpkg_version
from patchwarden.core.errors import InvalidVersion

SHARED = Path(__file__).resolve().parents[3] / ".." / "shared"
APT_FIXTURE = Path(__file__).resolve().parents[2] / "data" / "repocheck" / "apt"


def _research_vectors() -> List[Tuple[str, str, str]]:
    """The dpkg relations of research-vectors.md: ("a", "<"|"="|">", "b")."""
    text = (SHARED / "research-vectors.md").read_text(encoding="utf-8")
    line = next(ln for ln in text.splitlines() if ln.startswith("- **dpkg**"))
    return re.findall(r"`([^`]+)` ([<=>]) `([^`]+)`", line)


VECTORS = _research_vectors()


def test_research_vectors_were_found() -> None:
    assert len(VECTORS) >= 30


@pytest.mark.parametrize(("a", "rel", "b"), VECTORS, ids=[f"{a} {r} {b}" for a, r, b in VECTORS])
def test_research_vector(a: str, rel: str, b: str) -> None:
    expected = {"<": -1, "=": 0, ">": 1}[rel]
    assert dpkg_version.compare(a, b) == expected
    assert dpkg_version.compare(b, a) == -expected


@pytest.mark.parametrize("bad", ["", "  ", "x:1.0", ":1.0", "-1"])
def test_invalid_versions_raise(bad: str) -> None:
    with pytest.raises(InvalidVersion):
        dpkg_version.compare(bad, "1.0")


def test_sort_key_orders_like_dpkg() -> None:
    versions = ["1.0", "1.0~rc1", "1:0.9", "1.0-1", "1.0+deb12u1"]
    assert sorted(versions, key=dpkg_version.sort_key) == [
        "1.0~rc1",
        "1.0",
        "1.0-1",
        "1.0+deb12u1",
        "1:0.9",
    ]


def _dpkg_relation(a: str, b: str) -> int:
    """What `dpkg --compare-versions` says: -1, 0 or 1."""
    for op, value in (("lt", -1), ("eq", 0)):
        if subprocess.run(["dpkg", "--compare-versions", a, op, b], check=False).returncode == 0:
            return value
    return 1


@pytest.mark.oracle
@pytest.mark.skipif(shutil.which("dpkg") is None, reason="dpkg not installed")
def test_agrees_with_dpkg_on_real_list_versions() -> None:
    """Random pairs of real versions (this machine's dpkg status + the fixture lists)."""
    status = Path("/var/lib/dpkg/status")
    texts = [p.read_text() for p in (APT_FIXTURE / "root" / "var/lib/dpkg").glob("status")]
    if status.is_file():
        texts.append(status.read_text(errors="replace"))
    versions = sorted({m for t in texts for m in re.findall(r"^Version: (\S+)$", t, re.M)})
    rng = random.Random(5612)
    pairs = [(rng.choice(versions), rng.choice(versions)) for _ in range(300)]
    # Same upstream, different revisions: where the tricky cases (~, +b, +debNuM) live.
    pairs += [
        (a, b) for a in versions[:80] for b in versions[:80] if a.split("-")[0] == b.split("-")[0]
    ]
    mismatches = [(a, b) for a, b in pairs if dpkg_version.compare(a, b) != _dpkg_relation(a, b)]
    assert mismatches == []
