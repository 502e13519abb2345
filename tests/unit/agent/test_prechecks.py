"""Prechecks (R-F2): locks held by real processes, free space, permissions, EOL, and the facts
the inventory carries to the console (`RemediationFacts`, decoded like every inventory part)."""

from __future__ import annotations

import dataclasses
import datetime
import fcntl
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from patchwarden.agent import prechecks
from patchwarden.agent.actions import PACKAGE_MANAGERS
from patchwarden.agent.actions.base import LockFile, PackageManager
from patchwarden.agent.collectors.eol_table import EOL_TABLE
from patchwarden.agent.collectors.os_release import identify
from patchwarden.agent.inventory import collect_inventory
from patchwarden.agent.runner import FakeRunner
from patchwarden.core.inventory import (
    Blocker,
    FreeSpace,
    HeldLock,
    Host,
    Inventory,
    Kernel,
    OsRelease,
    PermissionProblem,
    RemediationFacts,
    SnapshotFact,
)

APT = PACKAGE_MANAGERS["apt"]
DEBIAN = OsRelease(id="debian", family="debian", release="12", name="Debian GNU/Linux 12")


def holder(code: str) -> Iterator[subprocess.Popen[str]]:
    """A real process running `code` (which prints "ready" once it holds what it takes)."""
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None and proc.stdout.readline() == "ready\n"
    yield proc
    proc.kill()
    proc.wait()


@pytest.fixture
def fcntl_locked(tmp_path: Path) -> Iterator[tuple[Path, subprocess.Popen[str]]]:
    path = tmp_path / "var/lib/dpkg/lock-frontend"
    path.parent.mkdir(parents=True)
    path.touch()
    code = (
        "import fcntl, os, time\n"
        f"fd = os.open({str(path)!r}, os.O_RDWR)\n"
        "fcntl.lockf(fd, fcntl.LOCK_EX)\nprint('ready', flush=True)\ntime.sleep(60)\n"
    )
    for proc in holder(code):
        yield path, proc


def test_fcntl_lock_of_another_process_is_seen_with_its_pid(
    fcntl_locked: tuple[Path, subprocess.Popen[str]], tmp_path: Path
) -> None:
    path, proc = fcntl_locked
    assert prechecks.fcntl_holder(path) == proc.pid
    found = prechecks.held_locks(tmp_path, APT)
    assert found == (HeldLock("var/lib/dpkg/lock-frontend", proc.pid, "python3"),)
    # F_GETLK only asks: the holder still holds it.
    assert prechecks.fcntl_holder(path) == proc.pid


def test_no_holder_no_lock(tmp_path: Path) -> None:
    path = tmp_path / "lock"
    path.touch()
    assert prechecks.fcntl_holder(path) is None
    assert prechecks.fcntl_holder(tmp_path / "missing") is None
    # Our own lock does not conflict with us: only other processes count.
    with path.open("w") as fh:
        fcntl.lockf(fh, fcntl.LOCK_EX)
        assert prechecks.fcntl_holder(path) is None
    assert prechecks.held_locks(tmp_path, APT) == ()


def test_flock_of_another_process_is_seen_and_left_alone(tmp_path: Path) -> None:
    path = tmp_path / "lib/apk/db/lock"
    path.parent.mkdir(parents=True)
    path.touch()
    code = (
        "import fcntl, time\n"
        f"fh = open({str(path)!r})\n"
        "fcntl.flock(fh, fcntl.LOCK_EX)\nprint('ready', flush=True)\ntime.sleep(60)\n"
    )
    for proc in holder(code):
        assert prechecks.flock_held(path)
        found = prechecks.held_locks(tmp_path, PACKAGE_MANAGERS["apk"])
        assert found == (HeldLock("lib/apk/db/lock", proc.pid, "python3"),)
    assert not prechecks.flock_held(path)


