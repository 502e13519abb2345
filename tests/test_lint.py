"""House rules as tests (STYLE C3): ruff, import contracts (DESIGN §2), mypy --strict on core,
services, protocol and storage."""

from __future__ import annotations

import subprocess

import pytest

from tests.paths import BIN, REPO

TREES = ["src", "tests", "bench", "scripts"]


@pytest.mark.parametrize(
    "argv",
    [
        pytest.param(["ruff", "check", *TREES], id="ruff check"),
        pytest.param(["ruff", "format", "--check", *TREES], id="ruff format"),
        pytest.param(["lint-imports"], id="import contracts"),
        pytest.param(["mypy"], id="mypy strict"),
    ],
)
def test_house_rules(argv):
    proc = subprocess.run(
        [str(BIN / argv[0]), *argv[1:]], cwd=REPO, capture_output=True, text=True, timeout=300
    )
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-2000:]
