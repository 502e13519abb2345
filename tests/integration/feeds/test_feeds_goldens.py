"""Golden checks on specific real records of the corpus."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from patchwarden.core.advisory import (
    Advisory,
    EpssScore,
    EventKind,
    KevEntry,
    Severity,
    VendorStatus,
)
from patchwarden.feeds import FEEDS, ParseReport

CORPUS = Path(__file__).resolve().parents[3] / ".." / "shared" / "corpus"
ADV = CORPUS / "advisories"


def _all(kind: str, path: Path) -> list[Any]:
    return list(FEEDS[kind].parse(path, ParseReport()))


def _one(kind: str, path: Path, rid: str) -> Advisory:
    (adv,) = [a for a in _all(kind, path) if isinstance(a, Advisory) and a.id == rid]
    return adv


def _fixed(aff: Any) -> str:
    (rng,) = aff.ranges
    return str(next(e.version for e in rng.events if e.kind is EventKind.FIXED))


def test_ubuntu_osv_cve_2024_0727() -> None:
    adv = _one("osv", ADV / "ubuntu-osv/canonical", "CVE-2024-0727")
    jammy = [a for a in adv.affected if a.package.ecosystem == "Ubuntu:22.04:LTS"]
    openssl = next(a for a in jammy if a.package.name == "openssl")
    assert _fixed(openssl) == "3.0.2-0ubuntu1.14"
    assert openssl.status is VendorStatus.FIXED
    assert "libssl3" in openssl.binaries and "openssl" in openssl.binaries
    assert openssl.severity is Severity.LOW  # ubuntu_priority
    assert "3.0.2-0ubuntu1.13" in openssl.versions
    trusty = next(a for a in adv.affected if a.package.ecosystem == "Ubuntu:Pro:14.04:LTS")
    assert trusty.status is VendorStatus.AFFECTED  # introduced 0, no fix: R-D9
    assert adv.cvss_score == 5.5
    assert {a.package.ecosystem for a in adv.affected} >= {
        "Ubuntu:Pro:16.04:LTS",
        "Ubuntu:24.04:LTS",
    }


def test_alsa_2022_4587() -> None:
    adv = _one("osv", ADV / "almalinux-osv/almalinux9", "ALSA-2022:4587")
    assert [(a.package.ecosystem, a.package.name, _fixed(a)) for a in adv.affected] == [
        ("AlmaLinux:9", "pcs", "0.11.1-10.el9"),
        ("AlmaLinux:9", "pcs-snmp", "0.11.1-10.el9"),
    ]
    assert adv.related == ("CVE-2022-29970",)
    assert adv.severity is Severity.HIGH  # "Important: pcs security update"


def test_rocky_epoch_in_fixed_version() -> None:
    adv = _one("osv", ADV / "rocky-osv/RLSA-2021_3891.json", "RLSA-2021:3891")
    assert _fixed(adv.affected[0]) == "1:11.0.13.0.8-1.el8_4"
    assert adv.affected[0].package.ecosystem == "Rocky Linux:8"
    assert adv.cvss_vector.startswith("CVSS:3.1/")


def test_ghsa_log4shell() -> None:
    adv = _one("osv", ADV / "ghsa-osv", "GHSA-jfh8-c2jp-5v3q")
    assert adv.aliases == ("CVE-2021-44228",)
    assert adv.cvss_score == 10.0
    assert adv.severity is Severity.CRITICAL
    fixes = sorted(_fixed(a) for a in adv.affected)
    assert fixes == ["2.12.2", "2.15.0", "2.3.1"]
    assert {a.package.name for a in adv.affected} == {"org.apache.logging.log4j:log4j-core"}


def test_drupal_last_affected_ranges() -> None:
    adv = _one("osv", CORPUS / "cms/drupal-advisory-database-osv", "DRUPAL-CONTRIB-2021-025")
    (aff,) = adv.affected
    assert aff.package.ecosystem == "Packagist:https://packages.drupal.org/8"
    kinds = [e.kind for r in aff.ranges for e in r.events]
    assert kinds.count(EventKind.LAST_AFFECTED) == 2
    assert aff.status is VendorStatus.FIXED


def test_usn_upstream_ids_are_aliases() -> None:
    adv = _one("osv", ADV / "ubuntu-osv/osv.dev-testdata", "USN-7234-1")
    assert "CVE-2023-21400" in adv.cves


def test_dsa_5380_and_a_two_release_dsa() -> None:
    path = ADV / "debian-security-tracker/DSA.list"
    advisories = {a.id: a for a in _all("debian-tracker", path)}
    dsa = advisories["DSA-5380-1"]
    assert dsa.aliases == ("CVE-2023-1393",)
    assert [(a.package.ecosystem, a.package.name, _fixed(a)) for a in dsa.affected] == [
        ("Debian:11", "xorg-server", "2:1.20.11-1+deb11u6")
    ]
    linux = advisories["DSA-4484-1"]
    assert [(a.package.ecosystem, _fixed(a)) for a in linux.affected] == [
        ("Debian:9", "4.9.168-1+deb9u4"),
        ("Debian:10", "4.19.37-5+deb10u1"),
    ]
    vlc = advisories["DSA-2218-1"]
    assert [a.status for a in vlc.affected] == [VendorStatus.NOT_AFFECTED, VendorStatus.FIXED]


def test_tracker_json_sample() -> None:
    path = ADV / "debian-security-tracker/tracker-json-sample.json"
    adv = _one("debian-tracker", path, "CVE-2022-0456")
    by_eco = {a.package.ecosystem: a for a in adv.affected}
    assert _fixed(by_eco["Debian:11"]) == "98.0.4758.80-1~deb11u1"
    assert by_eco["Debian:10"].status is VendorStatus.END_OF_LIFE
    assert by_eco["Debian:unstable"].status is VendorStatus.FIXED


def test_alpine_golden() -> None:
    advisories = {a.id: a for a in _all("alpine-secdb", ADV / "alpine-secdb")}
    ansible = advisories["CVE-2019-14904"]
    assert [(a.package.ecosystem, a.package.name, _fixed(a)) for a in ansible.affected] == [
        ("Alpine:v3.11", "ansible", "2.9.3-r0")
    ]
    assert "TALOS-2019-0844" in advisories["CVE-2019-5060"].aliases
    assert "CVE-2019-2426" in advisories  # written `CVE_2019-2426` in v3.10/community.yaml


def test_kev_catalogue() -> None:
    entries = _all("kev", ADV / "cisa-kev/known_exploited_vulnerabilities.json")
    assert len(entries) == 1404
    assert all(isinstance(e, KevEntry) for e in entries)
    assert sum(e.ransomware for e in entries) == 293
    first = entries[0]
    assert (first.cve, first.vendor, first.date_added, first.due_date) == (
        "CVE-2025-48384",
        "Git",
        "2025-08-25",
        "2025-09-15",
    )


def test_epss_scores_and_date() -> None:
    scores = _all("epss", ADV / "epss/claircore-data.csv")
    assert scores[0] == EpssScore("CVE-1999-0005", 0.91963, 0.99030, "2024-10-25")


@pytest.mark.slow
def test_alma8_tarball_golden() -> None:
    report = ParseReport()
    advisories = list(FEEDS["osv"].parse(ADV / "almalinux-osv/almalinux8.tar.gz", report))
    assert sum(len(a.affected) for a in advisories if isinstance(a, Advisory)) == 40838
