"""OSV §Evaluation and finding merge rules (core.matching)."""

from __future__ import annotations

import gc
from dataclasses import replace

import pytest

from patchwarden.core import matching
from patchwarden.core.advisory import (
    Advisory,
    Affected,
    AffectedPackage,
    Event,
    EventKind,
    Range,
    Severity,
    VendorStatus,
)
from patchwarden.core.inventory import Evidence, Host, Inventory, Package
from patchwarden.core.matching import (
    METHOD_EVIDENCE,
    Confidence,
    MatchErrors,
    Method,
    Query,
    covers,
    evaluate,
    finding_id,
    match_query,
    merge_matches,
)

INTRO, F, LA, L = EventKind.INTRODUCED, EventKind.FIXED, EventKind.LAST_AFFECTED, EventKind.LIMIT


def aff(*events: tuple[EventKind, str], versions=(), status=VendorStatus.FIXED, binaries=()):
    ranges = (Range("ECOSYSTEM", tuple(Event(k, v) for k, v in events)),) if events else ()
    return Affected(
        package=AffectedPackage("Debian:12", "openssl"),
        ranges=ranges,
        versions=tuple(versions),
        status=status,
        binaries=tuple(binaries),
    )


@pytest.mark.parametrize(
    ("events", "version", "expected"),
    [
        pytest.param(
            [(INTRO, "0"), (F, "3.0.11-1~deb12u2")],
            "3.0.9-1",
            "3.0.11-1~deb12u2",
            id="happy path: below the fix is affected",
        ),
        pytest.param(
            [(INTRO, "0"), (F, "3.0.11-1~deb12u2")],
            "3.0.11-1~deb12u2",
            None,
            id="at the fix is not affected",
        ),
        pytest.param(
            [(INTRO, "0"), (F, "3.0.11-1~deb12u2")],
            "3.0.11-1",
            None,
            id="tilde: 3.0.11-1 is above 3.0.11-1~deb12u2",
        ),
        pytest.param(
            [(INTRO, "1.0"), (F, "1.2"), (INTRO, "2.0"), (F, "2.5")],
            "1.1",
            "1.2",
            id="first of two ranges",
        ),
        pytest.param(
            [(INTRO, "1.0"), (F, "1.2"), (INTRO, "2.0"), (F, "2.5")],
            "1.7",
            None,
            id="between two ranges",
        ),
        pytest.param(
            [(INTRO, "2.0"), (F, "2.5"), (INTRO, "1.0"), (F, "1.2")],
            "2.1",
            "2.5",
            id="events out of order are sorted",
        ),
        pytest.param(
            [(INTRO, "0"), (LA, "1.4")],
            "1.4",
            "",
            id="last_affected is inclusive (no fixed version known)",
        ),
        pytest.param([(INTRO, "0"), (LA, "1.4")], "1.5", None, id="above last_affected"),
        pytest.param([(INTRO, "0"), (L, "2.0")], "1.9", "", id="below limit, no fix"),
        pytest.param([(INTRO, "0"), (L, "2.0")], "2.0", None, id="at limit"),
        pytest.param([(INTRO, "0")], "9:99", "", id="introduced 0 alone: all versions"),
        pytest.param(
            [(INTRO, "1:1.0"), (F, "1:1.1")], "2.0", None, id="epoch: 2.0 sorts before 1:1.0"
        ),
    ],
)
def test_evaluate_ranges(events, version, expected):
    verdict = evaluate(aff(*events), version, "dpkg")
    if expected is None:
        assert verdict is None
    else:
        assert verdict is not None
        assert verdict.fixed_version == (expected or None)


def test_versions_list_matches_by_ordering_equality():
    verdict = evaluate(aff(versions=["1.01-1"]), "1.1-1", "dpkg")
    assert verdict is not None and verdict.range_type == "versions"
    assert evaluate(aff(versions=["1.01-1"]), "1.1-2", "dpkg") is None


def test_vendor_statement_without_versions_is_all_versions():
    verdict = evaluate(aff(status=VendorStatus.AFFECTED), "1.0", "dpkg")
    assert verdict is not None and verdict.fixed_version is None
    assert evaluate(aff(status=VendorStatus.NOT_AFFECTED), "1.0", "dpkg") is None


