"""Fixtures of the fleet end-to-end tests: feeds imported once, fresh consoles per test."""

from __future__ import annotations

import shutil
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from tests.e2e.fleet import (
    Console,
    FleetAgent,
    OffsetFile,
    build_roots,
    clean_env,
    expected_findings,
    feed_specs,
    pw,
    uct_subset,
)


@dataclass(frozen=True)
class FleetFeeds:
    """An advisory store with every feed of the fleet, and what each pristine root has."""

    store_dir: Path
    """Data dir holding the imported advisory store (copied into each console's data dir)."""
    specs: dict[str, list[str]]
    expected: dict[str, set[tuple[str, str]]]
    """Root name -> (vuln id, package) of `patchwarden scan` on the pristine root."""


@pytest.fixture(scope="session")
def fleet_feeds(tmp_path_factory: pytest.TempPathFactory) -> FleetFeeds:
    """Import the fleet's feeds once per session (~10 s) and scan the pristine roots."""
    base = tmp_path_factory.mktemp("fleet-feeds")
    specs = feed_specs(uct_subset(base / "uct"))
    store_dir = base / "store"
    unique = list(dict.fromkeys(s for group in specs.values() for s in group))
    pw("feeds", "import", *unique, "--data-dir", str(store_dir), env=clean_env())
    roots = build_roots(base / "roots")
    expected = {
        name: expected_findings(root, specs[name], base / f"scan-{name}")
        for name, root in roots.items()
    }
    for name, found in expected.items():
        assert found, f"the {name} root has no findings: the fleet would test nothing"
    return FleetFeeds(store_dir, specs, expected)


@dataclass
class Fleet:
    """A running console (SQLite unless the env says otherwise) and three agents."""

    console: Console
    agents: dict[str, FleetAgent]
    clock: OffsetFile
    env: dict[str, str]
    data_dir: Path

    def enrolment_token(self) -> str:
        """A new one-time enrolment token from the CLI."""
        return pw(
            "enrolment-token", "create", "--data-dir", str(self.data_dir), env=self.env
        ).strip()

    def enrol_all(self) -> None:
        """Enrol every agent (each with its own token) and let it report once."""
        for agent in self.agents.values():
            agent.enrol_and_run(self.console.url, self.enrolment_token())


def make_fleet(base: Path, feeds: FleetFeeds, database_url: str = "") -> Fleet:
    """Data dir with the fleet's advisory store, offset clock, API token, three agent roots."""
    data_dir = base / "data"
    data_dir.mkdir()
    for f in feeds.store_dir.iterdir():
        if f.name.startswith("advisories.db"):
            shutil.copy(f, data_dir / f.name)
    clock = OffsetFile(base / "clock-offset")
    extra = {"PATCHWARDEN_CLOCK_OFFSET_FILE": str(clock.path)}
    if database_url:
        extra["PATCHWARDEN_DATABASE_URL"] = database_url
    env = clean_env(**extra)
    token = pw(
        "api-token", "create", "--user", "alice", "--data-dir", str(data_dir), env=env
    ).strip()
    console = Console(data_dir, env, token)
    roots = build_roots(base / "roots")
    agents = {
        name: FleetAgent(name, root, base / f"state-{name}", clean_env())
        for name, root in roots.items()
    }
    return Fleet(console, agents, clock, env, data_dir)


@pytest.fixture
def fleet(tmp_path: Path, fleet_feeds: FleetFeeds) -> Iterator[Fleet]:
    """A fresh SQLite console (no scheduler thread: tests tick it) and three agents."""
    f = make_fleet(tmp_path, fleet_feeds)
    f.console.start()
    yield f
    f.console.stop()


@pytest.fixture
def pg_database(request: pytest.FixtureRequest) -> Iterator[str]:
    """A fresh, empty database on the session PostgreSQL (the console migrates it)."""
    server = request.getfixturevalue("pg_server")
    name = f"e2e_{uuid.uuid4().hex[:12]}"
    url: str = server.create_database(name)
    yield url
    server.drop_database(name)
