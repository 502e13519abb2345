"""`scan --format sarif`: SARIF 2.1.0 (OASIS), as code-scanning dashboards read it.

One rule per vulnerability, one result per finding. A result's level comes from its severity
(critical/high: error, medium: warning, else note, as Trivy maps them), its location is the
package: the package database it was read from (physical) and `name@version` (logical), and
its message says installed -> fixed. Rules carry `security-severity`, a score inside the CVSS
band of the severity, which GitHub code scanning sorts by.
"""

from __future__ import annotations

import importlib.metadata
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from patchwarden.cli.purl import component_purl, package_purl
from patchwarden.core.advisory import Severity
from patchwarden.core.inventory import Inventory, Package
from patchwarden.core.matching import Match

SCHEMA_URI = (
    "https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json"
)
ROOT_BASE = "SCANROOT"
"""`uriBaseId` of the package database paths: the scanned root."""

LEVEL = {
    Severity.CRITICAL: "error",
    Severity.HIGH: "error",
    Severity.MEDIUM: "warning",
    Severity.LOW: "note",
    Severity.NONE: "note",
    Severity.UNKNOWN: "note",
}
# `security-severity` per severity (code scanning sorts by it): inside each CVSS v3 band.
SEVERITY_SCORE = {
    Severity.CRITICAL: "9.5",
    Severity.HIGH: "8.0",
    Severity.MEDIUM: "5.5",
    Severity.LOW: "2.0",
    Severity.NONE: "0.0",
    Severity.UNKNOWN: "0.0",
}
PACKAGE_DATABASE = {
    "deb": "var/lib/dpkg/status",
    "rpm": "var/lib/rpm",
    "apk": "lib/apk/db/installed",
}
"""Where each package format's database lives under the root (the findings' file)."""


def _version() -> str:
    try:
        return importlib.metadata.version("patchwarden")
    except importlib.metadata.PackageNotFoundError:
        return "0"


def _worst(matches: Sequence[Match]) -> Match:
    return max(matches, key=lambda m: (m.severity.rank, m.cvss or 0.0))


def _rule(vuln_id: str, found: Sequence[Match]) -> dict[str, Any]:
    worst = _worst(found)
    title = next((m.title for m in found if m.title), "")
    summary = next((m.summary for m in found if m.summary), "") or title or vuln_id
    refs = next((m.references for m in found if m.references), ())
    packages = ", ".join(sorted({m.package for m in found}))
    also = [c for c in worst.cves if c != vuln_id]
    help_text = f"{vuln_id} ({worst.severity.value}) affects {packages}." + (
        f" CVEs: {', '.join(also)}." if also else ""
    )
    rule: dict[str, Any] = {
        "id": vuln_id,
        "shortDescription": {"text": title or summary},
        "fullDescription": {"text": summary},
        "help": {"text": help_text},
        "defaultConfiguration": {"level": LEVEL[worst.severity]},
        "properties": {
            "tags": ["vulnerability", "security", worst.severity.value],
            # From the severity, not the CVSS score: a vendor's "low" for a CVSS 7.5 must
            # not be listed as high where the level says note.
            "security-severity": SEVERITY_SCORE[worst.severity],
            **({"cvss": worst.cvss} if worst.cvss is not None else {}),
            **({"cvssVector": worst.cvss_vector} if worst.cvss_vector else {}),
            "severitySource": worst.severity_source,
            **({"references": list(refs)} if refs else {}),
        },
    }
    if refs:
        rule["helpUri"] = refs[0]
    return rule


def _message(m: Match) -> str:
    fixed = m.fixed_version or "no fixed version yet"
    text = f"{m.package} {m.installed_version} → {fixed}: {m.id} ({m.severity.value})"
    if m.exploitable:
        text += ", known exploited (CISA KEV)"
    return text


def _location(m: Match, pkg: Package | None, inv: Inventory) -> dict[str, Any]:
    if m.component is not None and m.process is not None:
        return _app_location(m)
    logical: dict[str, Any] = {
        "name": m.package,
        "fullyQualifiedName": f"{m.package}@{m.installed_version}",
        "kind": "package",
    }
    location: dict[str, Any] = {"logicalLocations": [logical]}
    database = PACKAGE_DATABASE.get(pkg.format if pkg else "", "")
    if database:
        location["physicalLocation"] = {
            "artifactLocation": {"uri": database, "uriBaseId": ROOT_BASE}
        }
    if pkg is not None:
        location["properties"] = {"purl": package_purl(pkg, inv.os)}
    return location


def _app_location(m: Match) -> dict[str, Any]:
    """An application finding's location: the JAR (the outer one of a nested JAR) under the
    root, the component and the process that holds it."""
    assert m.component is not None and m.process is not None
    outer = m.component.path.split("!/", 1)[0]
    return {
        "physicalLocation": {
            "artifactLocation": {"uri": outer.lstrip("/"), "uriBaseId": ROOT_BASE}
        },
        "logicalLocations": [
            {
                "name": m.component.name,
                "fullyQualifiedName": f"{m.component.name}@{m.component.version}",
                "kind": "package",
            }
        ],
        "properties": {
            "purl": component_purl(m.component),
            "path": m.component.path,
            "pid": m.process.pid,
            "exe": m.process.exe,
            "ports": [f"{p.proto}/{p.address}/{p.port}" for p in m.process.ports],
        },
    }


def sarif_document(inv: Inventory, matches: Sequence[Match]) -> dict[str, Any]:
    """The SARIF log of a scan: one run, its rules and results."""
    by_id: dict[str, list[Match]] = {}
    for m in matches:
        by_id.setdefault(m.id, []).append(m)
    rule_ids = sorted(by_id)
    index = {rid: n for n, rid in enumerate(rule_ids)}
    packages = {(p.name, p.version): p for p in inv.packages}
    results = [
        {
            "ruleId": m.id,
            "ruleIndex": index[m.id],
            "level": LEVEL[m.severity],
            "message": {"text": _message(m)},
            "locations": [_location(m, packages.get((m.package, m.installed_version)), inv)],
            "properties": {
                "severity": m.severity.value,
                "severitySource": m.severity_source,
                "installedVersion": m.installed_version,
                "fixedVersion": m.fixed_version,
                "sourcePackage": m.source_package,
                "cves": list(m.cves),
                "exploitable": m.exploitable,
                "method": m.method.value,
                "confidence": m.confidence.value,
            },
        }
        for m in sorted(matches, key=lambda m: (m.id, m.package, m.installed_version))
    ]
    root_uri = Path(inv.host.root or "/").resolve().as_uri()
    root_uri += "" if root_uri.endswith("/") else "/"  # a base URI names a directory
    return {
        "$schema": SCHEMA_URI,
        "version": "2.1.0",
        "runs": [
            {
                "tool": {
                    "driver": {
                        "name": "patchwarden",
                        "version": _version(),
                        "rules": [_rule(rid, by_id[rid]) for rid in rule_ids],
                    }
                },
                "originalUriBaseIds": {ROOT_BASE: {"uri": root_uri}},
                "results": results,
                "properties": {
                    "hostname": inv.host.hostname,
                    "os": inv.os.name or f"{inv.os.id} {inv.os.release}".strip(),
                },
            }
        ],
    }
