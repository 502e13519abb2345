"""Ubuntu CVE Tracker file text -> Advisory (MANIFEST §1.7, UCT README "Package Status")."""

from __future__ import annotations

import pytest

from patchwarden.core.advisory import Affected, EventKind, Severity, VendorStatus
from patchwarden.core.errors import MalformedRecord
from patchwarden.feeds.base import ParseReport
from patchwarden.feeds.ubuntu_uct import parse_cve_file

TEXT = """Candidate: CVE-2099-7
PublicDate: 2099-01-02 03:04 UTC
References:
 https://example.org/a
Description:
 first line
 second line
Priority: low (reduced by AppArmor)
CVSS:
 nvd: CVSS:3.0/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H

Patches_foo:
 upstream: https://example.org/commit
Priority_foo_xenial: high
upstream_foo: released (2.0)
devel_foo: needed
trusty_foo: ignored (out of standard support)
trusty/esm_foo: needed
xenial_foo: released (1:1.0-1ubuntu0.1)
bionic_foo: DNE
focal_foo: ignored (see notes)
vivid/stable-phone-overlay_foo: needed
"""


def _by_eco(text: str = TEXT) -> tuple[dict[str, Affected], ParseReport]:
    report = ParseReport()
    adv = parse_cve_file(text, "active/CVE-2099-7", report)
    assert adv.id == "CVE-2099-7"
    return {a.package.ecosystem: a for a in adv.affected}, report


def test_header_fields() -> None:
    report = ParseReport()
    adv = parse_cve_file(TEXT, "x", report)
    assert adv.published == "2099-01-02T03:04:00Z"
    assert adv.details == "first line second line"
    assert adv.severity is Severity.LOW  # Priority outranks the CVSS score
    assert adv.cvss_score == 9.8
    assert adv.references[0].url == "https://example.org/a"
    assert adv.source == "ubuntu-uct"


def test_releases_map_to_ubuntu_osv_ecosystems_and_skip_non_releases() -> None:
    by_eco, _ = _by_eco()
    assert set(by_eco) == {
        "Ubuntu:14.04:LTS",
        "Ubuntu:Pro:14.04:LTS",
        "Ubuntu:16.04:LTS",
        "Ubuntu:20.04:LTS",
    }  # no upstream/devel/overlay, and DNE omitted


def test_statuses() -> None:
    by_eco, _ = _by_eco()
    xenial = by_eco["Ubuntu:16.04:LTS"]
    assert xenial.status is VendorStatus.FIXED
    assert xenial.ranges[0].events[-1].kind is EventKind.FIXED
    assert xenial.ranges[0].events[-1].version == "1:1.0-1ubuntu0.1"
    assert xenial.severity is Severity.HIGH  # Priority_foo_xenial
    assert by_eco["Ubuntu:14.04:LTS"].status is VendorStatus.END_OF_LIFE
    assert by_eco["Ubuntu:Pro:14.04:LTS"].status is VendorStatus.AFFECTED
    assert by_eco["Ubuntu:20.04:LTS"].status is VendorStatus.WILL_NOT_FIX
    assert by_eco["Ubuntu:20.04:LTS"].note == "see notes"


def test_released_esm_fixes_pro_and_leaves_the_plain_release_vulnerable() -> None:
    text = "Candidate: CVE-2099-8\n\nxenial_foo: released-esm (1.0+esm1)\n"
    by_eco, _ = _by_eco(text.replace("CVE-2099-8", "CVE-2099-7"))
    pro = by_eco["Ubuntu:Pro:16.04:LTS"]
    assert pro.status is VendorStatus.FIXED
    assert pro.ranges[0].events[-1].version == "1.0+esm1"
    plain = by_eco["Ubuntu:16.04:LTS"]
    assert plain.status is VendorStatus.AFFECTED
    assert "1.0+esm1" in plain.note


def test_explicit_esm_line_wins_over_released_esm() -> None:
    text = (
        "Candidate: CVE-2099-7\n\n"
        "xenial/esm_foo: released (1.0+esm2)\nxenial_foo: released-esm (1.0+esm1)\n"
    )
    by_eco, _ = _by_eco(text)
    assert by_eco["Ubuntu:Pro:16.04:LTS"].ranges[0].events[-1].version == "1.0+esm2"


@pytest.mark.parametrize(
    ("line", "status", "version_or_note"),
    [
        (
            "bionic_foo: released (1:68.4.1+build1-0ubuntu0.18.04.1",
            VendorStatus.FIXED,
            "1:68.4.1+build1-0ubuntu0.18.04.1",
        ),
        (
            "bionic_foo: not-affected 3.5.18-1ubuntu1.3)",
            VendorStatus.NOT_AFFECTED,
            "3.5.18-1ubuntu1.3",
        ),
        ("bionic_foo: pending (1.2)", VendorStatus.AFFECTED, "fix pending publication: 1.2"),
        ("bionic_foo: deferred (2020-03-03)", VendorStatus.FIX_DEFERRED, "2020-03-03"),
        ("bionic_foo: active", VendorStatus.AFFECTED, ""),
        ("bionic_foo: needs-triage", VendorStatus.UNDER_INVESTIGATION, ""),
        (
            "bionic_foo: ignored (reached end-of-life)",
            VendorStatus.END_OF_LIFE,
            "reached end-of-life",
        ),
    ],
    ids=[
        "no closing paren",
        "no opening paren",
        "pending",
        "deferred",
        "active",
        "needs-triage",
        "eol",
    ],
)
def test_one_line(line: str, status: VendorStatus, version_or_note: str) -> None:
    by_eco, report = _by_eco(f"Candidate: CVE-2099-7\n\n{line}\n")
    aff = by_eco["Ubuntu:18.04:LTS"]
    assert aff.status is status
    if status is VendorStatus.FIXED:
        assert aff.ranges[0].events[-1].version == version_or_note
    else:
        assert aff.note == version_or_note
    if "paren" in line or line.count("(") != line.count(")"):
        assert report.warnings  # one-sided parentheses are accepted, and said so


def test_unknown_release_is_a_warning() -> None:
    by_eco, report = _by_eco("Candidate: CVE-2099-7\n\nzzz_foo: needed\n")
    assert by_eco == {}
    assert "unknown Ubuntu release 'zzz'" in report.warnings[0][1]


def test_missing_candidate_is_malformed() -> None:
    with pytest.raises(MalformedRecord, match="no Candidate") as info:
        parse_cve_file("Priority: low\n\nbionic_foo: needed\n", "active/CVE-X", ParseReport())
    assert info.value.record_id == "active/CVE-X"
