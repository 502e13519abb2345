"""Fix, rollback and every precheck refusal with real apt in a real Debian 12 chroot.

The agent's action code runs against the chroot exactly as `patchwarden-agent --root DIR
--exec chroot` does: every package-manager command inside `chroot DIR`, the prechecks reading
the root and this machine's /proc. libssl3 goes from the version bookworm offers to the one
bookworm-security offers (both picked by the session fixture from `apt-cache policy`).
"""

from __future__ import annotations

import dataclasses
import datetime
import os
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from tests.chroot import dpkg_lock_held
from tests.integration.agent.conftest import Bookworm

from patchwarden.agent.actions.base import Wanted, make_target
from patchwarden.agent.actions.classify import classify
from patchwarden.agent.actions.context import ActionContext
from patchwarden.agent.actions.fix import FixRequest, run_fix
from patchwarden.agent.actions.rollback import run_rollback, run_snapshot_delete
from patchwarden.agent.snapshots.base import SnapshotStore
from patchwarden.protocol import v1

pytestmark = pytest.mark.slow


def fix(actions: ActionContext, name: str, version: str, **kw: object) -> v1.FixDetails:
    return run_fix(actions, FixRequest(packages=(Wanted(name, version),), **kw))  # type: ignore[arg-type]


def closed_port() -> int:
    """A loopback port nobody listens on."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def no_retries(bookworm: Bookworm) -> Iterator[None]:
    """apt gives up on an unreachable mirror at once (it retries 3 times with back-off by
    default: seconds per test, the same outcome)."""
    conf = bookworm.root / "etc/apt/apt.conf.d/99patchwarden-test-no-retries"
    conf.write_text('Acquire::Retries "0";\n')
    yield
    conf.unlink()


def cached_debs(bookworm: Bookworm, version: str) -> list[Path]:
    archives = bookworm.root / "var/cache/apt/archives"
    return sorted(archives.glob(f"{bookworm.package}_{version.replace(':', '%3a')}_*.deb"))


def library_of(bookworm: Bookworm) -> str:
    """The shared object of the package (libssl.so.3), as the chroot sees it."""
    files = bookworm.chroot.run("dpkg", "-L", bookworm.package).stdout.split()
    return next(f for f in files if f.endswith("/libssl.so.3"))


def test_fix_installs_the_fixed_version_and_rollback_restores_the_old_bytes(
    bookworm: Bookworm, actions: ActionContext
) -> None:
    chroot, pkg = bookworm.chroot, bookworm.package
    dpkg_before = chroot.dpkg_list()
    published = chroot.archive_sha256(pkg, bookworm.old)
    lib = library_of(bookworm)
    # A process in the chroot with the library mapped: after the fix it runs replaced code.
    user = subprocess.Popen(
        ["chroot", str(bookworm.root), "env", f"LD_PRELOAD={lib}", "sleep", "600"]
    )
    try:
        deadline = time.monotonic() + 10
        while lib not in Path(f"/proc/{user.pid}/maps").read_text():
            assert time.monotonic() < deadline, "the test process never mapped the library"
            time.sleep(0.05)

        done = fix(actions, pkg, bookworm.fixed, requested_by="alice")

        assert done.error is None, done.error
        assert done.packages == (
            v1.PackageOutcome(pkg, bookworm.old, bookworm.fixed, True, bookworm.fixed),
        )
        assert chroot.version(pkg) == bookworm.fixed
        assert [p.pid for p in done.restart_processes] == [user.pid]
        assert lib in done.restart_processes[0].files
    finally:
        user.kill()
        user.wait()
    assert done.restart_required is False  # a library, not a kernel
    installs = [c for c in done.commands if " install " in c and " -s " not in c]
    assert len(installs) == 1 and "--only-upgrade" in installs[0]
    assert f"{pkg}={bookworm.fixed}" in installs[0] and "dist-upgrade" not in installs[0]
    assert any(c.endswith("apt-get -q update") for c in done.commands)
    snapshot = done.snapshot
    assert snapshot is not None and snapshot.provider == "packages" and snapshot.owner == "alice"
    (saved,) = snapshot.packages
    assert (saved.name, saved.version, saved.sha256) == (pkg, bookworm.old, published)
    assert snapshot.size_bytes > saved.size_bytes > 0  # the package file and the manifest
    created = datetime.datetime.fromisoformat(snapshot.created_at)
    assert datetime.datetime.fromisoformat(snapshot.expires_at) - created == datetime.timedelta(
        days=7
    )
    manifest = Path(snapshot.location, "manifest.txt").read_text()
    assert f"{pkg}\t{bookworm.old}\t" in manifest

    back = run_rollback(actions, snapshot.id)

    assert back.error is None, back.error
    assert back.packages == (
        v1.PackageOutcome(pkg, bookworm.fixed, bookworm.old, True, bookworm.old),
    )
    assert chroot.dpkg_list() == dpkg_before
    # Every installed file is the old package's own (dpkg checks them against its md5sums).
    assert chroot.run("dpkg", "--verify", pkg).stdout == ""
    assert any("--allow-downgrades" in c for c in back.commands)
    assert not (bookworm.root / "var/cache/patchwarden" / f"restore-{snapshot.id}").exists()

    gone = run_snapshot_delete(actions, snapshot.id)
    assert gone.deleted and not Path(snapshot.location).exists()
    again = run_rollback(actions, snapshot.id)
    assert again.error is not None and again.error.code == "no_snapshot"


def test_snapshot_downloads_the_installed_version_when_the_cache_lacks_it(
    bookworm: Bookworm, actions: ActionContext
) -> None:
    for path in cached_debs(bookworm, bookworm.old):
        path.unlink()
    done = fix(actions, bookworm.package, bookworm.fixed)
    assert done.error is None, done.error
    assert any(" download " in c and f"={bookworm.old}" in c for c in done.commands)
    assert done.snapshot is not None
    (saved,) = done.snapshot.packages
    assert saved.sha256 == bookworm.chroot.archive_sha256(bookworm.package, bookworm.old)
    assert not list((bookworm.root / "var/cache/patchwarden").iterdir())  # staging cleaned up


def test_fix_while_a_real_process_holds_the_dpkg_lock_is_refused_pm_locked(
    bookworm: Bookworm, actions: ActionContext
) -> None:
    with dpkg_lock_held(bookworm.root) as holder:
        done = fix(actions, bookworm.package, bookworm.fixed)
        # apt itself says the same, should the lock be taken after the prechecks.
        apt = bookworm.chroot.run(
            "apt-get", "install", "-y", f"{bookworm.package}={bookworm.fixed}", check=False
        )
    assert done.error is not None and done.error.code == "pm_locked"
    assert f"(process {holder.pid})" in done.error.message
    assert "/var/lib/dpkg/lock-frontend" in done.error.message
    assert [e.code for e in done.prechecks] == ["pm_locked"]
    assert done.commands == () and done.snapshot is None  # nothing ran, nothing was saved
    assert bookworm.chroot.version(bookworm.package) == bookworm.old
    assert classify(apt.stdout + apt.stderr, apt.returncode).code == "pm_locked"


def test_fix_with_the_mirror_on_a_closed_loopback_port_is_mirror_unreachable(
    bookworm: Bookworm, actions: ActionContext, no_retries: None
) -> None:
    port = closed_port()
    (bookworm.root / "etc/apt/sources.list").write_text(
        f"deb http://127.0.0.1:{port}/debian bookworm main\n"
        f"deb http://127.0.0.1:{port}/debian-security bookworm-security main\n"
    )
    done = fix(actions, bookworm.package, bookworm.fixed)
    assert done.error is not None and done.error.code == "mirror_unreachable", done.error
    assert f"no connection to 127.0.0.1 port {port}" in done.error.message
    assert f"127.0.0.1:{port}" in done.error.hint
    assert "Connection refused" in done.error.tail
    assert done.snapshot is None
    assert bookworm.chroot.version(bookworm.package) == bookworm.old


def test_fix_through_a_proxy_on_a_closed_port_is_mirror_unreachable(
    bookworm: Bookworm, tmp_path: Path, no_retries: None
) -> None:
    for path in cached_debs(bookworm, bookworm.fixed):
        path.unlink()  # else apt installs from its cache without asking the proxy
    port = closed_port()
    target = make_target(bookworm.root, "chroot", proxy=f"http://127.0.0.1:{port}", timeout=600)
    actions = ActionContext(target, SnapshotStore(tmp_path / "snapshots"))
    done = fix(actions, bookworm.package, bookworm.fixed)
    assert done.error is not None and done.error.code == "mirror_unreachable", done.error
    assert f"127.0.0.1 port {port}" in done.error.message
    assert any(f"Acquire::http::Proxy=http://127.0.0.1:{port}" in c for c in done.commands)
    # The failure came at the download: the snapshot was taken before it, ready for rollback.
    assert done.snapshot is not None
    assert bookworm.chroot.version(bookworm.package) == bookworm.old


def test_fix_on_a_too_small_tmpfs_is_refused_disk_space(
    bookworm: Bookworm, actions: ActionContext
) -> None:
    archives = bookworm.root / "var/cache/apt/archives"
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64m", "tmpfs", str(archives)], check=True)
    try:
        done = fix(actions, bookworm.package, bookworm.fixed)
    finally:
        subprocess.run(["umount", str(archives)], check=True)
    assert done.error is not None and done.error.code == "disk_space"
    assert done.error.message.startswith("only 64 MiB free on /var/cache/apt/archives")
    assert "at least 3.0 GiB" in done.error.message
    assert done.commands == ()
    assert bookworm.chroot.version(bookworm.package) == bookworm.old


def test_fix_below_a_configured_free_space_threshold_is_refused_disk_space(
    bookworm: Bookworm, actions: ActionContext
) -> None:
    strict = dataclasses.replace(actions, min_free_bytes=2**62)  # agent config min_free_bytes
    done = fix(strict, bookworm.package, bookworm.fixed)
    assert done.error is not None and done.error.code == "disk_space"


def test_fix_of_a_file_not_owned_by_root_is_refused_permission(
    bookworm: Bookworm, actions: ActionContext
) -> None:
    lib = bookworm.root / library_of(bookworm).lstrip("/")
    real = lib.resolve()
    owner = real.stat()
    os.chown(real, 1000, 1000)
    try:
        done = fix(actions, bookworm.package, bookworm.fixed)
    finally:
        os.chown(real, owner.st_uid, owner.st_gid)
    assert done.error is not None and done.error.code == "permission"
    assert done.error.message.startswith("failed to obtain permission: check permissions and retry")
    assert "owned by uid 1000, not root" in done.error.message
    assert bookworm.chroot.version(bookworm.package) == bookworm.old


def test_fix_of_a_package_already_at_the_newest_version_is_no_update(
    bookworm: Bookworm, actions: ActionContext
) -> None:
    chroot = bookworm.chroot
    name = next(
        n for n in ("libzstd1", "dash", "sed", "grep", "gzip", "hostname")
        if chroot.policy(n).installed == chroot.policy(n).candidate != "(none)"
    )  # fmt: skip
    newest = chroot.policy(name).installed

    same = fix(actions, name, newest)
    assert same.error is not None and same.error.code == "no_update"
    assert f"already at the fixed version: {name} {newest}" in same.error.message

    unpublished = fix(actions, name, newest + "+pw1")
    assert unpublished.error is not None and unpublished.error.code == "no_update"
    assert f"{name} {newest}+pw1 is not offered" in unpublished.error.message
    assert unpublished.snapshot is None and chroot.version(name) == newest


def test_dry_run_lists_the_commands_and_changes_nothing(
    bookworm: Bookworm, actions: ActionContext
) -> None:
    done = run_fix(actions, FixRequest((Wanted(bookworm.package, bookworm.fixed),)), dry_run=True)
    assert done.error is None and done.dry_run
    assert done.packages == (
        v1.PackageOutcome(bookworm.package, bookworm.old, bookworm.fixed, True, bookworm.fixed),
    )
    assert done.commands[0].startswith(f"chroot {bookworm.root} ")
    assert done.commands[-1].endswith(f"'{bookworm.package}={bookworm.fixed}'")
    assert bookworm.chroot.version(bookworm.package) == bookworm.old
    assert actions.store.list() == []
