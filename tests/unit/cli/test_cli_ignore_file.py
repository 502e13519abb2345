"""The ignore file: which findings an entry accepts, when it expires, how mistakes are named."""

from __future__ import annotations

from datetime import date

import pytest

from patchwarden.cli.ignore_file import (
    IgnoreEntry,
    IgnoreFileError,
    apply_ignores,
    parse_ignore_file,
)
from patchwarden.core.advisory import Severity
from patchwarden.core.matching import Confidence, Match, Method

TODAY = date(2026, 3, 2)


def finding(vid: str, package: str = "openssl", cves: tuple[str, ...] = (), *adv: str) -> Match:
    return Match(
        id=vid,
        cves=cves or (vid,),
        package=package,
        source_package="openssl",
        installed_version="1",
        fixed_version="2",
        severity=Severity.HIGH,
        cvss=None,
        method=Method.DISTRO_ADVISORY,
        confidence=Confidence.HIGH,
        advisories=adv,
    )


def kept(text: str, *matches: Match, today: date = TODAY) -> list[str]:
    outcome = apply_ignores(matches, parse_ignore_file(text, "f.yaml"), today)
    assert outcome.ignored == len(matches) - len(outcome.kept)
    return [f"{m.id}/{m.package}" for m in outcome.kept]


def test_entries_as_written() -> None:
    text = (
        "- id: CVE-2024-1\n"
        "  packages: [libssl3, openssl]\n"
        "  expires: 2026-06-30\n"
        "  statement: 'not reachable: internal only'\n"
        "- id: ALSA-2024:2\n"
        "  packages: bash\n"
        "  expires:\n"
    )
    assert parse_ignore_file(text, "f.yaml") == [
        IgnoreEntry("CVE-2024-1", ("libssl3", "openssl"), date(2026, 6, 30),
                    "not reachable: internal only", number=1, line=1),
        IgnoreEntry("ALSA-2024:2", ("bash",), None, "", number=2, line=5),
    ]  # fmt: skip


@pytest.mark.parametrize("text", ["", "# nothing accepted yet\n", "~\n", "vulnerabilities: []\n"])
def test_an_empty_file_ignores_nothing(text: str) -> None:
    assert parse_ignore_file(text, "f.yaml") == []


def test_an_advisory_with_several_cves_stays_until_all_are_accepted() -> None:
    two = finding("ALSA-2024:9", "openssl", ("CVE-2024-1", "CVE-2024-2"))
    assert kept("- id: CVE-2024-1\n", two) == ["ALSA-2024:9/openssl"]
    assert kept("- id: CVE-2024-1\n- id: cve-2024-2\n", two) == []
    assert kept("- id: alsa-2024:9\n", two) == []


def test_packages_limit_an_entry_to_binaries_or_their_source() -> None:
    lib, tool = finding("CVE-1", "libssl3"), finding("CVE-1", "openssl-bin")
    assert kept("- id: CVE-1\n  packages: [libssl3]\n", lib, tool) == ["CVE-1/openssl-bin"]
    assert kept("- id: CVE-1\n  packages: [openssl]\n", lib, tool) == []  # the source
    assert kept("- id: CVE-1\n  packages: [curl]\n", lib, tool) == [
        "CVE-1/libssl3",
        "CVE-1/openssl-bin",
    ]


def test_expires_is_the_first_day_it_no_longer_applies() -> None:
    text = "- id: CVE-1\n  expires: 2026-03-02\n"
    assert kept(text, finding("CVE-1"), today=date(2026, 3, 1)) == []
    assert kept(text, finding("CVE-1"), today=date(2026, 3, 2)) == ["CVE-1/openssl"]
    outcome = apply_ignores([finding("CVE-1")], parse_ignore_file(text, "f"), date(2026, 3, 2))
    assert [e.id for e in outcome.expired] == ["CVE-1"]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        pytest.param("- id: X\n  id: Y\n", "f.yaml line 1 (entry 1): id given twice", id="twice"),
        pytest.param("- id: X\n  expires: 2026-3-2\n", "'2026-3-2' is not a date", id="date"),
        pytest.param("- id: X\n  expires: 20260302\n", "expires '20260302' is not a", id="int"),
        pytest.param("- id: {a: b}\n", "id must be a single value", id="id mapping"),
        pytest.param("- id: X\n  packages: ['', x]\n", "packages must be a list", id="empty name"),
        pytest.param("- id: ''\n", "f.yaml line 1 (entry 1): id is missing", id="empty id"),
        pytest.param("a: 1\nb: 2\n", "found keys a, b", id="other mapping"),
        pytest.param("- id: x\n---\n- id: y\n", "not valid YAML", id="two documents"),
        pytest.param("- id: 'x\n", "f.yaml line 2: not valid YAML", id="open quote"),
    ],
)  # fmt: skip
def test_mistakes_are_named(text: str, message: str) -> None:
    with pytest.raises(IgnoreFileError) as raised:
        parse_ignore_file(text, "f.yaml")
    assert message in str(raised.value)
