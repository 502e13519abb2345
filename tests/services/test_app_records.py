"""Application records (issue 12): one record per running process instance and vulnerable
component (R-D1), in the records table and lifecycle of the Linux ones, on every backend."""

from __future__ import annotations

from dataclasses import asdict, replace
from datetime import timedelta
from typing import Any

import pytest

from patchwarden.core.inventory import (
    Component,
    Evidence,
    Inventory,
    Kernel,
    ListeningPort,
    ProcessInstance,
    RestartNeed,
    ScanEvent,
)
from patchwarden.core.priority import EXPOSURE_BONUS
from patchwarden.core.records import State
from patchwarden.core.vocabulary import VulnType
from patchwarden.services import views
from patchwarden.services.feeds import load_index
from patchwarden.services.index import MemoryIndex
from patchwarden.services.ports import Role, StoredRecord, User
from patchwarden.services.settings import update_settings
from tests.paths import CORPUS
from tests.services.conftest import T0, Agent, World, debian_host

GHSA = CORPUS / "advisories" / "ghsa-osv" / "github-reviewed"
ADMIN = User(1, "admin", Role.ADMIN)
LOG4J = "org.apache.logging.log4j:log4j-core"
FASTJSON = "com.alibaba:fastjson"
COVERED = (Evidence.INSTALLED_PACKAGES.value, Evidence.RUNNING_PROCESSES.value)


def jar(name: str, version: str, **kw: Any) -> Component:
    artifact = name.rsplit(":", 1)[-1]
    return Component(
        path=f"/opt/app/lib/{artifact}-{version}.jar",
        ecosystem="Maven",
        name=name,
        version=version,
        method="pom.properties",
        confidence="high",
        evidence=f"META-INF/maven/{name.replace(':', '/')}/pom.properties",
        **kw,
    )


LIBS = (jar(LOG4J, "2.14.1"), jar(FASTJSON, "1.2.24"), jar("org.example:quiet", "1.0"))


def jvm(pid: int, port: int, address: str = "0.0.0.0", libs: tuple[Component, ...] = LIBS,
        **kw: Any) -> ProcessInstance:  # fmt: skip
    return ProcessInstance(
        pid=pid,
        start_time=f"2026-03-02T08:{pid % 60:02d}:00Z",
        exe="/usr/lib/jvm/java-17-openjdk-amd64/bin/java",
        name="java",
        cmdline=("java", "-cp", "/opt/app/lib/*", "Server"),
        cwd="/opt/app",
        user="app",
        ports=(ListeningPort("tcp", address, port),),
        runtime="java",
        components=libs,
        **kw,
    )


def host(*processes: ProcessInstance, covered: tuple[str, ...] = COVERED, **kw: Any) -> Inventory:
    return replace(debian_host(), processes=processes, covered=covered, **kw)


TWO = (jvm(100, 8080), jvm(200, 8081, "127.0.0.1"))


@pytest.fixture
def apps(world: World) -> World:
    """The world with the corpus' GHSA records added to its advisory index."""
    ghsa, errors = load_index([f"osv:{GHSA}"])
    assert errors == [] and isinstance(ghsa, MemoryIndex)
    index = world.uow.advisories
    assert isinstance(index, MemoryIndex)
    index.add(ghsa.search("", 100, 0)[0])
    return world


def app_records(world: World, agent: Agent) -> list[StoredRecord]:
    with world.uow.read():
        return sorted(
            world.uow.records.of_host(agent.host_id, VulnType.APP),
            key=lambda s: (s.vuln_id, s.detail.process.pid if s.detail.process else 0),
        )


