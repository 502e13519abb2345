"""Application records through the REST API (issue 12), on SQLite and PostgreSQL: the record
objects scripts rely on (`type`, `process`, `component`), the filters, the host detail with
processes, restart needs and scan events, and an inventory with malformed processes refused
whole."""

from __future__ import annotations

import copy
from typing import Any

from tests.integration.server.conftest import InProcessConsole, envelope, gz
from tests.paths import CORPUS

from patchwarden.core.clock import Clock
from patchwarden.core.inventory import Evidence
from patchwarden.services.feeds import import_spec

GHSA = CORPUS / "advisories" / "ghsa-osv" / "github-reviewed"
LOG4J = "org.apache.logging.log4j:log4j-core"


def _jar(name: str, version: str) -> dict[str, Any]:
    group, artifact = name.split(":")
    return {
        "path": f"/srv/app.jar!/BOOT-INF/lib/{artifact}-{version}.jar",
        "ecosystem": "Maven",
        "name": name,
        "version": version,
        "method": "pom.properties",
        "confidence": "high",
        "evidence": f"META-INF/maven/{group}/{artifact}/pom.properties",
    }


def _process(pid: int, port: int, address: str) -> dict[str, Any]:
    return {
        "pid": pid,
        "start_time": "2026-11-30T08:00:00Z",
        "exe": "/usr/lib/jvm/java-17-openjdk-amd64/bin/java",
        "name": "java",
        "cmdline": ["java", "-jar", "/srv/app.jar", f"--server.port={port}"],
        "cwd": "/srv",
        "ports": [{"proto": "tcp", "address": address, "port": port}],
        "runtime": "java",
        "components": [_jar(LOG4J, "2.14.1"), _jar("com.alibaba:fastjson", "1.2.24")],
        "restart": [{"reason": "jar-changed", "path": "/srv/app.jar"}] if pid == 41 else [],
    }


def _with_apps(debian: dict[str, Any]) -> dict[str, Any]:
    inventory = copy.deepcopy(debian)
    inventory["processes"] = [_process(41, 8080, "::"), _process(42, 8081, "127.0.0.1")]
    inventory["covered"] = [*inventory["covered"], Evidence.RUNNING_PROCESSES.value]
    inventory["scan_events"] = [
        {"code": "memory_cap_exceeded", "message": "scan exceeded memory cap 200 MB", "at": ""}
    ]
    return inventory


def _import_ghsa(console: InProcessConsole) -> None:
    store = console.client.app.state.store  # type: ignore[attr-defined]
    import_spec(store, f"osv:{GHSA}", Clock())


def test_app_records_in_the_api(
    console: InProcessConsole, debian_inventory: dict[str, Any]
) -> None:
    _import_ghsa(console)
    reply = console.upload(gz(envelope(_with_apps(debian_inventory))))
    assert reply.status_code == 200, reply.text
    assert reply.json()["records"]["created"] == 2 + 4  # two DSA records, 2 vulns x 2 JVMs
    listed = console.api("GET", "/api/v1/records", params={"type": "app"}).json()
    assert listed["total"] == 4
    by_pid = {}
    for item in listed["items"]:
        assert item["type"] == "app"
        by_pid.setdefault(item["process"]["pid"], []).append(item)
    assert sorted(by_pid) == [41, 42]
    first = listed["items"][0]  # Log4Shell (critical) on the JVM listening on every address
    assert (first["vuln_id"], first["process"]["pid"]) == ("CVE-2021-44228", 41)
    assert first["process"]["ports"] == [{"proto": "tcp", "address": "::", "port": 8080}]
    assert first["process"]["cmdline"][-1] == "--server.port=8080"
    assert first["process"]["exposed"] is True
    assert {k: first["component"][k] for k in ("path", "ecosystem", "name", "version")} == {
        "path": "/srv/app.jar!/BOOT-INF/lib/log4j-core-2.14.1.jar",
        "ecosystem": "Maven",
        "name": LOG4J,
        "version": "2.14.1",
    }
    assert (first["fixed_version"], first["confidence"], first["method"]) == (
        "2.15.0",
        "high",
        "jar-metadata",
    )
    # The same vulnerability on the loopback-only JVM ranks below it (R-D11 exposure).
    loopback = next(i for i in by_pid[42] if i["vuln_id"] == "CVE-2021-44228")
    assert loopback["urgency"] < first["urgency"]
    detail = console.api("GET", f"/api/v1/records/{first['id']}").json()
    assert detail["process"] == first["process"] and detail["component"] == first["component"]
    linux = console.api("GET", "/api/v1/records", params={"type": "linux"}).json()["items"]
    assert linux and all(i["process"] is None and i["component"] is None for i in linux)
    by_method = console.api("GET", "/api/v1/records", params={"method": "jar-metadata"}).json()
    assert by_method["total"] == 4


def test_host_detail_shows_processes_and_scan_events(
    console: InProcessConsole, debian_inventory: dict[str, Any]
) -> None:
    _import_ghsa(console)
    assert console.upload(gz(envelope(_with_apps(debian_inventory)))).status_code == 200
    host = console.api("GET", f"/api/v1/hosts/{console.host_id}").json()
    assert host["processes_complete"] is True
    assert [p["pid"] for p in host["processes"]] == [41, 42]
    assert host["processes"][0]["restart"] == [{"reason": "jar-changed", "path": "/srv/app.jar"}]
    assert host["processes"][0]["ports"] == [{"proto": "tcp", "address": "::", "port": 8080}]
    assert host["scan_events"] == [
        {"code": "memory_cap_exceeded", "message": "scan exceeded memory cap 200 MB", "at": ""}
    ]
    assert "reboot_needed" in host["kernel"] and "default_pinned" in host["kernel"]
    # The host list stays light: no processes in it.
    listed = console.api("GET", "/api/v1/hosts").json()["items"]
    assert "processes" not in listed[0]


def test_malformed_processes_are_refused_and_store_nothing(
    console: InProcessConsole, debian_inventory: dict[str, Any]
) -> None:
    before = console.counts()
    inventory = _with_apps(debian_inventory)
    inventory["processes"][1]["ports"][0]["port"] = "8081"
    reply = console.upload(gz(envelope(inventory)))
    assert reply.status_code == 422, reply.text
    assert "inventory.processes[1].ports[0].port must be int, got str" in reply.text
    assert console.counts() == before
