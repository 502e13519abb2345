"""Debian advisory lists (`data/DSA/list`, `data/DLA/list`, `data/DTSA/list`) -> `Advisory`.

The security tracker's text format, one entry per advisory::

    [29 Mar 2023] DSA-5380-1 xorg-server - security update
    \t{CVE-2023-1393}
    \t[bullseye] - xorg-server 2:1.20.11-1+deb11u6
    \t[buster] - foo <not-affected> (Vulnerable code not present)
    \tNOTE: fixed in testing at time of DSA

One Advisory per DSA/DLA/DTSA (aliases = its CVEs), one Affected per (release, source
package). The file is read line by line; an entry with a line we do not understand is
skipped and counted, the rest of the file goes on.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TextIO

from patchwarden.core.advisory import (
    Advisory,
    Affected,
    AffectedPackage,
    Reference,
    Severity,
    VendorStatus,
)
from patchwarden.core.errors import FeedError, MalformedRecord
from patchwarden.core.text import text_problem
from patchwarden.feeds.base import ParseReport
from patchwarden.feeds.ranges import ALL_VERSIONS, fixed_in
from patchwarden.feeds.releases import debian_ecosystem

_HEADER = re.compile(r"^\[(?P<date>[^\]]+)\]\s+(?P<id>D[LST]+A-\d+(?:-\d+)?)\s*(?P<rest>.*)$")
_CVES = re.compile(r"^\s+\{(?P<ids>[^}]*)\}\s*$")
_RELEASE = re.compile(
    r"^\s+\[(?P<release>[a-z-]+)\]\s+-\s+(?P<package>\S+)\s+(?P<version>\S+)"
    r"(?:\s+\((?P<paren>.*)\))?\s*$"
)
_NOTE = re.compile(r"^\s+NOTE:\s?(?P<text>.*)$")

# Tracker markers in place of a version (security-tracker README, "data/CVE/list" syntax).
_MARKERS = {
    "<not-affected>": VendorStatus.NOT_AFFECTED,
    "<unfixed>": VendorStatus.AFFECTED,
    "<end-of-life>": VendorStatus.END_OF_LIFE,
    "<no-dsa>": VendorStatus.FIX_DEFERRED,
    "<postponed>": VendorStatus.FIX_DEFERRED,
    "<ignored>": VendorStatus.WILL_NOT_FIX,
    "<undetermined>": VendorStatus.UNDER_INVESTIGATION,
}
_STILL_VULNERABLE = {
    VendorStatus.AFFECTED,
    VendorStatus.END_OF_LIFE,
    VendorStatus.FIX_DEFERRED,
    VendorStatus.WILL_NOT_FIX,
}
_URGENCIES = {"unimportant", "low", "medium", "high"}
_TRACKER = "https://security-tracker.debian.org/tracker/"


@dataclass
class _Entry:
    """An advisory being read; lines accumulate until the next header."""

    id: str
    line: int
    date: str
    title: str
    cves: list[str] = field(default_factory=list)
    affected: list[Affected] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    error: str = ""


def parse_list(stream: TextIO, path: Path, report: ParseReport) -> Iterator[Advisory]:
    """Stream the advisories of one list file; FeedError if it is not such a list."""
    entry: _Entry | None = None
    for number, raw in enumerate(stream, start=1):
        line = raw.rstrip("\n")
        # Every string of an advisory comes from its lines: one that cannot be stored (NUL,
        # a byte that is not UTF-8, kept by surrogateescape) spoils the advisory it is in.
        problem = text_problem(line)
        header = _HEADER.match(line)
        if header:
            if entry is not None:
                yield from _finish(entry, report)
            entry = _Entry(header["id"], number, header["date"], header["rest"].strip())
            if problem:
                entry.error = f"line {number} {problem}"
            continue
        if not line.strip():
            continue
        if entry is None:
            raise FeedError(
                f"{path}: not a Debian DSA/DLA/DTSA list (line {number}: {line[:60]!r})"
            )
        if problem and not entry.error:
            entry.error = f"line {number} {problem}"
        if not entry.error:
            try:
                entry.error = _add_line(entry, line, number, report)
            except Exception as exc:  # one advisory's line never ends the file (STYLE E4)
                entry.error = f"line {number}: cannot be read: {type(exc).__name__}: {exc}"
    if entry is None:
        raise FeedError(f"{path}: not a Debian DSA/DLA/DTSA list (no advisory header)")
    yield from _finish(entry, report)


def _add_line(entry: _Entry, line: str, number: int, report: ParseReport) -> str:
    """Fold one body line into `entry`; returns an error text if the line is not understood."""
    cves = _CVES.match(line)
    if cves:
        entry.cves.extend(cves["ids"].split())
        return ""
    note = _NOTE.match(line)
    if note:
        entry.notes.append(note["text"])
        return ""
    release = _RELEASE.match(line)
    if not release:
        return f"line {number}: not understood: {line.strip()[:80]!r}"
    ecosystem = debian_ecosystem(release["release"])
    if ecosystem is None:
        report.warn(entry.id, f"line {number}: unknown Debian release {release['release']!r}")
        return ""
    version = release["version"]
    severity, note_text = _paren(release["paren"] or "")
    package = AffectedPackage(ecosystem=ecosystem, name=release["package"])
    if version.startswith("<"):
        status = _MARKERS.get(version)
        if status is None:
            return f"line {number}: unknown marker {version}"
        ranges = ALL_VERSIONS if status in _STILL_VULNERABLE else ()
        entry.affected.append(
            Affected(package, ranges, status=status, severity=severity, note=note_text)
        )
        return ""
    entry.affected.append(Affected(package, fixed_in(version), severity=severity, note=note_text))
    return ""


def _paren(text: str) -> tuple[Severity | None, str]:
    """`(medium)`, `(bug #332424; medium)` or a free note -> (urgency, note)."""
    severity = None
    notes = []
    for part in (p.strip() for p in text.split(";")):
        if part.lower() in _URGENCIES:
            severity = Severity.parse(part)
        elif part:
            notes.append(part)
    return severity, "; ".join(notes)


def _finish(entry: _Entry, report: ParseReport) -> Iterator[Advisory]:
    advisory = report.attempt(entry.id, _advisory, entry)
    if advisory is not None:
        yield advisory


def _advisory(entry: _Entry) -> Advisory:
    if entry.error:
        raise MalformedRecord(entry.id, entry.error)
    try:
        published = _iso_date(entry.date)
    except ValueError:
        raise MalformedRecord(entry.id, f"line {entry.line}: bad date {entry.date!r}") from None
    ratings = [a.severity for a in entry.affected if a.severity]
    return Advisory(
        id=entry.id,
        source="debian-tracker",
        aliases=tuple(dict.fromkeys(entry.cves)),
        summary=entry.title,
        details="\n".join(entry.notes),
        published=published,
        severity=max(ratings, key=lambda s: s.rank) if ratings else Severity.UNKNOWN,
        affected=tuple(entry.affected),
        references=(Reference("ADVISORY", _TRACKER + entry.id),),
    )


def _iso_date(text: str) -> str:
    """`29 Mar 2023` (DSA/DLA) or `August 26th, 2005` (DTSA) -> `2023-03-29`."""
    plain = re.sub(r"(\d)(st|nd|rd|th),", r"\1", text.strip())
    # DSA/DLA lists abbreviate the month and put the day first; DTSA spells both out.
    fmt = "%d %b %Y" if plain[:1].isdigit() else "%B %d %Y"
    return datetime.strptime(plain, fmt).date().isoformat()
