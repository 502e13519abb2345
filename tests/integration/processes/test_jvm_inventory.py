"""Process and component inventory of real JVMs on this machine (SPEC R-D1, R-D2, R-T4).

Each test starts its own JVMs (tests/integration/processes/jvm.py) and collects the live
inventory with the processes and components collectors.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

from tests.integration.processes import jvm
from tests.integration.processes.conftest import JavaWorld

from patchwarden.agent.collectors.registry import COLLECTORS
from patchwarden.agent.inventory import collect_inventory
from patchwarden.core.inventory import Component, Inventory, ListeningPort, ProcessInstance

COLLECTED = ("os-release", "processes", "components")
LOG4J_CLASS = "org.apache.logging.log4j.core.Logger"
FASTJSON_CLASS = "com.alibaba.fastjson.JSON"


def live_inventory() -> Inventory:
    collectors = {name: COLLECTORS[name] for name in COLLECTED}
    return collect_inventory(Path("/"), online=False, collectors=collectors)


def process(inv: Inventory, pid: int) -> ProcessInstance:
    found = [p for p in inv.processes if p.pid == pid]
    assert len(found) == 1, f"process {pid} not in the inventory"
    return found[0]


def component(proc: ProcessInstance, name: str) -> Component:
    found = [c for c in proc.components if c.name == name]
    assert len(found) == 1, f"{name} not among {[c.name for c in proc.components]}"
    return found[0]


def test_two_instances_are_two_processes_with_their_ports_and_jars(
    java_world: JavaWorld,
) -> None:
    cp = java_world.class_path(jvm.FASTJSON_VULNERABLE, jvm.LOG4J_VULNERABLE)
    one, two = jvm.free_port(), jvm.free_port()
    args = ["-cp", cp, "Server"]
    with (
        jvm.running_jvm([*args, str(one), "127.0.0.1", FASTJSON_CLASS], one) as first,
        jvm.running_jvm([*args, str(two), "0.0.0.0", FASTJSON_CLASS], two, "0.0.0.0") as second,
    ):
        inv = live_inventory()
    a, b = process(inv, first.pid), process(inv, second.pid)
    assert a.ports == (ListeningPort("tcp", "127.0.0.1", one),)
    assert not a.exposed
    # A JVM binds "every address" as a dual-stack IPv6 socket.
    assert b.ports == (ListeningPort("tcp", "::", two),)
    assert b.exposed
    for proc in (a, b):
        assert proc.runtime == "java"
        assert proc.exe.endswith("/bin/java")
        assert proc.user == "root"
        assert proc.uid == 0
        assert proc.cmdline[-4:-2] == ("Server", str(proc.ports[0].port))
        assert proc.start_time.startswith(time.strftime("%Y-%m-%d", time.gmtime()))
        assert proc.cwd == os.getcwd()
        fastjson = component(proc, "com.alibaba:fastjson")
        assert (fastjson.version, fastjson.loaded) == ("1.2.24", True)
        assert (fastjson.method, fastjson.confidence) == ("pom.properties", "high")
        assert fastjson.path == str(java_world.libs[jvm.FASTJSON_VULNERABLE])
        assert fastjson.evidence == "META-INF/maven/com.alibaba/fastjson/pom.properties"
        assert fastjson.package == ""
        app = component(proc, "com.example:demo-app")
        assert (app.version, app.loaded) == ("1.0.0", True)
        # On the class path, never opened: an inventory fact, not a loaded component.
        log4j = component(proc, "org.apache.logging.log4j:log4j-core")
        assert (log4j.version, log4j.loaded) == ("2.14.1", False)
    assert a.start_time != b.start_time or a.pid != b.pid
    # The inventory survives the JSON round trip the upload makes.
    assert Inventory.from_dict(inv.to_dict()) == inv


def test_a_jar_is_loaded_only_after_the_trigger_request(java_world: JavaWorld) -> None:
    cp = java_world.class_path(jvm.FASTJSON_FIXED, jvm.LOG4J_VULNERABLE)
    port = jvm.free_port()
    with jvm.running_jvm(["-cp", cp, "Server", str(port), "127.0.0.1"], port) as server:
        before = component(process(live_inventory(), server.pid), LOG4J_NAME)
        assert server.send(f"load {LOG4J_CLASS}") == "loaded"
        after = component(process(live_inventory(), server.pid), LOG4J_NAME)
    assert (before.version, before.loaded) == ("2.14.1", False)
    assert (after.version, after.loaded) == ("2.14.1", True)
    assert after.path == str(java_world.libs[jvm.LOG4J_VULNERABLE])


LOG4J_NAME = "org.apache.logging.log4j:log4j-core"


def test_fat_jar_components_include_its_nested_libraries(java_world: JavaWorld) -> None:
    port = jvm.free_port()
    fat = java_world.fat
    with jvm.running_jvm(["-jar", str(fat), str(port), "127.0.0.1"], port) as server:
        proc = process(live_inventory(), server.pid)
    by_path = {c.path: c for c in proc.components}
    assert by_path[str(fat)].name == "com.example:fat-app"
    nested = by_path[f"{fat}!/BOOT-INF/lib/log4j-core-2.14.1.jar"]
    assert (nested.name, nested.version, nested.loaded) == (LOG4J_NAME, "2.14.1", True)
    assert (nested.method, nested.confidence) == ("pom.properties", "high")
    fixed = by_path[f"{fat}!/BOOT-INF/lib/fastjson-1.2.83.jar"]
    assert (fixed.name, fixed.version) == ("com.alibaba:fastjson", "1.2.83")
    assert proc.ports == (ListeningPort("tcp", "127.0.0.1", port),)


def test_a_jar_of_a_debian_package_is_marked_package_owned(java_world: JavaWorld) -> None:
    packaged = Path("/usr/share/java/log4j-core.jar")
    if not packaged.is_file():
        raise AssertionError(f"{packaged} is missing: install the Debian package liblog4j2-java")
    api = Path("/usr/share/java/log4j-api.jar")
    cp = f"{java_world.app}:{packaged}:{api}"
    port = jvm.free_port()
    with jvm.running_jvm(["-cp", cp, "Server", str(port), "127.0.0.1", LOG4J_CLASS], port) as s:
        proc = process(live_inventory(), s.pid)
    log4j = component(proc, LOG4J_NAME)
    assert log4j.path == str(packaged)
    assert log4j.package == "liblog4j2-java"
    assert log4j.loaded
    assert log4j.version == "2.19.0"
    assert component(proc, "com.example:demo-app").package == ""


def test_a_jar_changed_or_replaced_after_start_needs_a_restart(
    java_world: JavaWorld, tmp_path: Path
) -> None:
    changed = tmp_path / "changed.jar"
    replaced = tmp_path / "replaced.jar"
    changed.write_bytes(java_world.libs[jvm.FASTJSON_VULNERABLE].read_bytes())
    replaced.write_bytes(java_world.libs[jvm.LOG4J_VULNERABLE].read_bytes())
    cp = f"{java_world.app}:{changed}:{replaced}"
    port = jvm.free_port()
    eager = [FASTJSON_CLASS, LOG4J_CLASS]
    with jvm.running_jvm(["-cp", cp, "Server", str(port), "127.0.0.1", *eager], port) as s:
        assert process(live_inventory(), s.pid).restart == ()
        future = time.time() + 5
        os.utime(changed, (future, future))  # modified in place after the JVM started
        fresh = tmp_path / "fresh.jar"
        fresh.write_bytes(java_world.libs[jvm.LOG4J_FIXED].read_bytes())
        fresh.replace(replaced)  # a package manager's rename over the old file
        needs = {(n.reason, n.path) for n in process(live_inventory(), s.pid).restart}
    assert ("jar-changed", str(changed)) in needs
    assert ("jar-deleted", str(replaced)) in needs
