"""Options shared by the whole test suite."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from sqlalchemy import Engine

    from tests.pg import PostgresServer


def pytest_addoption(parser: pytest.Parser) -> None:
    """`--update-golden` rewrites golden files instead of comparing against them (STYLE T3)."""
    parser.addoption(
        "--update-golden",
        action="store_true",
        default=False,
        help="regenerate golden expected files under tests/data/ (review the diff by eye)",
    )


@pytest.fixture
def update_golden(request: pytest.FixtureRequest) -> bool:
    """True when the run was started with --update-golden."""
    return bool(request.config.getoption("--update-golden"))


# -- databases (DESIGN §3 Storage) --------------------------------------------------------------


@pytest.fixture(scope="session")
def pg_server() -> Iterator[PostgresServer]:
    """A real PostgreSQL server for the whole session (each xdist worker starts its own)."""
    from tests.pg import running_postgres  # psycopg is a server-side dependency

    with running_postgres() as server:
        yield server


@pytest.fixture(scope="session")
def pg_url(pg_server: PostgresServer) -> str:
    """URL of one database on the session's PostgreSQL server, shared by the session."""
    return pg_server.create_database("patchwarden_session")


@pytest.fixture(scope="session")
def pg_template(pg_server: PostgresServer) -> str:
    """Name of a database on the session server migrated to head once; tests clone it."""
    from patchwarden.storage.migrate import upgrade

    name = "patchwarden_template"
    upgrade(pg_server.create_database(name))
    return name


@pytest.fixture(
    params=[
        pytest.param("sqlite", id="sqlite"),
        pytest.param("postgresql", id="postgresql", marks=pytest.mark.postgres),
    ]
)
def db_backend(request: pytest.FixtureRequest) -> str:
    """Each console database backend in turn ("sqlite", "postgresql")."""
    return str(request.param)


@pytest.fixture
def db_url(db_backend: str, request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """An empty console database on each backend: a SQLite file under `tmp_path`, or a fresh
    PostgreSQL database (dropped after the test)."""
    if db_backend == "sqlite":
        yield f"sqlite:///{tmp_path / 'patchwarden.db'}"
        return
    server: PostgresServer = request.getfixturevalue("pg_server")
    name = f"t_{uuid.uuid4().hex[:16]}"
    url = server.create_database(name)
    yield url
    server.drop_database(name)


@pytest.fixture
def migrated_db_url(
    db_backend: str, request: pytest.FixtureRequest, tmp_path: Path
) -> Iterator[str]:
    """A console database at the newest schema on each backend. SQLite files are migrated
    per test (fast); PostgreSQL databases are cloned from `pg_template` (a migration there
    costs more than the clone)."""
    from patchwarden.storage.migrate import upgrade

    if db_backend == "sqlite":
        url = f"sqlite:///{tmp_path / 'patchwarden.db'}"
        upgrade(url)
        yield url
        return
    server: PostgresServer = request.getfixturevalue("pg_server")
    template: str = request.getfixturevalue("pg_template")
    name = f"t_{uuid.uuid4().hex[:16]}"
    url = server.create_database(name, template=template)
    yield url
    server.drop_database(name)


@pytest.fixture
def db_engine(migrated_db_url: str) -> Iterator[Engine]:
    """An engine on `migrated_db_url`."""
    from patchwarden.storage.db import make_engine

    engine = make_engine(migrated_db_url)
    yield engine
    engine.dispose()
