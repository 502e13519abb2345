"""The scan memory cap (SPEC R-D3): a scan child over the cap is killed by the kernel (cgroup)
or runs out of address space (RLIMIT_AS), is reported as an event, and the agent goes on.

These run real forks under the machine's real cgroup (v2 where the memory controller is
delegated, else v1). The tests run as root, where one of them is writable; a machine where
neither is fails the cgroup test with the reason rather than skipping it.
"""

from __future__ import annotations

import gzip
import json
import os
import subprocess
from pathlib import Path
from typing import Any

import pytest
from tests.integration.processes.proctree import FakeProcess, write_tree

from patchwarden.agent import memcap
from patchwarden.agent.client import ConsoleError
from patchwarden.agent.collectors.base import Context, InventoryPart
from patchwarden.agent.collectors.processes import ProcessesCollector
from patchwarden.agent.inventory import collect_inventory
from patchwarden.agent.main import Agent
from patchwarden.core.errors import InventoryError
from patchwarden.core.inventory import Evidence, Inventory

HOG_MB = 400


def hog() -> Inventory:
    """Touch HOG_MB of memory (every page written: really resident)."""
    blocks = [bytearray(b"x" * (1 << 20)) for _ in range(HOG_MB)]
    raise AssertionError(f"not stopped after {len(blocks)} MB")


def cgroup_mechanism() -> str:
    try:
        cap, _ = memcap.prepare_cap(16)
    except InventoryError as exc:
        pytest.fail(f"no memory cap can be set on this machine: {exc}", pytrace=False)
    cap.remove()
    if cap.mechanism == "rlimit":
        pytest.fail(
            "no writable cgroup here (neither v2 with memory delegated nor v1 memory): "
            "run the tests as root on a machine with the memory controller",
            pytrace=False,
        )
    return cap.mechanism


def own_leftovers() -> list[str]:
    """Child cgroups this process made and did not remove."""
    found = []
    for base in (Path("/sys/fs/cgroup"), Path("/sys/fs/cgroup/memory")):
        if base.is_dir():
            found += [
                str(p) for p in base.rglob(f"{memcap.CGROUP_PREFIX}{os.getpid()}-*") if p.is_dir()
            ]
    return found


def test_a_scan_over_the_cgroup_cap_is_killed_and_reported() -> None:
    mechanism = cgroup_mechanism()
    with pytest.raises(memcap.CapExceeded) as killed:
        memcap.run_capped(hog, 32, mechanism)
    assert killed.value.event.code == "memory_cap_exceeded"
    assert killed.value.event.message == "scan exceeded memory cap 32 MB"
    assert own_leftovers() == []
    # And this process is alive and capped by nothing: it can do the same work itself.
    assert len(bytearray(HOG_MB << 20)) == HOG_MB << 20


def test_a_scan_over_the_rlimit_cap_runs_out_of_memory_and_is_reported() -> None:
    with pytest.raises(memcap.CapExceeded) as killed:
        memcap.run_capped(hog, 32, "rlimit")
    assert str(killed.value) == "scan exceeded memory cap 32 MB"


def test_a_scan_within_the_cap_returns_its_inventory(tmp_path: Path) -> None:
    root = dpkg_root(tmp_path)
    inv = memcap.run_capped(lambda: collect_inventory(root, online=False), 100)
    assert [p.name for p in inv.packages] == ["demo"]
    assert own_leftovers() == []


def test_a_failing_scan_child_gives_its_error_to_the_parent(tmp_path: Path) -> None:
    with pytest.raises(InventoryError, match="scan root does not exist"):
        memcap.run_capped(lambda: collect_inventory(tmp_path / "nowhere"), 100)


def dpkg_root(tmp_path: Path) -> Path:
    root = tmp_path / "root"
    (root / "var/lib/dpkg").mkdir(parents=True)
    (root / "var/lib/dpkg/status").write_text(
        "Package: demo\nStatus: install ok installed\nVersion: 1.0\nArchitecture: amd64\n\n"
    )
    return root


