"""Matching: is an installed version affected by an advisory entry? (OSV schema §Evaluation)

`evaluate()` is the OSV reference algorithm on pre-built version keys; `match_query()` turns
one installed package's lookup key and its candidate advisories into `Match` values carrying
their evidence (STYLE D4) and how they were found (R-D12).
"""

from __future__ import annotations

import weakref
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from enum import Enum
from typing import Any, Dict, Union

from patchwarden.core.advisory import (
    UNRATED,
    Advisory,
    Affected,
    EventKind,
    Range,
    Severity,
    VendorStatus,
)
from patchwarden.core.app_instances import AppComponent, AppProcess
from patchwarden.core.errors import InvalidVersion
from patchwarden.core.inventory import Evidence, Inventory, Package
from patchwarden.core.modularity import module_applies
from patchwarden.core.ratings import (
    MAX_REFERENCES,
    advisory_rated,
    advisory_title,
    rating_source,
    urls,
)
from patchwarden.core.versions import key_function
from patchwarden.core.vocabulary import VulnType


class Method(str, Enum):
    """How a finding was detected (R-D12)."""

    DISTRO_ADVISORY = "distro-advisory"
    """A distro advisory evaluated against an installed package version."""
    RUNNING_KERNEL = "running-kernel"
    """A kernel advisory evaluated against the running kernel's package."""
    NEWEST_KERNEL = "newest-kernel"
    """Kernel of a root that is not booted here: the newest installed kernel stands in."""
    REPOSITORY_UPDATE = "repository-update"
    """A security update the host's own repositories offer (repository check)."""
    JAR_METADATA = "jar-metadata"
    """An application advisory on a JAR a running process holds, named by its metadata
    (pom.properties, MANIFEST.MF)."""
    PACKAGE_METADATA = "package-metadata"
    """An application advisory on a Python distribution or npm package a running process
    uses, named by its metadata (dist-info, package.json)."""
    FILE_NAME = "file-name"
    """An application advisory on a component named only by its file name (low confidence)."""
    FINGERPRINT = "binary-fingerprint"
    """An application advisory on a server product recognised by a fingerprint rule."""

    @property
    def evidence(self) -> Evidence:
        """What an inventory must cover for a non-detection by this method to count."""
        return METHOD_EVIDENCE[self]


METHOD_EVIDENCE: Mapping[Method, Evidence] = {
    Method.DISTRO_ADVISORY: Evidence.INSTALLED_PACKAGES,
    # Kernels are found through the installed kernel packages (the kernel collector reads
    # what the package collectors found).
    Method.RUNNING_KERNEL: Evidence.INSTALLED_PACKAGES,
    Method.NEWEST_KERNEL: Evidence.INSTALLED_PACKAGES,
    Method.REPOSITORY_UPDATE: Evidence.PENDING_UPDATES,
    # Application findings rest on the list of running processes and what they hold.
    Method.JAR_METADATA: Evidence.RUNNING_PROCESSES,
    Method.PACKAGE_METADATA: Evidence.RUNNING_PROCESSES,
    Method.FILE_NAME: Evidence.RUNNING_PROCESSES,
    Method.FINGERPRINT: Evidence.RUNNING_PROCESSES,
}
"""Detection method -> the evidence kind clearing its findings needs (STYLE E3)."""


def covers(inventory: Inventory, method: Method) -> bool:
    """Could `inventory` have seen a finding detected by `method`? (STYLE E3)

    Only then may its not detecting the finding clear it: the evidence kind the method rests
    on must be in `Inventory.covered`, i.e. collected completely, no collector of that kind
    having failed or warned. An inventory of an older agent covers nothing.
    """
    return method.evidence.value in inventory.covered


class Confidence(str, Enum):
    """How sure a finding is (DESIGN §4)."""

    CONFIRMED = "confirmed"
    HIGH = "high"
    MEDIUM = "medium"
    LOW = "low"


