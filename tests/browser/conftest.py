"""Fixtures of the browser tests: a real console with the e2e fleet's three agents, users with
passwords, and Debian's Chromium driven by Playwright (`playwright install` is never used)."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from tests.e2e.conftest import fleet_feeds  # noqa: F401  (the session's imported feeds)
from tests.e2e.fleet import Fleet, FleetFeeds, make_fleet
from tests.paths import PATCHWARDEN, REPO
from tests.tools import require

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-quic",
    "--no-first-run",
    "--disable-component-update",
    "--disable-sync",
]
ARTIFACTS = REPO / "test-artifacts" / "browser"
"""Screenshots of every page (gitignored): look at them."""
VIEWPORT = {"width": 1280, "height": 800}
OWNER, OWNER_PASSWORD = "alice", "alice-correct-horse"
SUB, SUB_PASSWORD = "sam", "sam-battery-staple"
"""A sub-user: viewer, granted verify and ignore, not fix."""


def set_password(fleet: Fleet, name: str, password: str, *args: str) -> None:
    """`patchwarden users add|passwd … --password-stdin` on the fleet's console."""
    proc = subprocess.run(
        [PATCHWARDEN, "users", *args, "--password-stdin", "--data-dir", str(fleet.data_dir)],
        input=password + "\n",
        capture_output=True,
        text=True,
        env=fleet.env,
        timeout=60,
    )
    assert proc.returncode == 0, proc.stderr


@pytest.fixture(scope="module")
def console_fleet(
    tmp_path_factory: pytest.TempPathFactory,
    fleet_feeds: FleetFeeds,  # noqa: F811
) -> Iterator[Fleet]:
    """A console (no scheduler thread) whose three hosts have reported, with an owner and a
    sub-user who can sign in."""
    fleet = make_fleet(tmp_path_factory.mktemp("browser"), fleet_feeds)
    fleet.console.start()
    fleet.enrol_all()
    set_password(fleet, OWNER, OWNER_PASSWORD, "passwd", OWNER)
    set_password(
        fleet, SUB, SUB_PASSWORD, "add", SUB, "--role", "viewer",
        "--permission", "verify", "--permission", "ignore",
    )  # fmt: skip
    yield fleet
    fleet.console.stop()


@pytest.fixture(scope="module")
def bare_console(
    tmp_path_factory: pytest.TempPathFactory,
    fleet_feeds: FleetFeeds,  # noqa: F811
) -> Iterator[Fleet]:
    """A console of its own with no host, whose owner can sign in."""
    fleet = make_fleet(tmp_path_factory.mktemp("browser-bare"), fleet_feeds)
    fleet.console.start()
    set_password(fleet, OWNER, OWNER_PASSWORD, "passwd", OWNER)
    yield fleet
    fleet.console.stop()


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    """Debian's Chromium under Playwright."""
    require(CHROMIUM, "chromium")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        chromium = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS)
        yield chromium
        chromium.close()


@pytest.fixture
def artifacts() -> Path:
    """Where screenshots go."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    return ARTIFACTS
