"""Matching against the corpus ground truths (MANIFEST §2): GHSA goldens, SAP project-kb
per-version verdicts, Ubuntu CVE-2024-0727, KEV, and the RHEL 8/9 manifests vs AlmaLinux.

Records are parsed by our feed parsers and evaluated by `core.matching`; expected verdicts come
from the sources themselves or from independent oracles (rpm's own labelCompare).
"""

from __future__ import annotations

import json
import re
import subprocess
import tarfile
from pathlib import Path

import pytest
import yaml
from tests.paths import CORPUS

from patchwarden.agent.collectors.rpm_manifest import load_rpm_manifest
from patchwarden.core.inventory import Host, Inventory, OsRelease, Package
from patchwarden.core.matching import evaluate
from patchwarden.feeds import FEEDS, ParseReport
from patchwarden.feeds.osv import parse_record
from patchwarden.services.detection import detect
from patchwarden.services.index import MemoryIndex

ADV = CORPUS / "advisories"
GHSA = ADV / "ghsa-osv" / "github-reviewed"


def osv_records(path: Path) -> list:
    report = ParseReport()
    records = list(FEEDS["osv"].parse(path, report))
    assert not report.skipped, report.skipped
    return records


def affected_by(records: list, ecosystem: str, name: str, version: str, scheme: str) -> bool:
    return any(
        evaluate(aff, version, scheme) is not None
        for adv in records
        for aff in adv.affected
        if aff.package.ecosystem == ecosystem and aff.package.name == name
    )


def ghsa(record_id: str) -> list:
    (path,) = GHSA.rglob(f"{record_id}.json")
    return osv_records(path)


@pytest.mark.parametrize(
    ("record", "name", "version", "affected"),
    [
        ("GHSA-jfh8-c2jp-5v3q", "org.apache.logging.log4j:log4j-core", "2.14.1", True),
        ("GHSA-jfh8-c2jp-5v3q", "org.apache.logging.log4j:log4j-core", "2.12.2", False),
        ("GHSA-jfh8-c2jp-5v3q", "org.apache.logging.log4j:log4j-core", "2.3.1", False),
        ("GHSA-jfh8-c2jp-5v3q", "org.apache.logging.log4j:log4j-core", "2.3", True),
        ("GHSA-jfh8-c2jp-5v3q", "org.apache.logging.log4j:log4j-core", "2.15.0", False),
        ("GHSA-36p3-wjmg-h94x", "org.springframework:spring-beans", "5.3.17", True),
        ("GHSA-36p3-wjmg-h94x", "org.springframework:spring-beans", "5.3.18", False),
        ("GHSA-36p3-wjmg-h94x", "org.springframework:spring-beans", "5.3.17.RELEASE", True),
        ("GHSA-36p3-wjmg-h94x", "org.springframework:spring-beans", "5.3.18.RELEASE", False),
        ("GHSA-57j2-w4cx-62h2", "com.fasterxml.jackson.core:jackson-databind", "2.12.6", True),
        ("GHSA-57j2-w4cx-62h2", "com.fasterxml.jackson.core:jackson-databind", "2.12.6.1", False),
        ("GHSA-pv7h-hx5h-mgfj", "com.alibaba:fastjson", "1.2.80", True),
        ("GHSA-pv7h-hx5h-mgfj", "com.alibaba:fastjson", "1.2.83", False),
        ("GHSA-j77q-2qqg-6989", "org.apache.struts:struts2-core", "2.3.31", True),
        ("GHSA-j77q-2qqg-6989", "org.apache.struts:struts2-core", "2.5.10.1", False),
        ("GHSA-j8r2-6x86-q33q", "requests", "2.30.0", True),
        ("GHSA-j8r2-6x86-q33q", "requests", "2.31.0", False),
        ("GHSA-p6mc-m468-83gw", "lodash", "4.17.19", True),
        ("GHSA-p6mc-m468-83gw", "lodash", "4.17.20", False),
    ],
)
def test_ghsa_goldens(record, name, version, affected):
    records = ghsa(record)
    (eco,) = {a.package.ecosystem for r in records for a in r.affected if a.package.name == name}
    scheme = {"Maven": "maven", "PyPI": "pep440", "npm": "semver"}[eco]
    assert affected_by(records, eco, name, version, scheme) is affected


@pytest.mark.parametrize(
    ("cve", "record", "name"),
    [
        ("CVE-2021-44228", "GHSA-jfh8-c2jp-5v3q", "org.apache.logging.log4j:log4j-core"),
        ("CVE-2017-5638", "GHSA-j77q-2qqg-6989", "org.apache.struts:struts2-core"),
    ],
)
def test_sap_project_kb_verdicts_agree_with_ghsa_ranges(cve, record, name):
    statement = yaml.safe_load(
        (ADV / "sap-project-kb/statements" / f"{cve}.statement.yaml").read_text()
    )
    purl = "pkg:maven/" + name.replace(":", "/") + "@"
    verdicts = {
        a["id"][len(purl) :]: a["affected"]
        for a in statement["artifacts"]
        if a["id"].startswith(purl) and "affected" in a
    }
    assert len(verdicts) >= 10
    records = ghsa(record)
    disagreements = {
        v
        for v, truth in verdicts.items()
        if affected_by(records, "Maven", name, v, "maven") is not truth
    }
    assert disagreements == set()


