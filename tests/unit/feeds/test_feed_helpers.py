"""Release maps, CVSS scoring, Alpine id extraction and the registry."""

from __future__ import annotations

import pytest

from patchwarden.feeds import FEEDS
from patchwarden.feeds.alpine_secdb import _ids
from patchwarden.feeds.releases import debian_ecosystem, ubuntu_ecosystem
from patchwarden.feeds.scoring import base_score


@pytest.mark.parametrize(
    ("codename", "pro", "expected"),
    [
        ("bionic", False, "Ubuntu:18.04:LTS"),
        ("trusty", True, "Ubuntu:Pro:14.04:LTS"),
        ("eoan", False, "Ubuntu:19.10"),
        ("noble", False, "Ubuntu:24.04:LTS"),
        ("nosuch", False, None),
    ],
)
def test_ubuntu_ecosystem(codename: str, pro: bool, expected: str | None) -> None:
    assert ubuntu_ecosystem(codename, pro=pro) == expected


@pytest.mark.parametrize(
    ("codename", "expected"),
    [("bookworm", "Debian:12"), ("woody", "Debian:3.0"), ("sid", "Debian:unstable"), ("x", None)],
)
def test_debian_ecosystem(codename: str, expected: str | None) -> None:
    assert debian_ecosystem(codename) == expected


@pytest.mark.parametrize(
    ("vector", "score"),
    [
        ("CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:C/C:H/I:H/A:H", 10.0),
        ("CVSS:3.0/AV:L/AC:L/PR:L/UI:N/S:U/C:H/I:H/A:H", 7.8),
        ("AV:N/AC:L/Au:N/C:P/I:P/A:P", 7.5),
        ("(AV:N/AC:L/Au:N/C:P/I:P/A:P)", 7.5),
        ("CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N", 9.3),
    ],
)
def test_base_score(vector: str, score: float) -> None:
    assert base_score(vector) == score


def test_base_score_rejects_garbage() -> None:
    with pytest.raises(ValueError, match="invalid CVSS vector"):
        base_score("CVSS:3.1/AV:Q")


@pytest.mark.parametrize(
    ("text", "cves", "others"),
    [
        ("CVE-2019-14904", ["CVE-2019-14904"], []),
        ("CVE-2018-14468 (FrameRelay)", ["CVE-2018-14468"], []),
        ("CVE-2019-5060 TALOS-2019-0844", ["CVE-2019-5060"], ["TALOS-2019-0844"]),
        ("CVE_2019-2426", ["CVE-2019-2426"], []),
        ("CVE 2018-16859", ["CVE-2018-16859"], []),
        ("CVE-????-?????  XSA-295", [], ["XSA-295"]),
        ("CVE-2017-17434-1", ["CVE-2017-17434"], []),
        ("wnpa-sec-2017-18", [], ["wnpa-sec-2017-18"]),
    ],
)
def test_alpine_ids(text: str, cves: list[str], others: list[str]) -> None:
    assert _ids(text) == (cves, others)


def test_registry_names_every_kind_once() -> None:
    assert list(FEEDS) == [
        "osv", "debian-tracker", "ubuntu-uct", "alpine-secdb", "kev", "epss", "nvd"
    ]  # fmt: skip
    for kind, parser in FEEDS.items():
        assert parser.kind == kind
        assert parser.version >= 1
