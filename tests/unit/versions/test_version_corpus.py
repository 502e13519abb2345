"""Version schemes against every ordering file in ../shared/corpus/version-compare/ (MANIFEST §1.6).

Each file is one test: osv-scalibr's `a < b` lists (the `*-generated.txt` ones are real
ecosystem versions, consecutive in sorted order) and claircore's rpmvercmp and Maven lists.
Every relation is checked both ways round. Lines are expected to pass as written, except:

- versions listed in tests/data/versions/corpus-rejected.txt must raise InvalidVersion (our
  schemes reject what the real tool's validator rejects);
- lines in tests/data/versions/corpus-corrections.txt, where the corpus disagrees with the real
  tool, must give the tool's answer (the Maven oracle test re-checks them with Maven);
- claircore's NEVRA lines (package name and arch in the string) are not EVR comparisons.

Files for ecosystems we have no scheme for are skipped by name, with the reason in the id.
The expected counts per file pin how many lines each of those rules takes, so a scheme that
starts rejecting or mis-ordering real versions fails here.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from patchwarden.core.errors import InvalidVersion
from patchwarden.core.versions import compare, key
from patchwarden.core.versions.rpm import split_evr

REPO = Path(__file__).resolve().parents[3]
CORPUS = REPO / ".." / "shared" / "corpus" / "version-compare"
DATA = REPO / "tests" / "data" / "versions"
_OPS = {"<": "<", "=": "=", "==": "=", ">": ">"}
_FLIP = {"<": ">", "=": "=", ">": "<"}
# An rpm EVR: optional numeric epoch, a version starting with a digit, at most one release.
_EVR = re.compile(r"([0-9]+:)?[0-9][^-:]*(-[^-:]+)?\Z")


@dataclass(frozen=True)
class Expect:
    """What one corpus file must give: its scheme and how many lines each rule takes."""

    scheme: str
    checked: int
    """Lines whose relation must hold as written (or as corrected)."""
    rejected: int = 0
    """Lines naming a version of corpus-rejected.txt."""
    corrected: int = 0
    """Lines of corpus-corrections.txt."""
    nevra: int = 0
    """claircore NEVRA lines (name and arch are not part of an EVR scheme)."""


FILES = {
    "osv-scalibr/debian-versions.txt": Expect("dpkg", 30),
    "osv-scalibr/debian-versions-generated.txt": Expect("dpkg", 14442),
    "osv-scalibr/redhat-versions.txt": Expect("rpm", 165),
    "claircore/rpmver-rpmvercmp": Expect("rpm", 113),
    "claircore/rpmver-compare": Expect("rpm", 5, nevra=7),
    "osv-scalibr/alpine-versions.txt": Expect("apk", 745, rejected=33),
    "osv-scalibr/alpine-versions-generated.txt": Expect("apk", 13979),
    "osv-scalibr/maven-versions.txt": Expect("maven", 102, corrected=1),
    "osv-scalibr/maven-versions-generated.txt": Expect("maven", 14752, corrected=18),
    "claircore/maven-compare.list": Expect("maven", 84, corrected=1),
    "osv-scalibr/semver-versions.txt": Expect("semver", 84, rejected=2),
    "osv-scalibr/pypi-versions.txt": Expect("pep440", 26, rejected=11),
    "osv-scalibr/pypi-versions-generated.txt": Expect("pep440", 12306, rejected=69),
}
SKIPPED = {
    "osv-scalibr/nuget-versions.txt": "NuGet has no version scheme yet (ECOSYSTEMS: None)",
    "osv-scalibr/packagist-versions.txt": "Packagist has no version scheme yet (ECOSYSTEMS: None)",
    "osv-scalibr/packagist-versions-generated.txt": "Packagist has no version scheme yet",
    "claircore/rpmver-parse": "NEVRA parse rows, not orderings; EVR rows: test_rpmver_parse_evr",
}


def _relations(path: Path) -> Iterator[tuple[int, str, str, str]]:
    """(line number, a, op, b) of a corpus ordering file; bad lines fail with file:line."""
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip() or line.startswith(("#", "//")):
            continue
        parts = line.split()
        if len(parts) != 3 or parts[1] not in _OPS:
            raise ValueError(f"{path}:{number}: expected `a op b`, got {line!r}")
        yield number, parts[0], _OPS[parts[1]], parts[2]


def _rejected() -> dict[str, set[str]]:
    """corpus-rejected.txt as {scheme: versions}."""
    out: dict[str, set[str]] = {}
    for a, b in _data_rows("corpus-rejected.txt", 2):
        out.setdefault(a, set()).add(b)
    return out


def _corrections() -> dict[tuple[str, str, str], str]:
    """corpus-corrections.txt as {(file, a, b): the real tool's relation}."""
    return {(f, a, b): op for f, a, op, b in _data_rows("corpus-corrections.txt", 4)}


def _data_rows(name: str, width: int) -> Iterator[list[str]]:
    path = DATA / name
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip() or line.startswith("#"):
            continue
        parts = line.split()
        if len(parts) != width:
            raise ValueError(f"{path}:{number}: expected {width} fields, got {line!r}")
        yield parts


def _relation(scheme: str, a: str, b: str) -> str:
    return "<=>"[compare(scheme, a, b) + 1]


@pytest.mark.parametrize(
    "name",
    [pytest.param(name, id=name) for name in FILES]
    + [
        pytest.param(name, id=f"{name} [skipped: {why}]", marks=pytest.mark.skip(reason=why))
        for name, why in SKIPPED.items()
    ],
)
def test_corpus_file(name: str) -> None:
    expect = FILES[name]
    scheme = expect.scheme
    rejected = _rejected().get(scheme, set())
    corrections = _corrections()
    counts = {"checked": 0, "rejected": 0, "corrected": 0, "nevra": 0}
    failures = []
    for number, a, op, b in _relations(CORPUS / name):
        if name == "claircore/rpmver-compare" and not (_EVR.match(a) and _EVR.match(b)):
            counts["nevra"] += 1
            continue
        bad = [v for v in (a, b) if v in rejected]
        if bad:
            counts["rejected"] += 1
            for version in bad:
                with pytest.raises(InvalidVersion, match=re.escape(repr(version))):
                    key(scheme, version)
            continue
        counts["checked"] += 1
        if (name, a, b) in corrections:
            counts["corrected"] += 1
            op = corrections[(name, a, b)]
        got, back = _relation(scheme, a, b), _relation(scheme, b, a)
        if got != op or back != _FLIP[op]:
            failures.append(f"line {number}: expected {a} {op} {b}, got {got} / reverse {back}")
    assert failures == [], f"{len(failures)} failures, first: {failures[:10]}"
    assert counts == {
        "checked": expect.checked,
        "rejected": expect.rejected,
        "corrected": expect.corrected,
        "nevra": expect.nevra,
    }


def test_every_corpus_file_is_tested_or_skipped_by_name() -> None:
    present = {str(path.relative_to(CORPUS)) for path in CORPUS.rglob("*") if path.is_file()}
    assert present == set(FILES) | set(SKIPPED)


def test_every_rejected_and_corrected_entry_is_used() -> None:
    """No stale entries: each listed version and correction appears in its corpus files."""
    words: dict[str, set[str]] = {}
    lines: set[tuple[str, str, str]] = set()
    for name, expect in FILES.items():
        for _, a, _, b in _relations(CORPUS / name):
            words.setdefault(expect.scheme, set()).update((a, b))
            lines.add((name, a, b))
    for scheme, versions in _rejected().items():
        assert versions <= words[scheme], versions - words[scheme]
    assert set(_corrections()) <= lines


def test_rpmver_parse_evr() -> None:
    """claircore's parse rows without a package name are plain EVRs: split like rpm does."""
    rows = 0
    for line in (CORPUS / "claircore" / "rpmver-parse").read_text().splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        text, name, epoch, version, release, _arch = line.split()
        if name not in ("''", '""'):
            continue
        rows += 1
        epoch = "0" if epoch in ("''", '""') else epoch
        assert split_evr(text) == (epoch, version, release)
    assert rows == 1
