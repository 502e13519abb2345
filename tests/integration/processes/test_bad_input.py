"""Hostile and broken input to the processes and components collectors: corrupt, huge and
zip-bomb JARs, zip-slip names, unreadable proc entries, processes that end mid-scan.

Each case must give a clear per-collector problem naming what is wrong, keep what could be
read, and never crash the run nor drop packages. A generated proc tree (proctree.py) points
the collectors at files under a test root; the unprivileged case runs on the real /proc.
"""

from __future__ import annotations

import io
import json
import os
import struct
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from tests.integration.processes import jvm
from tests.integration.processes.conftest import JavaWorld
from tests.integration.processes.proctree import FakeProcess, tcp_line, write_tree

from patchwarden.agent.collectors.jars import MAX_DEPTH, identify_file
from patchwarden.agent.collectors.registry import COLLECTORS
from patchwarden.agent.inventory import collect_inventory
from patchwarden.core.inventory import Evidence, Inventory, ListeningPort

REPO = Path(__file__).resolve().parents[3]
JAVA = "/usr/lib/jvm/java-17-openjdk-amd64/bin/java"


def pom_jar(
    group: str, artifact: str, version: str, extra: dict[str, bytes] | None = None
) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as jar:
        jar.writestr(
            f"META-INF/maven/{group}/{artifact}/pom.properties",
            f"groupId={group}\nartifactId={artifact}\nversion={version}\n",
        )
        for name, data in (extra or {}).items():
            jar.writestr(zipfile.ZipInfo(name), data, zipfile.ZIP_STORED)
    return buf.getvalue()


