"""Files the console writes are private under the usual umask 022: the SQLite console database
and its -wal/-shm files 0600 (new, and tightened when an older version left them 0644), the
advisory store likewise, and the data directory 0700 when we create it."""

from __future__ import annotations

import os
import sqlite3
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import text

from patchwarden.storage.advisory_store import STORE_FILE, AdvisoryStore
from patchwarden.storage.db import make_engine, transaction
from patchwarden.storage.files import private_dir
from patchwarden.storage.migrate import upgrade


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def modes(db: Path) -> dict[str, int]:
    """Mode of the database and of each SQLite side file that exists."""
    files = [db, Path(f"{db}-wal"), Path(f"{db}-shm")]
    return {p.name: mode(p) for p in files if p.exists()}


@pytest.fixture(autouse=True)
def usual_umask() -> Iterator[None]:
    """The common umask, whatever the test runner has: files would be 0644 by default."""
    old = os.umask(0o022)
    yield
    os.umask(old)


def test_a_new_console_database_and_its_wal_and_shm_are_0600(tmp_path: Path) -> None:
    db = tmp_path / "patchwarden.db"
    upgrade(f"sqlite:///{db}")
    engine = make_engine(f"sqlite:///{db}")
    try:
        with transaction(engine) as conn:
            conn.execute(text("INSERT INTO settings VALUES ('k', '1')"))
            # While a connection is open the WAL and shared-memory files exist.
            assert modes(db) == {db.name: 0o600, f"{db.name}-wal": 0o600, f"{db.name}-shm": 0o600}
    finally:
        engine.dispose()


def test_a_database_left_world_readable_is_tightened_when_opened(tmp_path: Path) -> None:
    db = tmp_path / "patchwarden.db"
    with sqlite3.connect(db) as conn:  # as an older version created it
        conn.execute("PRAGMA journal_mode = WAL")
        conn.execute("CREATE TABLE t (x)")
    assert mode(db) == 0o644
    engine = make_engine(f"sqlite:///{db}")
    try:
        with transaction(engine) as conn:
            conn.execute(text("INSERT INTO t VALUES (1)"))
            assert set(modes(db).values()) == {0o600} and len(modes(db)) == 3
    finally:
        engine.dispose()


def test_the_advisory_store_and_its_directory_are_private(tmp_path: Path) -> None:
    data_dir = tmp_path / "new" / "data"
    with AdvisoryStore.in_dir(data_dir):
        store = data_dir / STORE_FILE
        assert modes(store) == {
            STORE_FILE: 0o600, f"{STORE_FILE}-wal": 0o600, f"{STORE_FILE}-shm": 0o600
        }  # fmt: skip
    assert mode(data_dir) == 0o700
    assert mode(data_dir.parent) == 0o755  # a parent we had to create is not ours to close


def test_an_existing_directory_keeps_its_mode(tmp_path: Path) -> None:
    shared = tmp_path / "shared"
    shared.mkdir(mode=0o755)
    private_dir(shared)
    assert mode(shared) == 0o755
