"""The rating index's rules (issue 8): who rated an advisory, which of two ratings of one CVE
by one source is kept, the order a host trusts sources in, and the rating a finding takes."""

from __future__ import annotations

import pytest

from patchwarden.core.advisory import (
    Advisory,
    Affected,
    AffectedPackage,
    CveRating,
    Reference,
    Severity,
)
from patchwarden.core.ratings import (
    MAX_TITLE,
    better,
    choose,
    preference,
    rating_source,
    ratings_of,
)


def _adv(rid: str, source: str = "osv", eco: str = "", **kw: object) -> Advisory:
    affected = (Affected(AffectedPackage(eco, "pkg")),) if eco else ()
    return Advisory(id=rid, source=source, affected=affected, **kw)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("advisory", "expected"),
    [
        (_adv("CVE-2020-1", "ubuntu-uct"), "ubuntu"),
        (_adv("CVE-2020-1", "debian-tracker"), "debian"),
        (_adv("ALSA-2024:1", eco="AlmaLinux:9"), "almalinux"),
        (_adv("RLSA-2024:1", eco="Rocky Linux:9"), "rocky"),
        (_adv("UBUNTU-CVE-2024-1", eco="Ubuntu:22.04:LTS"), "ubuntu"),
        (_adv("GHSA-aaaa-bbbb-cccc", eco="Maven"), "ghsa"),
        (_adv("PYSEC-2020-1", eco="PyPI"), "osv"),
    ],
    ids=["uct", "debian tracker", "alsa", "rlsa", "ubuntu osv", "ghsa", "other osv: its source"],
)
def test_rating_source(advisory: Advisory, expected: str) -> None:
    assert rating_source(advisory) == expected


def test_rating_source_from_a_given_ecosystem_when_the_entries_are_apart() -> None:
    # The store's lookups return an advisory without its affected entries.
    assert rating_source(_adv("ALSA-2024:1"), "AlmaLinux:8") == "almalinux"


def test_one_cve_advisory_rates_it_exactly_with_its_cvss_title_and_links() -> None:
    adv = _adv(
        "GHSA-aaaa-bbbb-cccc",
        eco="Maven",
        aliases=("CVE-2021-44228",),
        summary="Remote code injection in Log4j\nmore",
        severity=Severity.CRITICAL,
        cvss_score=10.0,
        cvss_vector="CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:C/C:H/I:H/A:H",
        references=(Reference("WEB", "https://a"), Reference("WEB", "https://a")),
        modified="2024-01-01T00:00:00Z",
    )
    (rating,) = ratings_of(adv)
    assert rating == CveRating(
        cve="CVE-2021-44228",
        source="ghsa",
        severity=Severity.CRITICAL,
        cvss_score=10.0,
        cvss_vector="CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:C/C:H/I:H/A:H",
        title="Remote code injection in Log4j",
        references=("https://a",),
        modified="2024-01-01T00:00:00Z",
        exact=True,
    )


def test_an_erratum_rates_each_cve_as_an_upper_bound_without_its_cvss() -> None:
    adv = _adv(
        "ALSA-2024:1",
        eco="AlmaLinux:9",
        related=("CVE-2024-1", "CVE-2024-2"),
        severity=Severity.HIGH,
        cvss_score=7.5,
        summary="Important: foo security update",
    )
    ratings = ratings_of(adv)
    assert [(r.cve, r.severity, r.cvss_score, r.exact) for r in ratings] == [
        ("CVE-2024-1", Severity.HIGH, None, False),
        ("CVE-2024-2", Severity.HIGH, None, False),
    ]


def test_no_cve_or_withdrawn_rates_nothing() -> None:
    assert ratings_of(_adv("DSA-1-1", "debian-tracker")) == []
    assert ratings_of(_adv("CVE-2020-1", "ubuntu-uct", withdrawn="2020-01-01")) == []


def test_long_titles_are_cut() -> None:
    (rating,) = ratings_of(_adv("CVE-2020-1", "ubuntu-uct", details="x" * 5000))
    assert len(rating.title) == MAX_TITLE


