"""Advisory indexes besides the store: in-memory (for `scan --feed` and tests), a chain of
indexes, and the lookup cache a console keeps in front of its store."""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Protocol

from patchwarden.core.advisory import (
    Advisory,
    Affected,
    CveRating,
    EpssScore,
    FeedItem,
    KevEntry,
)
from patchwarden.core.ecosystems import base_ecosystem
from patchwarden.core.ratings import better, ratings_of
from patchwarden.services.ports import Advisories, AdvisoryIndex


class VersionedAdvisories(Advisories, Protocol):
    """An advisory store that says when its content changed."""

    def generation(self) -> int:
        """A number that changes whenever an import changes the store (in any process)."""
        ...


class MemoryIndex:
    """An index built in memory from parsed feed items."""

    def __init__(self, items: Iterable[FeedItem] = ()) -> None:
        self._advisories: dict[str, Advisory] = {}
        self._affected: dict[tuple[str, str], list[tuple[Advisory, Affected]]] = defaultdict(list)
        self._kev: dict[str, KevEntry] = {}
        self._epss: dict[str, EpssScore] = {}
        self._ratings: dict[str, dict[str, CveRating]] = defaultdict(dict)
        """CVE -> source -> rating."""
        self._generation = 0
        self.add(items)

    def generation(self) -> int:
        """How many times items were added."""
        return self._generation

    def add(self, items: Iterable[FeedItem]) -> int:
        """Index more items; returns how many were added."""
        self._generation += 1
        n = 0
        for item in items:
            n += 1
            if isinstance(item, Advisory):
                self._advisories[item.id] = item
                for aff in item.affected:
                    self._affected[(aff.package.ecosystem, aff.package.name)].append((item, aff))
                for rating in ratings_of(item):
                    self._rate(rating)
            elif isinstance(item, KevEntry):
                self._kev[item.cve] = item
            elif isinstance(item, CveRating):
                self._rate(item)
            else:
                self._epss[item.cve] = item
        return n

    def _rate(self, rating: CveRating) -> None:
        by_source = self._ratings[rating.cve]
        held = by_source.get(rating.source)
        by_source[rating.source] = rating if held is None else better(held, rating)

    def lookup(self, ecosystem: str, name: str) -> list[tuple[Advisory, Affected]]:
        """Every (advisory, affected entry) for `name` under `ecosystem`."""
        return list(self._affected.get((ecosystem, name), ()))

    def artifact_names(self, artifact: str) -> list[str]:
        """Maven names with this artifact id, sorted."""
        return sorted(
            name
            for ecosystem, name in self._affected
            if ecosystem == "Maven" and name.rpartition(":")[2] == artifact and ":" in name
        )

    def ratings(self, cves: Sequence[str]) -> dict[str, list[CveRating]]:
        """Every source's rating of each of the given CVEs."""
        return {c: list(self._ratings[c].values()) for c in set(cves) if c in self._ratings}

    def kev(self, cves: Sequence[str]) -> dict[str, KevEntry]:
        """KEV entries of the given CVEs."""
        return {c: self._kev[c] for c in cves if c in self._kev}

    def epss(self, cves: Sequence[str]) -> dict[str, EpssScore]:
        """EPSS scores of the given CVEs."""
        return {c: self._epss[c] for c in cves if c in self._epss}

    def search(self, q: str, limit: int, offset: int) -> tuple[list[Advisory], int]:
        """Advisories whose id, aliases or summary contain `q`, by id; and the count."""
        hits = [
            a
            for rid, a in sorted(self._advisories.items())
            if not q or q in rid or q in a.summary or any(q in alias for alias in a.aliases)
        ]
        return hits[offset : offset + limit], len(hits)

    def ids_by_base_ecosystem(self, ids: Sequence[str] = ()) -> Mapping[str, set[str]]:
        """Base ecosystem -> ids of the advisories naming packages in it."""
        wanted = set(ids)
        out: dict[str, set[str]] = {}
        for (ecosystem, _name), pairs in self._affected.items():
            for adv, _ in pairs:
                if not wanted or adv.id in wanted:
                    out.setdefault(base_ecosystem(ecosystem), set()).add(adv.id)
        return out


