"""The console engine: SQLite pragmas and locking, URL handling, UTC timestamps, transactions."""

from __future__ import annotations

import sqlite3
import threading
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import Engine, insert, select, text
from sqlalchemy.exc import IntegrityError, StatementError

from patchwarden.storage.db import (
    ENV_DATABASE_URL,
    database_url,
    default_database_url,
    make_engine,
    normalise_url,
    transaction,
)
from patchwarden.storage.tables import hosts, jobs, leases

PLUS_TWO = timezone(timedelta(hours=2))


@pytest.fixture
def sqlite_engine(tmp_path):
    engine = make_engine(default_database_url(tmp_path))
    yield engine
    engine.dispose()


def test_sqlite_pragmas_hold_on_every_pooled_connection(sqlite_engine: Engine) -> None:
    # Several connections open at once, as server threads would hold them.
    conns = [sqlite_engine.connect() for _ in range(4)]
    try:
        for conn in conns:
            pragma = {
                name: conn.exec_driver_sql(f"PRAGMA {name}").scalar()
                for name in ("journal_mode", "synchronous", "busy_timeout", "foreign_keys")
            }
            # synchronous: 0 OFF, 1 NORMAL, 2 FULL.
            assert pragma == {
                "journal_mode": "wal",
                "synchronous": 1,
                "busy_timeout": 30_000,
                "foreign_keys": 1,
            }
    finally:
        for conn in conns:
            conn.close()


def test_sqlite_enforces_foreign_keys(sqlite_engine: Engine, tmp_path) -> None:
    with transaction(sqlite_engine) as conn:
        conn.execute(text("CREATE TABLE parent (id INTEGER PRIMARY KEY)"))
        conn.execute(text("CREATE TABLE child (parent_id INTEGER REFERENCES parent (id))"))
    with pytest.raises(IntegrityError, match="FOREIGN KEY"), transaction(sqlite_engine) as conn:
        conn.execute(text("INSERT INTO child VALUES (42)"))


@pytest.mark.parametrize(
    ("write", "other_writer_blocked"),
    [
        pytest.param(True, True, id="write transaction takes the lock at BEGIN"),
        pytest.param(False, False, id="read transaction leaves the write lock free"),
    ],
)
def test_sqlite_write_transaction_begins_immediate(
    sqlite_engine: Engine, tmp_path, write: bool, other_writer_blocked: bool
) -> None:
    with transaction(sqlite_engine) as conn:
        conn.execute(text("CREATE TABLE t (x INTEGER)"))
    other = sqlite3.connect(tmp_path / "patchwarden.db", timeout=0.05, isolation_level=None)
    try:
        with transaction(sqlite_engine, write=write) as conn:
            conn.execute(text("SELECT count(*) FROM t")).scalar()
            if other_writer_blocked:
                with pytest.raises(sqlite3.OperationalError, match="locked"):
                    other.execute("BEGIN IMMEDIATE")
            else:
                other.execute("BEGIN IMMEDIATE")
                other.execute("ROLLBACK")
    finally:
        other.close()


def test_transaction_commits_or_rolls_back(db_engine: Engine) -> None:
    now = datetime(2026, 1, 1, tzinfo=timezone.utc)
    with transaction(db_engine) as conn:
        conn.execute(insert(leases).values(name="kept", holder="a", expires_at=now))
    with pytest.raises(RuntimeError, match="boom"), transaction(db_engine) as conn:
        conn.execute(insert(leases).values(name="lost", holder="a", expires_at=now))
        raise RuntimeError("boom")
    with transaction(db_engine, write=False) as conn:
        assert conn.execute(select(leases.c.name)).scalars().all() == ["kept"]


