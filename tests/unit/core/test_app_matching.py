"""Application findings (core.app_matching, core.app_instances): the components running
processes hold against the corpus' real GHSA records, one finding per process instance."""

from __future__ import annotations

from dataclasses import replace

import pytest
from tests.paths import CORPUS

from patchwarden.core.app_instances import AppComponent, AppProcess, instance_keys
from patchwarden.core.app_matching import app_matches, component_matches
from patchwarden.core.inventory import Component, ListeningPort, ProcessInstance
from patchwarden.core.matching import Confidence, MatchErrors, Method
from patchwarden.services.feeds import load_index
from patchwarden.services.index import MemoryIndex

GHSA = CORPUS / "advisories" / "ghsa-osv" / "github-reviewed"
LOG4J = "org.apache.logging.log4j:log4j-core"
SPRING_BEANS = "org.springframework:spring-beans"


@pytest.fixture(scope="module")
def ghsa() -> MemoryIndex:
    """The corpus' seven GHSA records, parsed by the OSV feed parser (`--feed osv:DIR`)."""
    index, errors = load_index([f"osv:{GHSA}"])
    assert errors == []
    assert isinstance(index, MemoryIndex)
    return index


def jar(name: str, version: str, **kw: object) -> Component:
    artifact = name.rsplit(":", 1)[-1]
    defaults: dict[str, object] = {
        "path": f"/opt/app/lib/{artifact}-{version}.jar",
        "ecosystem": "Maven",
        "name": name,
        "version": version,
        "method": "pom.properties",
        "confidence": "high",
    }
    defaults.update(kw)
    return Component(**defaults)  # type: ignore[arg-type]


APP_CMDLINE = ("java", "-jar", "/opt/app/app.jar")


def java(
    pid: int,
    *components: Component,
    port: int = 8080,
    address: str = "0.0.0.0",
    cmdline: tuple[str, ...] = APP_CMDLINE,
) -> ProcessInstance:
    return ProcessInstance(
        pid=pid,
        start_time=f"2026-11-30T08:00:{pid % 60:02d}Z",
        exe="/usr/lib/jvm/java-17-openjdk-amd64/bin/java",
        cmdline=cmdline,
        cwd="/opt/app",
        ports=(ListeningPort("tcp", address, port),) if port else (),
        runtime="java",
        components=components,
    )


def verdicts(index: MemoryIndex, component: Component) -> dict[str, str | None]:
    """vulnerability id -> fixed version of the component's findings."""
    errors = MatchErrors()
    found = component_matches(component, index.lookup, errors)
    assert errors.items == []
    return {m.id: m.fixed_version for m in found}


@pytest.mark.parametrize(
    ("name", "version", "expected"),
    [
        # Log4Shell (GHSA-jfh8-c2jp-5v3q): three ranges; the goldens of the corpus manifest.
        (LOG4J, "2.14.1", {"CVE-2021-44228": "2.15.0"}),
        (LOG4J, "2.12.2", {}),
        (LOG4J, "2.3.1", {}),
        (LOG4J, "2.12.1", {"CVE-2021-44228": "2.12.2"}),
        (LOG4J, "2.0-beta9", {"CVE-2021-44228": "2.3.1"}),
        (LOG4J, "2.15.0", {}),
        (LOG4J, "2.13.0", {"CVE-2021-44228": "2.15.0"}),
        # Spring4Shell: `.RELEASE` versions order like the plain ones (Maven 3.8+).
        ("org.springframework:spring-beans", "5.3.17", {"CVE-2022-22965": "5.3.18"}),
        ("org.springframework:spring-beans", "5.3.18", {}),
        (SPRING_BEANS, "5.2.19.RELEASE", {"CVE-2022-22965": "5.2.20.RELEASE"}),
        ("org.springframework:spring-beans", "5.2.20.RELEASE", {}),
        ("org.springframework:spring-webmvc", "5.2.20", {}),
        # jackson-databind: four-part fixed versions.
        ("com.fasterxml.jackson.core:jackson-databind", "2.12.6", {"CVE-2020-36518": "2.12.6.1"}),
        ("com.fasterxml.jackson.core:jackson-databind", "2.12.6.1", {}),
        ("com.fasterxml.jackson.core:jackson-databind", "2.13.2", {"CVE-2020-36518": "2.13.2.1"}),
        ("com.fasterxml.jackson.core:jackson-databind", "2.13.2.1", {}),
        ("com.fasterxml.jackson.core:jackson-databind", "2.9.10.8", {"CVE-2020-36518": "2.12.6.1"}),
        # struts2 S2-045.
        ("org.apache.struts:struts2-core", "2.5.10", {"CVE-2017-5638": "2.5.10.1"}),
        ("org.apache.struts:struts2-core", "2.5.10.1", {}),
        ("org.apache.struts:struts2-core", "2.3.31", {"CVE-2017-5638": "2.3.32"}),
        ("org.apache.struts:struts2-core", "2.3.32", {}),
        ("org.apache.struts:struts2-core", "2.2.3", {}),
        ("com.alibaba:fastjson", "1.2.24", {"CVE-2022-25845": "1.2.83"}),
        ("com.alibaba:fastjson", "1.2.83", {}),
    ],
)  # fmt: skip
def test_maven_components_against_the_ghsa_goldens(
    ghsa: MemoryIndex, name: str, version: str, expected: dict[str, str | None]
) -> None:
    assert verdicts(ghsa, jar(name, version)) == expected


