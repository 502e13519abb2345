"""Restart detection on real processes, cross-checked with Debian's needrestart (R-D7, R-F4).

Python (Debian's /usr/bin/python3 links libz dynamically) is started with LD_LIBRARY_PATH
pointing at a private copy of libz; the copy is then replaced (rename over it, as dpkg does)
or deleted while the process runs. The directory is under /srv, not /tmp: needrestart and
the agent both ignore mappings of temporary directories.

needrestart's batch output (`-b`) lists services, not processes, and this container has no
init system: the process-level verdicts are its verbose lines `#PID uses deleted …` /
`#PID uses obsolete binary …`, which are compared pid by pid.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from tests.tools import require

from patchwarden.agent.collectors.registry import COLLECTORS
from patchwarden.agent.inventory import collect_inventory
from patchwarden.core.inventory import ProcessInstance

PYTHON = "/usr/bin/python3"
LIBZ = Path("/lib/x86_64-linux-gnu/libz.so.1")
SLEEPER = "import sys, zlib, time; print('ready', flush=True); time.sleep(300)"


@pytest.fixture
def lib_dir() -> Iterator[Path]:
    path = Path(tempfile.mkdtemp(prefix="pw-restart-", dir="/srv"))
    yield path
    shutil.rmtree(path, ignore_errors=True)


@contextmanager
def sleeper(lib_dir: Path) -> Iterator[subprocess.Popen[str]]:
    """A python3 that maps `lib_dir/libz.so.1`."""
    process = subprocess.Popen(
        [PYTHON, "-c", SLEEPER],
        env={"LD_LIBRARY_PATH": str(lib_dir), "PATH": "/usr/bin:/bin"},
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None and process.stdout.readline().strip() == "ready"
        maps = Path(f"/proc/{process.pid}/maps").read_text()
        assert f"{lib_dir}/libz.so.1" in maps, "python3 did not map the private libz"
        yield process
    finally:
        process.kill()
        process.wait(timeout=30)


def live_processes() -> dict[int, ProcessInstance]:
    inv = collect_inventory(
        Path("/"), online=False, collectors={"processes": COLLECTORS["processes"]}
    )
    return {p.pid: p for p in inv.processes}


def needrestart_pids() -> dict[int, str]:
    """pid -> what needrestart found outdated (its verbose per-process verdicts)."""
    tool = require("needrestart", "needrestart")
    out = subprocess.run(
        [tool, "-b", "-v"], capture_output=True, text=True, timeout=300, check=False
    )
    text = out.stdout + out.stderr
    assert "NEEDRESTART-VER:" in text, text[-2000:]
    return {
        int(m.group(1)): m.group(2)
        for m in re.finditer(r"^\[main\] #(\d+) uses (.+)$", text, re.MULTILINE)
    }


def replace_file(path: Path) -> None:
    """Put a new copy at `path` by renaming over it (dpkg's way)."""
    fresh = path.with_name(path.name + ".dpkg-new")
    shutil.copyfile(path, fresh)
    fresh.replace(path)


def test_replaced_and_deleted_libraries_need_a_restart_as_needrestart_says() -> None:
    dirs = [Path(tempfile.mkdtemp(prefix="pw-restart-", dir="/srv")) for _ in range(3)]
    try:
        for folder in dirs:
            shutil.copyfile(LIBZ.resolve(), folder / "libz.so.1")
        replaced, deleted, untouched = dirs
        with sleeper(replaced) as a, sleeper(deleted) as b, sleeper(untouched) as c:
            replace_file(replaced / "libz.so.1")
            (deleted / "libz.so.1").unlink()
            ours = live_processes()
            theirs = needrestart_pids()
            verdicts = {p.pid: (ours[p.pid].restart, theirs.get(p.pid)) for p in (a, b, c)}
    finally:
        for folder in dirs:
            shutil.rmtree(folder, ignore_errors=True)
    assert [(n.reason, n.path) for n in verdicts[a.pid][0]] == [
        ("library-deleted", f"{replaced}/libz.so.1")
    ]
    assert [(n.reason, n.path) for n in verdicts[b.pid][0]] == [
        ("library-deleted", f"{deleted}/libz.so.1")
    ]
    assert verdicts[c.pid][0] == ()
    # needrestart agrees process by process.
    assert verdicts[a.pid][1] == f"deleted {replaced}/libz.so.1"
    assert verdicts[b.pid][1] == f"deleted {deleted}/libz.so.1"
    assert verdicts[c.pid][1] is None


def test_a_library_replaced_under_another_inode_is_replaced_not_deleted(lib_dir: Path) -> None:
    """needrestart's map_files check: the path now holds another file than the one mapped.

    A bind mount keeps the mapping's dentry alive while the file under the path changes.
    """
    shutil.copyfile(LIBZ.resolve(), lib_dir / "libz.so.1")
    with sleeper(lib_dir) as process:
        before = live_processes()[process.pid].restart
        other = lib_dir / "other.so"
        shutil.copyfile(LIBZ.resolve(), other)
        subprocess.run(["mount", "--bind", str(other), str(lib_dir / "libz.so.1")], check=True)
        try:
            after = live_processes()[process.pid].restart
        finally:
            subprocess.run(["umount", str(lib_dir / "libz.so.1")], check=True)
    assert before == ()
    assert [(n.reason, n.path) for n in after] == [("library-replaced", f"{lib_dir}/libz.so.1")]