def test_timestamps_are_stored_as_utc_and_read_back_aware(db_engine: Engine) -> None:
    local = datetime(2026, 3, 1, 14, 0, tzinfo=PLUS_TWO)
    with transaction(db_engine) as conn:
        conn.execute(insert(leases).values(name="a", holder="h", expires_at=local))
        conn.execute(
            insert(leases).values(name="b", holder="h", expires_at=local + timedelta(minutes=30))
        )
    with transaction(db_engine, write=False) as conn:
        if db_engine.dialect.name == "postgresql":
            # timestamptz comes back in the session zone; we still want UTC.
            conn.execute(text("SET TIME ZONE 'America/New_York'"))
        value = conn.execute(select(leases.c.expires_at).where(leases.c.name == "a")).scalar_one()
        assert value == local
        assert value.utcoffset() == timedelta(0)
        assert value.hour == 12
        # Comparisons in SQL see the UTC instant: 12:10Z falls between 12:00Z and 12:30Z.
        probe = datetime(2026, 3, 1, 7, 10, tzinfo=timezone(timedelta(hours=-5)))
        later = conn.execute(select(leases.c.name).where(leases.c.expires_at > probe)).scalars()
        assert later.all() == ["b"]


def test_naive_timestamps_are_rejected(db_engine: Engine) -> None:
    naive = datetime(2026, 3, 1, 14)
    with (
        pytest.raises(StatementError, match="naive datetime 2026-03-01T14:00:00"),
        transaction(db_engine) as conn,
    ):
        conn.execute(insert(leases).values(name="a", holder="h", expires_at=naive))


def test_server_threads_share_one_sqlite_engine(sqlite_engine: Engine) -> None:
    with transaction(sqlite_engine) as conn:
        conn.execute(text("CREATE TABLE t (x INTEGER)"))
    errors: list[BaseException] = []

    def writer(n: int) -> None:
        try:
            for i in range(25):
                with transaction(sqlite_engine) as conn:
                    conn.execute(text("INSERT INTO t VALUES (:x)"), {"x": n * 100 + i})
        except BaseException as exc:  # surfaced by the assert below
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    with transaction(sqlite_engine, write=False) as conn:
        assert conn.execute(text("SELECT count(DISTINCT x) FROM t")).scalar() == 150


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        pytest.param(
            "postgresql://pw:s%40cret@db:5432/pw",
            "postgresql+psycopg://pw:s%40cret@db:5432/pw",
            id="plain postgresql goes to psycopg 3, password kept",
        ),
        pytest.param(
            "postgres://pw@db/pw", "postgresql+psycopg://pw@db/pw", id="postgres:// alias"
        ),
        pytest.param(
            "postgresql+psycopg://pw@db/pw", "postgresql+psycopg://pw@db/pw", id="already psycopg"
        ),
        pytest.param("sqlite:////var/lib/pw.db", "sqlite:////var/lib/pw.db", id="sqlite file"),
    ],
)
def test_normalise_url(given: str, expected: str) -> None:
    assert normalise_url(given) == expected


@pytest.mark.parametrize(
    ("given", "message"),
    [
        pytest.param("mysql://u:hunter2@db/pw", r"mysql://u:\*\*\*@db/pw: .* supports", id="mysql"),
        pytest.param("sqlite+aiosqlite:///x.db", "sqlite:///x.db|aiosqlite", id="async sqlite"),
        pytest.param("not a url", "not a URL", id="garbage"),
    ],
)
def test_unsupported_urls_are_rejected_without_leaking_passwords(given: str, message: str) -> None:
    with pytest.raises(ValueError, match=message) as err:
        make_engine(given)
    assert "hunter2" not in str(err.value)


def test_database_url_prefers_the_environment(tmp_path, monkeypatch) -> None:
    monkeypatch.delenv(ENV_DATABASE_URL, raising=False)
    assert database_url(tmp_path) == f"sqlite:///{tmp_path}/patchwarden.db"
    monkeypatch.setenv(ENV_DATABASE_URL, "postgresql://pw@db/pw")
    assert database_url(tmp_path) == "postgresql://pw@db/pw"


def test_jobs_table_rejects_unknown_host(db_engine: Engine) -> None:
    # foreign_keys=ON on SQLite makes both databases agree.
    now = datetime(2026, 1, 1, tzinfo=timezone.utc)
    with pytest.raises(IntegrityError), transaction(db_engine) as conn:
        conn.execute(insert(jobs).values(host_id="nope", kind="scan", params={}, created_at=now))
    with transaction(db_engine, write=False) as conn:
        assert conn.execute(select(hosts)).all() == []
