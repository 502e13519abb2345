"""The console database engine: SQLite (default) or PostgreSQL 15 through psycopg 3.

SQLite is tuned for a multi-threaded server on every new connection (DESIGN §3 Storage):
WAL so readers never block the writer, `synchronous=NORMAL` (durable at checkpoints, safe in
WAL mode), a `busy_timeout` so writers queue instead of failing, and `foreign_keys=ON`
because SQLite enforces no foreign keys by default.

Transactions: SQLAlchemy, not the `sqlite3` module, emits BEGIN (the driver's legacy mode
skips BEGIN before SELECT and DDL, which breaks repeatable reads and transactional DDL; see
SQLAlchemy's SQLite dialect docs, "Enabling Non-Legacy SQLite Transactional Modes").
`transaction(engine)` starts write transactions with `BEGIN IMMEDIATE`: a deferred
transaction that reads and then writes cannot wait for the write lock once another writer
has committed (SQLITE_BUSY_SNAPSHOT, no retry by `busy_timeout`), whereas an immediate one
queues for the lock up front.

A SQLite database file is made 0600 before SQLite first opens it, which keeps its `-wal` and
`-shm` files private too (`storage.files`).
"""

from __future__ import annotations

import os
import re
import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Optional, Union

from sqlalchemy import Connection, Engine, create_engine, event, inspect, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from patchwarden.core.errors import PatchwardenError
from patchwarden.storage.files import private_file

ENV_DATABASE_URL = "PATCHWARDEN_DATABASE_URL"
DATABASE_FILE = "patchwarden.db"
SQLITE_BUSY_TIMEOUT_MS = 30_000

# UPDATE … RETURNING (the job queue) and INSERT … ON CONFLICT … RETURNING (leases).
MIN_SQLITE = (3, 35, 0)

SCHEMA_LOCK_KEY = 0x7061_7463_6877_6462
"""pg_advisory_lock key (a signed bigint) held during schema changes: "patchwdb" in ASCII."""

_BEGIN_OPTION = "patchwarden_sqlite_begin"
"""Execution option naming the BEGIN variant SQLite transactions start with."""


class SchemaError(PatchwardenError):
    """A schema change (migration) that would leave the database inconsistent."""


def default_database_url(data_dir: Union[Path, str]) -> str:
    """`sqlite:///<data_dir>/patchwarden.db`."""
    return f"sqlite:///{Path(data_dir) / DATABASE_FILE}"


def database_url(data_dir: Union[Path, str]) -> str:
    """`$PATCHWARDEN_DATABASE_URL` when set, else the SQLite file in `data_dir`."""
    return os.environ.get(ENV_DATABASE_URL) or default_database_url(data_dir)


def normalise_url(url: str) -> str:
    """Route PostgreSQL URLs to psycopg 3 (`postgresql://` and `postgres://` would pick
    psycopg2, which we do not ship); reject databases we do not support."""
    try:
        parsed = make_url(re.sub(r"^postgres://", "postgresql://", url))
    except ArgumentError as exc:
        raise ValueError(f"database URL is not a URL ({exc})") from None
    shown = parsed.render_as_string(hide_password=True)
    backend, driver = parsed.get_backend_name(), parsed.get_driver_name()
    if backend == "postgresql" and driver in ("psycopg2", "psycopg"):
        return parsed.set(drivername="postgresql+psycopg").render_as_string(hide_password=False)
    if backend == "sqlite" and driver == "pysqlite":
        return url
    raise ValueError(
        f"database URL {shown}: patchwarden supports sqlite:/// (stdlib sqlite3) and "
        "postgresql:// (psycopg 3) only"
    )


def make_engine(url: str, **kwargs: Any) -> Engine:
    """An engine for the console database at `url` (SQLite or PostgreSQL).

    Extra keyword arguments go to `sqlalchemy.create_engine` (e.g. `echo=True`).
    """
    url = normalise_url(url)
    if make_url(url).get_backend_name() == "postgresql":
        # Server threads each hold a connection for one request; pre-ping drops connections
        # a PostgreSQL restart or idle timeout killed instead of failing the next request.
        kwargs.setdefault("pool_size", 10)
        kwargs.setdefault("max_overflow", 20)
        kwargs.setdefault("pool_pre_ping", True)
        return create_engine(url, **kwargs)
    if sqlite3.sqlite_version_info < MIN_SQLITE:
        raise RuntimeError(
            f"SQLite {sqlite3.sqlite_version} is too old for the console database: "
            f"need {'.'.join(map(str, MIN_SQLITE))} or newer (UPDATE … RETURNING)"
        )
    path = sqlite_path(url)
    if path is not None:
        # File databases get a QueuePool shared by server threads (SQLAlchemy turns off
        # check_same_thread for them); SQLite itself serialises writers.
        kwargs.setdefault("pool_size", 8)
        kwargs.setdefault("max_overflow", 16)
        if path.parent.is_dir():
            private_file(path)
    engine = create_engine(url, **kwargs)
    event.listen(engine, "connect", _sqlite_on_connect)
    event.listen(engine, "begin", _sqlite_on_begin)
    return engine


