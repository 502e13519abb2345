"""Application matching against real ground truth (issue 12, item 4).

- SAP project-kb statements: per exact Maven version, `affected: true/false` for a CVE. They
  state no ranges, so the verdicts we can evaluate are those on the packages the corpus' GHSA
  records name for the same CVE (log4j-core for Log4Shell, struts2-core for S2-045): the
  Maven version order and the OSV range evaluation together must agree with every one.
- Real JAR metadata (claircore's `pom.properties` and `MANIFEST.MF` of 64 Maven Central JARs):
  JARs built from them at test time, identified by the agent's JAR reader, matched against the
  GHSA records: only jackson-databind 2.9.10.8 is affected (CVE-2020-36518, fixed 2.12.6.1).
"""

from __future__ import annotations

import zipfile
from pathlib import Path

import pytest
import yaml
from tests.paths import CORPUS

from patchwarden.agent.collectors.jars import identify_file
from patchwarden.core.app_matching import component_matches
from patchwarden.core.inventory import Component
from patchwarden.core.matching import Confidence, MatchErrors
from patchwarden.services.feeds import load_index
from patchwarden.services.index import MemoryIndex

GHSA = CORPUS / "advisories" / "ghsa-osv" / "github-reviewed"
STATEMENTS = CORPUS / "advisories" / "sap-project-kb" / "statements"
CLAIRCORE = CORPUS / "hosts" / "jar-metadata" / "claircore"


@pytest.fixture(scope="module")
def ghsa() -> MemoryIndex:
    index, errors = load_index([f"osv:{GHSA}"])
    assert errors == [] and isinstance(index, MemoryIndex)
    return index


def _ghsa_packages(index: MemoryIndex) -> dict[str, set[str]]:
    """CVE -> the Maven packages the GHSA records name for it."""
    out: dict[str, set[str]] = {}
    for advisory in index.search("", 100, 0)[0]:
        for affected in advisory.affected:
            if affected.package.ecosystem == "Maven":
                for cve in advisory.cves:
                    out.setdefault(cve, set()).add(affected.package.name)
    return out


def _verdicts() -> list[tuple[str, str, str, bool]]:
    """(CVE, Maven `group:artifact`, version, affected) of every project-kb verdict."""
    out = []
    for path in sorted(STATEMENTS.glob("CVE-*.statement.yaml")):
        doc = yaml.load(path.read_text(), Loader=yaml.CSafeLoader)
        for artifact in doc.get("artifacts") or ():
            purl = str(artifact.get("id", ""))
            if "affected" not in artifact or not purl.startswith("pkg:maven/"):
                continue
            coordinates, _, version = purl[len("pkg:maven/") :].rpartition("@")
            group, _, name = coordinates.rpartition("/")
            out.append((doc["vulnerability_id"], f"{group}:{name}", version, artifact["affected"]))
    return out


def test_maven_order_and_ranges_agree_with_every_evaluable_project_kb_verdict(
    ghsa: MemoryIndex,
) -> None:
    verdicts = _verdicts()
    assert len(verdicts) == 20_712  # the manifest's count: the parser read them all
    packages = _ghsa_packages(ghsa)
    evaluable = [v for v in verdicts if v[1] in packages.get(v[0], ())]
    disagreements = []
    for cve, name, version, affected in evaluable:
        component = Component("x.jar", "Maven", name, version, "pom.properties", "high")
        errors = MatchErrors()
        found = {m.id for m in component_matches(component, ghsa.lookup, errors)}
        assert errors.items == []
        if (cve in found) is not affected:
            disagreements.append((cve, name, version, affected))
    # 33 Log4Shell verdicts on log4j-core and 10 S2-045 verdicts on struts2-core (2026-11-30).
    assert len(evaluable) == 43
    assert {v[1] for v in evaluable} == {
        "org.apache.logging.log4j:log4j-core",
        "org.apache.struts:struts2-core",
    }
    assert sum(1 for v in evaluable if v[3]) and sum(1 for v in evaluable if not v[3])
    assert disagreements == []


def _jar(directory: Path, name: str, members: dict[str, str]) -> Path:
    directory.mkdir(exist_ok=True)
    path = directory / name
    with zipfile.ZipFile(path, "w") as jar:
        for member, text in members.items():
            jar.writestr(member, text)
    return path


def _components(path: Path) -> list[Component]:
    report = identify_file(str(path), str(path))
    return [
        Component(str(path) + i.inner, "Maven", i.name, i.version, i.method, i.confidence,
                  evidence=i.evidence)
        for i in report.identities
    ]  # fmt: skip


def test_real_jar_metadata_matches_only_what_the_advisories_name(
    ghsa: MemoryIndex, tmp_path: Path
) -> None:
    found: dict[str, list[tuple[str, str | None, Confidence]]] = {}
    poms = sorted((CLAIRCORE / "pom-properties").glob("*.pom.properties"))
    manifests = sorted((CLAIRCORE / "manifest").glob("*.MANIFEST.MF"))
    assert (len(poms), len(manifests)) == (49, 64)
    for pom in poms:
        stem = pom.name[: -len(".pom.properties")]
        path = _jar(
            tmp_path / "pom", f"{stem}.jar", {"META-INF/maven/g/a/pom.properties": pom.read_text()}
        )
        for c in _components(path):
            assert c.method == "pom.properties", c
            for m in component_matches(c, ghsa.lookup, MatchErrors()):
                found.setdefault(stem, []).append((m.id, m.fixed_version, m.confidence))
    assert found == {"jackson-databind-2.9.10.8": [("CVE-2020-36518", "2.12.6.1", Confidence.HIGH)]}
    found.clear()
    for manifest in manifests:
        stem = manifest.name[: -len(".MANIFEST.MF")]
        path = _jar(tmp_path / "mf", f"{stem}.jar", {"META-INF/MANIFEST.MF": manifest.read_text()})
        for c in _components(path):
            for m in component_matches(c, ghsa.lookup, MatchErrors()):
                found.setdefault(stem, []).append((m.id, m.fixed_version, m.confidence))
    # The manifest alone names the same JAR, at medium confidence (R-D12).
    assert found == {
        "jackson-databind-2.9.10.8": [("CVE-2020-36518", "2.12.6.1", Confidence.MEDIUM)]
    }
