"""The local advisory store: round trip, lookups, atomic replace, transactional imports."""

from __future__ import annotations

import sqlite3
from datetime import datetime, timezone

import pytest

from patchwarden.core.advisory import (
    Advisory,
    Affected,
    AffectedPackage,
    EpssScore,
    Event,
    EventKind,
    KevEntry,
    Range,
    Reference,
    Severity,
    VendorStatus,
)
from patchwarden.core.errors import FeedError, StoreError
from patchwarden.storage.advisory_store import AdvisoryStore

NOW = datetime(2026, 1, 1, tzinfo=timezone.utc)


def advisory(id_: str, name: str = "openssl", fixed: str = "1.1") -> Advisory:
    rng = Range("ECOSYSTEM", (Event(EventKind.INTRODUCED, "0"), Event(EventKind.FIXED, fixed)))
    return Advisory(
        id=id_,
        source="osv",
        aliases=("CVE-2024-0727",),
        summary="s",
        severity=Severity.HIGH,
        cvss_score=7.5,
        cvss_vector="CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:N/I:N/A:H",
        affected=(
            Affected(
                AffectedPackage("Ubuntu:22.04:LTS", name), ranges=(rng,), binaries=("libssl3",)
            ),
            Affected(
                AffectedPackage("Ubuntu:20.04:LTS", name),
                status=VendorStatus.AFFECTED,
                severity=Severity.LOW,
                note="needed",
            ),
        ),
        references=(Reference("ADVISORY", "https://example.invalid/a"),),
        restart_required=True,
    )


@pytest.fixture()
def store(tmp_path):
    with AdvisoryStore.in_dir(tmp_path) as s:
        yield s


def test_round_trip_and_lookup(store):
    original = advisory("UBUNTU-CVE-2024-0727")
    stats = store.import_items("osv", "/feed", [original], NOW)
    assert (stats.advisories, stats.affected) == (1, 2)
    ((adv, aff),) = store.lookup("Ubuntu:22.04:LTS", "openssl")
    assert aff == original.affected[0]
    assert adv.id == original.id and adv.cvss_score == 7.5 and adv.restart_required
    ((_, aff20),) = store.lookup("Ubuntu:20.04:LTS", "openssl")
    assert aff20 == original.affected[1]
    assert store.lookup("Ubuntu:22.04:LTS", "nothing") == []


def test_reimport_replaces_what_the_same_origin_stored(store):
    store.import_items("osv", "/feed", [advisory("A"), advisory("B", name="curl")], NOW)
    stats = store.import_items("osv", "/feed", [advisory("A", fixed="1.2")], NOW)
    assert stats.replaced == 2
    assert store.lookup("Ubuntu:22.04:LTS", "curl") == []
    ((_, aff),) = store.lookup("Ubuntu:22.04:LTS", "openssl")
    assert aff.ranges[0].events[1].version == "1.2"


def test_failed_import_changes_nothing(store):
    store.import_items("osv", "/feed", [advisory("A")], NOW)

    def broken():
        yield advisory("A", fixed="9.9")
        yield advisory("C")
        raise FeedError("/feed: truncated archive")

    with pytest.raises(FeedError):
        store.import_items("osv", "/feed", broken(), NOW)
    ((_, aff),) = store.lookup("Ubuntu:22.04:LTS", "openssl")
    assert aff.ranges[0].events[1].version == "1.1"
    assert store.counts()["advisories"] == 1
    assert [f.records for f in store.feeds()] == [1]


def test_kev_and_epss(store):
    store.import_items("kev", "/kev.json", [KevEntry("CVE-2021-44228", "Apache", "Log4j")], NOW)
    store.import_items("epss", "/epss.csv", [EpssScore("CVE-2021-44228", 0.97, 0.999)], NOW)
    assert store.kev(["CVE-2021-44228", "CVE-1"])["CVE-2021-44228"].product == "Log4j"
    assert store.epss(["CVE-2021-44228"])["CVE-2021-44228"].epss == 0.97


def test_corrupt_store_file_is_a_clear_error(tmp_path):
    (tmp_path / "advisories.db").write_bytes(b"this is not sqlite" * 100)
    with pytest.raises(StoreError, match="advisories.db"):
        AdvisoryStore.in_dir(tmp_path)


def test_newer_schema_is_refused(tmp_path):
    AdvisoryStore.in_dir(tmp_path).close()
    db = sqlite3.connect(tmp_path / "advisories.db")
    db.execute("UPDATE meta SET value='99' WHERE key='schema'")
    db.commit()
    db.close()
    with pytest.raises(StoreError, match="schema 99"):
        AdvisoryStore.in_dir(tmp_path)


def test_every_import_bumps_the_generation_and_a_failed_one_does_not(store):
    start = store.generation()
    store.import_items("osv", "/feed", [advisory("A")], NOW)
    store.import_items("kev", "/kev.json", [KevEntry("CVE-2021-44228")], NOW)
    assert store.generation() == start + 2

    def broken():
        yield advisory("B")
        raise FeedError("/feed: truncated archive")

    with pytest.raises(FeedError):
        store.import_items("osv", "/feed", broken(), NOW)
    assert store.generation() == start + 2


def test_the_generation_is_shared_by_every_store_on_the_file(tmp_path):
    """A console and a `feeds import` run by the CLI open the same file separately."""
    with AdvisoryStore.in_dir(tmp_path) as console, AdvisoryStore.in_dir(tmp_path) as cli:
        seen = console.generation()
        cli.import_items("osv", "/feed", [advisory("A")], NOW)
        assert console.generation() == seen + 1
        assert console.lookup("Ubuntu:22.04:LTS", "openssl")  # and the data with it


def test_readers_never_see_an_import_half_done(store):
    """The import writes through its own connection: until it commits, lookups on the
    store's shared connection (a console's request threads) see the previous import."""
    store.import_items("osv", "/feed", [advisory("A", fixed="1.1")], NOW)
    generation = store.generation()
    seen = []

    def items():
        # By now the import has deleted this origin's rows in its transaction.
        seen.append((store.lookup("Ubuntu:22.04:LTS", "openssl"), store.generation()))
        yield advisory("A", fixed="1.2")
        seen.append((store.lookup("Ubuntu:22.04:LTS", "openssl"), store.generation()))

    store.import_items("osv", "/feed", items(), NOW)
    for found, gen in seen:
        ((_, aff),) = found
        assert aff.ranges[0].events[1].version == "1.1"
        assert gen == generation
    ((_, aff),) = store.lookup("Ubuntu:22.04:LTS", "openssl")
    assert aff.ranges[0].events[1].version == "1.2"
    assert store.generation() == generation + 1


def test_a_store_from_before_the_generation_starts_it(tmp_path):
    AdvisoryStore.in_dir(tmp_path).close()
    db = sqlite3.connect(tmp_path / "advisories.db")
    db.execute("DELETE FROM meta WHERE key='generation'")
    db.commit()
    db.close()
    with AdvisoryStore.in_dir(tmp_path) as store:
        assert store.generation() == 0
        store.import_items("osv", "/feed", [advisory("A")], NOW)
        assert store.generation() == 1
