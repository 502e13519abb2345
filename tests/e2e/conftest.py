"""Fixtures of the fleet end-to-end tests: feeds imported once, fresh consoles per test."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from tests.e2e.fleet import (
    Fleet,
    FleetFeeds,
    build_roots,
    clean_env,
    expected_findings,
    feed_specs,
    make_fleet,
    pw,
    uct_subset,
)


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