def test_two_jvms_on_two_ports_are_two_records_per_vulnerability(apps: World) -> None:
    agent = apps.enrol()
    outcome = apps.upload(agent, host(*TWO))
    assert outcome.records is not None and outcome.records.created == 2 + 4  # 2 Linux + 4 app
    found = app_records(apps, agent)
    assert [(s.vuln_id, s.detail.process.pid if s.detail.process else 0) for s in found] == [
        ("CVE-2021-44228", 100),
        ("CVE-2021-44228", 200),
        ("CVE-2022-25845", 100),
        ("CVE-2022-25845", 200),
    ]
    log4j = found[0]
    assert log4j.record.vuln_type is VulnType.APP and log4j.record.state is State.UNFIXED
    d = log4j.detail
    assert (d.package, d.installed_version, d.fixed_version) == (LOG4J, "2.14.1", "2.15.0")
    assert (d.method, d.confidence, d.severity_source) == ("jar-metadata", "high", "ghsa")
    assert d.component is not None and d.component.path == "/opt/app/lib/log4j-core-2.14.1.jar"
    assert d.process is not None and d.process.ports == (ListeningPort("tcp", "0.0.0.0", 8080),)
    assert d.process.cmdline == TWO[0].cmdline and d.process.user == "app"
    # R-D11: the instance listening on 0.0.0.0 is more urgent than the loopback one.
    assert d.urgency == pytest.approx(found[1].detail.urgency + EXPOSURE_BONUS)
    assert len({s.affected_key for s in found}) == 4
    # The Linux records are there as before, and only them under type linux.
    assert set(apps.records(agent.host_id)) == {"CVE-2024-0727", "CVE-2024-2398"}


def test_a_restarted_service_keeps_its_records(apps: World) -> None:
    agent = apps.enrol()
    apps.upload(agent, host(*TWO))
    before = {s.id: s for s in app_records(apps, agent)}
    apps.clock.advance(timedelta(hours=1))
    # Both restarted (new pids and start times), reported in the other order.
    restarted = (replace(TWO[1], pid=300, start_time="x"), replace(TWO[0], pid=400))
    outcome = apps.upload(agent, host(*restarted))
    assert outcome.records is not None and outcome.records.created == 0
    after = {s.id: s for s in app_records(apps, agent)}
    assert set(after) == set(before)
    pids = {before[i].detail.process.pid: after[i].detail.process.pid for i in after}  # type: ignore[union-attr]
    assert pids == {100: 400, 200: 300}
    assert all(s.record.last_seen == T0 + timedelta(hours=1) for s in after.values())


def test_a_stopped_process_goes_undetected_then_fixed_after_three_days(apps: World) -> None:
    agent = apps.enrol()
    apps.upload(agent, host(*TWO))
    for day in (1, 2, 3, 4):  # undetected from day 1: cleared after 3 days, on day 4
        apps.clock.advance(timedelta(days=1))
        outcome = apps.upload(agent, host(TWO[0]))
        assert outcome.records is not None
        if day == 1:
            assert outcome.records.not_detected == 2
    states = {(s.vuln_id, s.detail.process.pid): s.record for s in app_records(apps, agent)}  # type: ignore[union-attr]
    assert states[("CVE-2021-44228", 100)].state is State.UNFIXED
    assert states[("CVE-2021-44228", 100)].undetected_since is None
    gone = states[("CVE-2021-44228", 200)]
    assert gone.state is State.FIXED and gone.undetected_since == T0 + timedelta(days=1)


def test_a_failed_processes_collector_resolves_nothing(apps: World) -> None:
    agent = apps.enrol()
    apps.upload(agent, host(*TWO))
    apps.clock.advance(timedelta(days=4))
    # STYLE E3: without `running-processes` in `covered`, a process not seen is no evidence.
    partial = (Evidence.INSTALLED_PACKAGES.value,)
    for _ in range(2):
        apps.upload(agent, host(covered=partial))
        apps.clock.advance(timedelta(days=4))
    found = app_records(apps, agent)
    assert [s.record.state for s in found] == [State.UNFIXED] * 4
    assert all(s.record.undetected_since is None for s in found)


def test_components_not_loaded_or_owned_by_a_package_make_no_record(apps: World) -> None:
    agent = apps.enrol()
    libs = (
        jar(LOG4J, "2.14.1", loaded=False),
        replace(jar(FASTJSON, "1.2.24"), package="libfastjson-java"),
    )
    outcome = apps.upload(agent, host(jvm(100, 8080, libs=libs)))
    assert outcome.records is not None and outcome.records.created == 2  # the Linux ones
    assert app_records(apps, agent) == []