# Vendor statuses that mean "vulnerable and no fixed version published" (R-D9).
NO_FIX_STATUSES = frozenset({VendorStatus.AFFECTED, VendorStatus.FIX_DEFERRED})
# Reported only on request: the vendor decided not to fix (Trivy shows them; the Ubuntu
# tracker's `ignored` lines are of this kind).
WONT_FIX_STATUSES = frozenset({VendorStatus.WILL_NOT_FIX, VendorStatus.END_OF_LIFE})
_RPM_SCHEMES = frozenset({"rpm", "rpm-el"})

_NO_FIX_REASON = {
    VendorStatus.AFFECTED: "no fix yet: the vendor has published no fixed version",
    VendorStatus.FIX_DEFERRED: "no fix yet: the vendor deferred the fix",
    VendorStatus.WILL_NOT_FIX: "the vendor will not fix this",
    VendorStatus.END_OF_LIFE: "no fix: the package or release is end-of-life for the vendor",
}


@dataclass(frozen=True)
class Verdict:
    """Outcome of evaluating one affected entry against one version."""

    fixed_version: str | None
    """The fix that ends the vulnerable interval the version lies in; None when none is known."""
    range_type: str
    """ECOSYSTEM, SEMVER or `versions` (matched by the explicit versions list)."""


@dataclass(frozen=True)
class Query:
    """What a family driver asks the index for: one installed package under one key."""

    package: Package
    ecosystem: str
    name: str
    """Name the advisories use: Debian/Ubuntu source, RPM binary, Alpine origin."""
    version: str
    """Installed version in that name's scheme (source version for Debian/Ubuntu)."""
    scheme: str
    method: Method = Method.DISTRO_ADVISORY
    confidence: Confidence = Confidence.HIGH
    note: str = ""
    restart_required: bool = False
    """The package is the (running) kernel: any fix of it takes a reboot (R-F4)."""


@dataclass(frozen=True)
class Match:
    """One finding: an installed binary package affected by one vulnerability."""

    id: str
    """CVE id when the advisory is about one CVE, else the advisory id (DSA-…, ALSA-…)."""
    cves: tuple[str, ...]
    package: str
    source_package: str
    installed_version: str
    fixed_version: str | None
    severity: Severity
    cvss: float | None
    method: Method
    confidence: Confidence
    type: str = VulnType.LINUX.value
    exploitable: bool = False
    epss: float | None = None
    restart_required: bool = False
    reason: str = ""
    advisories: tuple[str, ...] = ()
    """Ids of every advisory that contributed (evidence)."""
    ecosystem: str = ""
    lookup_name: str = ""
    range_type: str = ""
    summary: str = ""
    severity_source: str = UNRATED
    """Who rated it (`core.advisory.RatingSource` value, the advisory's source, `unrated`)."""
    cvss_vector: str = ""
    title: str = ""
    """One line naming the vulnerability (advisory summary, else the rating index's)."""
    references: tuple[str, ...] = ()
    """URLs, at most `core.ratings.MAX_REFERENCES`."""
    process: AppProcess | None = None
    """The running process of an application finding (type `app`, R-D1); None otherwise."""
    component: AppComponent | None = None
    """The component of an application finding that the advisory names."""
    instance: str = ""
    """Identity of that process instance (`core.app_instances.instance_keys`)."""

    def to_dict(self) -> dict[str, Any]:
        """The scan JSON shape of a finding (application findings add `process` and
        `component`)."""
        data = self._common_dict()
        if self.process is not None:
            data["process"] = self.process.to_dict()
        if self.component is not None:
            data["component"] = self.component.to_dict()
        return data

    def _common_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "cves": list(self.cves),
            "type": self.type,
            "package": self.package,
            "source_package": self.source_package,
            "installed_version": self.installed_version,
            "fixed_version": self.fixed_version,
            "severity": self.severity.value,
            "cvss": self.cvss,
            "exploitable": self.exploitable,
            "epss": self.epss,
            "method": self.method.value,
            "confidence": self.confidence.value,
            "restart_required": self.restart_required,
            "reason": self.reason,
            "advisories": list(self.advisories),
            "ecosystem": self.ecosystem,
            "summary": self.summary,
            "severity_source": self.severity_source,
            "cvss_vector": self.cvss_vector,
            "title": self.title,
            "references": list(self.references),
        }


