"""Long version strings: every scheme refuses what it cannot order (InvalidVersion, never
another exception), orders what it can, and stays fast (issue 9, security review).

Python 3.11+ refuses to convert more than 4,300 digits to an int; versions from feeds and
agents are untrusted, so a 5,000-digit `fixed` version must be a recorded skip, not a crash.
"""

from __future__ import annotations

import sys
import time

import pytest

from patchwarden.core.advisory import (
    Advisory,
    Affected,
    AffectedPackage,
    Event,
    EventKind,
    Range,
)
from patchwarden.core.errors import InvalidVersion
from patchwarden.core.inventory import Package
from patchwarden.core.matching import MatchErrors, Query, match_query
from patchwarden.core.versions import SCHEME_MODULES, compare, key

LIMIT = getattr(sys, "get_int_max_str_digits", lambda: 0)()
D = "9" * 5000
"""A digit run over CPython's default int conversion limit."""

# Where a digit run sits in each scheme's grammar: every place its parser converts digits.
OVER_LIMIT = [
    ("dpkg", f"{D}:1.0"),
    ("dpkg", f"-{D}:1.0"),
    ("dpkg", f"1.{D}"),
    ("dpkg", f"1.0-{D}"),
    ("rpm", D),
    ("rpm", f"{D}:1.0-1"),
    ("rpm", f"1.0-1.el{D}"),
    ("rpm-el", f"1.0-{D}.el9.alma.1"),
    ("rpm-el", f"{D}:1.0-1.el9"),
    ("apk", D),
    ("apk", f"1.{D}"),
    ("apk", f"1.0a{D}"),
    ("apk", f"1.0_p{D}"),
    ("apk", f"1.0-r{D}"),
    ("maven", D),
    ("maven", f"1.0-{D}"),
    ("maven", f"1.0.RC{D}"),
    ("semver", f"{D}.0.0"),
    ("semver", f"1.0.{D}"),
    ("semver", f"1.0.0-{D}"),
    ("semver", f"1.0.0-rc.{D}"),
    ("pep440", D),
    ("pep440", f"{D}!1.0"),
    ("pep440", f"1.0.post{D}"),
    ("pep440", f"1.0rc{D}"),
    ("pep440", f"1.0+{D}"),
]


@pytest.mark.parametrize(
    ("scheme", "version"),
    [pytest.param(s, v, id=f"{s}: {v.replace(D, '9*5000')}") for s, v in OVER_LIMIT],
)
def test_digit_run_over_the_int_limit_is_an_invalid_version(scheme: str, version: str) -> None:
    if not LIMIT:  # Python < 3.11 or the limit switched off: the number is an int like others
        assert compare(scheme, version, "1.0") != 0
        return
    with pytest.raises(InvalidVersion) as caught:
        key(scheme, version)
    assert caught.value.scheme == scheme
    assert caught.value.version == version
    # The reason names the problem rather than quoting CPython's int() message.
    assert "integer string conversion" not in str(caught.value)
    if scheme == "dpkg" and ":" in version:
        assert "epoch" in str(caught.value)  # dpkg's own words: too big / negative
    elif scheme != "pep440" or version != D:
        assert "digit run too long" in str(caught.value)


@pytest.mark.parametrize("scheme", [s for s in SCHEME_MODULES if s != "semver"])
def test_long_digit_runs_under_the_limit_still_compare_as_numbers(scheme: str) -> None:
    big, bigger = "1." + "9" * 4000, "1.1" + "0" * 4000
    assert compare(scheme, big, bigger) == -1
    assert compare(scheme, bigger, big) == 1


def test_semver_long_numbers_under_the_limit_compare_as_numbers() -> None:
    assert compare("semver", "1.0." + "9" * 4000, "1.0.1" + "0" * 4000) == -1


# Long strings built to hit the slow paths of regexes and recursive parsers.
PATHOLOGICAL = {
    "many rebuild marks": "1.0-1" + ".alma" * 100_000 + "!",
    "many module contexts": "1.0-1" + ".module+el8.1" * 40_000 + "!",
    "long dotted": ".".join(["1"] * 100_000),
    "many hyphens": "1" + "-1" * 100_000,
    "digit/letter switches": "1" + ".a1" * 60_000,
    "one long word": "a" * 500_000,
    "long pre-release": "1.0.0-" + ".".join(["a"] * 100_000),
}


