"""Processes the agent cannot read (issue 12 follow-up; SPEC R-D1, STYLE E3).

A process that cannot be read completely is reported with what could be read and
`readable=False`, its components unknown; the run still vouches for running-processes as
long as the process list itself is complete. A listing that is not complete (a proc tree
that cannot be listed, or `hidepid=2` hiding other users' processes) still spoils it.

Generated proc trees (proctree.py) and, for `hidepid`, real proc mounts read as `nobody`.
"""

from __future__ import annotations

import datetime
import json
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from tests.integration.processes.proctree import BTIME, FakeProcess, tcp_line, write_tree
from tests.integration.processes.test_bad_input import JAVA, REPO, pom_jar
from tests.tools import require

from patchwarden.agent.collectors.procfs import clock_ticks, hidden_by_mount
from patchwarden.agent.collectors.registry import COLLECTORS
from patchwarden.agent.inventory import collect_inventory
from patchwarden.core.inventory import Evidence, Inventory

COLLECTED = ("processes", "components")


def collect(root: Path, proc: Path) -> Inventory:
    collectors = {n: COLLECTORS[n] for n in COLLECTED}
    return collect_inventory(root, online=False, proc=proc, collectors=collectors)


def two_jvms(tmp_path: Path) -> tuple[Path, Path]:
    """A root with a vulnerable JAR held by two JVMs (pids 100 and 200), and their proc tree."""
    root = tmp_path / "root"
    lib = root / "opt" / "app" / "lib"
    lib.mkdir(parents=True)
    (lib / "fastjson.jar").write_bytes(pom_jar("com.alibaba", "fastjson", "1.2.24"))
    jvms = [
        FakeProcess(
            pid,
            "java",
            JAVA,
            ["java", "-cp", "/opt/app/lib/*", "Main", str(port)],
            fds={3: f"socket:[{pid}]", 10: "/opt/app/lib/fastjson.jar"},
            maps=[JAVA],
            start_ticks=ticks,
        )
        for pid, port, ticks in ((100, 8080, 500), (200, 8081, 700))
    ]
    tcp = [tcp_line(0, "00000000", 8080, "0A", 100), tcp_line(1, "00000000", 8081, "0A", 200)]
    return root, write_tree(tmp_path / "proc", jvms, tcp=tcp, root=root)


def test_a_jvm_whose_executable_is_unreadable_is_reported_without_components(
    tmp_path: Path,
) -> None:
    root, proc = two_jvms(tmp_path)
    (proc / "200" / "exe").unlink()
    (proc / "200" / "exe").write_text("")  # readlink fails (EINVAL), as EACCES would
    inv = collect(root, proc)
    read, unread = inv.processes
    assert (read.pid, read.readable, read.runtime) == (100, True, "java")
    assert [c.name for c in read.components] == ["com.alibaba:fastjson"]
    # What could be read is kept: name, start time, command line, ports.
    assert (unread.pid, unread.readable, unread.name, unread.exe) == (200, False, "java", "")
    started = datetime.datetime.fromtimestamp(BTIME + 700 / clock_ticks(), datetime.timezone.utc)
    assert unread.start_time == started.isoformat(timespec="milliseconds")
    assert unread.cmdline[-1] == "8081"
    assert [p.port for p in unread.ports] == [8081]
    # Its components are unknown, not absent: none is reported, none searched for.
    assert (unread.components, unread.runtime, unread.restart) == ((), "", ())
    # One event says why; no collector failed, so the complete list covers the processes.
    assert inv.collector_errors == ()
    assert [e.code for e in inv.scan_events] == ["processes_unreadable"]
    assert "200 (java: executable)" in inv.scan_events[0].message
    assert "application vulnerabilities are unknown" in inv.scan_events[0].message
    assert Evidence.RUNNING_PROCESSES.value in inv.covered