def test_a_plan_without_app_detection_makes_no_app_records_and_says_why(apps: World) -> None:
    agent = apps.enrol()
    update_settings(apps.uow, ADMIN, {"plan": "basic"})
    outcome = apps.upload(agent, host(*TWO))
    assert outcome.records is not None and outcome.records.created == 2
    assert app_records(apps, agent) == []
    assert outcome.errors is not None
    assert outcome.errors[0] == (
        "application vulnerability detection is not part of the basic plan: the components"
        " of 2 running processes were not matched"
    )
    # Records made under a plan that had it are neither made nor moved under one without.
    update_settings(apps.uow, ADMIN, {"plan": "enterprise"})
    apps.upload(agent, host(*TWO))
    update_settings(apps.uow, ADMIN, {"plan": "basic"})
    for _ in range(2):
        apps.clock.advance(timedelta(days=2))
        apps.upload(agent, host())
    assert [s.record.undetected_since for s in app_records(apps, agent)] == [None] * 4


def test_record_views_describe_process_and_component(apps: World) -> None:
    agent = apps.enrol()
    apps.upload(agent, host(*TWO))
    page = views.list_records(apps.uow, type="app")
    assert page.total == 4
    item = asdict(page.items[0])  # most urgent first: Log4Shell on the exposed instance
    assert item["type"] == "app" and item["vuln_id"] == "CVE-2021-44228"
    assert item["process"] == {
        "pid": 100,
        "exe": "/usr/lib/jvm/java-17-openjdk-amd64/bin/java",
        "cmdline": ["java", "-cp", "/opt/app/lib/*", "Server"],
        "ports": [{"proto": "tcp", "address": "0.0.0.0", "port": 8080}],
        "start_time": "2026-03-02T08:40:00Z",
        "user": "app",
        "container": "",
        "exposed": True,
    }
    assert item["component"] == {
        "path": "/opt/app/lib/log4j-core-2.14.1.jar",
        "ecosystem": "Maven",
        "name": LOG4J,
        "version": "2.14.1",
        "method": "pom.properties",
        "evidence": "META-INF/maven/org.apache.logging.log4j/log4j-core/pom.properties",
    }
    assert (item["fixed_version"], item["confidence"], item["method"]) == (
        "2.15.0",
        "high",
        "jar-metadata",
    )
    linux = asdict(views.list_records(apps.uow, type="linux").items[0])
    assert linux["process"] is None and linux["component"] is None
    assert views.list_records(apps.uow, method="jar-metadata").total == 4


def test_host_detail_lists_processes_restart_needs_events_and_kernel_facts(apps: World) -> None:
    agent = apps.enrol()
    kernel = Kernel(
        running="6.1.0-17-amd64", newest_installed="6.1.0-18-amd64", reboot_needed=True,
        default_pinned=True, boot_default="6.1.0-17-amd64",
    )  # fmt: skip
    stale = replace(TWO[0], restart=(RestartNeed("jar-replaced", "/opt/app/lib/x.jar"),))
    event = ScanEvent("memory_cap_exceeded", "scan exceeded memory cap 200 MB", T0.isoformat())
    apps.upload(agent, host(stale, TWO[1], kernel=kernel, scan_events=(event,)))
    detail = asdict(views.get_host(apps.uow, apps.clock, agent.host_id))
    assert detail["processes_complete"] is True
    assert [p["pid"] for p in detail["processes"]] == [100, 200]
    first = detail["processes"][0]
    assert first["ports"] == [{"proto": "tcp", "address": "0.0.0.0", "port": 8080}]
    assert first["restart"] == [{"reason": "jar-replaced", "path": "/opt/app/lib/x.jar"}]
    assert (first["exposed"], first["components"], first["loaded_components"]) == (True, 3, 3)
    assert detail["processes"][1]["exposed"] is False
    assert detail["scan_events"] == [
        {"code": "memory_cap_exceeded", "message": "scan exceeded memory cap 200 MB",
         "at": T0.isoformat()}
    ]  # fmt: skip
    assert detail["kernel"]["reboot_needed"] is True
    assert detail["kernel"]["default_pinned"] is True
    # A later inventory without processes (a collector failed) says so.
    apps.upload(agent, host(covered=(Evidence.INSTALLED_PACKAGES.value,)))
    later = views.get_host(apps.uow, apps.clock, agent.host_id)
    assert (later.processes, later.processes_complete, later.scan_events) == ([], False, [])