def test_invalid_installed_version_raises():
    from patchwarden.core.errors import InvalidVersion

    with pytest.raises(InvalidVersion, match="dpkg"):
        evaluate(aff((INTRO, "0"), (F, "1.0")), "1.0 bad", "dpkg")


PKG = Package("libssl3", "3.0.9-1", "deb", source_name="openssl")
QUERY = Query(PKG, "Debian:12", "openssl", "3.0.9-1", "dpkg")


def adv(id_, affected, aliases=(), severity=Severity.HIGH, **kw):
    return Advisory(
        id=id_, source="test", aliases=tuple(aliases), severity=severity, affected=(affected,), **kw
    )


def run(candidates, **kw):
    errors = MatchErrors()
    return match_query(QUERY, [(a, a.affected[0]) for a in candidates], errors, **kw), errors


def test_match_carries_evidence_and_method():
    (m,), _ = run([adv("CVE-2023-1", aff((INTRO, "0"), (F, "3.0.10-1")))])
    assert (m.id, m.package, m.source_package, m.fixed_version) == (
        "CVE-2023-1",
        "libssl3",
        "openssl",
        "3.0.10-1",
    )
    assert m.method is Method.DISTRO_ADVISORY and m.confidence is Confidence.HIGH
    assert m.advisories == ("CVE-2023-1",) and m.ecosystem == "Debian:12"


def test_no_fix_yet_has_null_fix_and_reason():
    (m,), _ = run([adv("CVE-2023-2", aff((INTRO, "0"), status=VendorStatus.AFFECTED))])
    assert m.fixed_version is None and m.reason.startswith("no fix yet")


def test_wont_fix_only_on_request_and_triage_never():
    wont = adv("CVE-2023-3", aff(status=VendorStatus.WILL_NOT_FIX))
    triage = adv("CVE-2023-4", aff(status=VendorStatus.UNDER_INVESTIGATION))
    assert run([wont, triage])[0] == []
    found, _ = run([wont, triage], include_wont_fix=True)
    assert [m.id for m in found] == ["CVE-2023-3"]


def test_binaries_list_restricts_to_named_binaries():
    only_cli = adv("CVE-2023-5", aff((INTRO, "0"), (F, "9"), binaries=["openssl"]))
    assert run([only_cli])[0] == []


def test_withdrawn_advisories_never_match():
    gone = adv("CVE-2023-6", aff((INTRO, "0"), (F, "9")), withdrawn="2024-01-01T00:00:00Z")
    assert run([gone])[0] == []


def test_bad_range_version_is_recorded_not_silent():
    bad = adv("CVE-2023-7", aff((INTRO, "0"), (F, "not a version!")))
    found, errors = run([bad])
    assert found == [] and "CVE-2023-7" in errors.items[0]


def test_finding_id_prefers_a_single_cve():
    assert finding_id(adv("UBUNTU-CVE-2024-0727", aff(), aliases=["CVE-2024-0727"])) == (
        "CVE-2024-0727"
    )
    assert finding_id(adv("DSA-5380-1", aff(), aliases=["CVE-1", "CVE-2"])) == "DSA-5380-1"


def test_merge_folds_duplicates_and_covered_groups():
    per_cve = [
        adv("CVE-2023-1", aff((INTRO, "0"), (F, "3.0.10-1"))),
        adv(
            "UBUNTU-CVE-2023-1",
            aff((INTRO, "0"), (F, "3.0.10-1")),
            aliases=["CVE-2023-1"],
            severity=Severity.CRITICAL,
        ),
        adv("CVE-2023-2", aff((INTRO, "0"), status=VendorStatus.AFFECTED)),
    ]
    group = adv("DSA-1-1", aff((INTRO, "0"), (F, "3.0.10-1")), aliases=["CVE-2023-1", "CVE-2023-2"])
    found, _ = run([*per_cve, group])
    merged = {m.id: m for m in merge_matches(found)}
    assert set(merged) == {"CVE-2023-1", "CVE-2023-2"}
    assert merged["CVE-2023-1"].severity is Severity.CRITICAL
    assert merged["CVE-2023-1"].advisories == ("CVE-2023-1", "UBUNTU-CVE-2023-1", "DSA-1-1")
    # a group not fully covered by per-CVE findings stays a finding of its own
    lone = adv("DSA-2-1", aff((INTRO, "0"), (F, "3.0.10-1")), aliases=["CVE-2023-8", "CVE-2023-9"])
    found, _ = run([lone])
    assert [m.id for m in merge_matches(found)] == ["DSA-2-1"]