def test_a_process_whose_stat_file_is_unreadable_is_reported_by_pid(tmp_path: Path) -> None:
    root, proc = two_jvms(tmp_path)
    (proc / "200" / "stat").unlink()
    (proc / "200" / "stat").mkdir()  # EISDIR: unreadable, not gone
    inv = collect(root, proc)
    assert [(p.pid, p.readable, p.start_time, p.name) for p in inv.processes] == [
        (100, True, inv.processes[0].start_time, "java"),
        (200, False, "", ""),
    ]
    assert "200 (stat file)" in inv.scan_events[0].message
    assert Evidence.RUNNING_PROCESSES.value in inv.covered


def test_descriptors_listed_but_not_followed_make_a_process_unreadable(tmp_path: Path) -> None:
    """A JAR behind an unreadable fd link is unknown: the process is not read completely."""
    root, proc = two_jvms(tmp_path)
    (proc / "200" / "fd" / "10").unlink()
    (proc / "200" / "fd" / "10").write_text("")  # listed; readlink fails (EINVAL)
    inv = collect(root, proc)
    assert [p.readable for p in inv.processes] == [True, False]
    assert "200 (java: open files)" in inv.scan_events[0].message
    assert Evidence.RUNNING_PROCESSES.value in inv.covered


def test_a_proc_tree_that_cannot_be_listed_fails_the_collector(tmp_path: Path) -> None:
    root = tmp_path / "root"
    root.mkdir()
    proc = tmp_path / "proc"
    proc.write_text("")  # not a directory
    inv = collect(root, proc)
    assert [(e.collector, e.message) for e in inv.collector_errors] == [
        ("processes", "cannot list processes: Not a directory")
    ]
    assert Evidence.RUNNING_PROCESSES.value not in inv.covered


# --- hidepid: a listing that leaves processes out is not complete ------------------------------

MOUNTS = "proc /proc proc rw,nosuid,nodev,noexec,relatime,{options} 0 0\n"


@pytest.mark.parametrize(
    ("options", "euid", "groups", "hidden"),
    [
        pytest.param("hidepid=invisible", 65534, (), "hidepid=invisible", id="invisible hides"),
        pytest.param("hidepid=2", 65534, (), "hidepid=2", id="old spelling 2 hides"),
        pytest.param("hidepid=2", 0, (), "", id="root sees everything"),
        pytest.param("hidepid=2,gid=27", 65534, (27,), "", id="the gid group sees everything"),
        pytest.param("hidepid=2,gid=27", 65534, (28,), "hidepid=2", id="another group does not"),
        pytest.param("hidepid=noaccess", 65534, (), "", id="noaccess lists every process"),
        pytest.param("hidepid=1", 65534, (), "", id="1 lists every process"),
        pytest.param("subset=pid", 65534, (), "", id="no hidepid"),
    ],
)
def test_hidepid_options(options: str, euid: int, groups: tuple[int, ...], hidden: str) -> None:
    mounts = MOUNTS.format(options=options)
    assert hidden_by_mount(mounts, "/proc", euid, frozenset(groups)) == hidden
    assert hidden_by_mount(mounts, "/elsewhere", euid, frozenset(groups)) == ""


def test_the_last_proc_mount_on_a_mountpoint_counts() -> None:
    mounts = MOUNTS.format(options="hidepid=2") + MOUNTS.format(options="hidepid=0")
    assert hidden_by_mount(mounts, "/proc", 65534, frozenset()) == ""


@contextmanager
def proc_mount(hidepid: str) -> Iterator[Path]:
    """A real proc filesystem mounted with `hidepid` where `nobody` can reach it (pytest's
    tmp_path is root's alone)."""
    mount = require("mount", "mount")
    umount = require("umount", "mount")
    with tempfile.TemporaryDirectory(prefix="pw-proc-", dir="/tmp") as where:
        os.chmod(where, 0o755)
        subprocess.run([mount, "-t", "proc", "-o", f"hidepid={hidepid}", "proc", where],
                       check=True, capture_output=True)  # fmt: skip
        try:
            yield Path(where)
        finally:
            subprocess.run([umount, where], check=True, capture_output=True)