def test_a_file_name_guess_is_a_low_confidence_record(apps: World) -> None:
    agent = apps.enrol()
    guess = Component(
        "/opt/app/lib/log4j-core-2.14.1.jar", "Maven", "log4j-core", "2.14.1", "file-name", "low"
    )
    apps.upload(agent, host(jvm(100, 8080, libs=(guess,))))
    (record,) = app_records(apps, agent)
    d = record.detail
    assert (record.vuln_id, d.package, d.method, d.confidence) == (
        "CVE-2021-44228",
        LOG4J,
        "file-name",
        "low",
    )
    assert (
        d.component is not None and d.component.name == LOG4J and d.component.method == "file-name"
    )
    # Low-confidence records are labelled, and a filter tells them apart (R-D12).
    assert views.list_records(apps.uow, confidence="low").total == 1
    assert views.list_records(apps.uow, type="app", confidence="high").total == 0


def unreadable(pid: int, start_time: str = "", name: str = "java") -> ProcessInstance:
    """A process the agent listed but could not read (permissions, hidepid): pid, and what
    else could be read."""
    return ProcessInstance(pid=pid, start_time=start_time, exe="", name=name, readable=False)


def test_a_process_the_agent_could_not_read_holds_the_records_it_may_be(apps: World) -> None:
    """R-D1, STYLE E3: a covered scan that lists pid 200 but cannot read it neither detects
    nor undetects the records of the instance last seen as pid 200, and says why; once the
    pid is gone from a covered scan they go undetected as any other."""
    agent = apps.enrol()
    apps.upload(agent, host(*TWO))
    for _ in range(3):  # past the grace period: held, not cleared
        apps.clock.advance(timedelta(days=2))
        same = unreadable(200, TWO[1].start_time)
        outcome = apps.upload(agent, host(TWO[0], same, unreadable(1, name="init")))
        assert outcome.records is not None and outcome.records.not_detected == 0
    found = {(s.vuln_id, s.detail.process.pid): s for s in app_records(apps, agent)}  # type: ignore[union-attr]
    held = found[("CVE-2021-44228", 200)]
    assert held.record.state is State.UNFIXED and held.record.undetected_since is None
    assert held.record.last_seen == T0  # not detected either
    note = (
        "kept as it was: the agent could not read process 200 in its latest scan, so whether"
        " this instance still runs is unknown"
    )
    assert held.detail.reason == note  # once, however many scans held it
    assert found[("CVE-2021-44228", 100)].detail.reason == ""
    listed = {(r.vuln_id, r.process.pid): r for r in views.list_records(apps.uow, type="app").items}  # type: ignore[union-attr]
    assert listed[("CVE-2022-25845", 200)].reason == note
    # The pid is gone from a covered scan: the instance is gone, and the note with it.
    apps.clock.advance(timedelta(days=1))
    outcome = apps.upload(agent, host(TWO[0], unreadable(1, name="init")))
    assert outcome.records is not None and outcome.records.not_detected == 2
    gone = [s for s in app_records(apps, agent) if s.detail.process.pid == 200]  # type: ignore[union-attr]
    assert [s.record.undetected_since for s in gone] == [apps.clock.now()] * 2
    assert [s.detail.reason for s in gone] == ["", ""]


@pytest.mark.parametrize(
    "other",
    [
        pytest.param(unreadable(1, "2026-03-02T05:00:00Z", "init"), id="another pid"),
        pytest.param(unreadable(200, "2026-03-02T09:30:00Z"), id="the pid reused later"),
    ],
)
def test_an_unreadable_process_that_cannot_be_the_instance_holds_nothing(
    apps: World, other: ProcessInstance
) -> None:
    agent = apps.enrol()
    apps.upload(agent, host(*TWO))
    apps.clock.advance(timedelta(hours=1))
    outcome = apps.upload(agent, host(TWO[0], other))
    assert outcome.records is not None and outcome.records.not_detected == 2
    gone = [s for s in app_records(apps, agent) if s.detail.process.pid == 200]  # type: ignore[union-attr]
    assert [s.record.undetected_since for s in gone] == [apps.clock.now()] * 2
    assert all(s.detail.reason == "" for s in gone)


def test_an_unreadable_process_holds_nothing_without_covered_processes(apps: World) -> None:
    """Not covered is not covered: nothing moves, and no note is added either."""
    agent = apps.enrol()
    apps.upload(agent, host(*TWO))
    apps.clock.advance(timedelta(days=4))
    partial = (Evidence.INSTALLED_PACKAGES.value,)
    apps.upload(agent, host(TWO[0], unreadable(200), covered=partial))
    found = app_records(apps, agent)
    assert [s.record.undetected_since for s in found] == [None] * 4
    assert all(s.detail.reason == "" for s in found)
