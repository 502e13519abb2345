"""Version schemes against the hand-checked tables in tests/data/versions/<scheme>.txt (T2).

The tables are the relations of ../shared/research-vectors.md, each checked against the real
tool of its ecosystem (dpkg, rpm labelCompare, Maven ComparableVersion, node-semver,
packaging). Every relation is tested both ways round and through `key` as well as `compare`.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from patchwarden.core.versions import SCHEMES, compare, key

DATA = Path(__file__).resolve().parents[2] / "data" / "versions"
_FLIP = {"<": ">", "=": "=", ">": "<"}


def _table(scheme: str) -> list[tuple[str, str, str]]:
    """(a, op, b) rows of one table; a malformed row fails loudly with file and line."""
    path = DATA / f"{scheme}.txt"
    rows = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip() or line.startswith("#"):
            continue
        parts = line.split()
        if len(parts) != 3 or parts[1] not in _FLIP:
            raise ValueError(f"{path}:{number}: expected `a <|=|> b`, got {line!r}")
        rows.append((parts[0], parts[1], parts[2]))
    return rows


TABLE_SCHEMES = ("dpkg", "rpm", "maven", "semver", "pep440")
CASES = [
    pytest.param(scheme, a, op, b, id=f"{scheme}: {a} {op} {b}")
    for scheme in TABLE_SCHEMES
    for a, op, b in _table(scheme)
]


def _relation(scheme: str, a: str, b: str) -> str:
    return "<=>"[compare(scheme, a, b) + 1]


@pytest.mark.parametrize(("scheme", "a", "op", "b"), CASES)
def test_table_relation_holds_both_ways(scheme: str, a: str, op: str, b: str) -> None:
    assert _relation(scheme, a, b) == op
    assert _relation(scheme, b, a) == _FLIP[op]


@pytest.mark.parametrize(("scheme", "a", "op", "b"), CASES)
def test_keys_agree_with_compare_and_hash_equal_when_equal(
    scheme: str, a: str, op: str, b: str
) -> None:
    ka, kb = key(scheme, a), key(scheme, b)
    assert {"<": ka < kb, "=": ka == kb, ">": ka > kb}[op]
    if op == "=":
        # Equal versions must be interchangeable as dict keys (advisory indexes).
        assert hash(ka) == hash(kb)
        assert len({ka, kb}) == 1


def test_every_table_has_rows_and_a_scheme() -> None:
    for scheme in TABLE_SCHEMES:
        assert scheme in SCHEMES
        assert len(_table(scheme)) >= 10, scheme