def collect_as_nobody(proc: Path) -> Inventory:
    """The processes collector run as `nobody` over the live root, reading `proc`."""
    setpriv = require("setpriv", "util-linux")
    script = (
        "import json,sys\n"
        "from pathlib import Path\n"
        "from patchwarden.agent.collectors.registry import COLLECTORS\n"
        "from patchwarden.agent.inventory import collect_inventory\n"
        "c={'processes': COLLECTORS['processes']}\n"
        "inv=collect_inventory(Path('/'), online=False, proc=Path(sys.argv[1]), collectors=c)\n"
        "print(json.dumps(inv.to_dict()))\n"
    )
    out = subprocess.run(
        [setpriv, "--reuid=65534", "--regid=65534", "--clear-groups", sys.executable]
        + ["-c", script, str(proc)],
        capture_output=True, text=True, timeout=120, cwd="/", check=True,
        env={"PYTHONPATH": str(REPO / "src"), "PATH": os.environ["PATH"]},
    )  # fmt: skip
    return Inventory.from_dict(json.loads(out.stdout))


@pytest.fixture
def sleeps() -> Iterator[tuple[subprocess.Popen[bytes], subprocess.Popen[bytes]]]:
    """A process of root's, for `nobody` not to see, and one of nobody's own."""
    setpriv = require("setpriv", "util-linux")
    roots = subprocess.Popen(["sleep", "300"])
    nobodys = subprocess.Popen([setpriv, "--reuid=65534", "--regid=65534", "--clear-groups",
                                "sleep", "300"])  # fmt: skip
    try:
        yield roots, nobodys
    finally:
        for sleep in (roots, nobodys):
            sleep.kill()
            sleep.wait(timeout=30)


def test_hidepid_invisible_spoils_the_process_evidence(
    sleeps: tuple[subprocess.Popen[bytes], subprocess.Popen[bytes]],
) -> None:
    roots, nobodys = sleeps
    with proc_mount("invisible") as proc:
        inv = collect_as_nobody(proc)
    pids = {p.pid for p in inv.processes}
    assert nobodys.pid in pids and roots.pid not in pids  # root's is not even listed
    [error] = inv.collector_errors
    assert error.collector == "processes"
    assert error.message == (
        f"other users' processes are hidden from the agent ({proc} is mounted with"
        " hidepid=invisible); run the agent as root to see them"
    )
    assert Evidence.RUNNING_PROCESSES.value not in inv.covered


def test_hidepid_noaccess_lists_unreadable_processes_and_covers(
    sleeps: tuple[subprocess.Popen[bytes], subprocess.Popen[bytes]],
) -> None:
    roots, nobodys = sleeps
    with proc_mount("noaccess") as proc:
        inv = collect_as_nobody(proc)
    by_pid = {p.pid: p for p in inv.processes}
    assert by_pid[nobodys.pid].readable and by_pid[nobodys.pid].name == "sleep"
    assert not by_pid[roots.pid].readable  # listed, but not ours to read: the pid only
    assert (by_pid[roots.pid].name, by_pid[roots.pid].start_time) == ("", "")
    [event] = inv.scan_events
    assert event.code == "processes_unreadable"
    assert f"{roots.pid} (stat file)" in event.message or " more" in event.message
    assert event.message.endswith("; run the agent as root to see them")
    assert inv.collector_errors == ()
    assert Evidence.RUNNING_PROCESSES.value in inv.covered


def test_an_agent_that_sees_only_itself_fails_the_collector(tmp_path: Path) -> None:
    root, proc = two_jvms(tmp_path)
    for pid in ("100", "200"):
        shutil.rmtree(proc / pid)
    inv = collect(root, proc)
    assert [e.message for e in inv.collector_errors] == ["no process could be read"]
    assert Evidence.RUNNING_PROCESSES.value not in inv.covered
