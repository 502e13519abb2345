"""Advisories, mirrored on the OSV schema (STYLE D3): every feed parses into these.

`VendorStatus` keeps the vendor's own fix state (trivy-db vocabulary) apart from our record
state. Keep Python 3.9 syntax.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum
from functools import cached_property
from typing import Optional, Tuple, Union


class Severity(str, Enum):
    """Normalised severity; `rank` orders them."""

    CRITICAL = "critical"
    HIGH = "high"
    MEDIUM = "medium"
    LOW = "low"
    NONE = "none"
    UNKNOWN = "unknown"

    @property
    def rank(self) -> int:
        """4 for critical … 0 for none/unknown."""
        return _RANK[self]

    @classmethod
    def parse(cls, text: Optional[str]) -> Severity:
        """Map a vendor word (Important, moderate, negligible, …) onto our scale."""
        if not text:
            return cls.UNKNOWN
        return _ALIASES.get(text.strip().lower(), cls.UNKNOWN)

    @classmethod
    def from_cvss(cls, score: Optional[float]) -> Severity:
        """CVSS v3 qualitative rating of a base score."""
        if score is None:
            return cls.UNKNOWN
        if score >= 9.0:
            return cls.CRITICAL
        if score >= 7.0:
            return cls.HIGH
        if score >= 4.0:
            return cls.MEDIUM
        if score > 0.0:
            return cls.LOW
        return cls.NONE


_RANK = {
    Severity.CRITICAL: 4,
    Severity.HIGH: 3,
    Severity.MEDIUM: 2,
    Severity.LOW: 1,
    Severity.NONE: 0,
    Severity.UNKNOWN: 0,
}
_ALIASES = {
    "critical": Severity.CRITICAL,
    "urgent": Severity.CRITICAL,
    "high": Severity.HIGH,
    "important": Severity.HIGH,
    "medium": Severity.MEDIUM,
    "moderate": Severity.MEDIUM,
    "low": Severity.LOW,
    "negligible": Severity.LOW,
    "unimportant": Severity.LOW,
    "none": Severity.NONE,
    "not yet assigned": Severity.UNKNOWN,
    "unknown": Severity.UNKNOWN,
}


class VendorStatus(str, Enum):
    """The vendor's statement about one affected package (trivy-db vocabulary)."""

    FIXED = "fixed"
    """A fixed version exists (events carry it)."""
    AFFECTED = "affected"
    """Vulnerable, no fix published yet (R-D9 "no fix yet")."""
    FIX_DEFERRED = "fix_deferred"
    WILL_NOT_FIX = "will_not_fix"
    END_OF_LIFE = "end_of_life"
    NOT_AFFECTED = "not_affected"
    UNDER_INVESTIGATION = "under_investigation"


class EventKind(str, Enum):
    """OSV range event kinds."""

    INTRODUCED = "introduced"
    FIXED = "fixed"
    LAST_AFFECTED = "last_affected"
    LIMIT = "limit"


@dataclass(frozen=True)
class Event:
    """One OSV range event; exactly one kind per event."""

    kind: EventKind
    version: str


@dataclass(frozen=True)
class Range:
    """An OSV range: `ECOSYSTEM`, `SEMVER` or `GIT` with its ordered events."""

    type: str
    events: Tuple[Event, ...]


@dataclass(frozen=True)
class AffectedPackage:
    """OSV `affected[].package`."""

    ecosystem: str
    """With release suffix where the source has one: `Debian:12`, `Ubuntu:18.04:LTS`."""
    name: str
    purl: str = ""


