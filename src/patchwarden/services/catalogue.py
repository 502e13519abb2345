"""The supported-vulnerability catalogue (R-T7): what this console can detect, per type."""

from __future__ import annotations

from typing import Any

from patchwarden.core.records import VulnType
from patchwarden.services.errors import Refused
from patchwarden.storage.advisory_store import AdvisoryStore

DISTRO_ECOSYSTEMS = frozenset(
    {
        "Debian", "Ubuntu", "AlmaLinux", "Rocky Linux", "Red Hat", "RHEL", "CentOS",
        "Oracle Linux", "openSUSE", "SUSE", "Mageia", "Alpine", "Wolfi", "Chainguard",
        "MinimOS", "Photon OS", "Azure Linux", "Mariner", "openEuler", "Linux",
    }
)  # fmt: skip
"""OSV ecosystems of Linux software (R-T1): distro packages and the kernel. Every other
ecosystem (Maven, PyPI, npm, Packagist …) names application libraries (R-T4)."""


def type_of(base_ecosystem: str) -> VulnType:
    """The vulnerability type an advisory about this ecosystem's packages belongs to."""
    return VulnType.LINUX if base_ecosystem in DISTRO_ECOSYSTEMS else VulnType.APP


def catalogue(store: AdvisoryStore, q: str, page: int, per_page: int) -> dict[str, Any]:
    """Counts per vulnerability type and a searchable page of advisories with details.

    A vulnerability counts once per type however many feeds and releases name it; an
    advisory that names no package (nothing to match) is not counted.
    """
    if page < 1 or not 1 <= per_page <= 500:
        raise Refused("page must be >= 1 and per_page within 1..500", 422)
    advisories, total = store.search(q, per_page, (page - 1) * per_page)
    by_type: dict[VulnType, set[str]] = {t: set() for t in VulnType}
    for eco, ids in store.ids_by_base_ecosystem().items():
        by_type[type_of(eco)] |= ids
    types_of: dict[str, set[str]] = {}
    for eco, ids in store.ids_by_base_ecosystem([a.id for a in advisories]).items():
        for rid in ids:
            types_of.setdefault(rid, set()).add(type_of(eco).value)
    return {
        "counts": {t.value: len(ids) for t, ids in by_type.items()},
        "total": total,
        "page": page,
        "per_page": per_page,
        "items": [
            {
                "id": a.id,
                "type": _main_type(types_of.get(a.id, set())),
                "types": sorted(types_of.get(a.id, ())),
                "source": a.source,
                "cves": list(a.cves),
                "summary": a.summary,
                "severity": a.severity.value,
                "cvss": a.cvss_score,
                "published": a.published,
                "modified": a.modified,
                "references": [r.url for r in a.references][:20],
            }
            for a in advisories
        ],
    }


def _main_type(types: set[str]) -> str | None:
    """One type for the list view: Linux when a distro names it, else the only other one."""
    if VulnType.LINUX.value in types:
        return VulnType.LINUX.value
    return min(types) if types else None
