"""os-release identification (pure): release keys, families, codenames and EOL."""

from __future__ import annotations

import datetime

import pytest

from patchwarden.agent.collectors.os_release import identify, parse_key_values

BOOKWORM = 'PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"\nVERSION_ID="12"\nID=debian\n'


def test_parse_key_values_quotes_escapes_comments() -> None:
    text = '# comment\nNAME="A \\"quoted\\" name"\nID=\'single\'\nVERSION_ID=3.19.1\nnoise\n'
    assert parse_key_values(text) == {
        "NAME": 'A "quoted" name',
        "ID": "single",
        "VERSION_ID": "3.19.1",
    }


@pytest.mark.parametrize(
    ("today", "eol"),
    [(datetime.date(2028, 6, 30), False), (datetime.date(2028, 7, 1), True)],
)
def test_eol_is_judged_against_the_injected_day(today: datetime.date, eol: bool) -> None:
    # Debian 12's regular security support ended 2026-07-11, but Debian LTS goes on in the
    # same debian-security archive until 2028-06-30: only then is bookworm end-of-life.
    release, notes = identify({"etc/os-release": BOOKWORM}, today)
    assert (release.release, release.eol, release.eol_date) == ("12", eol, "2028-06-30")
    assert notes == ()


@pytest.mark.parametrize(
    ("files", "expected"),
    [
        (
            {"etc/os-release": "ID=alpine\nVERSION_ID=3.19.1\n"},
            ("alpine", "alpine", "3.19", ""),
        ),
        (
            {"etc/os-release": "ID=alpine\nVERSION_ID=3.20_alpha20240101\n"},
            ("alpine", "alpine", "edge", ""),
        ),
        (
            {"etc/os-release": 'ID="rocky"\nVERSION_ID="9.3"\n'},
            ("rocky", "rhel", "9", ""),
        ),
        (
            {"etc/os-release": 'ID=ubuntu\nVERSION_ID="22.04"\n'},
            ("ubuntu", "ubuntu", "22.04", "jammy"),
        ),
        (
            {
                "etc/os-release": 'PRETTY_NAME="Debian GNU/Linux trixie/sid"\nID=debian\n'
                "VERSION_CODENAME=trixie\n",
                "etc/debian_version": "trixie/sid\n",
            },
            ("debian", "debian", "", "trixie"),
        ),
        ({"etc/debian_version": "6.0.10\n"}, ("debian", "debian", "6", "squeeze")),
        ({"etc/alpine-release": "3.18.4\n"}, ("alpine", "alpine", "3.18", "")),
        (
            {"etc/redhat-release": "CentOS Linux release 7.9.2009 (Core)\n"},
            ("centos", "rhel", "7", ""),
        ),
        (
            {"etc/system-release": "Amazon Linux release 2 (Karoo)\n"},
            ("amzn", "unknown", "2", ""),
        ),
        (
            {
                "etc/lsb-release": "DISTRIB_ID=Ubuntu\nDISTRIB_RELEASE=10.04\n"
                "DISTRIB_CODENAME=lucid\n"
            },
            ("ubuntu", "ubuntu", "10.04", "lucid"),
        ),
        ({}, ("unknown", "unknown", "", "")),
    ],
)
def test_release_keys(files: dict, expected: tuple) -> None:
    release, _ = identify(files, datetime.date(2026, 1, 1))
    assert (release.id, release.family, release.release, release.codename) == expected


def test_unknown_distribution_is_a_result_not_an_error() -> None:
    release, notes = identify({"etc/os-release": "ID=my-distro\nVERSION_ID=8\nID_LIKE=debian\n"})
    assert (release.id, release.family, release.release, release.eol) == (
        "my-distro",
        "unknown",
        "8",
        None,
    )
    assert notes == ()


def test_sad_path_empty_os_release_is_unknown_with_a_note() -> None:
    release, notes = identify({"etc/os-release": ""})
    assert (release.id, release.source) == ("unknown", "etc/os-release")
    assert notes == (("etc/os-release", "no KEY=value lines (empty file?)"),)


def test_sad_path_unreadable_banner_is_noted() -> None:
    release, notes = identify({"etc/redhat-release": "garbage\n"})
    assert release.id == "unknown"
    assert notes == (("etc/redhat-release", "unrecognised release banner 'garbage'"),)


def test_oracle_release_wins_over_its_redhat_release_copy() -> None:
    files = {
        "etc/oracle-release": "Oracle Linux Server release 6.10\n",
        "etc/redhat-release": "Red Hat Enterprise Linux Server release 6.10 (Santiago)\n",
    }
    release, _ = identify(files)
    assert (release.id, release.release, release.source) == ("ol", "6", "etc/oracle-release")


def test_busybox_version_when_nothing_else() -> None:
    release, _ = identify({}, busybox_version="1.36.1")
    assert (release.id, release.family, release.version_id) == ("busybox", "unknown", "1.36.1")
