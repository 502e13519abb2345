"""Application findings: the components running processes hold × OSV advisories of their
ecosystem (SPEC R-T4, R-D1, R-D2, R-D12).

Version ranges are evaluated by the one OSV evaluator there is (`core.matching.match_query`,
`evaluate`), with the ecosystem's version scheme (`core.ecosystems`: Maven -> the Maven 3.8+
order of `core.versions.maven`, PyPI -> PEP 440, npm -> semver). This module only decides
which components are looked up, under which name, and dresses the findings as application
findings of one process instance (`core.app_instances.instance_keys`).

Rules:
- a component that is not `loaded` (on the class path, never opened) makes no finding: its
  classes never ran (R-D2);
- a component owned by a distro package makes no application finding: the distro advisory
  of that package covers it (R-T1), and one vulnerability is not reported twice;
- a Maven name without a group (a file-name guess) is matched only when exactly one
  advisory package has that artifact id, and then at low confidence (R-D12);
- nested JARs (`outer.jar!/BOOT-INF/lib/x.jar`) are components like any other.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import replace

from patchwarden.core.advisory import Advisory, Affected
from patchwarden.core.app_instances import AppComponent, AppProcess, instance_keys
from patchwarden.core.ecosystems import ECOSYSTEMS, base_ecosystem
from patchwarden.core.inventory import IDENTIFIED_BY, Component, Package, ProcessInstance
from patchwarden.core.matching import (
    Confidence,
    Match,
    MatchErrors,
    Method,
    Query,
    match_query,
    merge_matches,
)
from patchwarden.core.vocabulary import VulnType

Lookup = Callable[[str, str], Sequence[tuple[Advisory, Affected]]]
"""(ecosystem, name) -> the advisories' affected entries for that package (an index lookup)."""
ArtifactNames = Callable[[str], Sequence[str]]
"""Maven artifact id -> every `group:artifact` the advisories name with that artifact id."""

COMPONENT_METHODS: dict[str, Method] = {
    "pom.properties": Method.JAR_METADATA,
    "manifest": Method.JAR_METADATA,
    "file-name": Method.FILE_NAME,
    "fingerprint": Method.FINGERPRINT,
    "dist-info": Method.PACKAGE_METADATA,
    "package.json": Method.PACKAGE_METADATA,
}
"""How the agent identified a component (`Component.method`) -> the finding's method."""

_CONFIDENCES = {c.value: c for c in Confidence}
_PYPI_SEPARATORS = re.compile(r"[-_.]+")


def app_matches(
    processes: Sequence[ProcessInstance],
    lookup: Lookup,
    errors: MatchErrors,
    artifact_names: ArtifactNames | None = None,
) -> list[Match]:
    """Every application finding of `processes`: one per process instance, component and
    vulnerability (R-D1), in process order.

    `artifact_names` resolves Maven artifact ids without a group; without it such
    components are not matched.
    """
    found: list[Match] = []
    for process, instance in zip(processes, instance_keys(processes)):
        if not process.components or not process.readable:
            continue  # an unreadable process has no instance key (`instance_keys`)
        view = AppProcess.of(process)
        by_component: dict[str, list[Match]] = {}
        for component in process.components:
            for m in component_matches(component, lookup, errors, artifact_names):
                named = replace(m, process=view, instance=instance)
                by_component.setdefault(m.package, []).append(named)
        for group in by_component.values():
            # Two copies of one library in one process (two web apps) make one finding per
            # vulnerability; several advisories of one vulnerability fold into one finding.
            found.extend(merge_matches(group))
    return found


def component_matches(
    component: Component,
    lookup: Lookup,
    errors: MatchErrors,
    artifact_names: ArtifactNames | None = None,
) -> list[Match]:
    """The findings of one component, without a process (`app_matches` adds it)."""
    if not component.loaded or component.package:
        return []  # never opened (R-D2), or the distro advisory covers it
    if not (component.ecosystem and component.name and component.version):
        return []
    if "${" in component.version:
        return []  # an unresolved build property (`${project.version}`) is no version
    base = base_ecosystem(component.ecosystem)
    scheme = ECOSYSTEMS.get(base)
    if scheme is None:
        return []  # an ecosystem we cannot order (or do not know): nothing to evaluate
    method = COMPONENT_METHODS.get(component.method, _default_method(base))
    confidence = _confidence(component)
    names = _lookup_names(base, component.name)
    if base == "Maven" and ":" not in component.name:
        # A file-name guess: the group is unknown, so the artifact id must be unambiguous.
        resolved = sorted(set(artifact_names(component.name))) if artifact_names else []
        if len(resolved) != 1:
            return []
        names, confidence = resolved, Confidence.LOW
        if method is Method.JAR_METADATA:
            method = Method.FILE_NAME
    candidates = _candidates(component.ecosystem, names, lookup)
    if not candidates:
        return []
    name = names[0]
    query = Query(
        package=Package(name=name, version=component.version, format=base.lower()),
        ecosystem=component.ecosystem,
        name=name,
        version=component.version,
        scheme=scheme,
        method=method,
        confidence=confidence,
    )
    target = AppComponent.of(component, name)
    return [
        replace(m, type=VulnType.APP.value, component=target)
        for m in match_query(query, candidates, errors)
    ]


def _candidates(
    ecosystem: str, names: Iterable[str], lookup: Lookup
) -> list[tuple[Advisory, Affected]]:
    """Advisory entries under any of `names`, each once."""
    out: list[tuple[Advisory, Affected]] = []
    seen: set[int] = set()
    for name in names:
        for pair in lookup(ecosystem, name):
            if id(pair[1]) not in seen:
                seen.add(id(pair[1]))
                out.append(pair)
    return out


def _lookup_names(base: str, name: str) -> list[str]:
    """Names to look `name` up under: PyPI names also in their normalised form (PEP 503)."""
    if base != "PyPI":
        return [name]
    normal = _PYPI_SEPARATORS.sub("-", name).lower()
    return [name] if normal == name else [name, normal]


def _default_method(base: str) -> Method:
    return Method.JAR_METADATA if base == "Maven" else Method.PACKAGE_METADATA


def _confidence(component: Component) -> Confidence:
    """The component's own confidence, else the default of how it was identified."""
    stated = _CONFIDENCES.get(component.confidence)
    if stated is not None:
        return stated
    return _CONFIDENCES.get(IDENTIFIED_BY.get(component.method, "low"), Confidence.LOW)


def maven_artifact(name: str) -> str:
    """The artifact id of a Maven `group:artifact` name (the name itself without a group)."""
    return name.rsplit(":", 1)[-1]
