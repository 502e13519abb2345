"""Version keys: bad input raises InvalidVersion naming scheme and string; keys behave as keys."""

from __future__ import annotations

import sys

import pytest

from patchwarden.core.errors import InvalidVersion
from patchwarden.core.versions import compare, key
from patchwarden.core.versions.rpm import split_evr

INVALID = [
    ("dpkg", "", "empty version"),
    ("dpkg", "   ", "empty version"),
    ("dpkg", "1.0 bad", "embedded whitespace"),
    ("dpkg", ":1.0", "empty epoch"),
    ("dpkg", "1.0\t1", "embedded whitespace"),
    ("dpkg", "a:1.0", "epoch 'a' is not a number"),
    ("dpkg", "x:1.0", "epoch 'x' is not a number"),
    ("dpkg", "1x:1.0", "epoch '1x' is not a number"),
    ("dpkg", "²:1.0", "epoch '²' is not a number"),
    ("dpkg", "-1:1.0", "epoch '-1' is negative"),
    ("dpkg", "2147483648:1.0", "is too big"),
    ("dpkg", "1:", "nothing after the epoch"),
    ("dpkg", "1.0-", "empty revision"),
    ("dpkg", "-", "empty revision"),
    ("dpkg", "-1", "empty upstream"),
    ("dpkg", "1:-1", "empty upstream"),
    ("dpkg", "1.0-1:2", "epoch '1.0-1' is not a number"),
    ("dpkg", "1.0\x00", "NUL character"),
    ("dpkg", "1.0\ud800", "not encodable as UTF-8"),
    ("rpm", "", "empty version"),
    ("rpm", "1.0 1", "whitespace"),
    ("rpm", "1.0\n", "whitespace"),
    ("rpm", ":1.0", "empty epoch"),
    ("rpm", "1:", "empty version part"),
    ("rpm", "1:-1", "empty version part"),
    ("apk", "", "empty version"),
    ("apk", "a1", "does not start with a number"),
    ("apk", "1.0-r", "'-r<number>'"),
    ("apk", "1.0-1", "'-r<number>'"),
    ("apk", "1.2_blah", "unknown suffix '_blah'"),
    ("apk", "1.0A", "unexpected 'A'"),
    ("apk", "1.0ab", "letter 'b' after the numbers"),
    ("apk", "1.0a.1", "'.' after a letter"),
    ("apk", "1..2", "'.' not followed by digits"),
    ("apk", "1.0-r1_p1", "'_' suffix after a hash or revision"),
    ("apk", "1.0~", "hex commit hash"),
    ("rpm-el", "", "empty version"),
    ("rpm-el", ":1.0-1.el9.alma", "empty epoch"),
    ("maven", "", "empty version"),
    ("maven", "1.0 beta", "whitespace"),
    ("semver", "", ""),
    ("semver", "1.2", "not valid SemVer"),
    ("semver", "01.2.3", "not valid SemVer"),
    ("semver", "1.2.3-01", "not valid SemVer"),
    ("semver", "1.2.3.4", "not valid SemVer"),
    ("semver", "V1.2.3", "not valid SemVer"),
    ("pep440", "", "Invalid version"),
    ("pep440", "1.0-foo", "Invalid version"),
    ("pep440", "not a version", "Invalid version"),
]


@pytest.mark.parametrize(
    ("scheme", "version", "why"),
    [pytest.param(s, v, w, id=f"sad path {s}: {v!r}") for s, v, w in INVALID],
)
def test_invalid_version_names_scheme_string_and_reason(
    scheme: str, version: str, why: str
) -> None:
    with pytest.raises(InvalidVersion) as caught:
        key(scheme, version)
    assert caught.value.scheme == scheme
    assert caught.value.version == version
    assert str(caught.value).startswith(f"invalid {scheme} version {version!r}")
    assert why in str(caught.value)
    # compare() goes through the same keys, so it refuses too (never a silent order).
    with pytest.raises(InvalidVersion):
        compare(scheme, version, "1.0.0")
    assert isinstance(caught.value, ValueError)


