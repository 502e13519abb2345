"""Context.path on a mounted root: symlinks resolve inside the root (chroot semantics)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from patchwarden.agent.collectors.base import Context, resolve_in_root


def test_absolute_symlink_stays_inside_the_root(tmp_path: Path) -> None:
    (tmp_path / "usr/lib").mkdir(parents=True)
    (tmp_path / "usr/lib/os-release").write_text("ID=inside\n")
    (tmp_path / "etc").mkdir()
    os.symlink("/usr/lib/os-release", tmp_path / "etc/os-release")
    resolved = Context(root=tmp_path).path("etc/os-release")
    assert resolved == tmp_path / "usr/lib/os-release"
    assert resolved.read_text() == "ID=inside\n"


def test_relative_symlinks_and_dotdot_cannot_escape(tmp_path: Path) -> None:
    (tmp_path / "usr/lib/sysimage/rpm").mkdir(parents=True)
    (tmp_path / "var/lib").mkdir(parents=True)
    os.symlink("../../usr/lib/sysimage/rpm", tmp_path / "var/lib/rpm")
    assert resolve_in_root(tmp_path, "var/lib/rpm/rpmdb.sqlite") == (
        tmp_path / "usr/lib/sysimage/rpm/rpmdb.sqlite"
    )
    assert resolve_in_root(tmp_path, "/../../../etc/passwd") == tmp_path / "etc/passwd"


def test_symlink_loop_is_an_oserror(tmp_path: Path) -> None:
    os.symlink("b", tmp_path / "a")
    os.symlink("a", tmp_path / "b")
    with pytest.raises(OSError, match="too many levels"):
        resolve_in_root(tmp_path, "a/file")
