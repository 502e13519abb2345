"""The unit of work on SQLite or PostgreSQL: one connection, one transaction, the repositories.

`with uow:` begins a write transaction (`BEGIN IMMEDIATE` on SQLite, so writers queue up front
instead of failing half-way, see `storage.db`); `uow.commit()` commits it, and whatever is
not committed when the block ends is rolled back. `with uow.read():` begins a read
transaction, which never commits. A `SqlUnitOfWork` may be entered many times in turn, never
nested; the repositories exist only inside a block.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Optional

from sqlalchemy import Connection, Engine, RootTransaction

from patchwarden.services.ports import Advisories
from patchwarden.storage.batches import SqlBatchRepository
from patchwarden.storage.console import SqlConsoleReadRepository
from patchwarden.storage.db import connect
from patchwarden.storage.hosts import SqlHostRepository
from patchwarden.storage.inventories import SqlInventoryRepository
from patchwarden.storage.jobs import SqlJobRepository
from patchwarden.storage.leases import SqlLeaseRepository
from patchwarden.storage.records import SqlEventRepository, SqlRecordRepository
from patchwarden.storage.settings import SqlSettingsRepository
from patchwarden.storage.snapshots import SqlSnapshotRepository
from patchwarden.storage.users import SqlEnrolmentRepository, SqlUserRepository


class SqlUnitOfWork:
    """`services.ports.UnitOfWork` over a SQLAlchemy engine and an advisory index."""

    hosts: SqlHostRepository
    users: SqlUserRepository
    enrolment: SqlEnrolmentRepository
    records: SqlRecordRepository
    events: SqlEventRepository
    jobs: SqlJobRepository
    inventories: SqlInventoryRepository
    settings: SqlSettingsRepository
    leases: SqlLeaseRepository
    snapshots: SqlSnapshotRepository
    batches: SqlBatchRepository
    console: SqlConsoleReadRepository

    def __init__(self, engine: Engine, advisories: Advisories) -> None:
        self.engine = engine
        self.advisories = advisories
        self._conn: Optional[Connection] = None
        self._txn: Optional[RootTransaction] = None

    def _begin(self, write: bool) -> None:
        if self._conn is not None:
            raise RuntimeError("the unit of work is already in a transaction (nested block)")
        conn = connect(self.engine, write)
        try:
            self._txn = conn.begin()
        except BaseException:
            conn.close()
            raise
        self._conn = conn
        self.hosts = SqlHostRepository(conn)
        self.users = SqlUserRepository(conn)
        self.enrolment = SqlEnrolmentRepository(conn)
        self.records = SqlRecordRepository(conn)
        self.events = SqlEventRepository(conn)
        self.jobs = SqlJobRepository(conn)
        self.inventories = SqlInventoryRepository(conn)
        self.settings = SqlSettingsRepository(conn)
        self.leases = SqlLeaseRepository(conn)
        self.snapshots = SqlSnapshotRepository(conn)
        self.batches = SqlBatchRepository(conn)
        self.console = SqlConsoleReadRepository(conn)

    def _end(self) -> None:
        conn, txn, self._conn, self._txn = self._conn, self._txn, None, None
        if conn is None:
            return
        try:
            if txn is not None and txn.is_active:
                txn.rollback()
        finally:
            conn.close()  # also rolls back a transaction begun after a commit

    def __enter__(self) -> SqlUnitOfWork:
        self._begin(write=True)
        return self

    def __exit__(self, *exc: object) -> None:
        self._end()

    @contextmanager
    def read(self) -> Iterator[SqlUnitOfWork]:
        """A read transaction: it neither waits for nor blocks SQLite's writer."""
        self._begin(write=False)
        try:
            yield self
        finally:
            self._end()

    def commit(self) -> None:
        """Commit the write transaction now."""
        if self._txn is None:
            raise RuntimeError("commit outside of `with uow:`")
        self._txn.commit()
