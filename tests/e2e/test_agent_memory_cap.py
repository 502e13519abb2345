"""The console's scan memory cap reaches real agents (R-D3): a real `patchwarden server` on
loopback sets it, `patchwarden-agent run --once` picks it up from its jobs poll and scans under
it from then on, unless its own config sets a cap (the local administrator wins).

The scanned process table is a generated proc tree of 600 processes with long command lines
and many mapped files: its process collector needs more than the console's least cap (16 MB)
and far less than the default 200 MB (measured here: killed at 24 MB with 300 processes,
about 76 MB peak RSS for agent and scan together with 800 under 200 MB).
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

from tests.e2e.fleet import AGENT, build_roots, pw
from tests.e2e.live_console import LiveConsole, live_console
from tests.integration.processes.proctree import FakeProcess, write_tree

from patchwarden.agent import console_cap

CAP_EVENT = ("memory_cap_exceeded", "scan exceeded memory cap 16 MB")


def busy_proc(path: Path, count: int = 600) -> Path:
    """A proc tree whose process collector needs tens of MB."""
    processes = [
        FakeProcess(
            100 + i,
            f"app{i}",
            f"/usr/bin/app{i}",
            [f"/usr/bin/app{i}", "--flag=" + "x" * 2000],
            maps=[f"/usr/lib/lib{i}_{j}.so" for j in range(100)],
        )
        for i in range(count)
    ]
    return write_tree(path, processes)


class RealAgent:
    """One `patchwarden-agent` with its own root, state dir and config file."""

    def __init__(self, live: LiveConsole, base: Path, name: str, proc: Path) -> None:
        self.live = live
        self.root = build_roots(base / "roots")["deb"]
        # Each agent is its own machine (same machine id: one host, see re-enrolment).
        (self.root / "etc/machine-id").write_text(f"{name:0<32}"[:32] + "\n")
        (self.root / "etc/hostname").write_text(name + "\n")
        self.state = base / "state"
        self.config = base / "agent.json"
        self.proc = proc
        self.host_id = ""

    def run_once(self) -> subprocess.CompletedProcess[str]:
        """One `run --once` cycle (enrolling first when needed)."""
        args = [AGENT, "run", "--once", "--offline", "--state-dir", str(self.state)]
        args += ["--root", str(self.root), "--proc", str(self.proc), "--config", str(self.config)]
        if not self.host_id:
            console = self.live.console
            token = pw(
                "enrolment-token", "create", "--data-dir", str(console.data_dir), env=console.env
            ).strip()
            args += ["--server", self.live.url, "--token", token]
        ran = subprocess.run(args, capture_output=True, text=True, timeout=300, check=False)
        assert ran.returncode == 0, ran.stderr
        self.host_id = json.loads((self.state / "agent.json").read_text())["host_id"]
        return ran

    def host(self) -> dict[str, Any]:
        """The console's view of this agent's host."""
        reply = self.live.console.http.get(
            f"{self.live.url}/api/v1/hosts/{self.host_id}", headers=self.live.bearer_headers()
        )
        assert reply.status_code == 200, reply.text
        return dict(reply.json())


def events(host: dict[str, Any]) -> list[tuple[str, str]]:
    return [(e["code"], e["message"]) for e in host["scan_events"]]


def test_agents_scan_under_the_consoles_cap_unless_their_config_sets_one(
    tmp_path: Path,
) -> None:
    proc = busy_proc(tmp_path / "proc")
    with live_console(tmp_path, f"sqlite:///{tmp_path / 'console.db'}") as live:
        put = live.console.http.put(
            live.url + "/api/v1/settings",
            json={"agent_memory_cap_mb": 16},
            headers=live.bearer_headers(),
        )
        assert put.status_code == 200 and put.json()["agent_memory_cap_mb"] == 16, put.text
        follower = RealAgent(live, tmp_path / "follower", "follower", proc)
        local = RealAgent(live, tmp_path / "local", "local", proc)
        local.config.write_text(json.dumps({"memory_cap_mb": 200}))

        # First run: the scan precedes the first poll, so it runs under the default 200 MB;
        # the poll then brings the console's 16 MB and the agent keeps it.
        follower.run_once()
        host = follower.host()
        assert events(host) == [] and len(host["processes"]) == 600
        assert console_cap.load(follower.state) == 16

        # Next run: the scan runs under 16 MB, is killed, retried without the processes, and
        # the upload carries the event.
        follower.run_once()
        host = follower.host()
        assert events(host) == [CAP_EVENT], host["scan_events"]
        assert host["processes"] == [] and not host["processes_complete"]

        # An agent whose config sets a cap keeps it: both its scans see every process.
        for _ in range(2):
            local.run_once()
            host = local.host()
            assert events(host) == [] and len(host["processes"]) == 600
        assert console_cap.load(local.state) == 16  # heard, not used

        # No cap at the console: the follower's scans are whole again (from the run after
        # the poll that brings it).
        put = live.console.http.put(
            live.url + "/api/v1/settings",
            json={"agent_memory_cap_mb": 0},
            headers=live.bearer_headers(),
        )
        assert put.status_code == 200, put.text
        follower.run_once()
        assert console_cap.load(follower.state) == 0
        follower.run_once()
        host = follower.host()
        assert events(host) == [] and len(host["processes"]) == 600
