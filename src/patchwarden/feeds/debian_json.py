"""Debian security tracker JSON (`security-tracker.debian.org/tracker/data/json`) -> `Advisory`.

Shape: `{source package: {CVE: {description, scope, debianbug, releases: {codename: {status,
repositories, fixed_version, urgency, nodsa, nodsa_reason}}}}}`. One Advisory per CVE (ids can
also be `TEMP-…`), one Affected per (source package, release) under `Debian:<number>`.

Status mapping (tracker semantics, https://security-team.debian.org/security_tracker.html):
resolved + fixed_version `0` = never affected; resolved + V = fixed in V; open = no fix yet,
refined by `urgency: end-of-life` and the no-DSA markers (`nodsa_reason` postponed/ignored);
undetermined = not triaged yet.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator
from typing import Any

from patchwarden.core.advisory import (
    Advisory,
    Affected,
    AffectedPackage,
    Reference,
    Severity,
    VendorStatus,
)
from patchwarden.core.errors import MalformedRecord
from patchwarden.feeds.base import ParseReport, keep_storable
from patchwarden.feeds.ranges import ALL_VERSIONS, fixed_in
from patchwarden.feeds.releases import debian_ecosystem

_TRACKER = "https://security-tracker.debian.org/tracker/"


def parse_tracker(
    data: dict[str, Any], report: ParseReport, suspect: bool = True
) -> Iterator[Advisory]:
    """Advisories of a decoded tracker JSON document, grouped by CVE across packages.

    `suspect`: the document may hold NUL or lone surrogates (`base.may_hold_unstorable`), so
    each advisory is checked before it is yielded.
    """
    by_cve: dict[str, list[tuple[str, Any]]] = defaultdict(list)
    for package, cves in data.items():
        if not isinstance(cves, dict):
            report.skip(MalformedRecord(package, "package entry is not an object of CVEs"))
            continue
        for cve, entry in cves.items():
            by_cve[cve].append((package, entry))
    for cve, entries in by_cve.items():
        advisory = _advisory_or_skip(cve, entries, report)
        if advisory is not None and (not suspect or keep_storable(advisory, report)):
            yield advisory


def _advisory_or_skip(
    cve: str, entries: list[tuple[str, Any]], report: ParseReport
) -> Advisory | None:
    return report.attempt(cve, _advisory, cve, entries, report)


def _advisory(cve: str, entries: list[tuple[str, Any]], report: ParseReport) -> Advisory:
    affected: list[Affected] = []
    details = ""
    bugs: list[str] = []
    for package, entry in entries:
        if not isinstance(entry, dict):
            raise MalformedRecord(cve, f"{package}: entry is not an object")
        details = details or str(entry.get("description") or "")
        bug = entry.get("debianbug")
        if bug:
            bugs.append(f"https://bugs.debian.org/{bug}")
        releases = entry.get("releases") or {}
        if isinstance(releases, list) and not releases:
            continue  # the tracker writes `[]` for a package with no release entries
        if not isinstance(releases, dict):
            raise MalformedRecord(cve, f"{package}: releases is not an object")
        for codename, info in releases.items():
            item = _affected(cve, package, codename, info, report)
            if item is not None:
                affected.append(item)
    ratings = [a.severity for a in affected if a.severity]
    refs = [Reference("ADVISORY", _TRACKER + cve)]
    refs.extend(Reference("REPORT", url) for url in dict.fromkeys(bugs))
    return Advisory(
        id=cve,
        source="debian-tracker",
        details=details,
        severity=max(ratings, key=lambda s: s.rank) if ratings else Severity.UNKNOWN,
        affected=tuple(affected),
        references=tuple(refs),
    )


def _affected(
    cve: str, package: str, codename: str, info: Any, report: ParseReport
) -> Affected | None:
    where = f"{package}/{codename}"
    if not isinstance(info, dict):
        raise MalformedRecord(cve, f"{where}: release entry is not an object")
    ecosystem = debian_ecosystem(codename)
    if ecosystem is None:
        report.warn(cve, f"{where}: unknown Debian release {codename!r}; entry dropped")
        return None
    urgency = str(info.get("urgency") or "").rstrip("*")
    severity = None if urgency in ("", "end-of-life") else Severity.parse(urgency)
    pkg = AffectedPackage(ecosystem=ecosystem, name=package)
    status = info.get("status")
    if status == "resolved":
        fixed = info.get("fixed_version")
        if not isinstance(fixed, str) or not fixed:
            raise MalformedRecord(cve, f"{where}: resolved without fixed_version")
        if fixed == "0":
            return Affected(package=pkg, status=VendorStatus.NOT_AFFECTED, severity=severity)
        return Affected(package=pkg, ranges=fixed_in(fixed), severity=severity)
    if status == "open":
        return Affected(
            package=pkg,
            ranges=ALL_VERSIONS,
            status=_open_status(urgency, info),
            severity=severity,
            note=str(info.get("nodsa") or ""),
        )
    if status == "undetermined":
        return Affected(package=pkg, status=VendorStatus.UNDER_INVESTIGATION, severity=severity)
    raise MalformedRecord(cve, f"{where}: unknown status {status!r}")


def _open_status(urgency: str, info: dict[str, Any]) -> VendorStatus:
    if urgency == "end-of-life":
        return VendorStatus.END_OF_LIFE
    reason = info.get("nodsa_reason")
    if reason == "ignored":
        return VendorStatus.WILL_NOT_FIX
    if reason == "postponed" or info.get("nodsa"):
        return VendorStatus.FIX_DEFERRED
    return VendorStatus.AFFECTED
