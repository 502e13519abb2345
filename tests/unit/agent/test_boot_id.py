"""The boot id the agent reports with its remediation facts: the console tells from a new one
that the host restarted (R-F4). Only the running system has one."""

from __future__ import annotations

from pathlib import Path

from patchwarden.agent.prechecks import Setup, boot_id

BOOT = "3f1c2a8e-5b7d-4e0a-9c6f-1d2e3f4a5b6c"


def fake_proc(tmp_path: Path, text: str) -> Path:
    proc = tmp_path / "proc"
    (proc / "sys/kernel/random").mkdir(parents=True)
    (proc / "sys/kernel/random/boot_id").write_text(text)
    return proc


def test_the_running_system_reports_its_boot_id(tmp_path: Path) -> None:
    setup = Setup(exec_mode="direct", proc=fake_proc(tmp_path, BOOT + "\n"))
    assert boot_id(Path("/"), setup) == BOOT


def test_a_mounted_root_has_no_boot_id_of_its_own(tmp_path: Path) -> None:
    setup = Setup(exec_mode="chroot", proc=fake_proc(tmp_path, BOOT + "\n"))
    assert boot_id(tmp_path, setup) == ""


def test_an_unreadable_or_odd_boot_id_is_none(tmp_path: Path) -> None:
    assert boot_id(Path("/"), Setup(exec_mode="direct", proc=tmp_path / "none")) == ""
    odd = Setup(exec_mode="direct", proc=fake_proc(tmp_path, "not a boot id; rm -rf /"))
    assert boot_id(Path("/"), odd) == ""
