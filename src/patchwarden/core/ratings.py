"""The rating index (issue 8): who rates a CVE how, and which rating a finding shows.

Every imported advisory rates the CVEs it names (`ratings_of`): the Ubuntu tracker's
priority, the Debian tracker's urgency, the Red Hat rating of an AlmaLinux or Rocky erratum,
GitHub's CVSS; the NVD feed adds NVD's own CVSS. A finding whose advisory gives no rating
(the repository check names CVEs only) takes one from the index, in the order `preference`
gives for the host: its own distro's, then NVD's, then GitHub's, then other distros'.

Standard library only, Python 3.9 syntax (annotations are postponed).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Optional, Tuple

from patchwarden.core.advisory import UNRATED, Advisory, CveRating, RatingSource, Severity
from patchwarden.core.ecosystems import base_ecosystem

MAX_TITLE = 200
"""Characters of a title kept (NVD descriptions run to kilobytes)."""
MAX_INDEX_REFERENCES = 20
"""Reference URLs the index keeps per rating."""
MAX_REFERENCES = 10
"""Reference URLs a finding carries."""

_BY_FEED = {
    "ubuntu-uct": RatingSource.UBUNTU.value,
    "debian-tracker": RatingSource.DEBIAN.value,
    "alpine-secdb": RatingSource.ALPINE.value,
}
_BY_ECOSYSTEM = {
    "Ubuntu": RatingSource.UBUNTU.value,
    "Debian": RatingSource.DEBIAN.value,
    "AlmaLinux": RatingSource.ALMALINUX.value,
    "Rocky Linux": RatingSource.ROCKY.value,
    "Red Hat": RatingSource.REDHAT.value,
    "RHEL": RatingSource.REDHAT.value,
    "Alpine": RatingSource.ALPINE.value,
}
_RHEL_FAMILY = (RatingSource.ALMALINUX.value, RatingSource.REDHAT.value, RatingSource.ROCKY.value)
_OWN = {
    "ubuntu": (RatingSource.UBUNTU.value,),
    "debian": (RatingSource.DEBIAN.value,),
    "alpine": (RatingSource.ALPINE.value,),
    "almalinux": _RHEL_FAMILY,
    "rocky": (RatingSource.ROCKY.value, RatingSource.REDHAT.value, RatingSource.ALMALINUX.value),
    "rhel": (RatingSource.REDHAT.value, RatingSource.ALMALINUX.value, RatingSource.ROCKY.value),
}
"""OS id (else family) -> the distro ratings that are the host's own, best first."""
_OTHERS = (
    RatingSource.NVD.value,
    RatingSource.GHSA.value,
    RatingSource.DEBIAN.value,
    RatingSource.UBUNTU.value,
    RatingSource.REDHAT.value,
    RatingSource.ALMALINUX.value,
    RatingSource.ROCKY.value,
    RatingSource.ALPINE.value,
)


def rating_source(advisory: Advisory, ecosystem: str = "") -> str:
    """Who rated `advisory`: the distro of its feed or ecosystem, `ghsa`, else its source.

    `ecosystem` names the advisory's ecosystem when its affected entries are not at hand
    (the store's lookups return each entry apart from its advisory).
    """
    by_feed = _BY_FEED.get(advisory.source)
    if by_feed is not None:
        return by_feed
    if advisory.id.startswith("GHSA-"):
        return RatingSource.GHSA.value
    ecosystems = [ecosystem] if ecosystem else []
    ecosystems += [a.package.ecosystem for a in advisory.affected]
    for name in ecosystems:
        found = _BY_ECOSYSTEM.get(base_ecosystem(name))
        if found is not None:
            return found
    return advisory.source


def title_of(text: str) -> str:
    """The first line of `text`, at most MAX_TITLE characters."""
    line = text.strip().split("\n", 1)[0].strip()
    return line if len(line) <= MAX_TITLE else line[: MAX_TITLE - 1].rstrip() + "…"


def urls(refs: Iterable[str], limit: int) -> Tuple[str, ...]:
    """Distinct URLs, in order, at most `limit`."""
    out: dict[str, None] = {}
    for url in refs:
        if url and url not in out:
            out[url] = None
            if len(out) >= limit:
                break
    return tuple(out)


def advisory_title(advisory: Advisory) -> str:
    """The advisory's summary, else the first line of its details."""
    return title_of(advisory.summary or advisory.details)


def advisory_rated(advisory: Advisory) -> bool:
    """Whether the advisory rates what it describes (a severity word or a CVSS score)."""
    return advisory.severity is not Severity.UNKNOWN or advisory.cvss_score is not None


