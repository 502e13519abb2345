"""The supported-vulnerability catalogue (R-T7): what this console can detect, per type."""

from __future__ import annotations

from typing import Any

from patchwarden.core.records import VulnType
from patchwarden.services.errors import Refused
from patchwarden.storage.advisory_store import AdvisoryStore


def catalogue(store: AdvisoryStore, q: str, page: int, per_page: int) -> dict[str, Any]:
    """Counts per vulnerability type and a searchable page of advisories with details."""
    if page < 1 or not 1 <= per_page <= 500:
        raise Refused("page must be >= 1 and per_page within 1..500", 422)
    advisories, total = store.search(q, per_page, (page - 1) * per_page)
    # Only distro advisories feed detection so far: every stored advisory is a linux one.
    counts = {t.value: 0 for t in VulnType}
    counts[VulnType.LINUX.value] = store.counts()["advisories"]
    return {
        "counts": counts,
        "total": total,
        "page": page,
        "per_page": per_page,
        "items": [
            {
                "id": a.id,
                "type": VulnType.LINUX.value,
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