def test_pidfile_lock_counts_only_while_its_process_lives(tmp_path: Path) -> None:
    pidfile = tmp_path / "var/run/yum.pid"
    pidfile.parent.mkdir(parents=True)
    sleeper = subprocess.Popen(["sleep", "60"])
    comm = Path(f"/proc/{sleeper.pid}/comm")
    while comm.read_text() != "sleep\n":
        time.sleep(0.01)  # the kernel renames the process a moment after the exec
    try:
        pidfile.write_text(f"{sleeper.pid}\n")
        yum = PACKAGE_MANAGERS["yum"]
        assert prechecks.pidfile_holder(pidfile) == sleeper.pid
        assert prechecks.held_locks(tmp_path, yum) == (
            HeldLock("var/run/yum.pid", sleeper.pid, "sleep"),
        )
    finally:
        sleeper.kill()
        sleeper.wait()
    assert prechecks.pidfile_holder(pidfile) is None  # a stale pid file holds nothing
    pidfile.write_text("garbage")
    assert prechecks.pidfile_holder(pidfile) is None


def test_package_manager_processes_count_only_on_their_own_root(tmp_path: Path) -> None:
    """A fake /proc: one apt-get on this root, one in another chroot, one unrelated."""
    proc = tmp_path / "proc"
    root = tmp_path / "root"
    other = tmp_path / "other"
    root.mkdir()
    other.mkdir()
    processes = (
        (101, "apt-get", root, "apt-get\0install\0"),
        (102, "apt-get", other, "apt-get\0install\0"),
        (103, "bash", root, "bash\0"),
        # Ubuntu's shutdown helper looks like unattended-upgrade by name, and holds nothing.
        (104, "unattended-upgr", root,
         "/usr/bin/python3\0/usr/share/unattended-upgrades/unattended-upgrade-shutdown\0"),
    )  # fmt: skip
    for pid, comm, where, cmdline in processes:
        (proc / str(pid)).mkdir(parents=True)
        (proc / str(pid) / "comm").write_text(comm + "\n")
        (proc / str(pid) / "cmdline").write_text(cmdline)
        (proc / str(pid) / "root").symlink_to(where)
    assert prechecks.running_programs(root, APT.programs, proc) == [(101, "apt-get")]
    assert prechecks.held_locks(root, APT, proc) == (HeldLock("", 101, "apt-get"),)


def test_free_space_per_filesystem_under_the_root(tmp_path: Path) -> None:
    (tmp_path / "usr").mkdir()
    found = prechecks.free_space(tmp_path, APT.write_paths)
    # All on one filesystem here: one entry, measured at the nearest existing directory.
    assert [f.path for f in found] == ["var/cache/apt/archives"]
    vfs = os.statvfs(tmp_path)
    assert abs(found[0].free_bytes - vfs.f_bavail * vfs.f_frsize) < 64 * 1024**2
    assert found[0].total_bytes == vfs.f_blocks * vfs.f_frsize


def test_unsafe_ownership_and_modes(tmp_path: Path) -> None:
    (tmp_path / "var/lib/dpkg").mkdir(parents=True)
    (tmp_path / "etc").mkdir()
    os.chown(tmp_path / "var/lib/dpkg", 1000, 1000)
    (tmp_path / "etc").chmod(0o777)
    found = prechecks.permission_problems(tmp_path, APT.permission_paths, euid=0)
    assert found == (
        PermissionProblem("var/lib/dpkg", "owned by uid 1000, not root"),
        PermissionProblem("etc", "writable by everyone"),
    )
    assert prechecks.permission_problems(tmp_path, (), euid=1000) == (
        PermissionProblem("", "the agent runs as uid 1000, not as root"),
    )


def test_package_files_checked_with_dpkg_statoverride(tmp_path: Path) -> None:
    info = tmp_path / "var/lib/dpkg/info"
    info.mkdir(parents=True)
    (info / "pkg.list").write_text(
        "/usr\n/usr/bin\n/usr/bin/tool\n/usr/bin/helper\n/usr/bin/link\n"
    )
    (tmp_path / "usr/bin").mkdir(parents=True)
    for name in ("tool", "helper"):
        (tmp_path / "usr/bin" / name).write_text("")
        os.chown(tmp_path / "usr/bin" / name, 0, 50)
        (tmp_path / "usr/bin" / name).chmod(0o775)
    (tmp_path / "usr/bin/link").symlink_to("tool")
    (tmp_path / "var/lib/dpkg/statoverride").write_text("root staff 775 /usr/bin/helper\n")
    assert prechecks.package_file_problems(tmp_path, APT, ["pkg"]) == (
        PermissionProblem("usr/bin/tool", "writable by group 50"),
    )
    errors = prechecks.refusals(RemediationFacts("apt", "chroot"), DEBIAN, APT, tmp_path, ["pkg"])
    assert [(e.code, e.message) for e in errors] == [
        (
            "permission",
            "failed to obtain permission: check permissions and retry"
            " (/usr/bin/tool: writable by group 50)",
        )
    ]


