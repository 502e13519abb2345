"""The rating index of the advisory store (issue 8, item 1): filled in each import's
transaction from the advisories and NVD ratings it brings, replaced with the feed, rolled
back with it, and built from the advisories of a store written before it existed."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from datetime import datetime, timezone
from pathlib import Path

import pytest
from tests.integration.feeds.nvd_docs import SAMPLE, write

from patchwarden.core.advisory import (
    Advisory,
    Affected,
    AffectedPackage,
    CveRating,
    FeedItem,
    Reference,
    Severity,
)
from patchwarden.feeds import FEEDS
from patchwarden.feeds.base import ParseReport
from patchwarden.storage.advisory_store import AdvisoryStore

NOW = datetime(2026, 11, 30, tzinfo=timezone.utc)


def _alsa(rid: str, cves: tuple[str, ...], severity: Severity) -> Advisory:
    return Advisory(
        id=rid,
        source="osv",
        related=cves,
        summary=f"{severity.value}: foo security update",
        severity=severity,
        affected=(Affected(AffectedPackage("AlmaLinux:9", "foo")),),
        references=(Reference("ADVISORY", f"https://errata.almalinux.org/{rid}"),),
    )


def _sources(store: AdvisoryStore, cve: str) -> dict[str, tuple[Severity, bool]]:
    return {r.source: (r.severity, r.exact) for r in store.ratings([cve]).get(cve, [])}


def test_imports_fill_the_index_per_source_and_replace_it(tmp_path: Path) -> None:
    with AdvisoryStore.in_dir(tmp_path) as store:
        store.import_items(
            "osv",
            "alma",
            [
                _alsa("ALSA-1", ("CVE-1", "CVE-2"), Severity.HIGH),
                _alsa("ALSA-2", ("CVE-1", "CVE-3"), Severity.MEDIUM),
            ],
            NOW,
        )
        report = ParseReport()
        nvd = write(tmp_path / "nvdcve-2.0-2024.json.gz", SAMPLE)
        stats = store.import_items("nvd", str(nvd), FEEDS["nvd"].parse(nvd, report), NOW)
        assert (stats.ratings, stats.records, stats.advisories) == (4, 4, 0)
        # Two errata name CVE-1: the lower rating bounds it best.
        assert _sources(store, "CVE-1") == {"almalinux": (Severity.MEDIUM, False)}
        assert _sources(store, "CVE-2024-0001") == {"nvd": (Severity.CRITICAL, True)}
        (alma,) = store.ratings(["CVE-2"])["CVE-2"]
        assert alma.references == ("https://errata.almalinux.org/ALSA-1",)
        assert store.counts()["ratings"] == 3 + 4
        # A new import of the same location replaces its ratings, like its advisories.
        store.import_items("osv", "alma", [_alsa("ALSA-3", ("CVE-9",), Severity.LOW)], NOW)
        assert store.ratings(["CVE-1", "CVE-2", "CVE-3"]) == {}
        assert _sources(store, "CVE-9") == {"almalinux": (Severity.LOW, True)}
        assert "CVE-2024-0001" in store.ratings(["CVE-2024-0001"])


def test_a_failed_import_leaves_the_index_as_it_was(tmp_path: Path) -> None:
    def items() -> Iterator[FeedItem]:
        yield CveRating("CVE-2", "nvd", Severity.LOW)
        raise OSError("truncated")

    with AdvisoryStore.in_dir(tmp_path) as store:
        store.import_items("nvd", "x", [CveRating("CVE-1", "nvd", Severity.HIGH)], NOW)
        with pytest.raises(OSError):
            store.import_items("nvd", "x", items(), NOW)
        assert _sources(store, "CVE-1") == {"nvd": (Severity.HIGH, True)}
        assert store.ratings(["CVE-2"]) == {}


def test_a_schema_2_store_gets_its_index_built_on_opening(tmp_path: Path) -> None:
    with AdvisoryStore.in_dir(tmp_path) as store:
        store.import_items("osv", "alma", [_alsa("ALSA-1", ("CVE-1",), Severity.HIGH)], NOW)
        generation = store.generation()
    # What a store of the previous release looks like: no ratings table, schema 2.
    db = sqlite3.connect(tmp_path / "advisories.db")
    db.execute("DROP TABLE ratings")
    db.execute("UPDATE meta SET value='2' WHERE key='schema'")
    db.commit()
    db.close()
    with AdvisoryStore.in_dir(tmp_path) as store:
        assert _sources(store, "CVE-1") == {"almalinux": (Severity.HIGH, True)}
        assert store.generation() == generation + 1  # a console's cache sees the change
    with AdvisoryStore.in_dir(tmp_path) as store:  # and only once
        assert store.generation() == generation + 1
