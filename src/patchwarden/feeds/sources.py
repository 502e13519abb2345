"""The official feed sources `patchwarden feeds sync` downloads (R-S2).

Each source names the parser kind that reads what it downloads. URLs can be overridden one
by one (`--url NAME=URL`) to sync from a local mirror or, in tests, a local HTTP server.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from urllib.parse import quote

OSV_BUCKET = "https://osv-vulnerabilities.storage.googleapis.com"
NVD_FEEDS = "https://nvd.nist.gov/feeds/json/cve/2.0"
"""NVD's "2.0 JSON Feeds" (https://nvd.nist.gov/vuln/data-feeds): `nvdcve-2.0-<YEAR>.json.gz`
per CVE year from 2002, `nvdcve-2.0-modified.json.gz` (CVEs added or changed in the last
eight days) and `-recent` (added), each with a `.meta` file; the CVE API 2.0 schema."""
NVD_FIRST_YEAR = 2002
NVD_LAST_YEAR = max(2026, date.today().year)
"""Yearly NVD feeds listed as sources (a year's file appears once NVD publishes it)."""


@dataclass(frozen=True)
class Source:
    """One downloadable feed."""

    name: str
    kind: str
    url: str
    filename: str
    """Local file name (its suffix tells the parser the container format)."""
    description: str


def _osv(ecosystem: str) -> Source:
    slug = ecosystem.lower().replace(" ", "-")
    return Source(
        name=f"osv-{slug}",
        kind="osv",
        url=f"{OSV_BUCKET}/{quote(ecosystem)}/all.zip",
        filename=f"osv-{slug}.zip",
        description=f"OSV records of the {ecosystem} ecosystem (all releases)",
    )


def _nvd(which: str, description: str) -> Source:
    return Source(
        name=f"nvd-{which}",
        kind="nvd",
        url=f"{NVD_FEEDS}/nvdcve-2.0-{which}.json.gz",
        filename=f"nvdcve-2.0-{which}.json.gz",
        description=description,
    )


SOURCES: dict[str, Source] = {
    s.name: s
    for s in (
        _osv("Debian"),
        _osv("Ubuntu"),
        _osv("AlmaLinux"),
        _osv("Rocky Linux"),
        _osv("Alpine"),
        Source(
            name="debian-tracker",
            kind="debian-tracker",
            url="https://security-tracker.debian.org/tracker/data/json",
            filename="debian-tracker.json",
            description="Debian security tracker, every CVE per source package and release",
        ),
        Source(
            name="kev",
            kind="kev",
            url="https://www.cisa.gov/sites/default/files/feeds/known_exploited_vulnerabilities.json",
            filename="kev.json",
            description="CISA Known Exploited Vulnerabilities catalogue",
        ),
        Source(
            name="epss",
            kind="epss",
            url="https://epss.empiricalsecurity.com/epss_scores-current.csv.gz",
            filename="epss.csv.gz",
            description="FIRST EPSS scores, today's file",
        ),
        _nvd("modified", "NVD CVSS ratings of the CVEs added or changed in the last 8 days"),
        *(
            _nvd(str(year), f"NVD CVSS ratings of the CVEs of {year} (all of them)")
            for year in range(NVD_FIRST_YEAR, NVD_LAST_YEAR + 1)
        ),
    )
}

# nvd-modified rates the newest CVEs (those a pending update names first); the yearly NVD
# files (tens of MB each) are synced on request: `feeds sync --source nvd-2024`.
DEFAULT_SOURCES = (
    "kev",
    "epss",
    "debian-tracker",
    "osv-debian",
    "osv-ubuntu",
    "osv-almalinux",
    "osv-rocky-linux",
    "osv-alpine",
    "nvd-modified",
)