@dataclass(frozen=True)
class Affected:
    """OSV `affected[]` entry plus the vendor status and source→binary mapping."""

    package: AffectedPackage
    ranges: Tuple[Range, ...] = ()
    versions: Tuple[str, ...] = ()
    status: VendorStatus = VendorStatus.FIXED
    binaries: Tuple[str, ...] = ()
    """Binary packages built from this source (`ecosystem_specific.binaries`); empty = all."""
    severity: Optional[Severity] = None
    """Per-package severity when the source gives one (UCT `Priority_<src>`)."""
    note: str = ""
    """Vendor note (e.g. UCT `ignored (reached end-of-life)`)."""
    modules: Tuple[str, ...] = ()
    """RHEL modularity streams (`nginx:1.22`) whose builds the fixed versions are."""


@dataclass(frozen=True)
class Reference:
    """OSV `references[]`."""

    type: str
    url: str


@dataclass(frozen=True)
class Advisory:
    """One advisory (OSV record, DSA, UCT CVE file, …) after parsing."""

    id: str
    source: str
    """Feed kind that produced it: osv, debian-tracker, ubuntu-uct, alpine-secdb."""
    aliases: Tuple[str, ...] = ()
    summary: str = ""
    details: str = ""
    modified: str = ""
    published: str = ""
    withdrawn: str = ""
    severity: Severity = Severity.UNKNOWN
    cvss_score: Optional[float] = None
    cvss_vector: str = ""
    affected: Tuple[Affected, ...] = ()
    references: Tuple[Reference, ...] = ()
    related: Tuple[str, ...] = ()
    restart_required: bool = False
    """The source tags the fix as needing a restart/reboot (R-F4)."""

    @cached_property
    def cves(self) -> Tuple[str, ...]:
        """CVE ids among id, aliases and related ids, in order, without duplicates.

        AlmaLinux and Rocky records list their CVEs under `related`, not `aliases`.
        """
        ids = (self.id, *self.aliases, *self.related)
        seen = dict.fromkeys(i for i in ids if i.startswith("CVE-"))
        return tuple(seen)


@dataclass(frozen=True)
class KevEntry:
    """A CISA Known Exploited Vulnerabilities catalogue entry (R-D10)."""

    cve: str
    vendor: str = ""
    product: str = ""
    name: str = ""
    date_added: str = ""
    due_date: str = ""
    ransomware: bool = False


@dataclass(frozen=True)
class EpssScore:
    """FIRST EPSS probability of exploitation for one CVE."""

    cve: str
    epss: float
    percentile: float
    date: str = ""


class RatingSource(str, Enum):
    """Who rated a CVE: a distro's security team, NVD, or GitHub's advisory database.

    `Match.severity_source` uses these values, the advisory's own source when no name of
    this list fits it, and `unrated`.
    """

    UBUNTU = "ubuntu"
    DEBIAN = "debian"
    ALMALINUX = "almalinux"
    ROCKY = "rocky"
    REDHAT = "redhat"
    ALPINE = "alpine"
    NVD = "nvd"
    GHSA = "ghsa"


UNRATED = "unrated"
"""`Match.severity_source` of a finding nothing rated."""


@dataclass(frozen=True)
class CveRating:
    """One source's rating of one CVE, kept in the rating index (issue 8).

    Distro feeds give them through their advisories (`core.ratings.ratings_of`); the NVD
    feed yields them directly, as NVD describes CVEs, not affected package versions.
    """

    cve: str
    source: str
    """A `RatingSource` value (or the advisory's source when none fits)."""
    severity: Severity = Severity.UNKNOWN
    cvss_score: Optional[float] = None
    cvss_vector: str = ""
    title: str = ""
    """One line: the advisory's summary, or the start of NVD's description."""
    references: Tuple[str, ...] = ()
    """URLs."""
    modified: str = ""
    """When the source last changed its record (the newest wins between imports)."""
    exact: bool = True
    """False when the rating is an erratum's, shared by several CVEs (the worst of them)."""

    @property
    def rated(self) -> bool:
        """Whether it says anything about severity: a severity word or a CVSS score."""
        return self.severity is not Severity.UNKNOWN or self.cvss_score is not None


FeedItem = Union[Advisory, KevEntry, EpssScore, CveRating]
"""What a feed parser yields and an advisory store keeps."""