class ChainedIndex:
    """Several indexes read as one (the store plus feeds given on the command line)."""

    def __init__(self, indexes: Sequence[AdvisoryIndex]) -> None:
        self.indexes = list(indexes)

    def lookup(self, ecosystem: str, name: str) -> list[tuple[Advisory, Affected]]:
        """Concatenated lookups of every index."""
        return [pair for idx in self.indexes for pair in idx.lookup(ecosystem, name)]

    def artifact_names(self, artifact: str) -> list[str]:
        """Maven names with this artifact id in any index, sorted, each once."""
        return sorted({n for idx in self.indexes for n in idx.artifact_names(artifact)})

    def kev(self, cves: Sequence[str]) -> dict[str, KevEntry]:
        """KEV entries from every index."""
        out: dict[str, KevEntry] = {}
        for idx in self.indexes:
            out.update(idx.kev(cves))
        return out

    def epss(self, cves: Sequence[str]) -> dict[str, EpssScore]:
        """EPSS scores from every index."""
        out: dict[str, EpssScore] = {}
        for idx in self.indexes:
            out.update(idx.epss(cves))
        return out

    def ratings(self, cves: Sequence[str]) -> dict[str, list[CveRating]]:
        """Ratings from every index, together."""
        out: dict[str, list[CveRating]] = {}
        for idx in self.indexes:
            for cve, found in idx.ratings(cves).items():
                out.setdefault(cve, []).extend(found)
        return out


_Lookups = dict[tuple[str, str], list[tuple[Advisory, Affected]]]

RECHECK_SECONDS = 0.1
"""How often at most `CachedIndex` asks the store whether an import changed it."""


class CachedIndex:
    """Memoises lookups of an advisory store: many hosts share most of their packages.

    The cache is dropped when the store's generation changes, i.e. after any import into
    it, including one by another process (`patchwarden feeds import` beside a running
    console). The generation is read at most once per `recheck_seconds`: one small query,
    so a lookup costs one clock reading more than a dict hit, and an import shows within
    `recheck_seconds` of its commit. Searches go straight to the store.
    """

    def __init__(
        self,
        inner: VersionedAdvisories,
        max_entries: int = 200_000,
        recheck_seconds: float = RECHECK_SECONDS,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.inner = inner
        self.max_entries = max_entries
        self.recheck_seconds = recheck_seconds
        self._monotonic = monotonic
        self._generation = inner.generation()
        self._next_check = monotonic() + recheck_seconds
        self._lookups: _Lookups = {}
        self._artifacts: dict[str, list[str]] = {}

    def _recheck(self, now: float) -> None:
        """Start an empty cache if the store changed since the generation last read."""
        self._next_check = now + self.recheck_seconds
        generation = self.inner.generation()
        if generation != self._generation:
            # A lookup that finds the new (empty) cache queries the store after this
            # generation was read, so the cache never holds data older than its generation.
            self._generation = generation
            self._lookups = {}
            self._artifacts = {}

    def lookup(self, ecosystem: str, name: str) -> list[tuple[Advisory, Affected]]:
        """The inner lookup, computed once per (ecosystem, name) and store generation."""
        now = self._monotonic()
        if now >= self._next_check:
            self._recheck(now)
        # The cache this lookup started with: if another thread swaps in a new one while
        # the store is queried, the answer goes to the old one, which is being dropped.
        lookups = self._lookups
        key = (ecosystem, name)
        hit = lookups.get(key)
        if hit is None:
            if len(lookups) >= self.max_entries:
                lookups.clear()
            hit = lookups[key] = self.inner.lookup(ecosystem, name)
        return hit

    def artifact_names(self, artifact: str) -> list[str]:
        """The inner answer, cached like lookups (a miss scans the store's Maven names)."""
        now = self._monotonic()
        if now >= self._next_check:
            self._recheck(now)
        artifacts = self._artifacts
        hit = artifacts.get(artifact)
        if hit is None:
            if len(artifacts) >= self.max_entries:
                artifacts.clear()
            hit = artifacts[artifact] = self.inner.artifact_names(artifact)
        return hit

    def generation(self) -> int:
        """The store's generation."""
        return self.inner.generation()

    def kev(self, cves: Sequence[str]) -> dict[str, KevEntry]:
        """KEV entries (not cached: one query per host)."""
        return self.inner.kev(cves)

    def epss(self, cves: Sequence[str]) -> dict[str, EpssScore]:
        """EPSS scores (not cached: one query per host)."""
        return self.inner.epss(cves)

    def ratings(self, cves: Sequence[str]) -> dict[str, list[CveRating]]:
        """CVE ratings (not cached: one query per host)."""
        return self.inner.ratings(cves)

    def search(self, q: str, limit: int, offset: int) -> tuple[list[Advisory], int]:
        """The store's search (not cached)."""
        return self.inner.search(q, limit, offset)

    def ids_by_base_ecosystem(self, ids: Sequence[str] = ()) -> Mapping[str, set[str]]:
        """The store's answer (it keeps its own cache)."""
        return self.inner.ids_by_base_ecosystem(ids)