# dpkg only warns about these (Policy's character sets, a first character that is no digit)
# and still orders them, so they have keys (tests/integration/versions/test_dpkg_cli.py).
DPKG_WARN_ONLY = ["1.0_1", "1.0-1_2", "a1.0", "1.0!", "1.0é", "1.0\n", "1.0-1\r", "1.0#2", "~1"]


@pytest.mark.parametrize(
    "version", [pytest.param(v, id=f"dpkg warns: {v!r}") for v in DPKG_WARN_ONLY]
)
def test_dpkg_orders_what_dpkg_only_warns_about(version: str) -> None:
    assert compare("dpkg", version, version) == 0
    assert key("dpkg", version) != key("dpkg", "1.0")
    assert compare("dpkg", version + "~", version) == -1


def test_dpkg_digit_run_longer_than_int_takes_is_refused() -> None:
    """dpkg compares it digit by digit; int() refuses over 4,300 digits (Python >= 3.11)."""
    long = "1." + "9" * 5000
    if getattr(sys, "get_int_max_str_digits", lambda: 0)():
        with pytest.raises(InvalidVersion, match="digit run too long"):
            key("dpkg", long)
    else:
        assert compare("dpkg", long, "1.9") == 1


def test_dpkg_epoch_is_read_like_strtol() -> None:
    """dpkg reads the epoch with strtol: a sign and leading newlines pass, "-0" is 0."""
    assert key("dpkg", "+1:1.0") == key("dpkg", "1:1.0") == key("dpkg", "\n1:1.0")
    assert key("dpkg", "-0:1.0") == key("dpkg", "1.0")
    assert key("dpkg", "2147483647:1")[0] == 2**31 - 1


def test_dpkg_non_ascii_weighs_per_utf8_byte() -> None:
    """Bytes of the UTF-8 encoding, and the raw bytes behind surrogateescape, weigh alike."""
    assert key("dpkg", "1.0é") == key("dpkg", "1.0\udcc3\udca9")
    assert compare("dpkg", "1.0z", "1.0é") == compare("dpkg", "1.0é", "1.0.") == -1


EQUAL = [
    ("dpkg", ["1.0", "1.0-0", "0:1.0", "00:1.0-00", " 1.0 ", "\t1.0\t"]),
    ("dpkg", ["1.01", "1.1", "1.001"]),
    ("rpm", ["1.01", "1.1", "1_1", "1..1", "0:1.1", "1.1."]),
    ("rpm", ["0:1.0-1", "1.0-1", "00:1.0-01"]),
    ("rpm", ["1.0a", "1.0.a", "1.0_a"]),
    ("rpm-el", ["1.0-1.el9_4", "1.0-1.el9_4.alma", "1.0-1.el9_4.alma.1", "0:1.0-1.el9_4.alma.2"]),
    ("rpm-el", ["2.0-3.el8", "2.0-3.el8.rocky.0.2", "2.0-3.el8.alma.plus"]),
    # Module builds: the vendors' build-system numbers order nothing across vendors.
    (
        "rpm-el",
        [
            "1:1.22.1-1.module+el8.8.0+20035+1d8c5a8e.1",
            "1:1.22.1-1.module_el8.8.0+3623+f96e6422.1.alma.1",
            "1:1.22.1-1.module_el8.9.0+3700+f96e6422.1.alma.1",
        ],
    ),
    (
        "rpm-el",
        ["18.14.2-3.module+el9.2.0.z+18964+42696395", "18.14.2-3.module_el9.2.0+36+b2aa5c5e.alma"],
    ),
    ("apk", ["1.0-r1", "1.0-r01"]),
    ("maven", ["1", "1.0", "1.0.0", "1-0", "1.0-final", "1.ga", "1.0.RELEASE", "1-release"]),
    ("maven", ["1.0-cr1", "1.0-rc1", "1.0RC1", "1.0.RC1"]),
    ("semver", ["1.0.0", "v1.0.0", "1.0.0+build.7", " v1.0.0+x "]),
    ("pep440", ["1.0", "1.0.0", "v1.0", "1.0.0.0"]),
]