def test_ubuntu_cve_2024_0727_golden():
    records = osv_records(ADV / "ubuntu-osv/canonical/osv/cve/2024/CVE-2024-0727.json")
    eco = "Ubuntu:22.04:LTS"
    assert affected_by(records, eco, "openssl", "3.0.2-0ubuntu1.13", "dpkg")
    assert not affected_by(records, eco, "openssl", "3.0.2-0ubuntu1.14", "dpkg")


def test_kev_membership_marks_findings_exploitable():
    kev = list(
        FEEDS["kev"].parse(ADV / "cisa-kev/known_exploited_vulnerabilities.json", ParseReport())
    )
    assert len(kev) == 1404 and any(k.cve == "CVE-2021-44228" for k in kev)
    index = MemoryIndex(
        [*kev, *osv_records(ADV / "ubuntu-osv/canonical/osv/cve/2024/CVE-2024-0727.json")]
    )
    assert index.kev(["CVE-2021-44228", "CVE-2024-0727"]).keys() == {"CVE-2021-44228"}


def rpm_oracle(pairs: list[tuple[str, str]]) -> list[int]:
    """rpm's own labelCompare (Debian's python3-rpm) on (installed, fixed) EVR pairs."""
    script = (
        "import sys, json, rpm\n"
        "def evr(s):\n"
        "    e, _, vr = s.rpartition(':')\n"
        "    v, _, r = vr.rpartition('-')\n"
        "    return (e or '0', v, r)\n"
        "for line in sys.stdin:\n"
        "    a, b = json.loads(line)\n"
        "    print(rpm.labelCompare(evr(a), evr(b)))\n"
    )
    proc = subprocess.run(
        ["/usr/bin/python3", "-c", script],
        input="".join(json.dumps(p) + "\n" for p in pairs),
        capture_output=True,
        text=True,
        check=False,
    )
    if proc.returncode != 0:
        pytest.fail(f"rpm oracle failed (make install installs python3-rpm): {proc.stderr}")
    return [int(x) for x in proc.stdout.split()]


@pytest.mark.slow
@pytest.mark.parametrize(
    ("manifest", "release", "feed"),
    [
        ("nodejs.rpm-manifest.json", "9", ADV / "almalinux-osv/almalinux9"),
        ("httpd-24_9.5-1734525854.rpm-manifest.json", "9", ADV / "almalinux-osv/almalinux9"),
        ("bdb.rpm-manifest.json", "8", ADV / "almalinux-osv/almalinux8.tar.gz"),
    ],
)
def test_rhel_manifest_vs_almalinux_matches_rpm_oracle(manifest, release, feed):
    packages = load_rpm_manifest(CORPUS / "hosts/rpmdb/claircore-rpm-manifest" / manifest)
    inv = Inventory(
        host=Host("rhel"),
        packages=packages,
        os=OsRelease(id="rhel", family="rhel", release=release),
    )
    records = osv_records(feed)
    found = detect(inv, MemoryIndex(records))
    got = {(m.package, adv) for m in found.matches for adv in m.advisories}

    # Oracle: read the same records' raw (introduced 0, fixed X) ranges, compare with rpm.
    # Policy, not matching: packages built from the kernel source that are not a running
    # kernel (kernel-headers in a container image) carry no kernel findings (R-D7), and on a
    # RHEL host AlmaLinux's rebuild mark (`.alma.1` ending a release) is not a newer fix.
    # Modularity (EL8+): a module stream's erratum (its summary names `name:stream`, its fixes
    # are `.module…` builds) concerns that stream's packages only, a plain erratum only plain
    # packages; the vendors' module build numbers order nothing across vendors.
    installed = {p.name: p for p in packages if p.source != "kernel"}
    pairs, keys = [], []
    for adv in records:
        if adv.id.startswith(("ALBA-", "ALEA-")):
            continue  # bug-fix / enhancement errata are not vulnerabilities
        for aff in adv.affected:
            if aff.package.ecosystem != f"AlmaLinux:{release}" or aff.package.name not in installed:
                continue
            pkg = installed[aff.package.name]
            pkg_modular = ".module+el" in pkg.version or ".module_el" in pkg.version
            for rng in aff.ranges:
                for event in rng.events:
                    if event.kind.value != "fixed":
                        continue
                    if (".module_el" in event.version) != pkg_modular:
                        continue
                    if pkg_modular and pkg.module and pkg.module not in adv.summary.split():
                        continue
                    fixed = re.sub(r"\.alma(\.\w+)*$", "", event.version)
                    fixed = re.sub(r"\.module_el[\d.]+\+\d+\+[0-9a-f]+", "", fixed)
                    mine = re.sub(r"\.module\+el[\w.]+\+\d+\+[0-9a-f]+", "", pkg.version)
                    pairs.append((mine, fixed))
                    keys.append((aff.package.name, adv.id))
    verdicts = rpm_oracle(pairs)
    expected = {k for k, v in zip(keys, verdicts) if v < 0}
    assert expected, "the manifest has findings against AlmaLinux"
    assert got == expected


