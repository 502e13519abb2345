"""The process part of the inventory contract: running processes, their ports, components and
restart needs, scan events, and the kernel's reboot facts (what the console reads)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from patchwarden.core.errors import InventoryError
from patchwarden.core.inventory import (
    IDENTIFIED_BY,
    RESTART_REASONS,
    Component,
    Host,
    Inventory,
    Kernel,
    ListeningPort,
    ProcessInstance,
    RestartNeed,
    ScanEvent,
)

JAVA = ProcessInstance(
    pid=4242,
    start_time="2026-11-30T08:00:00.120+00:00",
    exe="/usr/lib/jvm/java-17-openjdk-amd64/bin/java",
    name="java",
    ppid=1,
    cmdline=("java", "-cp", "app.jar:lib/*", "com.example.Main", "--password=***"),
    cwd="/srv/app",
    uid=998,
    user="app",
    ports=(ListeningPort("tcp", "::", 8080), ListeningPort("tcp", "127.0.0.1", 9090)),
    container="",
    cgroup="/system.slice/app.service",
    package="",
    runtime="java",
    components=(
        Component(
            path="/srv/app/lib/log4j-core-2.14.1.jar",
            ecosystem="Maven",
            name="org.apache.logging.log4j:log4j-core",
            version="2.14.1",
            method="pom.properties",
            confidence="high",
            evidence="META-INF/maven/org.apache.logging.log4j/log4j-core/pom.properties",
        ),
        Component(
            path="/srv/app/app.jar!/BOOT-INF/lib/fastjson-1.2.24.jar",
            ecosystem="Maven",
            name="com.alibaba:fastjson",
            version="1.2.24",
            method="pom.properties",
            confidence="high",
        ),
        Component(
            path="/srv/app/lib/jackson-databind-2.9.8.jar",
            ecosystem="Maven",
            name="jackson-databind",
            version="2.9.8",
            method="file-name",
            confidence="low",
            loaded=False,
        ),
        Component(
            path="/usr/share/java/log4j-core.jar",
            ecosystem="Maven",
            name="org.apache.logging.log4j:log4j-core",
            version="2.19.0",
            method="pom.properties",
            confidence="high",
            package="liblog4j2-java",
        ),
    ),
    restart=(RestartNeed("jar-changed", "/srv/app/lib/log4j-core-2.14.1.jar"),),
)
WITH_PROCESSES = Inventory(
    host=Host(hostname="app-01"),
    kernel=Kernel(
        running="6.1.0-18-amd64",
        newest_installed="6.1.0-21-amd64",
        boot_default="6.1.0-18-amd64",
        reboot_needed=True,
        default_pinned=True,
    ),
    processes=(JAVA,),
    scan_events=(
        ScanEvent("memory_cap_exceeded", "scan exceeded memory cap 200 MB", "2026-11-30T07:00Z"),
    ),
    covered=("installed-packages", "running-processes"),
)


def test_processes_and_events_round_trip_through_json() -> None:
    data = json.loads(json.dumps(WITH_PROCESSES.to_dict()))
    assert Inventory.from_dict(data) == WITH_PROCESSES
    [proc] = data["processes"]
    assert proc["ports"][0] == {"proto": "tcp", "address": "::", "port": 8080}
    assert proc["components"][2]["loaded"] is False
    assert data["kernel"]["reboot_needed"] is True


def test_an_inventory_without_processes_keeps_the_old_shape() -> None:
    data = Inventory(host=Host(hostname="db-01")).to_dict()
    assert "processes" not in data
    assert "scan_events" not in data
    assert Inventory.from_dict(data).processes == ()


def test_an_older_inventory_decodes_with_no_processes_and_unknown_reboot_facts() -> None:
    data = Inventory(host=Host(hostname="db-01")).to_dict()
    del data["kernel"]["reboot_needed"], data["kernel"]["default_pinned"]
    inv = Inventory.from_dict(data)
    assert inv.processes == () and inv.scan_events == ()
    assert inv.kernel.reboot_needed is None and inv.kernel.default_pinned is None


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda p: p.update(pid="42"), "processes[0].pid"),
        (lambda p: p["ports"][0].update(port=None), "processes[0].ports[0].port"),
        (lambda p: p["components"][1].update(loaded="yes"), "processes[0].components[1].loaded"),
        (lambda p: p.update(cmdline="java -jar x"), "processes[0].cmdline"),
        (lambda p: p["restart"][0].pop("reason"), "processes[0].restart[0]"),
    ],
)
def test_a_malformed_process_names_its_place(change: Any, message: str) -> None:
    data = WITH_PROCESSES.to_dict()
    change(data["processes"][0])
    with pytest.raises(InventoryError, match=message.replace("[", r"\[").replace("]", r"\]")):
        Inventory.from_dict(data)


def test_exposure_is_any_port_beyond_loopback() -> None:
    assert JAVA.exposed
    local = ProcessInstance(
        pid=1,
        start_time="",
        exe="/x",
        ports=(ListeningPort("tcp", "127.0.0.1", 1), ListeningPort("udp", "::1", 2)),
    )
    assert not local.exposed
    assert not ProcessInstance(pid=2, start_time="", exe="/y").exposed
    assert ListeningPort("tcp", "127.8.9.1", 5).loopback
    assert not ListeningPort("tcp", "10.0.0.5", 5).loopback


def test_vocabularies() -> None:
    assert set(IDENTIFIED_BY) == {
        "pom.properties",
        "manifest",
        "file-name",
        "fingerprint",
        "dist-info",
        "package.json",
    }
    assert all(c.method in IDENTIFIED_BY for c in JAVA.components)
    assert all(n.reason in RESTART_REASONS for n in JAVA.restart)
