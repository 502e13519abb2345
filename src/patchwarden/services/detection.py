"""Detect: inventory x advisory index -> findings (DESIGN §1.3)."""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from patchwarden.core.advisory import UNRATED
from patchwarden.core.app_matching import app_matches
from patchwarden.core.inventory import Inventory
from patchwarden.core.matching import Match, MatchErrors, match_query, merge_matches
from patchwarden.core.ratings import Chosen, choose, preference
from patchwarden.detect import driver_for
from patchwarden.detect.pending_updates import pending_update_matches
from patchwarden.services.ports import AdvisoryIndex


@dataclass
class Detection:
    """Findings of one inventory plus what could not be evaluated."""

    matches: list[Match]
    errors: list[str] = field(default_factory=list)
    driver: str = ""
    ecosystems: list[str] = field(default_factory=list)


def detect(
    inv: Inventory, index: AdvisoryIndex, include_wont_fix: bool = False, apps: bool = True
) -> Detection:
    """Match every package of `inv`, add repository-check findings, enrich, merge.

    `apps`: also match the components of its running processes (application findings, one
    per process instance, R-D1); False when the console's plan lacks application detection.
    """
    errors = MatchErrors()
    found: list[Match] = []
    driver = driver_for(inv.os)
    ecosystems: list[str] = []
    if driver is None:
        errors.add(
            f"no detection driver for OS {inv.os.id!r} (family {inv.os.family!r}):"
            " distro advisories were not matched"
        )
    else:
        ecosystems = driver.ecosystems(inv)
        if not ecosystems:
            errors.add(f"{inv.os.name or inv.os.id}: no advisory ecosystem for this release")
        for query in driver.queries(inv):
            candidates = [
                pair
                for pair in index.lookup(query.ecosystem, query.name)
                if driver.relevant(pair[0])
            ]
            if candidates:
                found.extend(match_query(query, candidates, errors, include_wont_fix))
    found.extend(pending_update_matches(inv))
    merged = merge_matches(found)
    if apps and inv.processes:
        # Not through merge_matches: its key (package, vulnerability) would fold the same
        # library of two process instances into one finding (app_matches merges per instance).
        merged.extend(app_matches(inv.processes, index.lookup, errors, index.artifact_names))
    merged = _enrich(merged, inv, index)
    merged.sort(key=lambda m: (-m.severity.rank, m.package, m.id))
    return Detection(
        matches=merged,
        errors=errors.items,
        driver=driver.name if driver else "",
        ecosystems=ecosystems,
    )


def _enrich(matches: list[Match], inv: Inventory, index: AdvisoryIndex) -> list[Match]:
    """KEV -> exploitable (R-D10), EPSS, the OS end-of-life reason (R-D9), and a rating
    from the rating index for findings their advisory did not rate (issue 8)."""
    cves = sorted({c for m in matches for c in m.cves})
    kev = index.kev(cves) if cves else {}
    epss = index.epss(cves) if cves else {}
    wanted = sorted({c for m in matches if _needs_rating(m) for c in m.cves})
    ratings = index.ratings(wanted) if wanted else {}
    order = preference(inv.os.id, inv.os.family)
    eol_note = ""
    if inv.os.eol:
        since = f" since {inv.os.eol_date}" if inv.os.eol_date else ""
        eol_note = f"OS end-of-life{since}: the vendor publishes no more fixes"
    out = []
    for m in matches:
        if ratings and _needs_rating(m):
            chosen = choose(m.cves, ratings, order)
            if chosen is not None:
                m = _rated(m, chosen)
        scores = [epss[c].epss for c in m.cves if c in epss]
        exploitable = any(c in kev for c in m.cves)
        # The OS's end of life says nothing about an application library's fixes.
        eol_reason = bool(eol_note) and m.fixed_version is None and m.process is None
        if not (scores or exploitable or eol_reason):
            out.append(m)  # nothing to add: skip the copy (hot with thousands of findings)
            continue
        reason = m.reason
        if eol_reason:
            reason = f"{eol_note}; {reason}" if reason else eol_note
        out.append(
            replace(
                m,
                exploitable=exploitable,
                epss=max(scores) if scores else None,
                reason=reason,
            )
        )
    return out


def _needs_rating(m: Match) -> bool:
    """Unrated by its advisory, or rated but without a title (filled from the index)."""
    return bool(m.cves) and (m.severity_source == UNRATED or not m.title)


def _rated(m: Match, chosen: Chosen) -> Match:
    """`m` with the index's rating where its advisory gave none, its title and references
    where it had none."""
    title = m.title or chosen.title
    references = m.references or chosen.references
    if m.severity_source != UNRATED or chosen.source == UNRATED:
        return replace(m, title=title, references=references)
    return replace(
        m,
        severity=chosen.severity,
        severity_source=chosen.source,
        cvss=chosen.cvss_score,
        cvss_vector=chosen.cvss_vector,
        title=title,
        references=references,
    )
