"""Issue 12, "done when": two real vulnerable JVMs on this host -> `patchwarden scan` and the
console API list one application record per JVM and vulnerability, with pid, ports, JAR path,
Maven coordinates, fixed version and confidence; after one JVM stops, a rescan that covers
the running processes leaves its records undetected.

The JVMs are compiled and started here (`tests.e2e.jvms`): a tiny TCP server holding
fastjson 1.2.24 and log4j-core 2.14.1 JARs, one listening on every address and one on
loopback. The advisories are the corpus' GHSA records (`--feed osv:DIR`, and imported into
the console's store).
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from cyclonedx.schema import SchemaVersion
from cyclonedx.validation.json import JsonStrictValidator
from packageurl import PackageURL
from tests.e2e.fleet import AGENT, Console, clean_env, pw
from tests.e2e.jvms import App, build_app, free_port, start_jvm, stop
from tests.e2e.test_scan_formats import sarif_validator
from tests.paths import CORPUS, PATCHWARDEN

pytestmark = pytest.mark.slow

GHSA = CORPUS / "advisories" / "ghsa-osv" / "github-reviewed"
LOG4SHELL = "CVE-2021-44228"
FASTJSON = "CVE-2022-25845"
COORDINATES = {
    LOG4SHELL: ("org.apache.logging.log4j:log4j-core", "2.14.1", "2.15.0", "log4j-core-2.14.1.jar"),
    FASTJSON: ("com.alibaba:fastjson", "1.2.24", "1.2.83", "fastjson-1.2.24.jar"),
}
"""Vulnerability -> Maven name, version held, fixed version, JAR file."""
SAME_ADDRESS = {"0.0.0.0": ("0.0.0.0", "::"), "127.0.0.1": ("127.0.0.1", "::ffff:127.0.0.1")}


@pytest.fixture
def jvms(tmp_path: Path) -> Iterator[tuple[App, dict[int, subprocess.Popen[bytes]]]]:
    """The app and two running JVMs, by port: one on 0.0.0.0, one on 127.0.0.1."""
    app = build_app(tmp_path / "app")
    exposed, loopback = free_port(), free_port()
    procs: dict[int, subprocess.Popen[bytes]] = {}
    try:
        procs[exposed] = start_jvm(app, exposed, "0.0.0.0")
        procs[loopback] = start_jvm(app, loopback, "127.0.0.1")
        yield app, procs
    finally:
        for proc in procs.values():
            stop(proc)


def _check(finding: dict[str, Any], pid: int, port: int, address: str, app: App) -> None:
    """One application finding or record of the JVM `pid`, as scripts read it."""
    name, version, fixed, jar = COORDINATES[finding.get("vuln_id") or finding["id"]]
    assert finding["type"] == "app"
    process = finding["process"]
    assert process["pid"] == pid
    assert process["exe"].endswith("/java")
    assert process["cmdline"][process["cmdline"].index("Server") + 1 :][:2] == [address, str(port)]
    # A JVM binds dual-stack IPv6 sockets: 0.0.0.0 shows as ::, 127.0.0.1 as ::ffff:127.0.0.1.
    bound = {(p["proto"], p["address"], p["port"]) for p in process["ports"]}
    assert bound & {("tcp", a, port) for a in SAME_ADDRESS[address]}
    component = finding["component"]
    assert component["path"] == str(app.directory / "lib" / jar)
    assert (component["ecosystem"], component["name"], component["version"]) == (
        "Maven",
        name,
        version,
    )
    assert finding["fixed_version"] == fixed
    assert (finding["confidence"], finding["method"]) == ("high", "jar-metadata")


def _ours(findings: list[dict[str, Any]], pids: set[int]) -> list[dict[str, Any]]:
    return [f for f in findings if f["type"] == "app" and f["process"]["pid"] in pids]


def test_scan_lists_one_app_finding_per_jvm_and_vulnerability(
    jvms: tuple[App, dict[int, subprocess.Popen[bytes]]], tmp_path: Path
) -> None:
    app, procs = jvms
    pids = {p.pid for p in procs.values()}
    args = ["scan", "--data-dir", str(tmp_path / "data"), "--offline", "--feed", f"osv:{GHSA}"]
    out = subprocess.run(
        [PATCHWARDEN, *args, "--format", "json"],
        capture_output=True, text=True, env=clean_env(), timeout=300,
    )  # fmt: skip
    assert out.returncode == 1, out.stderr  # findings remain
    found = _ours(json.loads(out.stdout)["findings"], pids)
    assert sorted((f["id"], f["process"]["pid"]) for f in found) == sorted(
        (vuln, proc.pid) for vuln in COORDINATES for proc in procs.values()
    )
    addresses = dict(zip(procs, ("0.0.0.0", "127.0.0.1")))
    for f in found:
        port = next(port for port, proc in procs.items() if proc.pid == f["process"]["pid"])
        _check(f, f["process"]["pid"], port, addresses[port], app)
    # The table names the process and its port, the JAR and the version to upgrade to.
    table = subprocess.run(
        [PATCHWARDEN, *args], capture_output=True, text=True, timeout=300,
        env=clean_env(COLUMNS="300"),
    )  # fmt: skip
    assert table.returncode == 1, table.stderr
    for port, proc in procs.items():
        assert f"java (pid {proc.pid})" in table.stdout
        assert f":{port}/tcp" in table.stdout
    assert "org.apache.logging.log4j:log4j-core" in table.stdout
    assert str(app.directory / "lib" / "fastjson-1.2.24.jar") in table.stdout
    assert "→ 2.15.0" in table.stdout and "→ 1.2.83" in table.stdout
    assert "apt-get install --only-upgrade org.apache" not in table.stdout
    # SARIF and CycloneDX name the JAR and its Maven purl, and stay valid.
    sarif = json.loads(
        subprocess.run(
            [PATCHWARDEN, *args, "--format", "sarif"], capture_output=True, text=True,
            env=clean_env(), timeout=300,
        ).stdout
    )  # fmt: skip
    sarif_validator().validate(sarif)
    held = [
        r["locations"][0] for r in sarif["runs"][0]["results"]
        if r["locations"][0].get("properties", {}).get("pid") in pids
    ]  # fmt: skip
    assert len(held) == 4
    assert {loc["properties"]["purl"] for loc in held} == {
        "pkg:maven/org.apache.logging.log4j/log4j-core@2.14.1",
        "pkg:maven/com.alibaba/fastjson@1.2.24",
    }
    jar_uri = str(app.directory / "lib" / "fastjson-1.2.24.jar").lstrip("/")
    assert jar_uri in {loc["physicalLocation"]["artifactLocation"]["uri"] for loc in held}
    bom = subprocess.run(
        [PATCHWARDEN, *args, "--format", "cyclonedx"], capture_output=True, text=True,
        env=clean_env(), timeout=300,
    ).stdout  # fmt: skip
    assert JsonStrictValidator(SchemaVersion.V1_6).validate_str(bom) is None
    purls = {c["purl"] for c in json.loads(bom)["components"]}
    assert "pkg:maven/com.alibaba/fastjson@1.2.24" in purls
    for purl in (p for p in purls if p.startswith("pkg:maven/")):
        assert PackageURL.from_string(purl).to_string() == purl  # packageurl-python agrees


def test_console_api_lists_app_records_and_a_stopped_jvm_goes_undetected(
    jvms: tuple[App, dict[int, subprocess.Popen[bytes]]], tmp_path: Path
) -> None:
    app, procs = jvms
    (exposed, first), (loopback, second) = procs.items()
    data_dir = tmp_path / "console"
    data_dir.mkdir()
    env = clean_env()
    pw("feeds", "import", f"osv:{GHSA}", "--data-dir", str(data_dir), env=env)
    token = pw(
        "api-token", "create", "--user", "alice", "--data-dir", str(data_dir), "--init", env=env
    ).strip()
    enrolment = pw("enrolment-token", "create", "--data-dir", str(data_dir), env=env).strip()
    console = Console(data_dir, env, token).start()
    try:
        state = tmp_path / "agent"
        agent = subprocess.run(
            [AGENT, "run", "--once", "--offline", "--root", "/", "--state-dir", str(state),
             "--server", console.url, "--token", enrolment],
            capture_output=True, text=True, env=env, timeout=300,
        )  # fmt: skip
        assert agent.returncode == 0, agent.stderr
        records = _ours(console.records(type="app"), {first.pid, second.pid})
        assert sorted((r["vuln_id"], r["process"]["pid"]) for r in records) == sorted(
            (vuln, proc.pid) for vuln in COORDINATES for proc in (first, second)
        )
        for r in records:
            pid = r["process"]["pid"]
            port, address = (exposed, "0.0.0.0") if pid == first.pid else (loopback, "127.0.0.1")
            _check(r, pid, port, address, app)
            assert r["status"] == "unfixed" and r["undetected_since"] is None
        by_key = {(r["vuln_id"], r["process"]["pid"]): r for r in records}
        assert (
            by_key[(LOG4SHELL, first.pid)]["urgency"] > by_key[(LOG4SHELL, second.pid)]["urgency"]
        )
        host_id = json.loads((state / "agent.json").read_text())["host_id"]
        host = console.ok("GET", f"/api/v1/hosts/{host_id}")
        listed = {p["pid"]: p for p in host["processes"]}
        assert [p["port"] for p in listed[first.pid]["ports"]] == [exposed]
        assert listed[first.pid]["exposed"] is True and listed[second.pid]["exposed"] is False

        # The loopback JVM stops; the agent's next run covers the running processes (the
        # processes it cannot read, like this machine's pid 1, are no failed collector) and
        # reports it gone.
        stop(procs.pop(loopback))
        rescan = subprocess.run(
            [AGENT, "run", "--once", "--offline", "--root", "/", "--state-dir", str(state)],
            capture_output=True, text=True, env=env, timeout=300,
        )  # fmt: skip
        assert rescan.returncode == 0, rescan.stderr
        host = console.ok("GET", f"/api/v1/hosts/{host_id}")
        assert host["processes_complete"] is True, host["scan_events"]
        assert second.pid not in {p["pid"] for p in host["processes"]}
        after = {
            (r["vuln_id"], r["process"]["pid"]): r
            for r in _ours(console.records(type="app"), {first.pid, second.pid})
        }
        for vuln in COORDINATES:
            assert after[(vuln, first.pid)]["undetected_since"] is None
            gone = after[(vuln, second.pid)]
            assert gone["undetected_since"] is not None and gone["status"] == "unfixed"
            history = console.record(gone["id"])["history"]
            assert history[-1]["trigger"] == "not_detected"
    finally:
        console.stop()