class RecordingClient:
    """Stands in for the console: keeps uploads; the heartbeat ends `run_forever`."""

    def __init__(self) -> None:
        self.uploads: list[dict[str, Any]] = []
        self.heartbeats = 0

    def upload_inventory(self, body: bytes) -> dict[str, Any]:
        self.uploads.append(json.loads(gzip.decompress(body)))
        return {"inventory_id": len(self.uploads)}

    def heartbeat(self) -> None:
        self.heartbeats += 1
        raise ConsoleError("stop here", 400)


@pytest.fixture
def agent_world(tmp_path: Path) -> tuple[Agent, RecordingClient]:
    root = dpkg_root(tmp_path)
    proc = write_tree(tmp_path / "proc", [FakeProcess(10, "sleep", "/usr/bin/sleep", ["sleep"])])
    client = RecordingClient()
    agent = Agent(
        tmp_path / "state",
        client,  # type: ignore[arg-type]
        root=root,
        online=False,
        memory_cap_mb=48,
        proc=proc,
    )
    return agent, client


def hog_processes(monkeypatch: pytest.MonkeyPatch) -> None:
    def collect(self: ProcessesCollector, ctx: Context) -> InventoryPart:
        hog()
        return InventoryPart()

    monkeypatch.setattr(ProcessesCollector, "collect", collect)


def test_the_agent_reports_the_event_with_the_packages_it_could_collect(
    agent_world: tuple[Agent, RecordingClient], monkeypatch: pytest.MonkeyPatch
) -> None:
    agent, client = agent_world
    hog_processes(monkeypatch)
    inv = agent.collect()
    assert [(e.code, e.message) for e in inv.scan_events] == [
        ("memory_cap_exceeded", "scan exceeded memory cap 48 MB")
    ]
    assert [p.name for p in inv.packages] == ["demo"]
    assert inv.processes == ()
    assert Evidence.RUNNING_PROCESSES.value not in inv.covered
    agent.upload(inv)
    [sent] = client.uploads
    assert sent["inventory"]["scan_events"][0]["code"] == "memory_cap_exceeded"


def test_a_scan_that_leaves_nothing_is_reported_with_the_next_upload(
    agent_world: tuple[Agent, RecordingClient], monkeypatch: pytest.MonkeyPatch
) -> None:
    agent, client = agent_world
    with monkeypatch.context() as patch:
        hog_processes(patch)
        patch.setattr(memcap, "HEAVY_COLLECTORS", frozenset())  # the retry dies as well
        with pytest.raises(ConsoleError, match="stop here"):
            agent.run_forever(interval=3600, poll_wait=0)
    # The agent went on to its heartbeat; nothing was uploaded, the event waits.
    assert client.heartbeats == 1
    assert client.uploads == []
    assert [e.code for e in memcap.pending_events(agent.state_dir)] == ["memory_cap_exceeded"]
    agent.upload(agent.collect())
    [sent] = client.uploads
    events = [e["message"] for e in sent["inventory"]["scan_events"]]
    assert events == ["scan exceeded memory cap 48 MB"]
    assert [p["pid"] for p in sent["inventory"]["processes"]] == [10]
    assert memcap.pending_events(agent.state_dir) == ()


def test_memory_cap_setting_is_checked(tmp_path: Path) -> None:
    from patchwarden.agent.main import main

    config = tmp_path / "agent.json"
    config.write_text(json.dumps({"memory_cap_mb": -1}))
    assert main(["inventory", "--config", str(config), "--root", str(tmp_path)]) == 2
    config.write_text(json.dumps({"memory_cap_mb": "big"}))
    assert main(["inventory", "--config", str(config), "--root", str(tmp_path)]) == 2


def test_scan_cgroups_of_agents_that_died_are_swept(tmp_path: Path) -> None:
    mechanism = cgroup_mechanism()
    cap, _ = memcap.prepare_cap(16, mechanism)
    assert cap.cgroup is not None
    parent = cap.cgroup.parent
    cap.remove()
    dead = subprocess.Popen(["true"])
    dead.wait()
    stale = parent / f"{memcap.CGROUP_PREFIX}{dead.pid}-0000aa"
    stale.mkdir()  # what an agent killed mid-scan leaves behind
    try:
        memcap.run_capped(lambda: collect_inventory(dpkg_root(tmp_path), online=False), 64)
        assert not stale.exists()
    finally:
        if stale.exists():
            stale.rmdir()