@dataclass
class MatchErrors:
    """Advisory entries that could not be evaluated (STYLE E3: a recorded skip)."""

    items: list[str] = field(default_factory=list)

    def add(self, message: str) -> None:
        """Record one skipped evaluation."""
        self.items.append(message)


_INTRO_ZERO = (0,)
_INFINITY = (2,)


def _event_key(keyf: Callable[[str], Any], kind: EventKind, version: str) -> tuple[Any, ...]:
    # Wrap keys so the special values sort right: introduced "0" before everything,
    # limit "*" after everything (OSV §Special values).
    if kind is EventKind.INTRODUCED and version == "0":
        return _INTRO_ZERO
    if kind is EventKind.LIMIT and "*" in version:
        return _INFINITY
    return (1, keyf(version))


@dataclass(frozen=True)
class _CompiledRange:
    """One range with its version keys built and its events sorted, ready to evaluate."""

    type: str
    limits: tuple[tuple[Any, ...], ...]
    events: tuple[tuple[tuple[Any, ...], EventKind], ...]
    fixes: tuple[tuple[tuple[Any, ...], str], ...]


@dataclass(frozen=True)
class _Compiled:
    """An affected entry compiled for one version scheme."""

    versions: frozenset[tuple[Any, ...]]
    ranges: tuple[_CompiledRange, ...]
    fixes: tuple[tuple[tuple[Any, ...], str], ...]
    """Every fixed event of every range, sorted (for matches by the versions list)."""


def _compile_range(rng: Range, keyf: Callable[[str], Any]) -> _CompiledRange:
    keyed = [(_event_key(keyf, e.kind, e.version), e) for e in rng.events]
    return _CompiledRange(
        type=rng.type,
        limits=tuple(k for k, e in keyed if e.kind is EventKind.LIMIT),
        # Stable sort by version only: events at equal versions keep the feed's order.
        events=tuple((k, e.kind) for k, e in sorted(keyed, key=lambda pair: pair[0])),
        fixes=tuple(sorted((k, e.version) for k, e in keyed if e.kind is EventKind.FIXED)),
    )


_Memo = Dict[str, Union[_Compiled, InvalidVersion]]
"""Compiled forms of one affected entry, by version scheme (a parse error is kept too)."""

_MEMOS: dict[int, _Memo] = {}
"""`id(affected)` -> the memo of that live entry (see `_new_memo` for why an id is safe)."""
_REFS: dict[int, weakref.ref[Affected]] = {}
"""`id(affected)` -> weak reference to that entry; its callback drops both entries."""


def _new_memo(affected: Affected) -> _Memo:
    """Start the memo of an entry not seen yet, kept beside it and keyed by its identity.

    Why by identity: hashing an `Affected` (a frozen dataclass of nested tuples) on every
    lookup costs about as much as the compilation it saves, while the same objects are reused
    across lookups (`services.index.CachedIndex`), so identity finds them. Why not in the
    instance: it is frozen, and equality, hashing, pickling and `replace()` must not see a
    memo.

    Why an id never names another object's memo: two live objects never share an id, and the
    weak reference's callback drops the entry when the entry's object dies. CPython calls it
    while deallocating the object, before the memory (hence the id) can go to a new object;
    for cyclic garbage the collector calls the callbacks before it frees anything. The
    callback is called because `_REFS` keeps the reference itself alive (a reference that
    dies first calls nothing). This relies on CPython's timing: a runtime that calls weakref
    callbacks later (PyPy) would need a liveness check on each hit.
    """
    key = id(affected)

    def forget(ref: weakref.ref[Affected], key: int = key) -> None:
        # Only its own entry: a racing second registration replaced (and so dropped) it.
        if _REFS.get(key) is ref:
            _REFS.pop(key, None)
            _MEMOS.pop(key, None)

    memo: _Memo = {}
    _REFS[key] = weakref.ref(affected, forget)
    _MEMOS[key] = memo
    return memo