# -- OS end of life -----------------------------------------------------------------------------

NEED_AN_OS_UPGRADE = (
    [("rhel", r) for r in ("5", "6", "7", "8")]
    + [("centos", "5"), ("ubuntu", "12.04"), ("ubuntu", "12.10")]
    + [("debian", r) for r in ("8", "9", "10")]
)


@pytest.mark.parametrize(("os_id", "release"), NEED_AN_OS_UPGRADE)
def test_the_eol_table_covers_the_releases_spec_names(os_id: str, release: str) -> None:
    """R-F2 names RHEL 5-8, CentOS 5, Ubuntu 12, Debian 8-10: each has an end date."""
    eol_date, _ = EOL_TABLE[(os_id, release)]
    assert eol_date
    today = datetime.date(2026, 11, 30)
    if (os_id, release) == ("rhel", "8"):
        # The table's date is the end of RHEL 8 maintenance support: 2029-05-31. R-F2 lists
        # RHEL 8 among the releases that need an OS upgrade; the data decides (reported).
        assert eol_date == "2029-05-31"
    else:
        assert eol_date < today.isoformat()


def test_an_eol_root_is_refused_with_its_date(tmp_path: Path) -> None:
    text = 'PRETTY_NAME="Debian GNU/Linux 7 (wheezy)"\nVERSION_ID="7"\nID=debian\n'
    wheezy, _ = identify({"etc/os-release": text}, datetime.date(2026, 11, 30), "")
    facts = RemediationFacts("apt", "chroot", min_free_bytes=0)
    (blocker,) = facts.blockers(wheezy)
    assert blocker == Blocker(
        "eol",
        "Debian GNU/Linux 7 (wheezy) reached its end of life on 2018-05-31: no fixes are"
        " published for it any more; upgrade the operating system",
    )


def test_a_release_the_spec_lists_needs_an_os_upgrade(tmp_path: Path) -> None:
    # R-F2 names Debian 10 among the releases whose fixes need an OS upgrade first.
    text = 'PRETTY_NAME="Debian GNU/Linux 10 (buster)"\nVERSION_ID="10"\nID=debian\n'
    buster, _ = identify({"etc/os-release": text}, datetime.date(2026, 11, 30), "")
    facts = RemediationFacts("apt", "chroot", min_free_bytes=0)
    (blocker,) = facts.blockers(buster)
    assert blocker == Blocker(
        "eol",
        "Debian GNU/Linux 10 (buster): fixes on this release need an operating system upgrade"
        " first; upgrade to a supported release, then fix",
    )


# -- the facts in the inventory ---------------------------------------------------------------

FACTS = RemediationFacts(
    package_manager="apt",
    exec_mode="chroot",
    free_space=(FreeSpace("var/cache/apt/archives", 67108864, 67108864),),
    min_free_bytes=3 * 1024**3,
    locks=(HeldLock("var/lib/dpkg/lock-frontend", 812, "apt-get"), HeldLock("", 813, "dpkg")),
    permission_problems=(PermissionProblem("var/lib/dpkg", "owned by uid 1000, not root"),),
    snapshot_providers=("packages", "lvm"),
    snapshots=(SnapshotFact("packages-20261130t074243z-a3dfbb", "packages", "a", "b", 1, "alice"),),
    boot_default_pinned=True,
)