def test_pypi_and_npm_go_through_the_same_path(ghsa: MemoryIndex) -> None:
    requests = Component(
        "/usr/lib/python3/dist-packages/requests", "PyPI", "Requests", "2.30.0", "dist-info", "high"
    )
    assert verdicts(ghsa, requests) == {"CVE-2023-32681": "2.31.0"}  # PEP 503 name
    assert verdicts(ghsa, replace(requests, version="2.31.0")) == {}
    lodash = Component("/srv/app/node_modules/lodash", "npm", "lodash", "4.17.19", "package.json",
                       "high")  # fmt: skip
    assert verdicts(ghsa, lodash) == {"CVE-2020-8203": "4.17.20"}
    assert verdicts(ghsa, replace(lodash, version="4.17.20")) == {}


def test_a_jar_not_loaded_makes_no_finding(ghsa: MemoryIndex) -> None:
    # R-D2: on the class path, never opened: its classes never ran.
    assert verdicts(ghsa, jar(LOG4J, "2.14.1", loaded=False)) == {}


def test_a_jar_owned_by_a_distro_package_is_left_to_the_distro_advisory(
    ghsa: MemoryIndex,
) -> None:
    owned = jar(LOG4J, "2.14.1", package="liblog4j2-java", path="/usr/share/java/log4j-core.jar")
    assert verdicts(ghsa, owned) == {}


def test_a_nested_jar_matches_like_any_other(ghsa: MemoryIndex) -> None:
    nested = jar(LOG4J, "2.14.1", path="/srv/app.jar!/BOOT-INF/lib/log4j-core-2.14.1.jar")
    errors = MatchErrors()
    (m,) = component_matches(nested, ghsa.lookup, errors)
    assert m.component == AppComponent(nested.path, "Maven", LOG4J, "2.14.1", "pom.properties", "")
    assert (m.type, m.method, m.confidence) == ("app", Method.JAR_METADATA, Confidence.HIGH)


def test_method_and_confidence_come_from_the_component(ghsa: MemoryIndex) -> None:
    errors = MatchErrors()
    manifest = jar(LOG4J, "2.14.1", method="manifest", confidence="medium")
    (m,) = component_matches(manifest, ghsa.lookup, errors)
    assert (m.method, m.confidence) == (Method.JAR_METADATA, Confidence.MEDIUM)
    guessed = jar(LOG4J, "2.14.1", method="file-name", confidence="low")
    (m,) = component_matches(guessed, ghsa.lookup, errors)
    assert (m.method, m.confidence) == (Method.FILE_NAME, Confidence.LOW)


def test_a_file_name_guess_matches_only_an_unambiguous_artifact_id(ghsa: MemoryIndex) -> None:
    errors = MatchErrors()
    guess = jar("log4j-core", "2.14.1", method="file-name", confidence="low")

    def one(artifact: str) -> list[str]:
        return {"log4j-core": [LOG4J]}.get(artifact, [])

    def two(artifact: str) -> list[str]:
        return [LOG4J, "org.example.fork:log4j-core"]

    (m,) = component_matches(guess, ghsa.lookup, errors, one)
    assert (m.package, m.confidence, m.method) == (LOG4J, Confidence.LOW, Method.FILE_NAME)
    assert m.component is not None and m.component.name == LOG4J
    # Even a group-less name the JAR's metadata gave is only a guess of its group.
    sure = jar("log4j-core", "2.14.1")
    (m,) = component_matches(sure, ghsa.lookup, errors, one)
    assert (m.confidence, m.method) == (Confidence.LOW, Method.FILE_NAME)
    assert component_matches(guess, ghsa.lookup, errors, two) == []
    assert component_matches(guess, ghsa.lookup, errors, None) == []
    assert errors.items == []