def test_merge_prefers_a_known_fix():
    found, _ = run(
        [
            adv("CVE-2023-2", aff((INTRO, "0"), status=VendorStatus.AFFECTED)),
            adv("UBUNTU-CVE-2023-2", aff((INTRO, "0"), (F, "3.0.10-1")), aliases=["CVE-2023-2"]),
        ]
    )
    (m,) = merge_matches(found)
    assert m.fixed_version == "3.0.10-1" and m.reason == ""


# --- which evidence clearing a finding needs (STYLE E3) ---------------------------------------


@pytest.mark.parametrize(
    ("method", "evidence"),
    [
        pytest.param(Method.DISTRO_ADVISORY, Evidence.INSTALLED_PACKAGES, id="distro advisory"),
        pytest.param(Method.RUNNING_KERNEL, Evidence.INSTALLED_PACKAGES, id="running kernel"),
        pytest.param(Method.NEWEST_KERNEL, Evidence.INSTALLED_PACKAGES, id="newest kernel"),
        pytest.param(Method.REPOSITORY_UPDATE, Evidence.PENDING_UPDATES, id="repository update"),
    ],
)
def test_method_evidence(method: Method, evidence: Evidence) -> None:
    assert method.evidence is evidence


def test_every_method_has_its_evidence() -> None:
    assert set(METHOD_EVIDENCE) == set(Method)


@pytest.mark.parametrize(
    ("covered", "method", "expected"),
    [
        pytest.param(("installed-packages",), Method.DISTRO_ADVISORY, True, id="packages"),
        pytest.param(("installed-packages",), Method.REPOSITORY_UPDATE, False, id="not updates"),
        pytest.param(("pending-updates",), Method.REPOSITORY_UPDATE, True, id="updates"),
        pytest.param(("pending-updates",), Method.RUNNING_KERNEL, False, id="not kernel"),
        pytest.param((), Method.NEWEST_KERNEL, False, id="older agent covers nothing"),
        pytest.param(("lockfiles",), Method.DISTRO_ADVISORY, False, id="unknown kind ignored"),
    ],
)
def test_covers(covered: tuple[str, ...], method: Method, expected: bool) -> None:
    inv = Inventory(host=Host(hostname="h"), covered=covered)
    assert covers(inv, method) is expected


# --- the compiled-entry memo ------------------------------------------------------------------


def test_memo_leaves_the_frozen_entry_alone_and_dies_with_it() -> None:
    entry = aff((INTRO, "0"), (F, "3.0.10-1"))
    before = dict(vars(entry))
    assert evaluate(entry, "3.0.9-1", "dpkg") is not None
    assert vars(entry) == before  # nothing written into the instance
    key = id(entry)
    assert key in matching._MEMOS and key in matching._REFS
    first = matching._compiled(entry, "dpkg")
    assert matching._compiled(entry, "dpkg") is first  # compiled once per scheme
    del entry, first
    gc.collect()
    assert key not in matching._MEMOS and key not in matching._REFS


def test_memo_of_a_dead_entry_never_serves_a_new_one() -> None:
    """Entries die and are born at recycled addresses (ids): each gets its own verdict."""
    vulnerable = aff((INTRO, "0"), (F, "3.0.10-1"))
    fixed = aff((INTRO, "0"), (F, "3.0.1-1"))
    ids = []
    for i in range(200):
        entry = replace(vulnerable if i % 2 else fixed)  # a new object, often at the old id
        ids.append(id(entry))
        verdict = evaluate(entry, "3.0.9-1", "dpkg")
        assert (verdict is not None) == bool(i % 2), i
        del entry, verdict
    assert len(set(ids)) < len(ids), "no id was reused: the test proved nothing"
    assert not set(ids) & set(matching._MEMOS)
