"""OSV record -> Advisory, on in-memory records (no I/O)."""

from __future__ import annotations

from typing import Any

import pytest

from patchwarden.core.advisory import EventKind, Severity, VendorStatus
from patchwarden.core.errors import MalformedRecord
from patchwarden.feeds.osv import parse_record


def _record(**extra: Any) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "id": "PW-1",
        "modified": "2025-01-01T00:00:00Z",
        "affected": [
            {
                "package": {"ecosystem": "Debian:12", "name": "foo"},
                "ranges": [
                    {"type": "ECOSYSTEM", "events": [{"introduced": "0"}, {"fixed": "1.2-3"}]}
                ],
            }
        ],
    }
    doc.update(extra)
    return doc


def _parse(doc: Any) -> tuple[Any, list[str]]:
    warnings: list[str] = []
    return parse_record(doc, warnings.append, "file.json"), warnings


def test_happy_path_keeps_ranges_and_marks_fixed() -> None:
    adv, warnings = _parse(_record())
    assert warnings == []
    (aff,) = adv.affected
    assert (aff.package.ecosystem, aff.package.name) == ("Debian:12", "foo")
    assert [(e.kind, e.version) for e in aff.ranges[0].events] == [
        (EventKind.INTRODUCED, "0"),
        (EventKind.FIXED, "1.2-3"),
    ]
    assert aff.status is VendorStatus.FIXED
    assert adv.source == "osv"
    assert adv.restart_required is False


def test_introduced_only_means_no_fix_yet() -> None:
    doc = _record()
    doc["affected"][0]["ranges"][0]["events"] = [{"introduced": "0"}]
    adv, _ = _parse(doc)
    assert adv.affected[0].status is VendorStatus.AFFECTED


@pytest.mark.parametrize("kind", ["last_affected", "limit"])
def test_last_affected_and_limit_close_the_range(kind: str) -> None:
    doc = _record()
    doc["affected"][0]["ranges"][0]["events"] = [{"introduced": "1.0"}, {kind: "1.4"}]
    adv, _ = _parse(doc)
    assert adv.affected[0].ranges[0].events[1].kind is EventKind(kind)
    assert adv.affected[0].status is VendorStatus.FIXED


def test_upstream_ids_become_aliases_without_duplicates() -> None:
    adv, _ = _parse(_record(aliases=["CVE-1"], upstream=["CVE-1", "CVE-2", "PW-1"]))
    assert adv.aliases == ("CVE-1", "CVE-2")
    assert adv.cves == ("CVE-1", "CVE-2")


def test_newest_cvss_version_wins_and_scores_are_computed() -> None:
    severity = [
        {"type": "CVSS_V2", "score": "AV:N/AC:L/Au:N/C:P/I:P/A:P"},
        {"type": "CVSS_V3", "score": "CVSS:3.1/AV:L/AC:L/PR:N/UI:R/S:U/C:N/I:N/A:H"},
    ]
    adv, _ = _parse(_record(severity=severity))
    assert adv.cvss_score == 5.5
    assert adv.cvss_vector.startswith("CVSS:3.1/")
    assert adv.severity is Severity.MEDIUM


def test_cvss_v4_is_scored() -> None:
    vector = "CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N"
    adv, _ = _parse(_record(severity=[{"type": "CVSS_V4", "score": vector}]))
    assert adv.cvss_score == 9.3
    assert adv.severity is Severity.CRITICAL


def test_bad_vector_is_a_warning_not_a_skip() -> None:
    adv, warnings = _parse(_record(severity=[{"type": "CVSS_V3", "score": "CVSS:3.1/AV:X"}]))
    assert adv.cvss_score is None
    assert len(warnings) == 1 and "AV:X" in warnings[0]


@pytest.mark.parametrize(
    ("extra", "expected"),
    [
        ({"summary": "Important: pcs security update"}, Severity.HIGH),
        ({"summary": "Moderate: thing"}, Severity.MEDIUM),
        ({"summary": "Unsafe deserialization: in foo"}, Severity.UNKNOWN),
        ({"database_specific": {"severity": "MODERATE"}}, Severity.MEDIUM),
        ({"severity": [{"type": "Ubuntu", "score": "negligible"}]}, Severity.LOW),
    ],
    ids=["ALSA summary prefix", "RLSA prefix", "free text summary", "GHSA", "Ubuntu type"],
)
def test_vendor_ratings(extra: dict[str, Any], expected: Severity) -> None:
    adv, _ = _parse(_record(**extra))
    assert adv.severity is expected


def test_ubuntu_binaries_both_shapes_and_priority() -> None:
    doc = _record()
    doc["affected"][0]["ecosystem_specific"] = {
        "binaries": [{"libssl3": "3.0.2-0ubuntu1.14", "openssl": "3.0.2-0ubuntu1.14"}],
        "ubuntu_priority": "low",
    }
    doc["affected"].append(
        {
            "package": {"ecosystem": "Ubuntu:18.04:LTS", "name": "bar"},
            "ecosystem_specific": {"binaries": [{"binary_name": "libbar1", "binary_version": "1"}]},
        }
    )
    adv, _ = _parse(doc)
    assert adv.affected[0].binaries == ("libssl3", "openssl")
    assert adv.affected[0].severity is Severity.LOW
    assert adv.affected[1].binaries == ("libbar1",)
    assert adv.severity is Severity.LOW  # the vendor's per-package rating beats nothing


@pytest.mark.parametrize(
    ("doc", "why"),
    [
        ({"modified": "x"}, "no string `id`"),
        ([1, 2], "not an object"),
        (_record(schema_version="2.0.0"), "unsupported schema_version"),
        (_record(affected=[{"package": {"name": "x"}}]), "ecosystem and name"),
        (_record(affected="nope"), "not a list"),
        (
            _record(
                affected=[
                    {
                        "package": {"ecosystem": "npm", "name": "x"},
                        "ranges": [{"type": "SEMVER", "events": [{"patched": "1"}]}],
                    }
                ]
            ),
            "unknown event kind 'patched'",
        ),
        (
            _record(
                affected=[
                    {
                        "package": {"ecosystem": "npm", "name": "x"},
                        "ranges": [{"type": "SEMVER", "events": []}],
                    }
                ]
            ),
            "without events",
        ),
        (
            _record(
                affected=[
                    {
                        "package": {"ecosystem": "Ubuntu:20.04:LTS", "name": "x"},
                        "ecosystem_specific": {"binaries": "libx"},
                    }
                ]
            ),
            "binaries is not a list",
        ),
    ],
    ids=[
        "missing id",
        "not an object",
        "schema 2",
        "package without ecosystem",
        "affected not a list",
        "unknown event kind",
        "empty events",
        "binaries not a list",
    ],
)
def test_malformed_records_raise_with_the_reason(doc: Any, why: str) -> None:
    with pytest.raises(MalformedRecord, match=why) as info:
        _parse(doc)
    assert info.value.record_id in ("PW-1", "file.json")


def test_schema_version_1_minor_is_accepted() -> None:
    adv, _ = _parse(_record(schema_version="1.7.3"))
    assert adv.id == "PW-1"