@pytest.mark.parametrize(
    ("os_id", "installed", "finding"),
    [
        # RHEL's own fix (RHSA-2024:8793) is AlmaLinux's `.alma.1` rebuild of it.
        ("rhel", "128.4.0-1.el9_4", False),
        ("rhel", "128.3.1-1.el9_4", True),
        ("centos", "128.4.0-1.el9_4", False),
        # On AlmaLinux itself, versions compare exactly as rpm does.
        ("almalinux", "128.4.0-1.el9_4.alma.1", False),
        ("almalinux", "128.4.0-1.el9_4", True),
        ("almalinux", "128.3.1-1.el9_4.alma.1", True),
    ],
)
def test_almalinux_rebuild_mark_is_no_newer_fix_for_rhel_hosts(os_id, installed, finding):
    records = osv_records(ADV / "almalinux-osv/almalinux9/ALSA-2024:8793.json")
    assert records[0].affected[0].ranges[0].events[-1].version == "128.4.0-1.el9_4.alma.1"
    pkg = Package("thunderbird", installed, "rpm", "x86_64", "thunderbird")
    inv = Inventory(
        host=Host("h"), packages=(pkg,), os=OsRelease(id=os_id, family="rhel", release="9.4")
    )
    found = detect(inv, MemoryIndex(records)).matches
    assert [m.id for m in found] == (["ALSA-2024:8793"] if finding else [])


def almalinux8_records(*ids: str) -> list:
    """Records of the AlmaLinux 8 set, read from the packed corpus archive."""
    with tarfile.open(ADV / "almalinux-osv/almalinux8.tar.gz") as tar:
        docs = [
            json.load(tar.extractfile(f"advisories/almalinux8/{rid}.json"))  # type: ignore[arg-type]
            for rid in ids
        ]
    return [parse_record(doc, pytest.fail) for doc in docs]


# nginx errata of four module streams; RHEL 8 hosts are judged against them (rpm-el).
NGINX_ERRATA = (
    "ALSA-2021:2259",  # nginx:1.18
    "ALSA-2023:5712",  # nginx:1.20
    "ALSA-2023:5713",  # nginx:1.22
    "ALSA-2026:5581",  # nginx:1.24
    "ALSA-2026:6907",  # nginx:1.24
)


@pytest.mark.parametrize(
    ("os_id", "version", "module", "expected"),
    [
        # RHEL's nginx:1.22 build before RHSA-2023:5713, stream label read from the rpmdb:
        # only its own stream's erratum, not the four of other streams with higher versions.
        ("rhel", "1:1.22.1-1.module+el8.8.0+19978+1d8c5a8e", "nginx:1.22", {"ALSA-2023:5713"}),
        # RHEL's own fix of it, against AlmaLinux's rebuild `…+3623+f96e6422.1.alma.1`.
        ("rhel", "1:1.22.1-1.module+el8.8.0+20035+1d8c5a8e.1", "nginx:1.22", set()),
        # The same on AlmaLinux itself, compared exactly.
        ("almalinux", "1:1.22.1-1.module_el8.8.0+3623+f96e6422.alma", "nginx:1.22",
         {"ALSA-2023:5713"}),
        ("almalinux", "1:1.22.1-1.module_el8.8.0+3623+f96e6422.1.alma.1", "nginx:1.22", set()),
        # nginx.org's non-modular build is no stream's: none of these errata concern it.
        ("rhel", "1:1.22.1-1.el8.ngx", "", set()),
    ],
)  # fmt: skip
def test_rhel8_module_streams_get_only_their_own_errata(os_id, version, module, expected):
    records = almalinux8_records(*NGINX_ERRATA)
    assert {a.modules for r in records for a in r.affected if a.package.name == "nginx"} == {
        ("nginx:1.18",),
        ("nginx:1.20",),
        ("nginx:1.22",),
        ("nginx:1.24",),
    }
    pkg = Package("nginx", version, "rpm", "x86_64", "nginx", module=module)
    inv = Inventory(
        host=Host("h"), packages=(pkg,), os=OsRelease(id=os_id, family="rhel", release="8.8")
    )
    found = detect(inv, MemoryIndex(records)).matches
    assert {a for m in found for a in m.advisories} == expected
