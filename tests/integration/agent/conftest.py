"""A real Debian 12 chroot per test session (tests/chroot.py), with a package to fix.

The package is libssl3: installed at the version `bookworm` offers, fixed by the newer one
`bookworm-security` offers; both are picked at session start from `apt-cache policy`, never
written down here. Each test gets the chroot back with libssl3 at the old version, the
original apt sources and lists, and a fresh agent state directory.
"""

from __future__ import annotations

import os
import shutil
import signal
from collections.abc import Iterator
from contextlib import suppress
from dataclasses import dataclass
from pathlib import Path

import pytest
from tests.chroot import DebianChroot, bookworm_chroot

from patchwarden.agent.actions.base import make_target
from patchwarden.agent.actions.context import ActionContext
from patchwarden.agent.snapshots.base import SNAPSHOTS, SnapshotStore

PACKAGE = "libssl3"


@dataclass(frozen=True)
class Bookworm:
    """The session's chroot and the versions of the package the tests fix."""

    chroot: DebianChroot
    package: str
    old: str
    """The version `bookworm` offers (installed before each test)."""
    fixed: str
    """The newer version `bookworm-security` offers."""

    @property
    def root(self) -> Path:
        return self.chroot.root


@pytest.fixture(scope="session")
def bookworm_session(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Bookworm]:
    with bookworm_chroot(tmp_path_factory.mktemp("chroot")) as chroot:
        policy = chroot.policy(PACKAGE)
        old = policy.from_suite("bookworm")
        fixed = policy.from_suite("bookworm-security")
        if not old or not fixed:
            pytest.fail(f"apt-cache policy {PACKAGE}: need versions from bookworm and"
                        f" bookworm-security, got {policy.versions}", pytrace=False)  # fmt: skip
        chroot.install(PACKAGE, old[0])
        # Keep the session's original sources and lists, to put back after tests that
        # break them.
        shutil.copytree(chroot.root / "var/lib/apt/lists", _saved(chroot, "lists"), symlinks=True)
        shutil.copyfile(chroot.root / "etc/apt/sources.list", _saved(chroot, "sources.list"))
        yield Bookworm(chroot, PACKAGE, old[0], fixed[0])


def _saved(chroot: DebianChroot, name: str) -> Path:
    """Where the session keeps an original of the chroot's `name` (beside the root)."""
    return chroot.root.parent / f"{name}.orig"


@pytest.fixture
def bookworm(bookworm_session: Bookworm) -> Iterator[Bookworm]:
    """The session's chroot with the package at its old version again after the test."""
    yield bookworm_session
    chroot = bookworm_session.chroot
    for pid in chroot.processes():
        with suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    sources = chroot.root / "etc/apt/sources.list"
    original = _saved(chroot, "sources.list")
    if sources.read_bytes() != original.read_bytes():
        shutil.copyfile(original, sources)
        lists = chroot.root / "var/lib/apt/lists"
        shutil.rmtree(lists)
        shutil.copytree(_saved(chroot, "lists"), lists, symlinks=True)
    if chroot.version(bookworm_session.package) != bookworm_session.old:
        chroot.install(bookworm_session.package, bookworm_session.old)


@pytest.fixture
def actions(bookworm: Bookworm, tmp_path: Path) -> ActionContext:
    """A remediation context on the chroot (`--exec chroot`), state in `tmp_path`."""
    return ActionContext(
        make_target(bookworm.root, "chroot", timeout=600),
        SnapshotStore(tmp_path / "state" / SNAPSHOTS),
    )
