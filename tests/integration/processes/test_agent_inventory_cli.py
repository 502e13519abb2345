"""`patchwarden-agent inventory --root DIR --proc DIR`: the real command, in its memory-capped
scan child, on a test root with a generated proc tree."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
from tests.integration.processes.proctree import FakeProcess, tcp_line, write_tree
from tests.paths import BIN

from patchwarden.core.inventory import Inventory

AGENT = str(BIN / "patchwarden-agent")


@pytest.mark.parametrize("cap", ["64", "0"])
def test_inventory_command_reads_the_given_proc_tree(tmp_path: Path, cap: str) -> None:
    root = tmp_path / "root"
    (root / "var/lib/dpkg/info").mkdir(parents=True)
    (root / "var/lib/dpkg/status").write_text(
        "Package: redis\nStatus: install ok installed\nVersion: 7.0\nArchitecture: amd64\n\n"
    )
    (root / "var/lib/dpkg/info/redis.list").write_text("/usr/bin/redis-server\n")
    (root / "etc").mkdir()
    (root / "etc/passwd").write_text(
        "root:x:0:0::/root:/bin/sh\nredis:x:105:108::/var/lib/redis:/bin/false\n"
    )
    redis = FakeProcess(
        77,
        "redis-server",
        "/usr/bin/redis-server",
        ["redis-server", "--requirepass", "hunter2"],
        uid=105,
        fds={5: "socket:[321]"},
    )
    proc = write_tree(tmp_path / "proc", [redis], tcp=[tcp_line(0, "0100007F", 6379, "0A", 321)])
    out = subprocess.run(
        [AGENT, "inventory", "--offline", "--root", str(root), "--proc", str(proc)]
        + ["--memory-cap-mb", cap, "--state-dir", str(tmp_path / "state")],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert out.returncode == 0, out.stderr
    inv = Inventory.from_dict(json.loads(out.stdout))
    [process] = inv.processes
    assert (process.pid, process.user, process.package) == (77, "redis", "redis")
    assert process.cmdline == ("redis-server", "--requirepass", "***")
    assert [(p.address, p.port, p.proto) for p in process.ports] == [("127.0.0.1", 6379, "tcp")]
    assert process.start_time == "2023-11-14T22:15:23.450+00:00"  # btime + 12345 ticks
    assert "running-processes" in inv.covered


def test_a_negative_memory_cap_is_refused(tmp_path: Path) -> None:
    out = subprocess.run(
        [AGENT, "inventory", "--root", str(tmp_path), "--memory-cap-mb", "-5"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert out.returncode == 2
    assert "option 'memory_cap_mb' must be within 0..1048576 (0: no cap)" in out.stderr
