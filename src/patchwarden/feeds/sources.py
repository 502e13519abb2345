"""The official feed sources `patchwarden feeds sync` downloads (R-S2).

Each source names the parser kind that reads what it downloads. URLs can be overridden one
by one (`--url NAME=URL`) to sync from a local mirror or, in tests, a local HTTP server.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import quote

OSV_BUCKET = "https://osv-vulnerabilities.storage.googleapis.com"


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
    )
}

DEFAULT_SOURCES = (
    "kev",
    "epss",
    "debian-tracker",
    "osv-debian",
    "osv-ubuntu",
    "osv-almalinux",
    "osv-rocky-linux",
    "osv-alpine",
)
