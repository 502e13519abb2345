"""Golden test: every os-release case of the corpus maps to a release or a clear "unknown".

Cases are the claircore and syft sets under `corpus/hosts/os-release/`: a directory that
looks like a root (has etc/, usr/ or bin/), or a single file directly in `syft/`, which is
placed in a temporary root as the file its name says (redhat-release, system-release-cpe)
or as etc/os-release. Regenerate with `pytest --update-golden` and review the diff.
"""

from __future__ import annotations

import datetime
import json
import shutil
from pathlib import Path
from typing import Dict, Iterator, Tuple

import pytest

from patchwarden.agent.collectors.base import Context
from patchwarden.agent.collectors.os_release import OsReleaseCollector

CORPUS = Path(__file__).resolve().parents[3] / ".." / "shared" / "corpus"
CASES = CORPUS / "hosts" / "os-release"
GOLDEN = (
    Path(__file__).resolve().parents[2] / "data" / "collectors" / "os_release" / "expected.json"
)
TODAY = datetime.date(2026, 1, 1)


def corpus_cases() -> Iterator[Tuple[str, Path]]:
    """(case name, path) for every root-like directory and single file of the corpus."""
    for path in sorted(CASES.rglob("*")):
        rel = path.relative_to(CASES)
        single_file = path.is_file() and len(rel.parts) == 2
        root_like = path.is_dir() and any((path / d).is_dir() for d in ("etc", "usr", "bin"))
        if single_file or root_like:
            yield str(rel), path


def root_of(name: str, path: Path, tmp_path: Path) -> Path:
    """The root to scan for a case: the directory itself, or a root built around one file."""
    if path.is_dir():
        return path
    if "redhat-release" in name:
        target = "etc/redhat-release"
    elif "system-release-cpe" in name:
        target = "etc/system-release-cpe"
    else:
        target = "etc/os-release"
    (tmp_path / target).parent.mkdir(parents=True)
    shutil.copyfile(path, tmp_path / target)
    return tmp_path


def observe(tmp_path: Path) -> Dict[str, Dict[str, object]]:
    """What the collector says for every case (id, family, release, codename, eol, notes)."""
    collector = OsReleaseCollector(today=TODAY)
    out: Dict[str, Dict[str, object]] = {}
    for index, (name, path) in enumerate(corpus_cases()):
        scratch = tmp_path / str(index)
        scratch.mkdir()
        part = collector.collect(Context(root=root_of(name, path, scratch)))
        assert part.os is not None
        out[name] = {
            "id": part.os.id,
            "family": part.os.family,
            "release": part.os.release,
            "codename": part.os.codename,
            "eol": part.os.eol,
            "source": part.os.source,
            "warnings": [f"{w.path}: {w.message}" for w in part.warnings],
        }
    return out


def test_every_corpus_case_matches_golden(tmp_path: Path, update_golden: bool) -> None:
    got = observe(tmp_path)
    assert len(got) >= 95, "corpus layout changed: fewer os-release cases found"
    if update_golden:
        GOLDEN.parent.mkdir(parents=True, exist_ok=True)
        GOLDEN.write_text(json.dumps(got, indent=1, sort_keys=True) + "\n", encoding="utf-8")
        pytest.skip("golden file rewritten")
    assert got == json.loads(GOLDEN.read_text(encoding="utf-8"))


def test_every_known_family_case_has_a_release(tmp_path: Path) -> None:
    """A case of a supported family without a release key would silently match nothing."""
    for name, seen in observe(tmp_path).items():
        if seen["family"] != "unknown" and seen["release"] == "":
            pytest.fail(f"{name}: family {seen['family']} but no release")
        if seen["id"] == "unknown":
            assert seen["family"] == "unknown", name


@pytest.mark.parametrize(
    ("case", "expected"),
    [
        ("claircore/debian/7", ("debian", "debian", "7", "wheezy")),
        ("claircore/debian/12", ("debian", "debian", "12", "bookworm")),
        ("claircore/ubuntu/10.04", ("ubuntu", "ubuntu", "10.04", "lucid")),
        ("claircore/ubuntu/12.04", ("ubuntu", "ubuntu", "12.04", "precise")),
        ("claircore/ubuntu/18.04", ("ubuntu", "ubuntu", "18.04", "bionic")),
        ("claircore/alpine/3.3", ("alpine", "alpine", "3.3", "")),
        ("claircore/alpine/edge", ("alpine", "alpine", "edge", "")),
        ("claircore/rhel/oracle-6", ("ol", "rhel", "6", "")),
        ("claircore/rhel/7", ("rhel", "rhel", "7", "")),
        ("syft/os/debian/from-debian_version", ("debian", "debian", "10", "buster")),
        ("syft/os/centos6", ("centos", "rhel", "6", "")),
        ("syft/os/centos5", ("centos", "rhel", "5", "")),
        ("syft/os/sles", ("sles", "suse", "15.2", "")),
        ("syft/os/empty", ("unknown", "unknown", "", "")),
        ("syft/unprintable", ("debian", "debian", "8", "jessie")),
    ],
)
def test_key_cases(case: str, expected: Tuple[str, str, str, str], tmp_path: Path) -> None:
    """Hand-checked cases, independent of the golden file."""
    path = CASES / case
    part = OsReleaseCollector(today=TODAY).collect(Context(root=root_of(case, path, tmp_path)))
    assert part.os is not None
    assert (part.os.id, part.os.family, part.os.release, part.os.codename) == expected
