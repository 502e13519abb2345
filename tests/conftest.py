"""Options shared by the whole test suite."""

from __future__ import annotations

import pytest


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