def test_components_without_an_orderable_ecosystem_are_skipped(ghsa: MemoryIndex) -> None:
    errors = MatchErrors()
    nginx = Component("/usr/local/nginx/sbin/nginx", "", "", "1.18.0", "fingerprint", "medium",
                      cpe="cpe:2.3:a:f5:nginx:1.18.0:*:*:*:*:*:*:*")  # fmt: skip
    assert component_matches(nginx, ghsa.lookup, errors) == []
    php = Component("/srv/vendor/x", "Packagist", "x/y", "1.0", "package.json", "high")
    assert component_matches(php, ghsa.lookup, errors) == []
    assert component_matches(jar(LOG4J, ""), ghsa.lookup, errors) == []
    # Maven orders any string: an unresolved property would sort below every version.
    assert component_matches(jar(LOG4J, "${project.version}"), ghsa.lookup, errors) == []


def test_an_unparseable_version_is_a_recorded_skip(ghsa: MemoryIndex) -> None:
    errors = MatchErrors()
    assert component_matches(jar(LOG4J, "2.14 1"), ghsa.lookup, errors) == []
    assert errors.items and "GHSA-jfh8-c2jp-5v3q" in errors.items[0]


# -- one finding per process instance (R-D1) -----------------------------------------------------


def test_two_identical_jvms_on_two_ports_are_two_findings(ghsa: MemoryIndex) -> None:
    libs = (jar(LOG4J, "2.14.1"), jar("com.alibaba:fastjson", "1.2.24"))
    one, two = java(100, *libs, port=8080), java(200, *libs, port=8081, address="127.0.0.1")
    found = app_matches([one, two], ghsa.lookup, MatchErrors())
    assert sorted((m.id, m.process.pid if m.process else 0) for m in found) == [
        ("CVE-2021-44228", 100),
        ("CVE-2021-44228", 200),
        ("CVE-2022-25845", 100),
        ("CVE-2022-25845", 200),
    ]
    assert len({m.instance for m in found}) == 2
    by_pid = {m.process.pid: m.process for m in found if m.process}
    assert by_pid[100] == AppProcess(100, one.exe, one.cmdline, one.ports, one.start_time, "", "")
    assert by_pid[100].exposed and not by_pid[200].exposed


def test_software_installed_but_not_running_gives_nothing(ghsa: MemoryIndex) -> None:
    assert app_matches([], ghsa.lookup, MatchErrors()) == []
    idle = java(100, jar(LOG4J, "2.14.1", loaded=False))
    assert app_matches([idle], ghsa.lookup, MatchErrors()) == []


def test_two_copies_of_a_library_in_one_process_make_one_finding(ghsa: MemoryIndex) -> None:
    process = java(
        100,
        jar(LOG4J, "2.14.1", path="/srv/a.war!/WEB-INF/lib/log4j-core-2.14.1.jar"),
        jar(LOG4J, "2.12.1", path="/srv/b.war!/WEB-INF/lib/log4j-core-2.12.1.jar"),
    )
    (m,) = app_matches([process], ghsa.lookup, MatchErrors())
    assert m.id == "CVE-2021-44228"


def test_instance_keys_do_not_depend_on_the_pid() -> None:
    a, b = java(100, port=8080), java(200, port=8081)
    keys = instance_keys([a, b])
    assert len(set(keys)) == 2
    # The same service restarted (new pids, new start times), listed in another order.
    again = instance_keys([replace(b, pid=900, start_time="x"), replace(a, pid=901)])
    assert again == [keys[1], keys[0]]


def test_instance_keys_tell_services_apart_by_what_they_run() -> None:
    a = java(100, port=0, cmdline=("java", "-Dcatalina.base=/srv/t1", "Bootstrap"))
    b = java(101, port=0, cmdline=("java", "-Dcatalina.base=/srv/t2", "Bootstrap"))
    c = replace(a, container="f" * 64)
    keys = instance_keys([a, b, c])
    assert len(set(keys)) == 3
    assert instance_keys([b]) == [keys[1]]  # a signature does not depend on the others
    assert all(len(k) <= 24 for k in keys)
    assert "catalina" not in "".join(keys)  # a digest: no command line (secrets) in keys


def test_long_command_lines_are_cut_in_the_record_view() -> None:
    process = java(1, cmdline=("java", "x" * 5000, *(f"-D{i}" for i in range(100))))
    view = AppProcess.of(process)
    assert len(view.cmdline) == 64 and len(view.cmdline[1]) == 512
    assert view.cmdline[1].endswith("…")
    assert AppProcess.from_dict(view.to_dict()) == view
