"""An AlmaLinux 9 root (the corpus' real rpmdb) and a small OSV feed written for it, whose
findings cover every case the scan filters and output formats tell apart: a vendor advisory
over two binaries of one source, a KEV-listed low, a critical without a fix, a medium whose
summary needs CSV quoting."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any, Optional

from tests.paths import CORPUS

KEV = CORPUS / "advisories" / "cisa-kev" / "known_exploited_vulnerabilities.json"
QUOTED_SUMMARY = 'Moderate: zlib "inflate", bounds check\nsecond line'


def alma_root(base: Path) -> Path:
    """An AlmaLinux 9.3 root with the corpus rpmdb (129 packages)."""
    root = base / "alma"
    (root / "etc").mkdir(parents=True)
    (root / "etc/hostname").write_text("alma-9\n")
    (root / "etc/os-release").write_text(
        'NAME="AlmaLinux"\nVERSION="9.3 (Shamrock Pampas Cat)"\nID="almalinux"\n'
        'ID_LIKE="rhel centos fedora"\nVERSION_ID="9.3"\nPRETTY_NAME="AlmaLinux 9.3"\n'
    )
    (root / "var/lib/rpm").mkdir(parents=True)
    shutil.copy(
        CORPUS / "hosts/rpmdb/go-rpmdb/cbl-mariner-2.0/rpmdb.sqlite",
        root / "var/lib/rpm/rpmdb.sqlite",
    )
    return root


def _osv(
    rid: str,
    alias: str,
    severity: str,
    packages: tuple[str, ...],
    fixed: Optional[str],
    summary: str = "",
) -> dict[str, Any]:
    events: list[dict[str, str]] = [{"introduced": "0"}]
    if fixed:
        events.append({"fixed": fixed})
    return {
        "id": rid,
        "aliases": [alias],
        "summary": summary or f"{severity.title()}: {', '.join(packages)} issue",
        "modified": "2099-01-01T00:00:00Z",
        "database_specific": {"severity": severity},
        "affected": [
            {
                "package": {"ecosystem": "AlmaLinux:9", "name": name},
                "ranges": [{"type": "ECOSYSTEM", "events": events}],
            }
            for name in packages
        ],
    }


FEED = [
    # openssl and openssl-libs are binaries of the source rpm `openssl`: one table row.
    _osv("ALSA-2099:0001", "CVE-2099-1001", "important", ("openssl", "openssl-libs"), "1:3.0.7-1"),
    # CVE-2021-44228 is in the CISA KEV list (R-D10).
    _osv("TEST-2099-0002", "CVE-2021-44228", "low", ("bash",), "99:1-1"),
    _osv("TEST-2099-0003", "CVE-2099-3003", "critical", ("curl",), None),
    _osv("TEST-2099-0004", "CVE-2099-4004", "moderate", ("zlib",), "99:1-1", QUOTED_SUMMARY),
]
"""Findings on the root: CVE-2099-1001 high ×2 (openssl, openssl-libs), CVE-2021-44228 low
(bash, KEV), CVE-2099-3003 critical (curl, no fix), CVE-2099-4004 medium (zlib)."""


def write_feed(base: Path) -> Path:
    """The feed as a directory of OSV files."""
    feed = base / "feed"
    feed.mkdir()
    for doc in FEED:
        (feed / f"{doc['id'].replace(':', '_')}.json").write_text(json.dumps(doc))
    return feed
