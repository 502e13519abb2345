"""The console's lookup cache drops what it holds when the store's generation changes, e.g.
after a `feeds import` by another process on the same file (issue 9)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tests.integration.storage.test_advisory_store import NOW, advisory

from patchwarden.services.index import CachedIndex
from patchwarden.storage.advisory_store import AdvisoryStore

ECO, NAME = "Ubuntu:22.04:LTS", "openssl"


class Counting:
    """The store, counting the lookups and generation reads that reach it."""

    def __init__(self, store: AdvisoryStore) -> None:
        self.store = store
        self.lookups = 0
        self.generations = 0

    def lookup(self, ecosystem: str, name: str) -> Any:
        self.lookups += 1
        return self.store.lookup(ecosystem, name)

    def generation(self) -> int:
        self.generations += 1
        return self.store.generation()

    def __getattr__(self, name: str) -> Any:
        return getattr(self.store, name)


class Ticks:
    """A monotonic clock the test moves."""

    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def _fixed(found: list[Any]) -> list[str]:
    return [aff.ranges[0].events[1].version for _, aff in found]


def test_an_import_by_another_process_shows_after_the_recheck_interval(tmp_path: Path) -> None:
    with AdvisoryStore.in_dir(tmp_path) as console, AdvisoryStore.in_dir(tmp_path) as cli:
        cli.import_items("osv", "/feed", [advisory("A", fixed="1.1")], NOW)
        inner, ticks = Counting(console), Ticks()
        index = CachedIndex(inner, recheck_seconds=0.5, monotonic=ticks)  # type: ignore[arg-type]
        assert _fixed(index.lookup(ECO, NAME)) == ["1.1"]

        cli.import_items("osv", "/other", [advisory("B", fixed="2.0")], NOW)
        ticks.now += 0.4  # within the interval: the cached answer, no query
        assert _fixed(index.lookup(ECO, NAME)) == ["1.1"]
        assert (inner.lookups, inner.generations) == (1, 1)

        ticks.now += 0.2  # past it: one generation read, a changed store, a fresh lookup
        assert sorted(_fixed(index.lookup(ECO, NAME))) == ["1.1", "2.0"]
        assert (inner.lookups, inner.generations) == (2, 2)


def test_an_unchanged_store_keeps_the_cache(tmp_path: Path) -> None:
    with AdvisoryStore.in_dir(tmp_path) as store:
        store.import_items("osv", "/feed", [advisory("A")], NOW)
        inner, ticks = Counting(store), Ticks()
        index = CachedIndex(inner, recheck_seconds=0.5, monotonic=ticks)  # type: ignore[arg-type]
        for _ in range(5):
            index.lookup(ECO, NAME)
            ticks.now += 1.0
        assert inner.lookups == 1
        assert inner.generations == 1 + 4  # at start, then once per interval that passed