def ratings_of(advisory: Advisory) -> list[CveRating]:
    """What `advisory` says about each CVE it names, for the rating index.

    An advisory about several CVEs (an erratum, a DSA) is rated by the worst of them, so its
    rating is only an upper bound for each one (`exact=False`), and its CVSS score, which
    belongs to none of them in particular, is left out.
    """
    cves = advisory.cves
    if not cves or advisory.withdrawn:
        return []
    exact = len(cves) == 1
    source = rating_source(advisory)
    severity = advisory.severity
    if severity is Severity.UNKNOWN and exact and advisory.cvss_score is not None:
        severity = Severity.from_cvss(advisory.cvss_score)
    title = advisory_title(advisory)
    refs = urls((r.url for r in advisory.references), MAX_INDEX_REFERENCES)
    return [
        CveRating(
            cve=cve,
            source=source,
            severity=severity,
            cvss_score=advisory.cvss_score if exact else None,
            cvss_vector=advisory.cvss_vector if exact else "",
            title=title,
            references=refs,
            modified=advisory.modified or advisory.published,
            exact=exact,
        )
        for cve in cves
    ]


def better(a: CveRating, b: CveRating) -> CveRating:
    """Of two ratings of one CVE by one source, the one to keep (the other fills its gaps).

    A rating of the CVE itself beats an erratum's; between errata the lowest bounds the CVE
    best (each is the worst of its CVEs, Red Hat's rule); between two of the CVE itself the
    newer record wins, then the higher rating.
    """
    keep, other = _choose(a, b), b
    if keep is b:
        other = a
    if (not keep.title and other.title) or (not keep.references and other.references):
        keep = replace(
            keep,
            title=keep.title or other.title,
            references=keep.references or other.references,
        )
    return keep


def _choose(a: CveRating, b: CveRating) -> CveRating:
    if a.rated != b.rated:
        return a if a.rated else b
    if a.exact != b.exact:
        return a if a.exact else b
    if not a.exact:
        return a if _rank(a) <= _rank(b) else b
    if a.modified != b.modified:
        return a if a.modified > b.modified else b
    return a if _rank(a) >= _rank(b) else b


def _rank(r: CveRating) -> tuple[int, float]:
    return (effective_severity(r).rank, r.cvss_score if r.cvss_score is not None else -1.0)


def effective_severity(r: CveRating) -> Severity:
    """The rating's severity word, else its CVSS score's band."""
    if r.severity is Severity.UNKNOWN and r.cvss_score is not None:
        return Severity.from_cvss(r.cvss_score)
    return r.severity


def preference(os_id: str, os_family: str) -> Tuple[str, ...]:
    """Rating sources in the order a host of `os_id`/`os_family` trusts them (issue 8): its
    own distro's, then NVD, then GHSA, then other distros'."""
    own = _OWN.get(os_id) or _OWN.get(os_family) or ()
    return (*own, *(s for s in _OTHERS if s not in own))


def own_source(os_id: str, os_family: str) -> str:
    """The rating source of a host's own vendor (its OS id when no distro name fits)."""
    own = _OWN.get(os_id) or _OWN.get(os_family)
    return own[0] if own else os_id


@dataclass(frozen=True)
class Chosen:
    """The rating a finding takes from the index."""

    severity: Severity
    cvss_score: Optional[float]
    cvss_vector: str
    source: str
    title: str
    references: Tuple[str, ...]


def choose(
    cves: Sequence[str], index: Mapping[str, Sequence[CveRating]], order: Sequence[str]
) -> Optional[Chosen]:
    """The rating of a finding about `cves`: per CVE the most trusted source that rates it
    (`order`; sources not in it come last), then the worst over the CVEs. None when no
    source rates any of them; a title and references are still taken when one has them."""
    rank = {source: n for n, source in enumerate(order)}
    best: Optional[CveRating] = None
    described: Optional[CveRating] = None
    for cve in cves:
        ratings = index.get(cve, ())
        if described is None:
            described = min(
                (r for r in ratings if r.title or r.references),
                key=lambda r: rank.get(r.source, len(rank)),
                default=None,
            )
        rated = [r for r in ratings if r.rated]
        if not rated:
            continue
        top = min(rank.get(r.source, len(rank)) for r in rated)
        pick = None
        for r in rated:
            if rank.get(r.source, len(rank)) == top:
                pick = r if pick is None else better(pick, r)
        assert pick is not None
        if best is None or _rank(pick) > _rank(best):
            best = pick
    if best is None:
        if described is None:
            return None
        return Chosen(
            Severity.UNKNOWN,
            None,
            "",
            UNRATED,
            described.title,
            urls(described.references, MAX_REFERENCES),
        )
    return Chosen(
        severity=effective_severity(best),
        cvss_score=best.cvss_score,
        cvss_vector=best.cvss_vector,
        source=best.source,
        title=best.title or (described.title if described else ""),
        references=urls(
            best.references or (described.references if described else ()), MAX_REFERENCES
        ),
    )
