"""Every advisory set of the shared corpus parses with no malformed record (MANIFEST §2)."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from patchwarden.core.advisory import Advisory, VendorStatus
from patchwarden.core.errors import FeedError
from patchwarden.feeds import FEEDS, ParseReport, detect_kind

CORPUS = Path(__file__).resolve().parents[3] / ".." / "shared" / "corpus"
ADV = CORPUS / "advisories"

# (path under the corpus, kind, items, withdrawn)
SETS = [
    ("advisories/almalinux-osv/almalinux9", "osv", 1783, 0),
    ("advisories/almalinux-osv/almalinux10", "osv", 660, 0),
    pytest.param(
        "advisories/almalinux-osv/almalinux8.tar.gz", "osv", 3237, 0, marks=pytest.mark.slow
    ),
    ("advisories/rocky-osv", "osv", 3, 0),
    ("advisories/ubuntu-osv", "osv", 14, 0),
    ("advisories/ghsa-osv", "osv", 7, 0),
    ("advisories/pypa-osv", "osv", 2057, 10),
    ("cms/drupal-advisory-database-osv", "osv", 591, 0),
    ("advisories/debian-security-tracker/DSA.list", "debian-tracker", 5406, 0),
    ("advisories/debian-security-tracker/DLA.list", "debian-tracker", 3534, 0),
    ("advisories/debian-security-tracker/DTSA.list", "debian-tracker", 208, 0),
    ("advisories/debian-security-tracker/tracker-json-sample.json", "debian-tracker", 7, 0),
    ("advisories/alpine-secdb", "alpine-secdb", 2474, 0),
    ("advisories/cisa-kev/known_exploited_vulnerabilities.json", "kev", 1404, 0),
    ("advisories/cisa-kev/known_exploited_vulnerabilities.csv", "kev", 1404, 0),
    ("advisories/epss/claircore-data.csv", "epss", 29, 0),
    ("advisories/epss/vunnel-example-1.csv", "epss", 5, 0),
    pytest.param(
        "advisories/ubuntu-cve-tracker/uct-20200618.tar.xz",
        "ubuntu-uct",
        33126,
        0,
        marks=pytest.mark.slow,
    ),
]


@pytest.mark.parametrize(("rel", "kind", "items", "withdrawn"), SETS)
def test_corpus_set_parses_cleanly(rel: str, kind: str, items: int, withdrawn: int) -> None:
    path = CORPUS / rel
    assert detect_kind(path) == kind
    report = ParseReport()
    parsed = list(FEEDS[kind].parse(path, report))
    assert report.skipped == []
    assert len(parsed) == report.parsed == items
    assert len(report.withdrawn) == withdrawn


@pytest.mark.parametrize(
    "rel",
    [
        "advisories/alpine-secdb/v3.3/community.yaml",
        *(
            f"advisories/alpine-secdb/v3.{n}/{repo}.yaml"
            for n in range(3, 12)
            for repo in ("main", "community")
        ),
    ],
)
def test_every_alpine_file_loads(rel: str) -> None:
    report = ParseReport()
    list(FEEDS["alpine-secdb"].parse(CORPUS / rel, report))
    assert report.skipped == []


@pytest.mark.parametrize(
    "rel",
    [
        "advisories/debian-security-tracker/CPE.list",
        "advisories/cisa-kev/known_exploited_vulnerabilities_schema.json",
        "advisories/redhat-csaf/rhsa-2024_6163.json",
        "advisories/sap-project-kb",
        "advisories/alpine-secdb/README.md",
        "advisories/ubuntu-cve-tracker/README",
    ],
    ids=["CPE list", "KEV schema", "CSAF", "SAP statements", "README", "UCT README"],
)
def test_files_that_are_not_feeds_get_a_clear_error(rel: str) -> None:
    with pytest.raises(FeedError, match=str(CORPUS / rel).replace("\\", "\\\\")):
        detect_kind(CORPUS / rel)


@pytest.mark.slow
def test_uct_bionic_figures_of_manifest() -> None:
    """MANIFEST §1.7: 7,434 released and 2,667 unfixed (CVE, bionic source) pairs."""
    report = ParseReport()
    statuses: Counter[VendorStatus] = Counter()
    for adv in FEEDS["ubuntu-uct"].parse(ADV / "ubuntu-cve-tracker/uct-20200618.tar.xz", report):
        assert isinstance(adv, Advisory)
        statuses.update(a.status for a in adv.affected if a.package.ecosystem == "Ubuntu:18.04:LTS")
    assert statuses[VendorStatus.FIXED] == 7434
    unfixed = statuses[VendorStatus.AFFECTED] + statuses[VendorStatus.FIX_DEFERRED]
    assert unfixed == 2667  # needed 2,067 + pending 87 + deferred 513
    assert statuses[VendorStatus.UNDER_INVESTIGATION] == 3455
    assert statuses[VendorStatus.NOT_AFFECTED] == 11403
    ignored = statuses[VendorStatus.END_OF_LIFE] + statuses[VendorStatus.WILL_NOT_FIX]
    assert ignored == 999
    # The two malformed bionic lines are accepted, with a warning each.
    odd = {rid for rid, what in report.warnings if "missing" in what}
    assert {"CVE-2019-13722", "CVE-2020-11501"} <= odd
