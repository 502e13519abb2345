"""Database leases on SQLite and PostgreSQL: one holder at a time, renewal, expiry takeover."""

from __future__ import annotations

import threading
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import Engine, select

from patchwarden.storage.db import transaction
from patchwarden.storage.leases import SqlLeaseRepository
from patchwarden.storage.tables import leases as leases_table

T0 = datetime(2026, 1, 1, 12, 0, tzinfo=timezone.utc)
TTL = timedelta(seconds=30)


def acquire(engine: Engine, holder: str, at: datetime, name: str = "scheduler") -> bool:
    with transaction(engine) as conn:
        return SqlLeaseRepository(conn).acquire(name, holder, TTL, now=at)


def row(engine: Engine, name: str = "scheduler") -> tuple[str, datetime] | None:
    with transaction(engine, write=False) as conn:
        found = conn.execute(
            select(leases_table.c.holder, leases_table.c.expires_at).where(
                leases_table.c.name == name
            )
        ).first()
    return (found.holder, found.expires_at) if found else None


def test_second_holder_is_refused_while_the_lease_is_live(db_engine: Engine) -> None:
    assert acquire(db_engine, "replica-a", T0)
    assert not acquire(db_engine, "replica-b", T0 + timedelta(seconds=29))
    assert row(db_engine) == ("replica-a", T0 + TTL)


def test_holder_renews(db_engine: Engine) -> None:
    assert acquire(db_engine, "replica-a", T0)
    assert acquire(db_engine, "replica-a", T0 + timedelta(seconds=20))
    assert row(db_engine) == ("replica-a", T0 + timedelta(seconds=20) + TTL)
    # Renewal pushed expiry on: at T0+40s the lease is still a's.
    assert not acquire(db_engine, "replica-b", T0 + timedelta(seconds=40))


def test_expired_lease_is_taken_over(db_engine: Engine) -> None:
    assert acquire(db_engine, "replica-a", T0)
    assert acquire(db_engine, "replica-b", T0 + TTL)
    assert row(db_engine) == ("replica-b", T0 + 2 * TTL)
    assert not acquire(db_engine, "replica-a", T0 + TTL + timedelta(seconds=1))


def test_release_only_by_the_holder(db_engine: Engine) -> None:
    assert acquire(db_engine, "replica-a", T0)
    with transaction(db_engine) as conn:
        assert not SqlLeaseRepository(conn).release("scheduler", "replica-b")
    assert row(db_engine) is not None
    with transaction(db_engine) as conn:
        assert SqlLeaseRepository(conn).release("scheduler", "replica-a")
    assert row(db_engine) is None
    assert acquire(db_engine, "replica-b", T0 + timedelta(seconds=1))


def test_leases_are_independent_by_name(db_engine: Engine) -> None:
    assert acquire(db_engine, "replica-a", T0, name="scheduler")
    assert acquire(db_engine, "replica-b", T0, name="feeds-sync")


def test_ttl_must_be_positive(db_engine: Engine) -> None:
    with (
        pytest.raises(ValueError, match="lease 'scheduler': ttl must be positive"),
        transaction(db_engine) as conn,
    ):
        SqlLeaseRepository(conn).acquire("scheduler", "a", timedelta(0), now=T0)


@pytest.mark.parametrize("expired", [False, True], ids=["new lease", "expired lease"])
def test_exactly_one_replica_wins_a_race(db_engine: Engine, expired: bool) -> None:
    if expired:
        assert acquire(db_engine, "old-replica", T0 - 2 * TTL)
    replicas = 4
    barrier = threading.Barrier(replicas)
    won: dict[str, bool] = {}
    errors: list[BaseException] = []

    def race(holder: str) -> None:
        try:
            barrier.wait()
            won[holder] = acquire(db_engine, holder, T0)
        except BaseException as exc:  # surfaced by the assert below
            errors.append(exc)

    threads = [threading.Thread(target=race, args=(f"replica-{n}",)) for n in range(replicas)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    winners = [holder for holder, ok in won.items() if ok]
    assert len(winners) == 1, won
    assert row(db_engine) == (winners[0], T0 + TTL)
