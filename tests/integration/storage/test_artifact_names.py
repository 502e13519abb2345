"""Maven names by artifact id (a JAR named only by its file name matches when exactly one
advisory package has that artifact id): the store, the in-memory index, the chain and the
console's cache agree."""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path

from patchwarden.core.advisory import Advisory, Affected, AffectedPackage
from patchwarden.services.index import CachedIndex, ChainedIndex, MemoryIndex
from patchwarden.storage.advisory_store import AdvisoryStore

NOW = datetime(2026, 1, 1, tzinfo=timezone.utc)
NAMES = (
    ("Maven", "org.apache.logging.log4j:log4j-core"),
    ("Maven", "org.example.fork:log4j-core"),
    ("Maven", "org.example:log4j-core-extra"),
    ("Maven", "org.example:Log4j-Core"),  # LIKE ignores case; artifact ids do not
    ("Maven", "org.example:a_b%c"),  # LIKE wildcards in a name are literal characters
    ("Maven", "org.example:axbyc"),
    ("npm", "scope:log4j-core"),  # another ecosystem
)


def _advisory(n: int, ecosystem: str, name: str) -> Advisory:
    return Advisory(f"GHSA-{n}", "osv", affected=(Affected(AffectedPackage(ecosystem, name)),))


ITEMS = [_advisory(n, eco, name) for n, (eco, name) in enumerate(NAMES)]


def test_every_index_resolves_artifact_ids_alike(tmp_path: Path) -> None:
    expected = {
        "log4j-core": ["org.apache.logging.log4j:log4j-core", "org.example.fork:log4j-core"],
        "Log4j-Core": ["org.example:Log4j-Core"],
        "a_b%c": ["org.example:a_b%c"],
        "a%c": [],
        "log4j": [],
        "": [],
    }
    memory = MemoryIndex(ITEMS)
    with AdvisoryStore.in_dir(tmp_path) as store:
        store.import_items("osv", "/feed", ITEMS, NOW)
        cached = CachedIndex(store)
        halves = ChainedIndex([MemoryIndex(ITEMS[:1]), MemoryIndex(ITEMS[1:])])
        for index in (memory, store, cached, halves):
            got = {artifact: index.artifact_names(artifact) for artifact in expected}
            assert got == expected, type(index).__name__
        assert cached.artifact_names("log4j-core") is cached.artifact_names("log4j-core")
