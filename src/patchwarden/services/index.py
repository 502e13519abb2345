"""Advisory indexes besides the store: in-memory (for `scan --feed` and tests), a chain of
indexes, and the lookup cache a console keeps in front of its store."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence

from patchwarden.core.advisory import Advisory, Affected, EpssScore, FeedItem, KevEntry
from patchwarden.core.ecosystems import base_ecosystem
from patchwarden.services.ports import Advisories, AdvisoryIndex


class MemoryIndex:
    """An index built in memory from parsed feed items."""

    def __init__(self, items: Iterable[FeedItem] = ()) -> None:
        self._advisories: dict[str, Advisory] = {}
        self._affected: dict[tuple[str, str], list[tuple[Advisory, Affected]]] = defaultdict(list)
        self._kev: dict[str, KevEntry] = {}
        self._epss: dict[str, EpssScore] = {}
        self.add(items)

    def add(self, items: Iterable[FeedItem]) -> int:
        """Index more items; returns how many were added."""
        n = 0
        for item in items:
            n += 1
            if isinstance(item, Advisory):
                self._advisories[item.id] = item
                for aff in item.affected:
                    self._affected[(aff.package.ecosystem, aff.package.name)].append((item, aff))
            elif isinstance(item, KevEntry):
                self._kev[item.cve] = item
            else:
                self._epss[item.cve] = item
        return n

    def lookup(self, ecosystem: str, name: str) -> list[tuple[Advisory, Affected]]:
        """Every (advisory, affected entry) for `name` under `ecosystem`."""
        return list(self._affected.get((ecosystem, name), ()))

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


class CachedIndex:
    """Memoises lookups of an advisory store: many hosts share most of their packages.

    Drop it (build a new one) after a feed import; the cache never goes stale on its own.
    Searches go straight to the store.
    """

    def __init__(self, inner: Advisories, max_entries: int = 200_000) -> None:
        self.inner = inner
        self.max_entries = max_entries
        self._lookups: dict[tuple[str, str], list[tuple[Advisory, Affected]]] = {}

    def lookup(self, ecosystem: str, name: str) -> list[tuple[Advisory, Affected]]:
        """The inner lookup, computed once per (ecosystem, name)."""
        key = (ecosystem, name)
        hit = self._lookups.get(key)
        if hit is None:
            if len(self._lookups) >= self.max_entries:
                self._lookups.clear()
            hit = self._lookups[key] = self.inner.lookup(ecosystem, name)
        return hit

    def kev(self, cves: Sequence[str]) -> dict[str, KevEntry]:
        """KEV entries (not cached: one query per host)."""
        return self.inner.kev(cves)

    def epss(self, cves: Sequence[str]) -> dict[str, EpssScore]:
        """EPSS scores (not cached: one query per host)."""
        return self.inner.epss(cves)

    def search(self, q: str, limit: int, offset: int) -> tuple[list[Advisory], int]:
        """The store's search (not cached)."""
        return self.inner.search(q, limit, offset)

    def ids_by_base_ecosystem(self, ids: Sequence[str] = ()) -> Mapping[str, set[str]]:
        """The store's answer (it keeps its own cache)."""
        return self.inner.ids_by_base_ecosystem(ids)
