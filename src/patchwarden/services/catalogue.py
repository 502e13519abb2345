"""The supported-vulnerability catalogue (R-T7): what this console can detect, per type."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

from patchwarden.core.ecosystems import is_distro
from patchwarden.core.vocabulary import VulnType
from patchwarden.services.ports import UnitOfWork
from patchwarden.services.views import check_page


def type_of(base_ecosystem: str) -> VulnType:
    """The vulnerability type of an advisory about this ecosystem's packages: distro packages
    and the kernel are Linux software (R-T1), every other ecosystem names application
    libraries (R-T4)."""
    return VulnType.LINUX if is_distro(base_ecosystem) else VulnType.APP


@dataclass(frozen=True)
class CatalogueEntry:
    """One vulnerability the console can detect."""

    id: str
    type: Optional[str]
    """Linux when a distro names it, else its only other type."""
    types: list[str]
    source: str
    cves: list[str]
    summary: str
    severity: str
    cvss: Optional[float]
    published: Optional[str]
    modified: Optional[str]
    references: list[str]


@dataclass(frozen=True)
class Catalogue:
    """Counts per type and one page of the searchable list."""

    counts: dict[str, int]
    total: int
    page: int
    per_page: int
    items: list[CatalogueEntry]


def catalogue(uow: UnitOfWork, q: str, page: int, per_page: int) -> Catalogue:
    """Counts per vulnerability type and a searchable page of advisories with details.

    A vulnerability counts once per type however many feeds and releases name it; an
    advisory that names no package (nothing to match) is not counted.
    """
    check_page(page, per_page)
    store = uow.advisories
    advisories, total = store.search(q, per_page, (page - 1) * per_page)
    by_type: dict[VulnType, set[str]] = {t: set() for t in VulnType}
    for eco, ids in store.ids_by_base_ecosystem().items():
        by_type[type_of(eco)] |= ids
    types_of: dict[str, set[str]] = {}
    for eco, ids in store.ids_by_base_ecosystem([a.id for a in advisories]).items():
        for rid in ids:
            types_of.setdefault(rid, set()).add(type_of(eco).value)
    items = [
        CatalogueEntry(
            id=a.id,
            type=_main_type(types_of.get(a.id, set())),
            types=sorted(types_of.get(a.id, ())),
            source=a.source,
            cves=list(a.cves),
            summary=a.summary,
            severity=a.severity.value,
            cvss=a.cvss_score,
            published=a.published,
            modified=a.modified,
            references=[r.url for r in a.references][:20],
        )
        for a in advisories
    ]
    counts = {t.value: len(ids) for t, ids in by_type.items()}
    return Catalogue(counts, total, page, per_page, items)


def _main_type(types: set[str]) -> Optional[str]:
    if VulnType.LINUX.value in types:
        return VulnType.LINUX.value
    return min(types) if types else None
