"""`[KIND:]PATH` feed specs: an unknown kind is named as such, not as a missing file, and
AlmaLinux file names (which contain ':') still work without a kind (issue 9)."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from tests.paths import PATCHWARDEN

from patchwarden.core.errors import InputError
from patchwarden.services.feeds import parse_spec

GOOD = Path(__file__).parents[2] / "data/feeds/osv/good.json"
KNOWN = "alpine-secdb, debian-tracker, epss, kev, nvd, osv, ubuntu-uct"


@pytest.mark.parametrize("exists", [True, False], ids=["file exists", "no such file"])
def test_unknown_kind_is_named(tmp_path: Path, exists: bool) -> None:
    path = tmp_path / "feed.json"
    if exists:
        path.write_bytes(GOOD.read_bytes())
    with pytest.raises(InputError) as caught:
        parse_spec(f"foo:{path}")
    assert str(caught.value) == f"foo:{path}: unknown feed kind 'foo' (known: {KNOWN})"


def test_almalinux_names_with_a_colon_are_paths(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    Path("ALSA-2023:1234.json").write_bytes(GOOD.read_bytes())
    assert parse_spec("ALSA-2023:1234.json") == ("osv", Path("ALSA-2023:1234.json"))
    assert parse_spec("osv:ALSA-2023:1234.json") == ("osv", Path("ALSA-2023:1234.json"))
    with pytest.raises(InputError, match=r"^ALSA-2023:9999\.json: no such feed file"):
        parse_spec("ALSA-2023:9999.json")


def test_known_kind_with_a_missing_path_is_a_missing_file(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="no such feed file or directory"):
        parse_spec(f"osv:{tmp_path / 'missing.json'}")
    with pytest.raises(InputError, match="no such feed file or directory"):
        parse_spec(str(tmp_path / "dir:with/colon.json"))  # '/' in the prefix: a path


def test_scan_with_an_unknown_feed_kind_says_so(tmp_path: Path) -> None:
    proc = subprocess.run(
        [PATCHWARDEN, "scan", "--data-dir", str(tmp_path), "--offline", "--feed", f"foo:{GOOD}"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 2, proc.stderr
    assert f"unknown feed kind 'foo' (known: {KNOWN})" in proc.stderr
    assert "no such feed file" not in proc.stderr
