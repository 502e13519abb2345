"""`core.versions.dpkg` against `dpkg --compare-versions` itself: orders, refusals, warnings.

dpkg refuses some strings (exit 2: an empty revision `1.0-`, blanks inside `1.0 a`, a bad
epoch) and merely warns about others, which it still orders (`1.0_1`, `1.0-1_2`, `a1.0`,
`1.0é`). Our key must do the same, each kind alike: refuse with InvalidVersion where dpkg
refuses, order like dpkg where it warns. The agent's old ordering (agent/apt/dpkg_version.py,
now gone) accepted `1.0-` and `1.0 a` and the console's refused `1.0_1`; these tests pin all
three on the real tool, together with every line of tests/data/versions/dpkg.txt and random
pairs of real versions (this machine's dpkg status and the repository-check fixture).

One process per question, so a few hundred questions; tests/integration/versions/
test_oracles.py brings the volume through apt_pkg. dpkg missing fails the test (the
Makefile installs dpkg-dev), it never skips.
"""

from __future__ import annotations

import os
import random
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from patchwarden.core.errors import InvalidVersion
from patchwarden.core.versions import dpkg

pytestmark = pytest.mark.oracle

REPO = Path(__file__).resolve().parents[3]
TABLE = REPO / "tests" / "data" / "versions" / "dpkg.txt"
APT_FIXTURE = REPO / "tests" / "data" / "repocheck" / "apt"

# dpkg exits 2 ("error: version '…' has bad syntax: …"); we raise InvalidVersion.
REFUSED = [
    "1.0-",  # revision number is empty
    "-",  # revision number is empty
    "1.0 a",  # version string has embedded spaces
    "1.0\t1",  # tabs are blanks too
    "   ",  # version string is empty (after trimming)
    "1:",  # nothing after colon in version number
    ":1.0",  # epoch in version is empty
    "x:1.0",  # epoch in version is empty (strtol read nothing)
    "1x:1.0",  # epoch in version is not number
    "1.0-1:2",  # epoch in version is not number (the first ':' ends the epoch)
    "-1:1.0",  # epoch in version is negative
    "2147483648:1",  # epoch in version is too big (an int in dpkg)
    "-1",  # version number is empty
    "1:-1",  # version number is empty
]
# dpkg prints "warning: version '…' has bad syntax: …" and still compares.
WARNED = [
    "1.0_1",  # invalid character in version number
    "1.0-1_2",  # invalid character in revision number
    "a1.0",  # version number does not start with digit
    "1.0!",
    "1.0#2",
    "~1",
    "1.0é",  # UTF-8 bytes C3 A9
    "1.0-1€",  # UTF-8 bytes E2 82 AC
    "1.0\n",  # only space and tab are blanks to dpkg
    "1.0-1\r",
]
NEIGHBOURS = ["1.0", "1.0~", "1.0a", "1.0z", "1.0+1", "1.0.1", "1.0-1", "1.0-1.2", "0.9", "1:0.1"]


@pytest.fixture(scope="module")
def dpkg_cli() -> str:
    """The real dpkg binary."""
    path = shutil.which("dpkg")
    if path is None:
        pytest.fail("oracle dpkg is missing: install the Debian package dpkg-dev (make debs)")
    return path


def _ask(dpkg_cli: str, a: str, op: str, b: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [dpkg_cli, "--compare-versions", "--", a, op, b],
        capture_output=True,
        text=True,
        errors="replace",
        env={**os.environ, "LC_ALL": "C"},
        check=False,
    )


def _dpkg_says(dpkg_cli: str, a: str, b: str) -> int:
    """-1/0/1 from dpkg; a refusal (exit 2) fails the calling test."""
    for op, answer in (("lt", -1), ("eq", 0)):
        done = _ask(dpkg_cli, a, op, b)
        assert done.returncode in (0, 1), f"dpkg refused {a!r} {op} {b!r}: {done.stderr}"
        if done.returncode == 0:
            return answer
    return 1


def _ours(a: str, b: str) -> int:
    ka, kb = dpkg.key(a), dpkg.key(b)
    return (ka > kb) - (ka < kb)


def _table() -> list[tuple[str, str, str]]:
    rows = []
    for line in TABLE.read_text(encoding="utf-8").splitlines():
        if line.strip() and not line.startswith("#"):
            a, op, b = line.split()
            rows.append((a, op, b))
    return rows


@pytest.mark.parametrize(("a", "op", "b"), _table(), ids=lambda x: str(x))
def test_table_line_is_what_dpkg_says(dpkg_cli: str, a: str, op: str, b: str) -> None:
    expected = "<=>".index(op) - 1
    assert _dpkg_says(dpkg_cli, a, b) == expected
    assert _ours(a, b) == expected


@pytest.mark.parametrize("version", REFUSED, ids=repr)
def test_refused_where_dpkg_refuses(dpkg_cli: str, version: str) -> None:
    done = _ask(dpkg_cli, version, "lt", "1.0")
    assert done.returncode == 2, done.stderr
    assert "error: version" in done.stderr and "has bad syntax" in done.stderr
    with pytest.raises(InvalidVersion):
        dpkg.key(version)


@pytest.mark.parametrize("version", WARNED, ids=repr)
def test_ordered_like_dpkg_where_dpkg_only_warns(dpkg_cli: str, version: str) -> None:
    done = _ask(dpkg_cli, version, "eq", version)
    assert done.returncode == 0, done.stderr
    assert "warning: version" in done.stderr and "has bad syntax" in done.stderr
    wrong = [
        (version, other, _dpkg_says(dpkg_cli, version, other), _ours(version, other))
        for other in NEIGHBOURS + WARNED
    ]
    assert [row for row in wrong if row[2] != row[3]] == []


def test_empty_string_is_no_version_to_dpkg_and_refused_here(dpkg_cli: str) -> None:
    """`dpkg --compare-versions` reads "" as "not installed" (before everything); a package
    version is never empty, so the key refuses it rather than inventing an order."""
    assert _ask(dpkg_cli, "", "lt", "0").returncode == 0
    with pytest.raises(InvalidVersion):
        dpkg.key("")


def test_real_versions_agree_with_dpkg(dpkg_cli: str) -> None:
    """Random pairs of real versions: this machine's dpkg status and the repository-check
    fixture the agent's apt tests use (moved from the agent's own dpkg ordering tests)."""
    texts = [
        p.read_text(encoding="utf-8") for p in (APT_FIXTURE / "root/var/lib/dpkg").glob("status")
    ]
    status = Path("/var/lib/dpkg/status")
    if status.is_file():
        texts.append(status.read_text(encoding="utf-8", errors="replace"))
    versions = sorted({m for t in texts for m in re.findall(r"^Version: (\S+)$", t, re.M)})
    assert len(versions) >= 20
    rng = random.Random(5612)
    pairs = [(rng.choice(versions), rng.choice(versions)) for _ in range(200)]
    # Same upstream, different revisions: where the tricky cases (~, +b, +debNuM) live.
    same = [
        (a, b) for a in versions for b in versions if a != b and a.split("-")[0] == b.split("-")[0]
    ]
    pairs += rng.sample(same, min(len(same), 150))
    wrong = [(a, b) for a, b in pairs if _ours(a, b) != _dpkg_says(dpkg_cli, a, b)]
    assert wrong == []