def test_facts_round_trip_in_an_inventory() -> None:
    inv = Inventory(host=Host(hostname="h"), os=DEBIAN, remediation=FACTS)
    assert Inventory.from_dict(inv.to_dict()) == inv
    # Without facts the inventory is what it was before (no new key for older consoles).
    assert "remediation" not in Inventory(host=Host(hostname="h")).to_dict()


def test_blockers_in_order_with_stable_codes() -> None:
    eol = dataclasses.replace(DEBIAN, eol=True, eol_date="2028-06-30")
    assert [(b.code, b.reason) for b in FACTS.blockers(eol)] == [
        (
            "eol",
            "Debian GNU/Linux 12 reached its end of life on 2028-06-30: no fixes are published"
            " for it any more; upgrade the operating system",
        ),
        (
            "disk_space",
            "only 64 MiB free on /var/cache/apt/archives; a fix needs at least 3.0 GiB: free"
            " some space and retry",
        ),
        (
            "pm_locked",
            "the package manager is busy: apt-get (process 812) holds"
            " /var/lib/dpkg/lock-frontend; wait for it to finish and retry",
        ),
        (
            "pm_locked",
            "the package manager is busy: dpkg (process 813) is running; wait for it to finish"
            " and retry",
        ),
        (
            "permission",
            "failed to obtain permission: check permissions and retry (/var/lib/dpkg: owned by"
            " uid 1000, not root)",
        ),
    ]
    assert [b.code for b in RemediationFacts().blockers(DEBIAN)] == [
        "not_supported",
        "not_supported",
    ]


def test_malformed_facts_are_refused_word_for_word() -> None:
    from patchwarden.core.errors import InventoryError

    data = Inventory(host=Host(hostname="h"), remediation=FACTS).to_dict()
    data["remediation"]["locks"][0]["pid"] = "812"
    with pytest.raises(
        InventoryError, match=r"inventory.remediation.locks\[0\].pid must be int, got str"
    ):
        Inventory.from_dict(data)


class _NoManager(PackageManager):
    name = ""


def test_collector_fills_the_facts_only_for_an_agent_that_fixes(tmp_path: Path) -> None:
    (tmp_path / "etc").mkdir()
    (tmp_path / "etc/os-release").write_text("ID=debian\nVERSION_ID=12\n")
    (tmp_path / "usr/bin").mkdir(parents=True)
    (tmp_path / "usr/bin/apt-get").write_text("")
    (tmp_path / "var/lib/dpkg").mkdir(parents=True)
    (tmp_path / "var/lib/dpkg/status").write_text("")
    (tmp_path / "etc/default").mkdir()
    (tmp_path / "etc/default/grub").write_text('GRUB_DEFAULT="saved"\n')
    (tmp_path / "boot/grub").mkdir(parents=True)
    (tmp_path / "boot/grub/grubenv").write_text("saved_entry=gnulinux-6.1.0-9-amd64\n")
    for release in ("6.1.0-9-amd64", "6.1.0-18-amd64"):
        (tmp_path / f"boot/vmlinuz-{release}").write_text("")
    scan = collect_inventory(tmp_path, runner=FakeRunner(), online=False)
    assert scan.remediation is None and "remediation@1" not in scan.collectors
    setup = prechecks.Setup(exec_mode="chroot", snapshot_dir=tmp_path / "snapshots")
    agent = collect_inventory(tmp_path, runner=FakeRunner(), online=False, remediation=setup)
    facts = agent.remediation
    assert facts is not None and "remediation@1" in agent.collectors
    assert (facts.package_manager, facts.exec_mode, facts.snapshot_providers) == (
        "apt",
        "chroot",
        ("packages",),
    )
    assert facts.free_space and facts.min_free_bytes == 3 * 1024**3
    # The kernel facts say the boot default is pinned to the older kernel (R-F5).
    assert (agent.kernel.boot_default, agent.kernel.newest_installed) == (
        "6.1.0-9-amd64",
        "6.1.0-18-amd64",
    )
    assert facts.boot_default_pinned is True
    assert prechecks.boot_default_pinned(Kernel(newest_installed="a", boot_default="a")) is False
    assert prechecks.boot_default_pinned(Kernel(newest_installed="a")) is None
    assert LockFile("x", "fcntl").kind == "fcntl"
