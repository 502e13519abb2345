"""Findings their advisory does not rate take a rating from the rating index (issue 8): the
host distro's own, then NVD, then GHSA, then other distros'; each says who rated it, and the
urgency follows the rating."""

from __future__ import annotations

from patchwarden.core.advisory import (
    Advisory,
    Affected,
    AffectedPackage,
    CveRating,
    Event,
    EventKind,
    Range,
    Reference,
    Severity,
)
from patchwarden.core.inventory import Host, Inventory, OsRelease, Package, PendingUpdate
from patchwarden.core.matching import Match
from patchwarden.services.detection import detect
from patchwarden.services.index import MemoryIndex
from patchwarden.services.records import detail_of

DEBIAN12 = OsRelease(id="debian", family="debian", release="12", codename="bookworm")
ALMA9 = OsRelease(id="almalinux", family="rhel", release="9")
EXPAT = Package("libexpat1", "2.5.0-1", "deb", "amd64", "expat", "2.5.0-1")
FIXED_IN_2 = (Event(EventKind.INTRODUCED, "0"), Event(EventKind.FIXED, "2.5.0-2"))
NVD_V31 = "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:N/I:N/A:H"


def _tracker(cve: str, urgency: Severity | None) -> Advisory:
    """A Debian tracker advisory: fixed in 2.5.0-2 on bookworm, with an urgency or none."""
    return Advisory(
        id=cve,
        source="debian-tracker",
        details=f"Debian's words about {cve}",
        severity=urgency or Severity.UNKNOWN,
        affected=(
            Affected(
                AffectedPackage("Debian:12", "expat"),
                (Range("ECOSYSTEM", FIXED_IN_2),),
                severity=urgency,
            ),
        ),
        references=(Reference("ADVISORY", f"https://security-tracker.debian.org/tracker/{cve}"),),
    )


def _alsa(cves: tuple[str, ...]) -> Advisory:
    return Advisory(
        id="ALSA-2026:1",
        source="osv",
        related=cves,
        summary="Important: expat security update",
        severity=Severity.HIGH,
        affected=(Affected(AffectedPackage("AlmaLinux:9", "expat")),),
    )


def _nvd(cve: str, score: float) -> CveRating:
    return CveRating(cve, "nvd", Severity.from_cvss(score), score, NVD_V31, title=f"NVD {cve}")


def _debian_host(*cves: str) -> Inventory:
    update = PendingUpdate(
        "libexpat1", "2.5.0-1", "2.5.0-1+deb12u2", "bookworm-security", "expat", cves=cves
    )
    return Inventory(host=Host("h"), os=DEBIAN12, packages=(EXPAT,), pending_updates=(update,))


def _by_id(matches: list[Match]) -> dict[str, Match]:
    return {m.id: m for m in matches}


def test_repository_check_findings_are_rated_in_the_hosts_order() -> None:
    index = MemoryIndex(
        [
            _tracker("CVE-1", Severity.HIGH),  # Debian rates CVE-1
            _tracker("CVE-2", None),  # Debian has CVE-2 but no urgency yet
            _nvd("CVE-1", 5.3),
            _nvd("CVE-2", 7.5),
            _alsa(("CVE-2", "CVE-3")),  # only another distro rates CVE-3
            CveRating("CVE-3", "ghsa", Severity.UNKNOWN, title="no rating, a title"),
        ]
    )
    found = _by_id(detect(_debian_host("CVE-1", "CVE-2", "CVE-3", "CVE-4"), index).matches)
    got = {cve: (m.severity, m.severity_source, m.cvss, m.cvss_vector) for cve, m in found.items()}
    assert got == {
        "CVE-1": (Severity.HIGH, "debian", None, ""),
        "CVE-2": (Severity.HIGH, "nvd", 7.5, NVD_V31),
        "CVE-3": (Severity.HIGH, "almalinux", None, ""),
        "CVE-4": (Severity.UNKNOWN, "unrated", None, ""),
    }
    assert found["CVE-1"].title == "Debian's words about CVE-1"
    assert found["CVE-1"].references == ("https://security-tracker.debian.org/tracker/CVE-1",)
    assert found["CVE-2"].title == "Debian's words about CVE-2"  # its advisory's own
    assert found["CVE-3"].title == "Important: expat security update"
    # The urgency uses the real rating: NVD's CVSS for CVE-2, the severity word for CVE-1.
    assert detail_of(found["CVE-2"]).urgency == 7.5
    assert detail_of(found["CVE-1"]).urgency == 8.0
    assert detail_of(found["CVE-4"]).urgency == 5.5
    row = found["CVE-2"].to_dict()
    assert {k: row[k] for k in ("severity", "severity_source", "cvss_vector", "title")} == {
        "severity": "high",
        "severity_source": "nvd",
        "cvss_vector": NVD_V31,
        "title": "Debian's words about CVE-2",
    }
    assert row["references"] == ["https://security-tracker.debian.org/tracker/CVE-2"]


def test_on_the_rhel_family_the_vendor_rating_comes_first() -> None:
    index = MemoryIndex([_nvd("CVE-2", 9.8), _alsa(("CVE-2",))])
    update = PendingUpdate("expat", "2.5.0-1.el9", "2.5.0-2.el9", "baseos", cves=("CVE-2",))
    inv = Inventory(
        host=Host("h"),
        os=ALMA9,
        packages=(Package("expat", "2.5.0-1.el9", "rpm", "x86_64"),),
        pending_updates=(update,),
    )
    (m,) = _by_id(detect(inv, index).matches).values()
    assert (m.severity, m.severity_source, m.cvss) == (Severity.HIGH, "almalinux", None)


def test_a_rating_from_the_repository_or_the_advisory_is_kept() -> None:
    index = MemoryIndex([_nvd("CVE-1", 9.8), _tracker("CVE-1", Severity.LOW)])
    # dnf's updateinfo rates the update itself.
    update = PendingUpdate(
        "expat", "2.5.0-1.el9", "2.5.0-2.el9", "baseos", cves=("CVE-1",), severity="Moderate"
    )
    inv = Inventory(
        host=Host("h"),
        os=ALMA9,
        packages=(Package("expat", "2.5.0-1.el9", "rpm", "x86_64"),),
        pending_updates=(update,),
    )
    (m,) = _by_id(detect(inv, index).matches).values()
    assert (m.severity, m.severity_source, m.cvss) == (Severity.MEDIUM, "almalinux", None)
    assert m.title == "NVD CVE-1"  # the title still comes from the index
    # A distro advisory's own rating: the tracker's low, not NVD's critical.
    inv = Inventory(host=Host("h"), os=DEBIAN12, packages=(EXPAT,))
    (m,) = detect(inv, index).matches
    assert (m.severity, m.severity_source, m.advisories) == (Severity.LOW, "debian", ("CVE-1",))


def test_an_unrated_distro_advisory_finding_is_rated_too() -> None:
    index = MemoryIndex([_tracker("CVE-2", None), _nvd("CVE-2", 7.5)])
    inv = Inventory(host=Host("h"), os=DEBIAN12, packages=(EXPAT,))
    (m,) = detect(inv, index).matches
    assert (m.method.value, m.severity, m.severity_source) == (
        "distro-advisory",
        Severity.HIGH,
        "nvd",
    )