def bomb_jar() -> bytes:
    """A nested member of 200 MB of zeros, deflated to ~200 kB (the classic zip bomb)."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as jar:
        jar.writestr("META-INF/MANIFEST.MF", "Manifest-Version: 1.0\n")
        info = zipfile.ZipInfo("BOOT-INF/lib/zeros.jar")
        info.compress_type = zipfile.ZIP_DEFLATED
        with jar.open(info, "w", force_zip64=True) as member:
            chunk = b"\0" * (1 << 20)
            for _ in range(200):
                member.write(chunk)
    return buf.getvalue()


def many_entries_jar(path: Path) -> None:
    """A JAR whose end-of-central-directory claims more entries than MAX_ENTRIES."""
    path.write_bytes(pom_jar("org.example", "many", "1.0"))
    data = bytearray(path.read_bytes())
    at = data.rfind(b"PK\x05\x06")
    # zip64 is needed for a real count over 65535; a lying 16-bit count over the guard is
    # what the guard reads first, so claim 0xFFFE entries and lower the guard instead.
    struct.pack_into("<HH", data, at + 8, 0xFFFE, 0xFFFE)
    path.write_bytes(bytes(data))


def nested_deep(levels: int) -> bytes:
    inner = pom_jar("org.example", "deepest", "9.9")
    for level in range(levels):
        inner = pom_jar("org.example", f"level{level}", "1.0", {f"lib/level{level}.jar": inner})
    return inner


@pytest.fixture
def hostile_root(tmp_path: Path) -> tuple[Path, Path]:
    """A scanned root whose one JVM holds every kind of bad JAR, and its proc tree."""
    root = tmp_path / "root"
    lib = root / "opt" / "app" / "lib"
    lib.mkdir(parents=True)
    (lib / "good.jar").write_bytes(pom_jar("com.alibaba", "fastjson", "1.2.24"))
    (lib / "corrupt-1.0.jar").write_bytes(b"PK\x03\x04 this is not a zip archive at all")
    (lib / "truncated.jar").write_bytes(pom_jar("org.example", "trunc", "1.0")[:60])
    (lib / "bomb.jar").write_bytes(bomb_jar())
    (lib / "slip.jar").write_bytes(
        pom_jar("org.example", "slip", "1.0", {"../../etc/evil.jar": pom_jar("x", "y", "1")})
    )
    (lib / "deep.jar").write_bytes(nested_deep(MAX_DEPTH + 2))
    many_entries_jar(lib / "many.jar")
    (lib / "empty.jar").write_bytes(b"")
    # dpkg: a package list, to show the run keeps package data whatever the JARs are.
    info = root / "var" / "lib" / "dpkg"
    (info / "info").mkdir(parents=True)
    (info / "status").write_text(
        "Package: demo\nStatus: install ok installed\nVersion: 1.0\nArchitecture: amd64\n\n"
    )
    jars = ["good.jar", "corrupt-1.0.jar", "truncated.jar", "bomb.jar", "slip.jar", "deep.jar"]
    jars += ["many.jar", "empty.jar", "missing-2.0.jar"]
    fds = {10 + i: f"/opt/app/lib/{name}" for i, name in enumerate(jars)}
    fds[3] = "socket:[5555]"
    java = FakeProcess(1234, "java", JAVA, ["java", "-cp", "/opt/app/lib/*", "Main"], fds=fds)
    java.maps = [JAVA]
    proc = write_tree(
        tmp_path / "proc",
        [java],
        tcp=[tcp_line(0, "00000000", 8080, "0A", 5555)],
        root=root,
    )
    return root, proc


def collect(root: Path, proc: Path) -> Inventory:
    wanted = ("dpkg", "processes", "components")
    return collect_inventory(
        root, online=False, proc=proc, collectors={n: COLLECTORS[n] for n in wanted}
    )


def test_hostile_jars_give_clear_problems_and_keep_the_rest(
    hostile_root: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("patchwarden.agent.collectors.jars.MAX_ENTRIES", 1000)
    root, proc = hostile_root
    inv = collect(root, proc)
    [java] = inv.processes
    assert java.ports == (ListeningPort("tcp", "0.0.0.0", 8080),)
    assert [p.name for p in inv.packages] == ["demo"]  # never "package removed"
    names = {(c.path.rsplit("/", 1)[-1], c.name, c.version, c.method) for c in java.components}
    assert ("good.jar", "com.alibaba:fastjson", "1.2.24", "pom.properties") in names
    # A broken JAR still says what its name says (low confidence).
    assert ("corrupt-1.0.jar", "corrupt", "1.0", "file-name") in names
    problems = {e.path.split("/opt/app/lib/")[-1]: e.message for e in inv.collector_errors}
    assert all(e.collector == "components" for e in inv.collector_errors)
    assert "not a readable JAR" in problems["corrupt-1.0.jar"]
    assert "not a readable JAR" in problems["truncated.jar"]
    assert "not a readable JAR" in problems["empty.jar"]
    assert "zip bomb" in problems["bomb.jar!/BOOT-INF/lib/zeros.jar"]
    assert "zip-slip" in problems["slip.jar!/../../etc/evil.jar"]
    assert "entries exceed 1000" in problems["many.jar"]
    assert "cannot read JAR" in problems["missing-2.0.jar"]
    deep = [m for p, m in problems.items() if p.startswith("deep.jar!")]
    assert deep == [f"nested deeper than {MAX_DEPTH} levels; not read"]
    # Warnings spoil the process evidence: this run may not clear records of gone processes.
    assert Evidence.RUNNING_PROCESSES.value not in inv.covered
    assert Evidence.INSTALLED_PACKAGES.value in inv.covered


def test_a_zip_bomb_is_refused_without_inflating_it(tmp_path: Path) -> None:
    bomb = tmp_path / "bomb.jar"
    bomb.write_bytes(pom_jar("org.example", "outer", "1.0", {"lib/inner.jar": bomb_jar()}))
    report = identify_file(str(bomb), str(bomb))
    # The nested JAR is read (it names itself by file name only); its bomb member is not.
    assert [i.name for i in report.identities] == ["org.example:outer", "inner"]
    assert any("zip bomb" in why for _, why in report.problems)


def test_a_process_that_ends_mid_scan_is_an_event_not_an_error(tmp_path: Path) -> None:
    root = tmp_path / "root"
    root.mkdir()
    live = FakeProcess(10, "sleep", "/usr/bin/sleep", ["sleep", "100"])
    proc = write_tree(tmp_path / "proc", [live])
    (proc / "11").mkdir()  # listed, but its files are gone by the time they are read
    inv = collect(root, proc)
    assert [p.pid for p in inv.processes] == [10]
    assert [e.code for e in inv.scan_events] == ["processes_exited"]
    assert "11" in inv.scan_events[0].message
    assert inv.collector_errors == ()
    assert Evidence.RUNNING_PROCESSES.value in inv.covered


def test_unreadable_proc_entries_are_named_per_process(tmp_path: Path) -> None:
    """Unreadable parts of a process make it `readable=False`, named in one event: the
    process list is complete all the same, so running-processes stays covered."""
    root = tmp_path / "root"
    root.mkdir()
    odd = FakeProcess(20, "odd", "/usr/bin/odd", ["odd"])
    fine = FakeProcess(21, "fine", "/usr/bin/fine", ["fine"])
    proc = write_tree(tmp_path / "proc", [odd, fine])
    (proc / "20" / "maps").unlink()
    (proc / "20" / "maps").mkdir()  # reading it fails (EISDIR), as an unreadable file would
    for link in (proc / "20" / "fd").iterdir():
        link.unlink()
    (proc / "20" / "fd").rmdir()
    (proc / "20" / "fd").write_text("")  # ENOTDIR
    (proc / "22").mkdir()
    (proc / "22" / "stat").mkdir()  # stat unreadable, not gone
    inv = collect(root, proc)
    assert [(p.pid, p.name, p.readable) for p in inv.processes] == [
        (20, "odd", False),
        (21, "fine", True),
        (22, "", False),
    ]
    assert inv.collector_errors == ()
    [event] = inv.scan_events
    assert event.code == "processes_unreadable"
    assert event.message.startswith("2 processes could not be read completely (")
    assert "20 (odd: open files, memory maps), 22 (stat file)" in event.message
    assert Evidence.RUNNING_PROCESSES.value in inv.covered


def test_a_missing_proc_tree_fails_the_collector_only(tmp_path: Path) -> None:
    root = tmp_path / "root"
    (root / "var/lib/dpkg").mkdir(parents=True)
    (root / "var/lib/dpkg/status").write_text(
        "Package: demo\nStatus: install ok installed\nVersion: 1.0\nArchitecture: amd64\n\n"
    )
    inv = collect(root, tmp_path / "no-such-proc")
    assert [(e.collector, e.message) for e in inv.collector_errors] == [
        ("processes", "cannot list processes: No such file or directory")
    ]
    assert [p.name for p in inv.packages] == ["demo"]
    assert inv.processes == ()


def test_an_unprivileged_agent_reports_what_it_cannot_see(
    java_world: JavaWorld, tmp_path: Path
) -> None:
    """Real /proc, real permission errors: another user's JVM, read as `nobody`."""
    port = jvm.free_port()
    app = java_world.app
    with jvm.running_jvm(["-cp", str(app), "Server", str(port), "127.0.0.1"], port) as server:
        script = (
            "import json,sys\n"
            "from patchwarden.agent.collectors.registry import COLLECTORS\n"
            "from patchwarden.agent.inventory import collect_inventory\n"
            "c={n: COLLECTORS[n] for n in ('processes','components')}\n"
            "print(json.dumps(collect_inventory(online=False, collectors=c).to_dict()))\n"
        )
        out = subprocess.run(
            ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", sys.executable]
            + ["-c", script],
            capture_output=True,
            text=True,
            timeout=120,
            cwd="/",
            env={"PYTHONPATH": str(REPO / "src"), "PATH": os.environ["PATH"]},
            check=True,
        )
    inv = Inventory.from_dict(json.loads(out.stdout))
    [java] = [p for p in inv.processes if p.pid == server.pid]
    assert java.user == "root"
    assert java.name == "java" and java.start_time  # what could be read is there
    assert not java.readable
    assert java.components == ()  # its open files are not ours to read
    # One event names the processes (up to ten, the rest counted) and what of them failed.
    [event] = [e for e in inv.scan_events if e.code == "processes_unreadable"]
    assert "(Permission denied)" in event.message
    assert event.message.endswith("; run the agent as root to see them")
    # Unreadable processes are no failed collector: the list of processes is complete.
    assert inv.collector_errors == ()
    assert Evidence.RUNNING_PROCESSES.value in inv.covered


def test_real_processes_exiting_during_the_scan_never_break_it() -> None:
    """A shell starts and ends short-lived processes as fast as it can while the live /proc
    is read: each run completes; what ended mid-read is an event, never an error."""
    churn = subprocess.Popen(["/bin/sh", "-c", "while :; do /bin/true; /bin/true; done"])
    names = ("processes", "components", "fingerprints")
    events = 0
    try:
        for _ in range(15):
            inv = collect_inventory(
                Path("/"), online=False, collectors={n: COLLECTORS[n] for n in names}
            )
            assert [p.pid for p in inv.processes if p.pid == churn.pid] == [churn.pid]
            # What cannot be read (this machine's pid 1) is an event, never an error.
            assert inv.collector_errors == ()
            assert Evidence.RUNNING_PROCESSES.value in inv.covered
            events += sum(e.code == "processes_exited" for e in inv.scan_events)
    finally:
        churn.kill()
        churn.wait(timeout=30)
    assert events >= 0  # how many raced is up to the scheduler; none may fail the run
