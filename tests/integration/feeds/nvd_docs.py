"""NVD CVE API 2.0 documents for the tests, shaped as NVD publishes them (the `cve` objects of
https://nvd.nist.gov/developers/vulnerabilities, trimmed to the fields NVD always sends)."""

from __future__ import annotations

import gzip
import json
from pathlib import Path
from typing import Any

V31 = "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H"
V31_CNA = "CVSS:3.1/AV:L/AC:L/PR:L/UI:N/S:U/C:H/I:N/A:N"
V40 = "CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N"
V2 = "AV:N/AC:L/Au:N/C:P/I:P/A:P"


def metric(vector: str, score: float, severity: str, kind: str = "Primary") -> dict[str, Any]:
    """One `metrics.cvssMetricV3x/V40` entry."""
    version = vector.split("/", 1)[0].removeprefix("CVSS:")
    return {
        "source": "nvd@nist.gov" if kind == "Primary" else "cna@example.org",
        "type": kind,
        "cvssData": {
            "version": version,
            "vectorString": vector,
            "baseScore": score,
            "baseSeverity": severity,
        },
        "exploitabilityScore": 3.9,
        "impactScore": 5.9,
    }


def cve(cve_id: str, metrics: dict[str, Any], status: str = "Analyzed") -> dict[str, Any]:
    """One `vulnerabilities[]` element."""
    return {
        "cve": {
            "id": cve_id,
            "sourceIdentifier": "secalert@example.org",
            "published": "2024-03-01T10:15:07.000",
            "lastModified": "2024-05-02T12:00:00.000",
            "vulnStatus": status,
            "descriptions": [
                {"lang": "es", "value": "Desbordamiento en foo."},
                {"lang": "en", "value": f"A heap overflow in foo ({cve_id}).\nMore text."},
            ],
            "metrics": metrics,
            "weaknesses": [],
            "references": [
                {"url": f"https://example.org/{cve_id}", "source": "x", "tags": ["Patch"]}
            ],
        }
    }


def document(*vulns: dict[str, Any]) -> dict[str, Any]:
    """An API page / feed file holding `vulns`."""
    return {
        "resultsPerPage": len(vulns),
        "startIndex": 0,
        "totalResults": len(vulns),
        "format": "NVD_CVE",
        "version": "2.0",
        "timestamp": "2026-11-30T00:00:00.000",
        "vulnerabilities": list(vulns),
    }


SAMPLE = document(
    # NVD's own v3.1 beside a CNA one and a v2: NVD's v3.1 wins.
    cve(
        "CVE-2024-0001",
        {
            "cvssMetricV31": [
                metric(V31_CNA, 5.5, "MEDIUM", "Secondary"),
                metric(V31, 9.8, "CRITICAL"),
            ],
            "cvssMetricV2": [
                {
                    "source": "nvd@nist.gov",
                    "type": "Primary",
                    "cvssData": {"version": "2.0", "vectorString": V2, "baseScore": 7.5},
                    "baseSeverity": "HIGH",
                }
            ],
        },
    ),
    # Only the CNA's rating (NVD has not analysed it yet): taken.
    cve("CVE-2024-0002", {"cvssMetricV31": [metric(V31_CNA, 5.5, "MEDIUM", "Secondary")]}),
    # Only CVSS v4.0.
    cve("CVE-2024-0003", {"cvssMetricV40": [metric(V40, 9.3, "CRITICAL", "Secondary")]}),
    # Not rated at all: kept for its title and references.
    cve("CVE-2024-0004", {}),
    # Rejected: left out as withdrawn.
    cve("CVE-2024-0005", {}, status="Rejected"),
)
"""Five CVEs: four ratings (one unrated) and a rejected one."""


def write(path: Path, doc: dict[str, Any]) -> Path:
    """Write `doc` as NVD does (pretty JSON), gzipped when `path` ends in .gz."""
    data = json.dumps(doc, indent=2).encode()
    path.write_bytes(gzip.compress(data) if path.name.endswith(".gz") else data)
    return path
