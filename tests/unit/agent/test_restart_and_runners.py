"""Restart (R-F4, R-F5): the reboot is scheduled through a recording runner — this machine is
never rebooted — and a boot default pinned to an older kernel is reported with both remedies,
from a test root with /boot and GRUB files. Also: processes still running replaced code, and
the runners (chroot wrapper, timeouts that kill the whole process group)."""

from __future__ import annotations

import datetime
import os
import sys
import time
from pathlib import Path

import pytest

from patchwarden.agent.actions.base import Target
from patchwarden.agent.actions.context import ActionContext
from patchwarden.agent.actions.processes import needing_restart
from patchwarden.agent.actions.restart import restart_argv, run_restart
from patchwarden.agent.inventory import collect_inventory
from patchwarden.agent.runner import (
    TIMEOUT_RC,
    Call,
    ChrootRunner,
    CommandNotFound,
    Completed,
    FakeRunner,
    RecordingRunner,
    SubprocessRunner,
)
from patchwarden.agent.snapshots.base import SnapshotStore
from patchwarden.core.inventory import Kernel
from patchwarden.protocol import v1

NOW = datetime.datetime(2026, 11, 30, 8, 0, tzinfo=datetime.timezone.utc)


def pinned_root(tmp_path: Path) -> Path:
    """A Debian root with two kernels and GRUB pinned (saved_entry) to the older one."""
    root = tmp_path / "root"
    (root / "etc/default").mkdir(parents=True)
    (root / "etc/os-release").write_text("ID=debian\nVERSION_ID=12\n")
    (root / "etc/default/grub").write_text('GRUB_DEFAULT="saved"\nGRUB_TIMEOUT=5\n')
    (root / "boot/grub").mkdir(parents=True)
    (root / "boot/grub/grubenv").write_text(
        "# GRUB Environment Block\nsaved_entry=Advanced options for Debian GNU/Linux>"
        "Debian GNU/Linux, with Linux 6.1.0-9-amd64\n"
    )
    for release in ("6.1.0-9-amd64", "6.1.0-18-amd64"):
        (root / f"boot/vmlinuz-{release}").write_text("")
        (root / "lib/modules" / release).mkdir(parents=True)
    return root


class KernelOf(ActionContext):
    """The running system, with the kernel facts of a test root (the boot files are there)."""

    kernel_root: Path = Path("/")

    def kernel(self) -> Kernel:
        return collect_inventory(self.kernel_root, runner=FakeRunner(), online=False).kernel


def live(tmp_path: Path, runner: RecordingRunner, kernel_root: Path) -> ActionContext:
    ctx = KernelOf(
        Target(Path("/"), runner, runner, "direct"),
        SnapshotStore(tmp_path / "s"),
        clock=lambda: NOW,
    )
    object.__setattr__(ctx, "kernel_root", kernel_root)
    return ctx


@pytest.mark.parametrize(
    ("delay", "reason", "argv"),
    [
        (0, "kernel", ["systemctl", "reboot"]),
        (60, "kernel fix", ["shutdown", "-r", "+1", "kernel fix"]),
        (61, "", ["shutdown", "-r", "+2"]),
        (3600, "x", ["shutdown", "-r", "+60", "x"]),
    ],
)
def test_restart_commands(delay: int, reason: str, argv: list[str]) -> None:
    assert restart_argv(delay, reason) == argv


def test_restart_is_scheduled_and_a_pinned_boot_default_is_reported(tmp_path: Path) -> None:
    runner = RecordingRunner()
    ctx = live(tmp_path, runner, pinned_root(tmp_path))
    done = run_restart(ctx, 90, "kernel 6.1.0-18 installed; rm -rf / (only text)")
    assert runner.argvs == [
        ("shutdown", "-r", "+2", "kernel 6.1.0-18 installed; rm -rf / (only text)")
    ]
    assert done.error is None and done.scheduled_for == "2026-11-30T08:02:00+00:00"
    assert done.boot_default_pinned is True
    assert (
        "starts 6.1.0-9-amd64 by default, not the newest installed kernel 6.1.0-18-amd64"
        in done.hint
    )
    assert "grubby --set-default /boot/vmlinuz-6.1.0-18-amd64" in done.hint  # remedy 1
    assert "GRUB_DEFAULT in /etc/default/grub by hand and run update-grub" in done.hint  # remedy 2
    assert v1.RestartDetails.from_dict(done.to_dict()) == done


def test_restart_without_systemctl_falls_back_to_shutdown_now(tmp_path: Path) -> None:
    def answer(call: Call) -> Completed:
        if call.argv[0] == "systemctl":
            raise CommandNotFound("systemctl: command not found")
        return Completed(call.argv, 0, "")

    runner = RecordingRunner(answer)
    root = pinned_root(tmp_path)
    (root / "boot/grub/grubenv").unlink()
    (root / "etc/default/grub").write_text("GRUB_DEFAULT=0\n")
    done = run_restart(live(tmp_path, runner, root), 0, "now")
    assert runner.argvs == [("systemctl", "reboot"), ("shutdown", "-r", "now", "now")]
    assert done.error is None and done.boot_default_pinned is False and done.hint == ""