def _compiled(affected: Affected, scheme: str) -> _Compiled:
    """The entry's compiled form for `scheme`, memoised per entry (`_new_memo`).

    One advisory entry is evaluated against every host of a fleet; building its version keys
    and sorting its events once per scheme instead of once per package makes matching about
    twice as fast. A parse error is memoised too. The hit path is one dict lookup by id, as
    cheap as the former memo in the instance `__dict__`.
    """
    memo = _MEMOS.get(id(affected))
    if memo is None:
        memo = _new_memo(affected)
    hit = memo.get(scheme)
    if hit is None:
        keyf = key_function(scheme)
        try:
            ranges = tuple(
                _compile_range(r, keyf) for r in affected.ranges if r.type in _ORDERED_RANGES
            )
            hit = _Compiled(
                versions=frozenset((1, keyf(v)) for v in affected.versions),
                ranges=ranges,
                fixes=tuple(sorted(f for r in ranges for f in r.fixes)),
            )
        except InvalidVersion as exc:
            hit = exc
        memo[scheme] = hit
    if isinstance(hit, InvalidVersion):
        raise hit
    return hit


_ORDERED_RANGES = ("ECOSYSTEM", "SEMVER")


def _in_range(vkey: tuple[Any, ...], rng: _CompiledRange) -> str | None | bool:
    """OSV IncludedInRanges for one range: False if not affected, else the fixed version or None."""
    if rng.limits and not any(vkey < k for k in rng.limits):
        return False
    vulnerable = False
    for k, kind in rng.events:
        if kind is EventKind.INTRODUCED and vkey >= k:
            vulnerable = True
        elif (kind is EventKind.FIXED and vkey >= k) or (
            kind is EventKind.LAST_AFFECTED and vkey > k
        ):
            vulnerable = False
    if not vulnerable:
        return False
    return next((v for k, v in rng.fixes if k > vkey), None)


def evaluate(affected: Affected, version: str, scheme: str) -> Verdict | None:
    """OSV §Evaluation of one `affected` entry at `version`; None when not affected.

    Raises InvalidVersion when the installed version or a range event cannot be parsed.
    """
    if affected.status is VendorStatus.NOT_AFFECTED:
        return None
    compiled = _compiled(affected, scheme)
    vkey = (1, key_function(scheme)(version))
    if vkey in compiled.versions:
        fixed = next((v for k, v in compiled.fixes if k > vkey), None)
        return Verdict(fixed_version=fixed, range_type="versions")
    if not compiled.ranges and not affected.versions and affected.status is not VendorStatus.FIXED:
        # A vendor statement without versions ("needed", "will not fix"): all versions.
        return Verdict(fixed_version=None, range_type="status")
    for rng in compiled.ranges:
        result = _in_range(vkey, rng)
        if result is not False:
            return Verdict(
                fixed_version=result if isinstance(result, str) else None, range_type=rng.type
            )
    return None


_SHOWN = 80
"""Characters of an unparseable version a skip message quotes (some are thousands long)."""


def _brief(exc: InvalidVersion) -> str:
    """The error's message, with a version longer than `_SHOWN` cut short."""
    text = str(exc)
    if len(exc.version) <= _SHOWN:
        return text
    head = f"invalid {exc.scheme} version {exc.version!r}"
    why = text[len(head) :] if text.startswith(head) else ""
    cut = f"{exc.version[:_SHOWN]!r}... ({len(exc.version)} characters)"
    return f"invalid {exc.scheme} version {cut}{why}"


def finding_id(advisory: Advisory) -> str:
    """The vulnerability a finding is about: the CVE when the advisory has exactly one."""
    cves = advisory.cves
    return cves[0] if len(cves) == 1 else advisory.id