def _r(source: str = "nvd", sev: Severity = Severity.UNKNOWN, **kw: object) -> CveRating:
    return CveRating("CVE-1", source, sev, **kw)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("a", "b", "kept"),
    [
        (_r(sev=Severity.LOW), _r(), 0),
        (_r(sev=Severity.LOW, exact=False), _r(sev=Severity.HIGH), 1),
        (_r(sev=Severity.HIGH, exact=False), _r(sev=Severity.MEDIUM, exact=False), 1),
        (_r(sev=Severity.HIGH, modified="2024"), _r(sev=Severity.LOW, modified="2025"), 1),
        (_r(sev=Severity.LOW, modified="2025"), _r(sev=Severity.HIGH, modified="2025"), 1),
    ],
    ids=[
        "a rating beats none",
        "the CVE's own beats an erratum's",
        "between errata the lowest bound",
        "the newer record",
        "same date: the higher",
    ],
)
def test_better_keeps(a: CveRating, b: CveRating, kept: int) -> None:
    assert better(a, b) == (a, b)[kept]
    assert better(b, a) == (a, b)[kept]


def test_better_fills_title_and_links_from_the_other() -> None:
    kept = better(_r(sev=Severity.HIGH), _r(title="t", references=("https://x",)))
    assert (kept.severity, kept.title, kept.references) == (Severity.HIGH, "t", ("https://x",))


@pytest.mark.parametrize(
    ("os_id", "family", "first"),
    [
        ("debian", "debian", ("debian", "nvd", "ghsa")),
        ("ubuntu", "debian", ("ubuntu", "nvd", "ghsa")),
        ("almalinux", "rhel", ("almalinux", "redhat", "rocky", "nvd", "ghsa")),
        ("centos", "rhel", ("redhat", "almalinux", "rocky", "nvd", "ghsa")),
        ("alpine", "alpine", ("alpine", "nvd", "ghsa")),
        ("unknown", "unknown", ("nvd", "ghsa")),
    ],
)
def test_preference_own_distro_then_nvd_then_ghsa_then_others(
    os_id: str, family: str, first: tuple[str, ...]
) -> None:
    order = preference(os_id, family)
    assert order[: len(first)] == first
    assert len(order) == len(set(order))
    assert {"debian", "ubuntu", "redhat", "almalinux", "rocky", "alpine"} <= set(order)


def test_choose_follows_the_order_then_takes_the_worst_cve() -> None:
    index = {
        "CVE-1": [
            _r("ubuntu", Severity.CRITICAL),
            _r("nvd", Severity.LOW, cvss_score=3.1, cvss_vector="CVSS:3.1/x"),
            _r("debian", Severity.UNKNOWN, title="debian says"),
        ],
        "CVE-2": [CveRating("CVE-2", "ghsa", Severity.MEDIUM, references=("https://g",))],
    }
    chosen = choose(["CVE-1", "CVE-2"], index, preference("debian", "debian"))
    assert chosen is not None
    # Debian rates neither: NVD's low for CVE-1, GHSA's medium for CVE-2; the worst wins.
    assert (chosen.severity, chosen.source, chosen.cvss_score) == (Severity.MEDIUM, "ghsa", None)
    assert chosen.references == ("https://g",)
    only_one = choose(["CVE-1"], index, preference("debian", "debian"))
    assert only_one is not None
    assert (only_one.severity, only_one.source, only_one.cvss_vector) == (
        Severity.LOW,
        "nvd",
        "CVSS:3.1/x",
    )
    assert only_one.title == "debian says"  # unrated sources still give a title
    on_ubuntu = choose(["CVE-1"], index, preference("ubuntu", "debian"))
    assert on_ubuntu is not None and on_ubuntu.source == "ubuntu"


def test_choose_without_any_rating() -> None:
    assert choose(["CVE-9"], {}, preference("debian", "debian")) is None
    chosen = choose(["CVE-1"], {"CVE-1": [_r("nvd", title="t")]}, ("nvd",))
    assert chosen is not None
    assert (chosen.source, chosen.severity, chosen.title) == ("unrated", Severity.UNKNOWN, "t")
