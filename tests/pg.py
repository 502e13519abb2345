"""A throwaway PostgreSQL server for tests and benchmarks (DESIGN §3 Storage).

Starts Debian's PostgreSQL binaries on a free loopback port with a data directory under /tmp,
tuned for speed rather than durability (fsync off, small shared_buffers), and removes it all
on `stop()`. PostgreSQL refuses to run as root, so as root every server command runs as the
`postgres` user through `runuser`.

    with running_postgres() as server:
        url = server.create_database("t1")   # postgresql+psycopg://postgres@127.0.0.1:PORT/t1
"""

from __future__ import annotations

import atexit
import os
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Optional

import psycopg
from psycopg import sql

PG_ROOT = Path("/usr/lib/postgresql")
PREFERRED_MAJOR = "15"
SERVER_OPTIONS = (
    # Durability is worthless for a test cluster that is deleted afterwards.
    "-c fsync=off -c synchronous_commit=off -c full_page_writes=off "
    "-c shared_buffers=16MB -c max_connections=60 -c max_locks_per_transaction=128"
)


class PostgresMissing(RuntimeError):
    """The PostgreSQL server binaries are not installed."""


def find_bin_dir(root: Path = PG_ROOT) -> Path:
    """The `bin` directory of the installed PostgreSQL (15 preferred, else the newest)."""
    candidates = sorted(root.glob("*/bin/pg_ctl"), key=lambda p: _major(p.parent.parent.name))
    preferred = [p for p in candidates if p.parent.parent.name == PREFERRED_MAJOR]
    chosen = preferred or candidates
    if not chosen:
        raise PostgresMissing(
            f"no PostgreSQL server binaries under {root}/*/bin (pg_ctl, initdb): "
            "`make install` installs the Debian package `postgresql` the PostgreSQL tests need"
        )
    return chosen[-1].parent


def free_port() -> int:
    """A TCP port on 127.0.0.1 nobody listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class PostgresServer:
    """One PostgreSQL cluster in a temporary directory; `start()` it, then `stop()` it."""

    def __init__(self, bin_dir: Optional[Path] = None) -> None:
        self.bin_dir = bin_dir or find_bin_dir()
        self.base = Path(tempfile.mkdtemp(prefix="patchwarden-pg-", dir="/tmp"))
        self.data_dir = self.base / "data"
        self.socket_dir = self.base / "sock"
        self.log_file = self.base / "server.log"
        self.port = 0
        self._running = False

    def start(self) -> None:
        """initdb, then start the server and wait until it accepts connections."""
        self.socket_dir.mkdir()
        if os.geteuid() == 0:
            shutil.chown(self.base, "postgres", "postgres")
            shutil.chown(self.socket_dir, "postgres", "postgres")
        self._run(
            "initdb", "-D", str(self.data_dir), "-U", "postgres", "-A", "trust",
            "-E", "UTF8", "--locale=C", "--no-sync", "--no-instructions",
        )  # fmt: skip
        atexit.register(self.stop)
        # The port is only reserved once the server binds it: retry if someone took it.
        for _attempt in range(3):
            self.port = free_port()
            options = (
                f"-c listen_addresses=127.0.0.1 -p {self.port} -k {self.socket_dir} "
                + SERVER_OPTIONS
            )
            try:
                self._run(
                    "pg_ctl", "-D", str(self.data_dir), "-l", str(self.log_file),
                    "-o", options, "-w", "-t", "60", "start",
                )  # fmt: skip
            except RuntimeError:
                if "could not bind" in self.log():
                    continue
                raise
            self._running = True
            return
        raise RuntimeError(f"PostgreSQL could not bind a free port; log:\n{self.log()}")

    def stop(self) -> None:
        """Stop the server (immediately: nothing in it is worth keeping) and delete its files."""
        if self._running:
            self._running = False
            self._run("pg_ctl", "-D", str(self.data_dir), "-m", "immediate", "-w", "stop")
        shutil.rmtree(self.base, ignore_errors=True)

    def url(self, database: str = "postgres") -> str:
        """SQLAlchemy URL of one database on this server."""
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/{database}"

    def create_database(self, name: str, template: str = "template1") -> str:
        """Create database `name` as a copy of `template` and return its URL."""
        self._admin(
            sql.SQL("CREATE DATABASE {} TEMPLATE {}").format(
                sql.Identifier(name), sql.Identifier(template)
            )
        )
        return self.url(name)

    def drop_database(self, name: str) -> None:
        """Drop database `name`, closing any connection a test left open to it."""
        self._admin(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))

    def log(self) -> str:
        """The server log so far (for error messages)."""
        try:
            return self.log_file.read_text(errors="replace")
        except FileNotFoundError:
            return ""

    def _admin(self, statement: sql.Composed) -> None:
        conninfo = f"host=127.0.0.1 port={self.port} user=postgres dbname=postgres"
        with psycopg.connect(conninfo, autocommit=True) as conn:
            conn.execute(statement)

    def _run(self, tool: str, *args: str) -> None:
        argv = [str(self.bin_dir / tool), *args]
        if os.geteuid() == 0:
            argv = ["runuser", "-u", "postgres", "--", *argv]
        done = subprocess.run(argv, capture_output=True, text=True, cwd=self.base, check=False)
        if done.returncode != 0:
            raise RuntimeError(
                f"{tool} failed (exit {done.returncode}): {done.stderr.strip() or done.stdout}"
                f"\nserver log:\n{self.log()}"
            )


@contextmanager
def running_postgres() -> Iterator[PostgresServer]:
    """A started PostgreSQL server, stopped and deleted when the block ends."""
    server = PostgresServer()
    try:
        server.start()
        yield server
    finally:
        server.stop()


def _major(version: str) -> int:
    return int(version) if version.isdigit() else -1
