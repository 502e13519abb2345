"""`scan --format cyclonedx`: a CycloneDX 1.6 JSON BOM with vulnerabilities (VDR).

Components are the host's installed packages, each named by its purl (which is also its
`bom-ref`); `metadata.component` is the operating system. Each vulnerability lists the
components it `affects` with the installed version (affected) and the fixed one (unaffected),
and rates the finding's severity (with the CVSS score when known; its version is not kept
with the finding, hence method `other`).
"""

from __future__ import annotations

import importlib.metadata
import uuid
from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime, timezone
from typing import Any

from patchwarden.cli.purl import component_purl, package_purl
from patchwarden.core.inventory import Inventory, Package
from patchwarden.core.matching import Match

SPEC_VERSION = "1.6"
SCHEMA_URI = "http://cyclonedx.org/schema/bom-1.6.schema.json"


def _version() -> str:
    try:
        return importlib.metadata.version("patchwarden")
    except importlib.metadata.PackageNotFoundError:
        return "0"


def _component(pkg: Package, purl: str) -> dict[str, Any]:
    component: dict[str, Any] = {
        "type": "library",
        "bom-ref": purl,
        "name": pkg.name,
        "version": pkg.version,
        "purl": purl,
    }
    properties = [
        {"name": "patchwarden:package:format", "value": pkg.format},
        {"name": "patchwarden:package:source_name", "value": pkg.source},
        {"name": "patchwarden:package:source_version", "value": pkg.source_ver},
    ]
    if pkg.arch:
        properties.append({"name": "patchwarden:package:arch", "value": pkg.arch})
    component["properties"] = properties
    return component


def _timestamp(inv: Inventory) -> str:
    try:
        return datetime.fromisoformat(inv.collected_at).isoformat()
    except (TypeError, ValueError):
        return datetime.now(timezone.utc).isoformat(timespec="seconds")


_SOURCE_NAMES = {
    "nvd": "NVD",
    "ghsa": "GitHub Advisory Database",
    "ubuntu": "Ubuntu",
    "debian": "Debian",
    "almalinux": "AlmaLinux",
    "rocky": "Rocky Linux",
    "redhat": "Red Hat",
    "alpine": "Alpine Linux",
}
"""`severity_source` -> the rating source's name in `ratings[].source.name`."""


def _cvss_method(vector: str) -> str:
    """CycloneDX 1.6 `ratings[].method` of a CVSS vector."""
    if vector.startswith("CVSS:4"):
        return "CVSSv4"
    if vector.startswith("CVSS:3.1"):
        return "CVSSv31"
    if vector.startswith("CVSS:3"):
        return "CVSSv3"
    return "CVSSv2"


def _vulnerability(vuln_id: str, found: Sequence[Match], refs: dict[tuple[str, str], str]) -> Any:
    worst = max(found, key=lambda m: (m.severity.rank, m.cvss or 0.0))
    rating: dict[str, Any] = {"severity": worst.severity.value, "method": "other"}
    scored = max(
        (m for m in found if m.cvss is not None), key=lambda m: m.cvss or 0.0, default=None
    )
    if scored is not None:
        rating["score"] = scored.cvss
        if scored.cvss_vector:
            rating["method"] = _cvss_method(scored.cvss_vector)
            rating["vector"] = scored.cvss_vector
    if worst.severity_source != "unrated":
        rating["source"] = {"name": _SOURCE_NAMES.get(worst.severity_source, worst.severity_source)}
    affects: dict[str, list[dict[str, str]]] = {}
    for m in found:
        versions = affects.setdefault(refs[(m.package, m.installed_version)], [])
        wanted = [{"version": m.installed_version, "status": "affected"}]
        if m.fixed_version:
            wanted.append({"version": m.fixed_version, "status": "unaffected"})
        versions.extend(v for v in wanted if v not in versions)
    fixes = sorted({f"{m.package} {m.fixed_version}" for m in found if m.fixed_version})
    vulnerability: dict[str, Any] = {
        "bom-ref": f"vulnerability:{vuln_id}",
        "id": vuln_id,
        "ratings": [rating],
        "affects": [{"ref": ref, "versions": v} for ref, v in sorted(affects.items())],
    }
    cves = sorted({c for m in found for c in m.cves if c != vuln_id})
    if cves:
        vulnerability["references"] = [
            {"id": c, "source": {"name": "NVD", "url": f"https://nvd.nist.gov/vuln/detail/{c}"}}
            for c in cves
        ]
    links = list(dict.fromkeys(u for m in found for u in m.references))
    if links:
        vulnerability["advisories"] = [{"url": u} for u in links]
    summary = next((m.summary for m in found if m.summary), "") or next(
        (m.title for m in found if m.title), ""
    )
    if summary:
        vulnerability["description"] = summary
    vulnerability["recommendation"] = (
        f"Upgrade to {', '.join(fixes)}." if fixes else "No fixed version published yet."
    )
    properties = [{"name": "patchwarden:exploitable", "value": str(worst.exploitable).lower()}]
    advisories = sorted({a for m in found for a in m.advisories})
    if advisories:
        properties.append({"name": "patchwarden:advisories", "value": ", ".join(advisories)})
    vulnerability["properties"] = properties
    return vulnerability


def cyclonedx_document(inv: Inventory, matches: Sequence[Match]) -> dict[str, Any]:
    """The CycloneDX 1.6 BOM of a scan: the host's packages and the vulnerabilities found."""
    refs: dict[tuple[str, str], str] = {}
    components: list[dict[str, Any]] = []
    seen: set[str] = set()
    for pkg in inv.packages:
        purl = package_purl(pkg, inv.os)
        refs.setdefault((pkg.name, pkg.version), purl)
        if purl not in seen:  # the same package listed twice is one component
            seen.add(purl)
            components.append(_component(pkg, purl))
    for m in matches:
        if (m.package, m.installed_version) not in refs:
            # A finding on something the package list lacks still names a component.
            pkg = Package(m.package, m.installed_version, "", source_name=m.source_package)
            if m.component is not None:  # an application's library: its own purl type
                pkg = replace(pkg, format=m.component.ecosystem.lower())
                purl = component_purl(m.component)
            else:
                purl = package_purl(pkg, inv.os)
            refs[(m.package, m.installed_version)] = purl
            if purl not in seen:
                seen.add(purl)
                components.append(_component(pkg, purl))
    by_id: dict[str, list[Match]] = {}
    for m in matches:
        by_id.setdefault(m.id, []).append(m)
    os_component: dict[str, Any] = {
        "type": "operating-system",
        "bom-ref": f"os:{inv.os.id}",
        "name": inv.os.id,
        "version": inv.os.version_id or inv.os.release,
    }
    if inv.os.name:
        os_component["description"] = inv.os.name
    if inv.host.hostname:
        os_component["properties"] = [{"name": "patchwarden:hostname", "value": inv.host.hostname}]
    return {
        "$schema": SCHEMA_URI,
        "bomFormat": "CycloneDX",
        "specVersion": SPEC_VERSION,
        "serialNumber": f"urn:uuid:{uuid.uuid4()}",
        "version": 1,
        "metadata": {
            "timestamp": _timestamp(inv),
            "tools": {
                "components": [
                    {"type": "application", "name": "patchwarden", "version": _version()}
                ]
            },
            "component": os_component,
        },
        "components": components,
        "vulnerabilities": [_vulnerability(v, by_id[v], refs) for v in sorted(by_id)],
    }