@pytest.mark.parametrize(
    ("scheme", "version"),
    [
        pytest.param(s, v, id=f"{s}: {name}")
        for s in SCHEME_MODULES
        for name, v in PATHOLOGICAL.items()
    ],
)
def test_long_inputs_are_fast_and_never_raise_anything_but_invalid_version(
    scheme: str, version: str
) -> None:
    start = time.perf_counter()
    try:
        key(scheme, version)
    except InvalidVersion as exc:
        assert exc.version == version
    elapsed = time.perf_counter() - start
    # Linear parsers take well under 0.2 s here; the quadratic `.alma` regex took minutes.
    assert elapsed < 3.0, f"{scheme}: {elapsed:.1f} s for {len(version)} characters"


def test_rpm_el_still_drops_rebuild_marks_after_the_rewrite() -> None:
    assert compare("rpm-el", "1.0-1.el9_4", "1.0-1.el9_4.alma.1") == 0
    assert compare("rpm-el", "1.0-1.el9_4", "1.0-1.el9_4.rocky.0.2") == 0
    assert compare("rpm-el", "1.0-1.el9_4", "1.0-1.el9_4.alma.plus") == 0
    # Not a mark: not a whole part, or a non-alphanumeric part after it.
    assert compare("rpm-el", "1.0-1.el9_4", "1.0-1.el9_4.almax") == -1
    assert compare("rpm-el", "1.0-1.el9_4", "1.0-1.el9_4.alma.1_2") == -1


def test_maven_refuses_sub_versions_nested_too_deep_but_keeps_real_ones() -> None:
    with pytest.raises(InvalidVersion, match="nested more than 100 deep"):
        key("maven", "1" + "-1" * 150)
    # A commit hash switching between digits and letters at every character nests 40.
    hashed = "1.0-" + "a1" * 20
    assert compare("maven", hashed, hashed + "-1") == -1


def test_maven_digits_int_cannot_read_are_invalid_not_a_crash() -> None:
    # `str.isdigit()` takes superscripts, `int()` does not.
    with pytest.raises(InvalidVersion, match="not decimal"):
        key("maven", "1.0-\u00b2")


def _advisory(fixed: str, introduced: str = "0") -> tuple[Advisory, Affected]:
    events = (Event(EventKind.INTRODUCED, introduced), Event(EventKind.FIXED, fixed))
    affected = Affected(
        package=AffectedPackage("Debian:12", "openssl"), ranges=(Range("ECOSYSTEM", events),)
    )
    return Advisory(id="PW-LONG-1", source="osv", affected=(affected,)), affected


def _query(version: str, scheme: str = "dpkg") -> Query:
    pkg = Package("openssl", version, "deb")
    return Query(pkg, "Debian:12", "openssl", version, scheme)


@pytest.mark.parametrize(
    ("installed", "fixed"),
    [
        pytest.param("3.0.9-1", "1" * 5000, id="sad path: advisory fixed version too long"),
        pytest.param("1" * 5000, "3.0.11-1", id="sad path: installed version too long"),
    ],
)
def test_matching_records_a_short_skip_for_a_version_it_cannot_read(
    installed: str, fixed: str
) -> None:
    errors = MatchErrors()
    assert match_query(_query(installed), [_advisory(fixed)], errors) == []
    (message,) = errors.items
    assert message.startswith("PW-LONG-1 Debian:12/openssl: invalid dpkg version '1111")
    assert "(5000 characters)" in message
    assert message.endswith("digit run too long")
    assert len(message) < 250


def test_matching_goes_on_after_a_skip() -> None:
    errors = MatchErrors()
    good = _advisory("3.0.11-1")
    bad_adv, bad_aff = _advisory("1" * 5000)
    found = match_query(_query("3.0.9-1"), [(bad_adv, bad_aff), good], errors)
    assert [m.fixed_version for m in found] == ["3.0.11-1"]
    assert len(errors.items) == 1
