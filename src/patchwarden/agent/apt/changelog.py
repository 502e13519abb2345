"""Debian changelogs: the entries a pending update adds, and the CVE/DSA ids they name.

Format (Debian Policy §4.4): entries newest first, each

    package (version) distribution(s); urgency=medium[, key=value…]
    <blank>
      * change details, often "CVE-2024-1234: …" for security uploads
    <blank>
     -- Maintainer Name <email>  Day, DD Mon YYYY HH:MM:SS +ZZZZ

The header pattern is dpkg's (`Dpkg::Changelog::Entry::Debian`, regex_header). Anything else
at column 0 ends the parseable part ("Old Changelog:", "Local variables:", pre-1997 styles),
as it does for dpkg-parsechangelog.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import List, Optional, Tuple

from patchwarden.core.errors import InvalidVersion
from patchwarden.core.versions import dpkg

_HEADER = re.compile(
    r"^(?P<package>\w[-+0-9a-z.]*) \((?P<version>[^() \t]+)\)"
    r"(?P<dists>(?:\s+[-+0-9a-z./]+)+);(?P<options>.*?)\s*$",
    re.IGNORECASE,
)
_TRAILER = re.compile(r"^ -- .*<.*>")
CVE_ID = re.compile(r"\bCVE-\d{4}-\d{4,}\b")
# Debian/Ubuntu advisory ids sometimes named in security uploads ("DSA-5678-1", "DLA-3456-1").
ADVISORY_ID = re.compile(r"\b(?:DSA|DLA|USN)-\d+(?:-\d+)?\b")

URGENCY_ORDER = ("low", "medium", "high", "emergency", "critical")
"""Debian Policy §5.6.17 urgency values, least to most urgent."""


@dataclass(frozen=True)
class ChangelogEntry:
    """One changelog entry."""

    package: str
    version: str
    distributions: Tuple[str, ...]
    urgency: str
    """Lower-cased first word of `urgency=` ("" when absent)."""
    cves: Tuple[str, ...]
    advisories: Tuple[str, ...]


@dataclass(frozen=True)
class ChangelogFindings:
    """What the entries newer than the installed version say."""

    cves: Tuple[str, ...]
    advisories: Tuple[str, ...]
    urgency: Optional[str]
    """The most urgent `urgency=` among those entries (Policy §5.6.17 order)."""
    versions: Tuple[str, ...]
    """Versions of the entries taken, newest first."""
    reached_installed: bool
    """False when the changelog ended before an entry <= the installed version."""


def parse_changelog(text: str) -> List[ChangelogEntry]:
    """Parse changelog text into entries, newest first (as written)."""
    entries: List[ChangelogEntry] = []
    header: Optional[re.Match[str]] = None
    body: List[str] = []
    for line in text.splitlines():
        match = _HEADER.match(line)
        if match:
            if header is not None:
                entries.append(_entry(header, body))
            header, body = match, []
            continue
        if not line or line[0] in " \t":
            body.append(line)  # change details and the " -- maintainer" trailer
            continue
        break  # column-0 text that is not a header: end of the parseable changelog
    if header is not None:
        entries.append(_entry(header, body))
    return entries


def _entry(header: re.Match[str], body: List[str]) -> ChangelogEntry:
    """Build one entry from its header match and body lines."""
    urgency = ""
    for option in header["options"].split(","):
        key, _, value = option.strip().partition("=")
        if key.lower() == "urgency" and value.strip():
            urgency = value.split()[0].lower()
    text = "\n".join(line for line in body if not _TRAILER.match(line))
    return ChangelogEntry(
        package=header["package"],
        version=header["version"],
        distributions=tuple(header["dists"].split()),
        urgency=urgency,
        cves=_unique(CVE_ID.findall(text)),
        advisories=_unique(ADVISORY_ID.findall(text)),
    )


def _unique(items: List[str]) -> Tuple[str, ...]:
    """Items in first-seen order without duplicates."""
    return tuple(dict.fromkeys(items))


def newer_than(entries: List[ChangelogEntry], installed_version: str) -> ChangelogFindings:
    """Collect the entries above the installed source version (stop at the first <= it)."""
    taken: List[ChangelogEntry] = []
    reached = False
    for entry in entries:
        try:
            older_or_same = dpkg.key(entry.version) <= dpkg.key(installed_version)
        except InvalidVersion:
            older_or_same = False  # an unparsable old entry cannot prove we reached "installed"
        if older_or_same:
            reached = True
            break
        taken.append(entry)
    urgencies = [e.urgency for e in taken if e.urgency in URGENCY_ORDER]
    return ChangelogFindings(
        cves=_unique([c for e in taken for c in e.cves]),
        advisories=_unique([a for e in taken for a in e.advisories]),
        urgency=max(urgencies, key=URGENCY_ORDER.index) if urgencies else None,
        versions=tuple(e.version for e in taken),
        reached_installed=reached,
    )
