"""Debian tracker JSON and DSA/DLA/DTSA list text -> Advisory."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import pytest

from patchwarden.core.advisory import Severity, VendorStatus
from patchwarden.core.errors import FeedError
from patchwarden.feeds.base import ParseReport
from patchwarden.feeds.debian_json import parse_tracker
from patchwarden.feeds.debian_lists import parse_list

LIST = """[29 Mar 2023] DSA-5380-1 xorg-server - security update
\t{CVE-2023-1393}
\t[bullseye] - xorg-server 2:1.20.11-1+deb11u6
\t[buster] - xorg-server <not-affected> (Vulnerable code not present)
\tNOTE: fixed in testing at time of DSA
[16 Jun 2007] DSA-1304 kernel-source-2.6.8 - several
        {CVE-2007-1353}
        [sarge] - kernel-source-2.6.8 2.6.8-16sarge7 (bug #332424; medium)
        [etch] - kernel-source-2.6.8 <end-of-life>
[February 13th, 2009] DTSA-197-1 barnowl
\t{CVE-2009-0363}
\t[lenny] - barnowl 1.0.1-4+lenny1 (high)
"""


def _list(text: str) -> tuple[list[Any], ParseReport]:
    report = ParseReport()
    return list(parse_list(io.StringIO(text), Path("DSA.list"), report)), report


def test_list_entries() -> None:
    advisories, report = _list(LIST)
    assert [a.id for a in advisories] == ["DSA-5380-1", "DSA-1304", "DTSA-197-1"]
    assert report.skipped == []
    dsa = advisories[0]
    assert dsa.aliases == ("CVE-2023-1393",)
    assert dsa.published == "2023-03-29"
    assert dsa.summary == "xorg-server - security update"
    assert dsa.details == "fixed in testing at time of DSA"
    fixed, not_affected = dsa.affected
    assert (fixed.package.ecosystem, fixed.package.name) == ("Debian:11", "xorg-server")
    assert fixed.ranges[0].events[-1].version == "2:1.20.11-1+deb11u6"
    assert fixed.status is VendorStatus.FIXED
    assert not_affected.package.ecosystem == "Debian:10"
    assert not_affected.status is VendorStatus.NOT_AFFECTED
    assert not_affected.note == "Vulnerable code not present"


def test_list_urgency_markers_and_dtsa_dates() -> None:
    advisories, _ = _list(LIST)
    sarge, etch = advisories[1].affected
    assert sarge.severity is Severity.MEDIUM and sarge.note == "bug #332424"
    assert etch.status is VendorStatus.END_OF_LIFE and etch.ranges  # still vulnerable
    assert advisories[1].severity is Severity.MEDIUM
    assert advisories[2].published == "2009-02-13"
    assert advisories[2].severity is Severity.HIGH


def test_bad_entry_is_skipped_and_the_rest_kept() -> None:
    text = LIST.replace("[sarge] - kernel", "[sarge] kernel")
    advisories, report = _list(text)
    assert [a.id for a in advisories] == ["DSA-5380-1", "DTSA-197-1"]
    assert report.skipped[0][0] == "DSA-1304"
    assert "not understood" in report.skipped[0][1]


def test_unknown_marker_is_malformed() -> None:
    _, report = _list(LIST.replace("<end-of-life>", "<bogus>"))
    assert report.skipped == [("DSA-1304", "line 9: unknown marker <bogus>")]


def test_not_a_list_is_a_feed_error() -> None:
    with pytest.raises(FeedError, match="not a Debian DSA/DLA/DTSA list"):
        _list("389-ds-base;cpe:/a:fedoraproject:389_directory_server\n")
    with pytest.raises(FeedError, match="no advisory header"):
        _list("\n\n")


def _tracker(releases: dict[str, Any]) -> Any:
    report = ParseReport()
    data = {"pkg": {"CVE-2099-1": {"description": "d", "debianbug": 7, "releases": releases}}}
    (adv,) = parse_tracker(data, report)
    return adv, report


@pytest.mark.parametrize(
    ("info", "status", "has_range"),
    [
        (
            {"status": "resolved", "fixed_version": "1.0-1", "urgency": "low"},
            VendorStatus.FIXED,
            True,
        ),
        (
            {"status": "resolved", "fixed_version": "0", "urgency": "unimportant"},
            VendorStatus.NOT_AFFECTED,
            False,
        ),
        ({"status": "open", "urgency": "medium"}, VendorStatus.AFFECTED, True),
        (
            {"status": "open", "urgency": "low", "nodsa": "Minor", "nodsa_reason": "postponed"},
            VendorStatus.FIX_DEFERRED,
            True,
        ),
        (
            {"status": "open", "urgency": "low", "nodsa": "Minor", "nodsa_reason": "ignored"},
            VendorStatus.WILL_NOT_FIX,
            True,
        ),
        ({"status": "open", "urgency": "end-of-life"}, VendorStatus.END_OF_LIFE, True),
        (
            {"status": "undetermined", "urgency": "not yet assigned"},
            VendorStatus.UNDER_INVESTIGATION,
            False,
        ),
    ],
    ids=["fixed", "fixed 0", "open", "postponed", "ignored", "eol", "undetermined"],
)
def test_tracker_status(info: dict[str, Any], status: VendorStatus, has_range: bool) -> None:
    adv, report = _tracker({"bookworm": info})
    (aff,) = adv.affected
    assert aff.package.ecosystem == "Debian:12"
    assert aff.status is status
    assert bool(aff.ranges) is has_range
    assert report.skipped == []


def test_tracker_sid_urgency_stars_and_bug_reference() -> None:
    adv, _ = _tracker({"sid": {"status": "resolved", "fixed_version": "2", "urgency": "high**"}})
    assert adv.affected[0].package.ecosystem == "Debian:unstable"
    assert adv.severity is Severity.HIGH
    assert "https://bugs.debian.org/7" in [r.url for r in adv.references]


def test_tracker_bad_entries_are_skipped_by_id() -> None:
    report = ParseReport()
    data = {
        "a": {"CVE-1": {"releases": {"bookworm": {"status": "resolved"}}}},
        "b": "nope",
        "c": {"CVE-2": {"releases": {"bookworm": {"status": "open"}}}},
    }
    assert [a.id for a in parse_tracker(data, report)] == ["CVE-2"]
    assert [s[0] for s in report.skipped] == ["b", "CVE-1"]
