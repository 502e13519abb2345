"""The test PostgreSQL helper: which server binaries it picks, and what it says without any."""

from __future__ import annotations

from pathlib import Path

import pytest
from tests.pg import PostgresMissing, find_bin_dir


def install(root: Path, *majors: str) -> None:
    for major in majors:
        (root / major / "bin").mkdir(parents=True)
        (root / major / "bin" / "pg_ctl").touch()


@pytest.mark.parametrize(
    ("installed", "chosen"),
    [
        pytest.param(("13", "15", "16"), "15", id="15 preferred (DESIGN §3)"),
        pytest.param(("9.6", "13", "16"), "16", id="else the newest"),
    ],
)
def test_picks_postgresql_15_else_the_newest(
    tmp_path: Path, installed: tuple[str, ...], chosen: str
) -> None:
    install(tmp_path, *installed)
    assert find_bin_dir(tmp_path) == tmp_path / chosen / "bin"


def test_missing_server_says_how_to_install_it(tmp_path: Path) -> None:
    with pytest.raises(
        PostgresMissing, match=r"`make install` installs the Debian package `postgresql`"
    ):
        find_bin_dir(tmp_path)