def match_query(
    query: Query,
    candidates: Iterable[tuple[Advisory, Affected]],
    errors: MatchErrors,
    include_wont_fix: bool = False,
) -> list[Match]:
    """Every advisory among `candidates` that affects the queried package version."""
    found: list[Match] = []
    pkg = query.package
    for advisory, affected in candidates:
        if advisory.withdrawn:
            continue
        if affected.binaries and pkg.name not in affected.binaries:
            continue  # the source builds this binary, but the advisory names others only
        if affected.status in WONT_FIX_STATUSES and not include_wont_fix:
            continue
        if affected.status is VendorStatus.UNDER_INVESTIGATION:
            continue  # not yet triaged by the vendor: neither affected nor clean
        if query.scheme in _RPM_SCHEMES and not module_applies(affected, pkg):
            continue  # another modularity stream's fix (EL8+)
        try:
            verdict = evaluate(affected, query.version, query.scheme)
        except InvalidVersion as exc:
            where = f"{advisory.id} {affected.package.ecosystem}/{affected.package.name}"
            errors.add(f"{where}: {_brief(exc)}")
            continue
        if verdict is None:
            continue
        reason = query.note
        if verdict.fixed_version is None:
            reason = _NO_FIX_REASON.get(affected.status, _NO_FIX_REASON[VendorStatus.AFFECTED])
            if affected.note:
                reason = f"{reason} ({affected.note})"
        severity = affected.severity or advisory.severity
        if severity is Severity.UNKNOWN and advisory.cvss_score is not None:
            severity = Severity.from_cvss(advisory.cvss_score)
        found.append(
            Match(
                id=finding_id(advisory),
                cves=advisory.cves,
                package=pkg.name,
                source_package=pkg.source,
                installed_version=pkg.version,
                fixed_version=verdict.fixed_version,
                severity=severity,
                cvss=advisory.cvss_score,
                method=query.method,
                confidence=query.confidence,
                restart_required=advisory.restart_required or query.restart_required,
                reason=reason,
                advisories=(advisory.id,),
                ecosystem=query.ecosystem,
                lookup_name=query.name,
                range_type=verdict.range_type,
                summary=advisory.summary,
                severity_source=_rated_by(advisory, affected),
                cvss_vector=advisory.cvss_vector,
                title=advisory_title(advisory),
                references=urls((r.url for r in advisory.references), MAX_REFERENCES),
            )
        )
    return found


def _rated_by(advisory: Advisory, affected: Affected) -> str:
    """`severity_source` of a finding rated by its own advisory (or `unrated`)."""
    rated = affected.severity is not None and affected.severity is not Severity.UNKNOWN
    if rated or advisory_rated(advisory):
        return rating_source(advisory, affected.package.ecosystem)
    return UNRATED


def merge_matches(matches: Sequence[Match]) -> list[Match]:
    """One finding per (binary package, vulnerability); evidence from every advisory kept.

    Several feeds may describe one CVE (Ubuntu OSV and the Ubuntu tracker; a DSA and the
    Debian tracker). A grouped advisory (several CVEs) whose CVEs all have a finding of their
    own on the same package adds nothing and is folded into them.
    """
    merged: dict[tuple[str, str], Match] = {}
    for m in matches:
        k = (m.package, m.id)
        prev = merged.get(k)
        merged[k] = m if prev is None else _combine(prev, m)
    kept: list[tuple[str, str]] = []
    for (pkg, vid), m in merged.items():
        grouped = not vid.startswith("CVE-") and bool(m.cves)
        if grouped and all((pkg, c) in merged for c in m.cves):
            for c in m.cves:
                per_cve = merged[(pkg, c)]
                merged[(pkg, c)] = replace(
                    per_cve, advisories=_union(per_cve.advisories, m.advisories)
                )
            continue
        kept.append((pkg, vid))
    return [merged[k] for k in kept]


def _union(a: tuple[str, ...], b: tuple[str, ...]) -> tuple[str, ...]:
    return tuple(dict.fromkeys((*a, *b)))


def _combine(a: Match, b: Match) -> Match:
    """Two findings of one vulnerability on one package: keep the most informative."""
    # A known fix beats "no fix yet" (feeds of one distro agree on the fixed version).
    base = a if a.fixed_version or not b.fixed_version else b
    # The rating comes with its source: the higher one (a rated one beats an unrated one).
    rated = (
        a
        if (a.severity.rank, a.severity_source != UNRATED)
        >= (
            b.severity.rank,
            b.severity_source != UNRATED,
        )
        else b
    )
    scored = a if a.cvss is not None else b
    return replace(
        base,
        severity=rated.severity,
        severity_source=rated.severity_source,
        cvss=scored.cvss,
        cvss_vector=scored.cvss_vector,
        title=a.title or b.title,
        references=urls((*a.references, *b.references), MAX_REFERENCES),
        cves=_union(a.cves, b.cves),
        advisories=_union(a.advisories, b.advisories),
        restart_required=a.restart_required or b.restart_required,
    )
