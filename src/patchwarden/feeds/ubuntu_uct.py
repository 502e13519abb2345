"""Ubuntu CVE Tracker per-CVE files -> `Advisory` (from a directory, a tarball or one file).

Format: the tracker's README ("Package Status") and corpus MANIFEST §1.7. Header fields
(`Candidate`, `PublicDate`, `Priority`, `CVSS`, … with space-indented continuation lines),
then per source package `Patches_<src>:`, optional `Priority_<src>[_<release>]`, and lines
`<release>_<src>: <status> [(<version or note>)]`.

One Advisory per CVE file, one Affected per (release, source package) under the ecosystem
strings Ubuntu's OSV data uses (`Ubuntu:18.04:LTS`, `Ubuntu:Pro:14.04:LTS` for `*/esm`), so
tracker and OSV data meet under one key. Left out on purpose: `DNE` lines (no such package:
nothing to match), and the `upstream`, `devel`, `product`, `snap` and `vivid/<overlay>` keys,
which are not releases a host runs (`devel` moves between snapshots).

Status -> VendorStatus: released (V) -> FIXED in V; released-esm (V) -> FIXED in V under
`Ubuntu:Pro:…`, plus AFFECTED under the plain release, whose archive has no fix;
needed / active / pending -> AFFECTED ("no fix yet", R-D9: a pending fix is not published);
deferred -> FIX_DEFERRED; ignored (…end-of-life / out of standard support) -> END_OF_LIFE;
other ignored -> WILL_NOT_FIX; not-affected -> NOT_AFFECTED; needs-triage ->
UNDER_INVESTIGATION.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

from patchwarden.core.advisory import (
    Advisory,
    Affected,
    AffectedPackage,
    Reference,
    Severity,
    VendorStatus,
)
from patchwarden.core.errors import MalformedRecord
from patchwarden.feeds.base import FeedItem, FeedParser, ParseReport, unstorable
from patchwarden.feeds.containers import Member, iter_members
from patchwarden.feeds.ranges import ALL_VERSIONS, fixed_in
from patchwarden.feeds.releases import ubuntu_ecosystem
from patchwarden.feeds.scoring import base_score, cvss_version

_NOT_RELEASES = {"upstream", "devel", "product", "snap"}
_EOL = re.compile(r"end[- ]of[- ]life|out of standard support|\beol\b", re.IGNORECASE)
_DATE = re.compile(r"^(\d{4}-\d{2}-\d{2})(?:[ T](\d{2}:\d{2}(?::\d{2})?))?")
_VECTOR = re.compile(r"(CVSS:[34]\.\d/\S+|AV:[LAN]/AC:[HML]/Au:[MSN]/C:[NPC]/I:[NPC]/A:[NPC])")


class UbuntuUctParser(FeedParser):
    """Ubuntu CVE Tracker `active/`, `retired/`, `ignored/` CVE files (dir or tarball)."""

    kind = "ubuntu-uct"
    version = 1
    description = "Ubuntu CVE Tracker CVE files: directory, .tar.xz/.tar.gz, or one file"
    checks_text = True

    def _parse(self, path: Path, report: ParseReport) -> Iterator[FeedItem]:
        for member in iter_members(path, _is_cve_file, report):
            advisory = _member_or_skip(member, report)
            if advisory is not None:
                yield advisory


def _member_or_skip(member: Member, report: ParseReport) -> Advisory | None:
    return report.attempt(member.name, _parse_member, member, report)


def _parse_member(member: Member, report: ParseReport) -> Advisory:
    try:
        text = member.data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise MalformedRecord(member.name, f"not UTF-8 text: {exc}") from None
    advisory = parse_cve_file(text, member.name, report)
    # Strict UTF-8 text holds no lone surrogate; NUL is the one character to look for.
    if "\x00" in text:
        problem = unstorable(advisory)
        if problem is not None:
            raise MalformedRecord(advisory.id, problem)
    return advisory


def _is_cve_file(name: str) -> bool:
    return name.rpartition("/")[2].startswith("CVE-")


@cache
def _ecosystem(codename: str, pro: bool) -> str | None:
    return ubuntu_ecosystem(codename, pro=pro)


@dataclass
class _Fields:
    """A CVE file split into header fields, priorities and status lines."""

    header: dict[str, list[str]] = field(default_factory=dict)
    priorities: dict[tuple[str, str], str] = field(default_factory=dict)
    """(source, release or "") -> priority word."""
    statuses: list[tuple[int, str, str, str]] = field(default_factory=list)
    """(line number, release key, source package, status text)."""


def parse_cve_file(text: str, name: str, report: ParseReport) -> Advisory:
    """One UCT CVE file -> Advisory; `name` identifies it in errors if `Candidate` is missing."""
    fields = _split(text, name, report)
    rid = " ".join(fields.header.get("Candidate", [])).strip()
    if not rid:
        raise MalformedRecord(name, "no Candidate field")
    affected = _affected(rid, fields, report)
    score, vector = _cvss(rid, fields.header.get("CVSS", []), report)
    priority = _priority_word(" ".join(fields.header.get("Priority", [])))
    ratings = [a.severity for a in affected if a.severity]
    if priority is not None:
        severity = priority
    elif ratings:
        severity = max(ratings, key=lambda s: s.rank)
    else:
        severity = Severity.from_cvss(score)
    refs = [Reference("WEB", u) for u in _words(fields.header.get("References", []))]
    refs += [Reference("REPORT", u) for u in _words(fields.header.get("Bugs", []))]
    return Advisory(
        id=rid,
        source="ubuntu-uct",
        summary=" ".join(fields.header.get("Ubuntu-Description", [])).strip(),
        details=" ".join(fields.header.get("Description", [])).strip(),
        published=_iso(rid, " ".join(fields.header.get("PublicDate", [])), report),
        severity=severity,
        cvss_score=score,
        cvss_vector=vector,
        affected=tuple(affected),
        references=tuple(refs),
    )


def _split(text: str, name: str, report: ParseReport) -> _Fields:
    out = _Fields()
    current: list[str] | None = None  # the header field continuation lines belong to
    for number, line in enumerate(text.split("\n"), start=1):
        if not line:
            current = None
            continue
        first = line[0]
        if first in " \t":
            stripped = line.strip()
            if not stripped:
                current = None
            elif current is not None:
                current.append(stripped)
            continue
        if first == "#":
            continue  # README: commented-out lines are not data
        key, sep, value = line.partition(":")
        key = key.strip()
        if not sep or not key:
            report.warn(name, f"line {number}: not a field: {line[:60]!r}")
            current = None
            continue
        current = None
        if first.islower() and "_" in key:
            release, _, src = key.partition("_")
            # Cheap early exits: 3 of 4 status lines are DNE or non-release keys (upstream…).
            if release not in _NOT_RELEASES and value.strip() != "DNE":
                out.statuses.append((number, release, src, value))
        elif key.startswith(("Patches_", "Tags_")):
            continue  # patch links and hardening tags: nothing the matcher uses
        elif key.startswith("Priority_"):
            src, _, release = key[len("Priority_") :].partition("_")
            out.priorities[(src, release)] = value.strip()
        elif first.isupper():
            current = out.header.setdefault(key, [])
            if value.strip():
                current.append(value.strip())
        else:
            report.warn(name, f"line {number}: unknown field {key!r}")
    return out


def _affected(rid: str, fields: _Fields, report: ParseReport) -> list[Affected]:
    explicit: dict[tuple[str, str], Affected] = {}
    derived: dict[tuple[str, str], Affected] = {}
    for number, release_key, src, value in fields.statuses:
        codename, slash, variant = release_key.partition("/")
        if slash and variant != "esm":
            continue  # an overlay such as vivid/ubuntu-core: not a release a host runs
        pro = variant == "esm"
        ecosystem = _ecosystem(codename, pro)
        if ecosystem is None:
            report.warn(rid, f"line {number}: unknown Ubuntu release {release_key!r}")
            continue
        status, _, rest = value.strip().partition(" ")
        text = _unparen(rid, number, rest.strip(), report) if rest else ""
        prio = fields.priorities.get((src, codename)) or fields.priorities.get((src, ""))
        severity = _priority_word(prio) if prio else None
        pkg = AffectedPackage(ecosystem=ecosystem, name=src)
        item = _status_entry(rid, number, pkg, status, text, severity, report)
        if item is None:
            continue
        explicit[(ecosystem, src)] = item
        if status == "released-esm" and not pro:
            # The fix is only in ESM: FIXED under Pro (unless a */esm line says more) and
            # still vulnerable, with no fix available, in the plain archive.
            pro_eco = _ecosystem(codename, True)
            assert pro_eco is not None  # codename is known: ubuntu_ecosystem() said so
            derived[(pro_eco, src)] = Affected(
                AffectedPackage(pro_eco, src), item.ranges, severity=severity
            )
            explicit[(ecosystem, src)] = Affected(
                pkg,
                ALL_VERSIONS,
                status=VendorStatus.AFFECTED,
                severity=severity,
                note=f"fixed only in Ubuntu Pro (ESM): {text}",
            )
    merged = dict(derived)
    merged.update(explicit)
    return list(merged.values())


def _status_entry(
    rid: str,
    number: int,
    pkg: AffectedPackage,
    status: str,
    text: str,
    severity: Severity | None,
    report: ParseReport,
) -> Affected | None:
    """One status line -> Affected; None for DNE (and, with a warning, unknown statuses)."""
    if status == "DNE":
        return None
    if status in ("released", "released-esm"):
        if not text:
            report.warn(rid, f"line {number}: {status} without a version; no range kept")
            return Affected(pkg, severity=severity, note=f"{status} (no version given)")
        return Affected(pkg, fixed_in(text), severity=severity)
    if status in ("needed", "active", "pending"):
        note = f"fix pending publication: {text}" if status == "pending" and text else text
        return Affected(
            pkg, ALL_VERSIONS, status=VendorStatus.AFFECTED, severity=severity, note=note
        )
    if status == "deferred":
        return Affected(
            pkg, ALL_VERSIONS, status=VendorStatus.FIX_DEFERRED, severity=severity, note=text
        )
    if status == "ignored":
        eol = bool(_EOL.search(text))
        verdict = VendorStatus.END_OF_LIFE if eol else VendorStatus.WILL_NOT_FIX
        return Affected(pkg, ALL_VERSIONS, status=verdict, severity=severity, note=text)
    if status == "not-affected":
        return Affected(pkg, status=VendorStatus.NOT_AFFECTED, severity=severity, note=text)
    if status == "needs-triage":
        return Affected(pkg, status=VendorStatus.UNDER_INVESTIGATION, severity=severity)
    report.warn(rid, f"line {number}: unknown status {status!r}; line dropped")
    return None


def _unparen(rid: str, number: int, rest: str, report: ParseReport) -> str:
    """`(1.2-3)` -> `1.2-3`, accepting the one-sided forms found in real files (MANIFEST §1.7)."""
    if rest.startswith("(") and rest.endswith(")"):
        return rest[1:-1].strip()
    if rest.startswith("("):
        report.warn(rid, f"line {number}: missing ')' in {rest!r}")
        return rest[1:].strip()
    if rest.endswith(")"):
        report.warn(rid, f"line {number}: missing '(' in {rest!r}")
        return rest[:-1].strip()
    return rest


def _priority_word(text: str | None) -> Severity | None:
    """`medium (reduced to DoS by AppArmor)` -> MEDIUM; empty or `untriaged` -> None."""
    words = (text or "").split()
    if not words or words[0] == "untriaged":
        return None
    return Severity.parse(words[0])


def _cvss(rid: str, lines: list[str], report: ParseReport) -> tuple[float | None, str]:
    best: tuple[int, float, str] | None = None
    for vector in _VECTOR.findall(" ".join(lines)):
        try:
            score = base_score(vector)
        except ValueError as exc:
            report.warn(rid, str(exc))
            continue
        if best is None or cvss_version(vector) > best[0]:
            best = (cvss_version(vector), score, vector)
    return (best[1], best[2]) if best else (None, "")


def _iso(rid: str, text: str, report: ParseReport) -> str:
    """`2019-03-06 21:29:00 UTC` -> `2019-03-06T21:29:00Z` (OSV uses RFC 3339)."""
    text = text.strip()
    match = _DATE.match(text)
    if not match:
        if text:
            report.warn(rid, f"PublicDate {text!r} is not a date; kept as is")
        return text
    day, clock = match.groups()
    if not clock:
        return day
    return f"{day}T{clock}Z" if clock.count(":") == 2 else f"{day}T{clock}:00Z"


def _words(lines: list[str]) -> list[str]:
    return [w for line in lines for w in line.split() if "://" in w]