def sqlite_path(url: str) -> Optional[Path]:
    """The file of a SQLite database URL (None: not SQLite, in memory, or a `file:` URI)."""
    parsed = make_url(normalise_url(url))
    database = parsed.database
    if parsed.get_backend_name() != "sqlite" or database in (None, "", ":memory:"):
        return None
    if database.startswith("file:"):
        return None
    return Path(database)


def describe(url: str) -> str:
    """The database of `url` for messages: a SQLite file's path, else the URL without its
    password."""
    path = sqlite_path(url)
    if path is not None:
        return str(path.absolute())
    return make_url(normalise_url(url)).render_as_string(hide_password=True)


def is_initialised(url: str) -> bool:
    """Whether `url` holds a console database (migrated at least once). Creates nothing: a
    missing SQLite file is simply not one."""
    path = sqlite_path(url)
    if path is not None and (not path.is_file() or path.stat().st_size == 0):
        return False
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            return inspect(conn).has_table("alembic_version")
    finally:
        engine.dispose()


def is_sqlite(bind: Union[Engine, Connection]) -> bool:
    """True when `bind` talks to SQLite."""
    return bind.dialect.name == "sqlite"


def connect(engine: Engine, write: bool = True) -> Connection:
    """A connection whose transactions are write (`write=True`) or read transactions.

    A write transaction takes SQLite's write lock at BEGIN (`BEGIN IMMEDIATE`), waiting up to
    the busy timeout for other writers; a read transaction begins deferred. PostgreSQL
    ignores the flag.
    """
    conn = engine.connect()
    if write and is_sqlite(engine):
        conn.execution_options(**{_BEGIN_OPTION: "BEGIN IMMEDIATE"})
    return conn


@contextmanager
def transaction(engine: Engine, write: bool = True) -> Iterator[Connection]:
    """A connection inside one transaction: COMMIT when the block ends, ROLLBACK if it raises
    (see `connect` for `write`)."""
    with connect(engine, write) as conn, conn.begin():
        yield conn


@contextmanager
def schema_transaction(engine: Engine) -> Iterator[Connection]:
    """One transaction for schema changes (migrations), safe when several processes start
    at once: the second waits, then finds the work done.

    PostgreSQL: a session advisory lock is held around the transaction. SQLite: `BEGIN
    IMMEDIATE` serialises, and foreign key enforcement is off for the duration and checked
    with `PRAGMA foreign_key_check` before COMMIT. That is SQLite's documented procedure for
    table rebuilds (sqlite.org/lang_altertable.html, "Making Other Kinds Of Table Schema
    Changes"): Alembic batch mode rebuilds tables, and with enforcement on, dropping the old
    parent table would run its ON DELETE CASCADE and empty the child tables.
    """
    with engine.connect() as conn:
        if not is_sqlite(engine):
            lock = text("SELECT pg_advisory_lock(CAST(:key AS bigint))")
            conn.execute(lock, {"key": SCHEMA_LOCK_KEY})
            conn.commit()  # the lock belongs to the session, not to this transaction
            try:
                with conn.begin():
                    yield conn
            finally:
                unlock = text("SELECT pg_advisory_unlock(CAST(:key AS bigint))")
                conn.execute(unlock, {"key": SCHEMA_LOCK_KEY})
                conn.commit()
            return
        raw = conn.connection.dbapi_connection
        assert raw is not None
        raw.execute("PRAGMA foreign_keys = OFF")  # a no-op inside a transaction: before BEGIN
        try:
            conn.execution_options(**{_BEGIN_OPTION: "BEGIN IMMEDIATE"})
            with conn.begin():
                yield conn
                dangling = conn.exec_driver_sql("PRAGMA foreign_key_check").all()
                if dangling:
                    table, rowid, parent, _ = dangling[0]
                    raise SchemaError(
                        f"schema change left {len(dangling)} row(s) pointing at missing "
                        f"parents, e.g. {table} rowid {rowid} -> {parent}; rolled back"
                    )
        finally:
            raw.execute("PRAGMA foreign_keys = ON")


def _sqlite_on_connect(dbapi_connection: sqlite3.Connection, _record: object) -> None:
    # Hand BEGIN over to SQLAlchemy (see `_sqlite_on_begin`); the driver still sends
    # COMMIT/ROLLBACK.
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    try:
        # busy_timeout first: switching to WAL needs a lock another process may hold.
        cursor.execute(f"PRAGMA busy_timeout = {SQLITE_BUSY_TIMEOUT_MS}")
        _switch_to_wal(cursor)
        cursor.execute("PRAGMA synchronous = NORMAL")
        cursor.execute("PRAGMA foreign_keys = ON")
    finally:
        cursor.close()


def _switch_to_wal(cursor: sqlite3.Cursor) -> None:
    """`PRAGMA journal_mode = WAL`, retried while another connection holds the database.

    The switch can fail with "database is locked" at once, without waiting for the busy
    timeout, when other connections open the same new database at the same moment (three
    consoles starting together: 8 runs in 40 failed before this retry).
    """
    deadline = time.monotonic() + SQLITE_BUSY_TIMEOUT_MS / 1000
    while True:
        try:
            cursor.execute("PRAGMA journal_mode = WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() >= deadline:
                raise
            time.sleep(0.05)


def _sqlite_on_begin(conn: Connection) -> None:
    conn.exec_driver_sql(conn.get_execution_options().get(_BEGIN_OPTION, "BEGIN"))
