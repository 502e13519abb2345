"""JSON codec for advisories in the local store: compact dicts, exact round trip."""

from __future__ import annotations

import json
from typing import Any

from patchwarden.core.advisory import (
    Advisory,
    Affected,
    AffectedPackage,
    Event,
    EventKind,
    Range,
    Reference,
    Severity,
    VendorStatus,
)


def affected_to_dict(a: Affected) -> dict[str, Any]:
    """Compact dict of one affected entry (empty fields left out)."""
    d: dict[str, Any] = {"e": a.package.ecosystem, "n": a.package.name}
    if a.package.purl:
        d["p"] = a.package.purl
    if a.ranges:
        d["r"] = [[r.type, [[e.kind.value, e.version] for e in r.events]] for r in a.ranges]
    if a.versions:
        d["v"] = list(a.versions)
    if a.status is not VendorStatus.FIXED:
        d["s"] = a.status.value
    if a.binaries:
        d["b"] = list(a.binaries)
    if a.severity is not None:
        d["sev"] = a.severity.value
    if a.note:
        d["note"] = a.note
    if a.modules:
        d["m"] = list(a.modules)
    return d


def affected_from_dict(d: dict[str, Any]) -> Affected:
    """Inverse of `affected_to_dict`."""
    return Affected(
        package=AffectedPackage(ecosystem=d["e"], name=d["n"], purl=d.get("p", "")),
        ranges=tuple(
            Range(type=t, events=tuple(Event(EventKind(k), v) for k, v in events))
            for t, events in d.get("r", ())
        ),
        versions=tuple(d.get("v", ())),
        status=VendorStatus(d.get("s", VendorStatus.FIXED.value)),
        binaries=tuple(d.get("b", ())),
        severity=Severity(d["sev"]) if "sev" in d else None,
        note=d.get("note", ""),
        modules=tuple(d.get("m", ())),
    )


def advisory_to_json(a: Advisory) -> str:
    """The advisory without its affected entries (stored in their own rows)."""
    d: dict[str, Any] = {
        "id": a.id,
        "source": a.source,
        "aliases": list(a.aliases),
        "summary": a.summary,
        "modified": a.modified,
        "published": a.published,
        "withdrawn": a.withdrawn,
        "severity": a.severity.value,
        "cvss_score": a.cvss_score,
        "cvss_vector": a.cvss_vector,
        "references": [[r.type, r.url] for r in a.references],
        "related": list(a.related),
        "restart_required": a.restart_required,
    }
    if a.details:
        d["details"] = a.details
    return json.dumps(d, separators=(",", ":"))


def advisory_from_json(text: str, affected: tuple[Affected, ...] = ()) -> Advisory:
    """Inverse of `advisory_to_json`, with the affected entries given."""
    d = json.loads(text)
    return Advisory(
        id=d["id"],
        source=d["source"],
        aliases=tuple(d["aliases"]),
        summary=d["summary"],
        details=d.get("details", ""),
        modified=d["modified"],
        published=d["published"],
        withdrawn=d["withdrawn"],
        severity=Severity(d["severity"]),
        cvss_score=d["cvss_score"],
        cvss_vector=d["cvss_vector"],
        affected=affected,
        references=tuple(Reference(t, u) for t, u in d["references"]),
        related=tuple(d["related"]),
        restart_required=d["restart_required"],
    )