def test_restart_failure_is_reported(tmp_path: Path) -> None:
    runner = RecordingRunner(
        lambda call: Completed(call.argv, 1, "", "Failed to reboot: Access denied\n")
    )
    done = run_restart(live(tmp_path, runner, pinned_root(tmp_path)), 0, "")
    assert done.error is not None and done.error.code == "unknown"
    assert "Access denied" in done.error.tail


def test_a_mounted_root_is_never_restarted(tmp_path: Path) -> None:
    runner = RecordingRunner()
    ctx = ActionContext(Target(tmp_path, runner, runner, "chroot"), SnapshotStore(tmp_path / "s"))
    done = run_restart(ctx, 0, "")
    assert done.error is not None and done.error.code == "not_supported"
    assert runner.calls == []


def test_processes_mapping_replaced_files(tmp_path: Path) -> None:
    proc, root, other = tmp_path / "proc", tmp_path / "root", tmp_path / "other"
    root.mkdir()
    other.mkdir()
    lib = "/usr/lib/x86_64-linux-gnu/libssl.so.3"
    maps = {
        # In the chroot: paths carry the root in front when read from outside.
        201: (root, f"7f00-7f01 r-xp 00000000 fe:00 12 {root}{lib} (deleted)\n"
                    "7f02-7f03 rw-s 00000000 00:01 99 /memfd:wayland (deleted)\n"
                    "7f04-7f05 rw-s 00000000 00:01 98 /dev/shm/x (deleted)\n"),
        202: (root, "7f00-7f01 r-xp 00000000 fe:00 13 /usr/lib/x86_64-linux-gnu/libc.so.6\n"),
        203: (other, f"7f00-7f01 r-xp 00000000 fe:00 12 {lib} (deleted)\n"),
    }  # fmt: skip
    for pid, (where, text) in maps.items():
        (proc / str(pid)).mkdir(parents=True)
        (proc / str(pid) / "root").symlink_to(where)
        (proc / str(pid) / "maps").write_text(text)
        (proc / str(pid) / "comm").write_text("nginx\n")
    assert needing_restart(root, proc) == [
        v1.RestartProcess(201, "nginx", ("/usr/lib/x86_64-linux-gnu/libssl.so.3",))
    ]


# -- runners ------------------------------------------------------------------------------------


def test_a_timeout_kills_the_whole_process_group() -> None:
    code = (
        "import subprocess, sys, time\n"
        "child = subprocess.Popen(['sleep', '60'])\n"
        "print(child.pid, flush=True)\n"
        "time.sleep(60)\n"
    )
    start = time.monotonic()
    done = SubprocessRunner().run([sys.executable, "-c", code], timeout=1.5)
    assert time.monotonic() - start < 10
    assert done.returncode == TIMEOUT_RC and "timed out after 2s" in done.stderr
    grandchild = int(done.stdout.split()[0])
    deadline = time.monotonic() + 5
    while os.path.exists(f"/proc/{grandchild}") and time.monotonic() < deadline:
        time.sleep(0.05)  # killed; init reaps it
    assert not os.path.exists(f"/proc/{grandchild}")


def test_subprocess_runner_still_reports_missing_programs_and_output() -> None:
    with pytest.raises(CommandNotFound):
        SubprocessRunner().run(["no-such-program-patchwarden"])
    done = SubprocessRunner().run(["sh", "-c", "echo out; echo err >&2; exit 3"], env={"X": "1"})
    assert (done.returncode, done.stdout, done.stderr) == (3, "out\n", "err\n")


def test_chroot_runner_wraps_argv_and_working_directory(tmp_path: Path) -> None:
    inner = RecordingRunner()
    runner = ChrootRunner(tmp_path, inner)
    done = runner.run(["apt-get", "download", "x=1"], env={"A": "1"}, cwd="/var/cache/x")
    assert inner.calls[0].argv == (
        "chroot", str(tmp_path), "env", "-C", "/var/cache/x", "apt-get", "download", "x=1"
    )  # fmt: skip
    assert inner.calls[0].env == {"A": "1"}
    assert done.argv == ("apt-get", "download", "x=1")  # what ran, as callers named it
    missing = RecordingRunner(
        lambda call: Completed(
            call.argv, 127, "", "chroot: failed to run command 'dnf': No such file"
        )
    )
    with pytest.raises(CommandNotFound, match="dnf: command not found in"):
        ChrootRunner(tmp_path, missing).run(["dnf", "--version"])