@pytest.mark.parametrize(
    ("scheme", "versions"),
    [pytest.param(s, vs, id=f"{s}: {' = '.join(vs)}") for s, vs in EQUAL],
)
def test_equal_versions_have_one_key(scheme: str, versions: list[str]) -> None:
    keys = [key(scheme, v) for v in versions]
    assert len(set(keys)) == 1
    assert len({hash(k) for k in keys}) == 1
    assert all(compare(scheme, versions[0], v) == 0 for v in versions)


SORTED = [
    ("dpkg", ["1.0~~", "1.0~", "1.0", "1.0-1~bpo1", "1.0-1", "1.0a", "1.0+", "1.0.", "1:0.1"]),
    ("dpkg", ["1.0~rc1", "1.0", "1.0-1", "1.0+deb12u1", "1:0.9"]),
    ("dpkg", ["0.1", "9.9", "a1.0", "b1.0"]),
    ("rpm", ["1.0~rc1", "1.0", "1.0^", "1.0^git1", "1.0a", "1.0.1", "1.0.1-1", "1:0.1"]),
    # The rebuild mark only goes at the end of the release; elsewhere it orders as in rpm.
    ("rpm-el", ["1.0-1.el9_3.alma.1", "1.0-1.el9_4", "1.0-1.el9_4.1", "1.0.alma-1", "1.0.1-1"]),
    (
        "apk",
        [
            "1.0_alpha",
            "1.0_alpha1",
            "1.0_beta",
            "1.0_pre2",
            "1.0_rc1",
            "1.0",
            "1.0-r1",
            "1.0_cvs",
            "1.0_svn",
            "1.0_git",
            "1.0_hg",
            "1.0_p1",
            "1.0_p1-r3",
            "1.0a",
            "1.0a_p1",
            "1.0.0",
            "1.00",
            "1.01",
            "1.1",
        ],
    ),
    ("apk", ["6.6.1p1-r3", "6.6.2_p1", "6.6.2p1-r0", "6.6.2p1-r2", "6.6.2p2", "6.6.3"]),
    ("maven", ["1.0-alpha-1", "1.0-beta", "1.0-M1", "1.0-rc1", "1.0-SNAPSHOT", "1.0", "1.0-sp1"]),
    ("maven", ["1.0", "1.0-xyz", "1.0-1", "1.0.1", "1.0.1.jre8"]),
    ("semver", ["1.0.0-0", "1.0.0-1", "1.0.0-a", "1.0.0-a.1", "1.0.0-b", "1.0.0", "1.0.1"]),
    ("pep440", ["1.0.dev1", "1.0a1", "1.0b1", "1.0rc1", "1.0", "1.0+local", "1.0.post1", "1!0"]),
]


@pytest.mark.parametrize(
    ("scheme", "ordered"),
    [pytest.param(s, vs, id=f"{s}: {' < '.join(vs)}") for s, vs in SORTED],
)
def test_keys_sort_versions_strictly(scheme: str, ordered: list[str]) -> None:
    shuffled = list(reversed(ordered))
    assert sorted(shuffled, key=lambda v: key(scheme, v)) == ordered
    for lower, higher in zip(ordered, ordered[1:]):
        assert compare(scheme, lower, higher) == -1, (lower, higher)


def test_apk_hash_takes_part_in_ordering() -> None:
    """apk orders `~hash` builds by hash text, and after the plain version (version.c)."""
    assert compare("apk", "1.0~abc", "1.0~abd") == -1
    assert compare("apk", "1.0", "1.0~abc") == -1
    assert compare("apk", "1.0~abc-r1", "1.0~abc-r2") == -1


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("1.0", ("0", "1.0", None)),
        ("2:1.0-3.el9", ("2", "1.0", "3.el9")),
        ("1.0-", ("0", "1.0", "")),
        ("1.m+e2:1", ("0", "1.m+e2:1", None)),
        ("0:1-2-3", ("0", "1-2", "3")),
    ],
)
def test_split_evr_like_rpm_parse_evr(text: str, expected: tuple[str, str, str | None]) -> None:
    assert split_evr(text) == expected
