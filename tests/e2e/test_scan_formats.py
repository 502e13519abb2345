"""`scan --format sarif|cyclonedx|csv`, checked by outside validators: SARIF against the
official OASIS 2.1.0 schema (vendored under tests/data/sarif, with `jsonschema`), CycloneDX with
cyclonedx-python-lib's strict 1.6 JSON validator, purls with packageurl-python, CSV with the
`csv` module. Real CLI processes on the AlmaLinux and Ubuntu corpus roots."""

from __future__ import annotations

import copy
import csv
import io
import json
import os
import subprocess
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from cyclonedx.schema import SchemaVersion
from cyclonedx.validation.json import JsonStrictValidator
from packageurl import PackageURL
from tests.e2e.fleet import build_roots, uct_subset
from tests.e2e.scan_feeds import KEV, QUOTED_SUMMARY, alma_root, write_feed
from tests.paths import PATCHWARDEN, REPO

SARIF_SCHEMA = REPO / "tests" / "data" / "sarif" / "sarif-schema-2.1.0.json"


def scan(*args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "COLUMNS"}
    return subprocess.run(
        [PATCHWARDEN, "scan", *args], capture_output=True, text=True, timeout=300, env=env
    )


@pytest.fixture(scope="module")
def alma(tmp_path_factory: pytest.TempPathFactory) -> list[str]:
    """scan arguments for the AlmaLinux root with the test feed (KEV imported)."""
    base = tmp_path_factory.mktemp("alma-formats")
    data = base / "data"
    imported = subprocess.run(
        [PATCHWARDEN, "feeds", "import", f"kev:{KEV}", "--data-dir", str(data)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert imported.returncode == 0, imported.stderr
    root, feed = alma_root(base), write_feed(base)
    return ["--root", str(root), "--feed", f"osv:{feed}", "--data-dir", str(data)]


@pytest.fixture(scope="module")
def ubuntu(tmp_path_factory: pytest.TempPathFactory) -> list[str]:
    """scan arguments for the Ubuntu 18.04 root with the tracker's matching CVE files."""
    base = tmp_path_factory.mktemp("ubuntu-formats")
    roots = build_roots(base / "roots")
    feed = uct_subset(base / "uct")
    return ["--root", str(roots["ubu"]), "--feed", f"ubuntu-uct:{feed}", "--data-dir", str(base)]


# -- SARIF ----------------------------------------------------------------------------------


def sarif_validator() -> jsonschema.protocols.Validator:
    schema = json.loads(SARIF_SCHEMA.read_text())
    jsonschema.Draft4Validator.check_schema(schema)
    return jsonschema.Draft4Validator(schema)


def test_sarif_is_valid_one_rule_per_vulnerability_one_result_per_finding(alma: list[str]) -> None:
    proc = scan(*alma, "--format", "sarif")
    assert proc.returncode == 1, proc.stderr
    log = json.loads(proc.stdout)
    validator = sarif_validator()
    assert list(validator.iter_errors(log)) == []
    broken = copy.deepcopy(log)
    broken["runs"][0]["results"][0]["level"] = "fatal"
    assert list(validator.iter_errors(broken)), "the schema check must be able to fail"

    assert log["version"] == "2.1.0"
    (run,) = log["runs"]
    rules = run["tool"]["driver"]["rules"]
    assert [r["id"] for r in rules] == [
        "CVE-2021-44228",
        "CVE-2099-1001",
        "CVE-2099-3003",
        "CVE-2099-4004",
    ]
    results = run["results"]
    assert len(results) == 5
    for result in results:
        assert rules[result["ruleIndex"]]["id"] == result["ruleId"]
    by_key = {(r["ruleId"], r["locations"][0]["logicalLocations"][0]["name"]): r for r in results}
    levels = {key: r["level"] for key, r in by_key.items()}
    assert levels == {
        ("CVE-2021-44228", "bash"): "note",
        ("CVE-2099-1001", "openssl"): "error",
        ("CVE-2099-1001", "openssl-libs"): "error",
        ("CVE-2099-3003", "curl"): "error",
        ("CVE-2099-4004", "zlib"): "warning",
    }
    libs = by_key[("CVE-2099-1001", "openssl-libs")]
    assert libs["message"]["text"] == "openssl-libs 1.1.1k-7.cm2 → 1:3.0.7-1: CVE-2099-1001 (high)"
    location = libs["locations"][0]
    assert location["physicalLocation"]["artifactLocation"] == {
        "uri": "var/lib/rpm",
        "uriBaseId": "SCANROOT",
    }
    assert location["logicalLocations"][0]["fullyQualifiedName"] == "openssl-libs@1.1.1k-7.cm2"
    curl = by_key[("CVE-2099-3003", "curl")]["message"]["text"]
    assert curl == "curl 7.76.0-6.cm2 → no fixed version yet: CVE-2099-3003 (critical)"
    bash = by_key[("CVE-2021-44228", "bash")]["message"]["text"]
    assert bash.endswith("known exploited (CISA KEV)")
    severity = {r["id"]: r["properties"]["security-severity"] for r in rules}
    assert severity == {
        "CVE-2021-44228": "2.0",
        "CVE-2099-1001": "8.0",
        "CVE-2099-3003": "9.5",
        "CVE-2099-4004": "5.5",
    }
    base = run["originalUriBaseIds"]["SCANROOT"]["uri"]
    assert base.startswith("file:///") and base.endswith("/alma/")


def test_sarif_of_the_ubuntu_root_is_valid(ubuntu: list[str]) -> None:
    proc = scan(*ubuntu, "--format", "sarif")
    assert proc.returncode == 1, proc.stderr
    log = json.loads(proc.stdout)
    assert list(sarif_validator().iter_errors(log)) == []
    assert len(log["runs"][0]["results"]) == 118
    uris = {
        r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"]
        for r in log["runs"][0]["results"]
    }
    assert uris == {"var/lib/dpkg/status"}


# -- CycloneDX ------------------------------------------------------------------------------


def validate_cyclonedx(text: str) -> Any:
    """None when `text` is a valid CycloneDX 1.6 JSON BOM, else the validation error."""
    return JsonStrictValidator(SchemaVersion.V1_6).validate_str(text)


def test_cyclonedx_is_valid_with_purls_and_affects(alma: list[str], tmp_path: Path) -> None:
    out = tmp_path / "bom.json"
    proc = scan(*alma, "--format", "cyclonedx", "-o", str(out))
    assert proc.returncode == 1 and proc.stdout == "", proc.stderr
    text = out.read_text()
    assert validate_cyclonedx(text) is None
    bom = json.loads(text)
    broken = copy.deepcopy(bom)
    broken["vulnerabilities"][0]["ratings"][0]["severity"] = "hgh"
    assert validate_cyclonedx(json.dumps(broken)) is not None, "the validator must be able to fail"

    assert (bom["bomFormat"], bom["specVersion"]) == ("CycloneDX", "1.6")
    assert bom["metadata"]["component"]["type"] == "operating-system"
    assert bom["metadata"]["component"]["name"] == "almalinux"
    components = {c["bom-ref"]: c for c in bom["components"]}
    assert len(components) == len(bom["components"]) == 129  # the rpmdb's packages
    for ref, component in components.items():
        purl = PackageURL.from_string(component["purl"])
        assert ref == component["purl"] == purl.to_string()
        assert (purl.type, purl.namespace, purl.name) == ("rpm", "almalinux", component["name"])
        assert purl.qualifiers["distro"] == "almalinux-9.3"
    libs = "pkg:rpm/almalinux/openssl-libs@1.1.1k-7.cm2?arch=x86_64&distro=almalinux-9.3"
    assert libs in components

    vulns = {v["id"]: v for v in bom["vulnerabilities"]}
    assert sorted(vulns) == ["CVE-2021-44228", "CVE-2099-1001", "CVE-2099-3003", "CVE-2099-4004"]
    for v in vulns.values():
        assert all(a["ref"] in components for a in v["affects"])
    openssl = vulns["CVE-2099-1001"]
    assert [a["ref"] for a in openssl["affects"]] == [
        "pkg:rpm/almalinux/openssl-libs@1.1.1k-7.cm2?arch=x86_64&distro=almalinux-9.3",
        "pkg:rpm/almalinux/openssl@1.1.1k-7.cm2?arch=x86_64&distro=almalinux-9.3",
    ]
    assert openssl["affects"][0]["versions"] == [
        {"version": "1.1.1k-7.cm2", "status": "affected"},
        {"version": "1:3.0.7-1", "status": "unaffected"},
    ]
    # Rated by the AlmaLinux advisory itself, which gives no CVSS (issue 8: who rated it).
    assert openssl["ratings"] == [
        {"severity": "high", "method": "other", "source": {"name": "AlmaLinux"}}
    ]
    assert {"name": "patchwarden:advisories", "value": "ALSA-2099:0001"} in openssl["properties"]
    assert vulns["CVE-2099-3003"]["recommendation"] == "No fixed version published yet."
    assert vulns["CVE-2099-3003"]["affects"][0]["versions"] == [
        {"version": "7.76.0-6.cm2", "status": "affected"}
    ]
    kev = vulns["CVE-2021-44228"]["properties"]
    assert {"name": "patchwarden:exploitable", "value": "true"} in kev


def test_cyclonedx_of_the_ubuntu_root_has_deb_purls_and_cvss_ratings(ubuntu: list[str]) -> None:
    proc = scan(*ubuntu, "--format", "cyclonedx")
    assert proc.returncode == 1, proc.stderr
    assert validate_cyclonedx(proc.stdout) is None
    bom = json.loads(proc.stdout)
    purls = {c["name"]: c["purl"] for c in bom["components"]}
    assert purls["apt"] == "pkg:deb/ubuntu/apt@1.6.3ubuntu0.1?arch=amd64&distro=ubuntu-18.04"
    # The epoch stays in a deb version; `+` is percent-encoded (purl spec).
    assert purls["bsdutils"].startswith("pkg:deb/ubuntu/bsdutils@1:2.31.1-0.4ubuntu3.1?")
    vulns = {v["id"]: v for v in bom["vulnerabilities"]}
    assert vulns["CVE-2019-3462"]["ratings"] == [
        {
            "severity": "high",
            "method": "CVSSv31",
            "score": 8.1,
            "vector": "CVSS:3.1/AV:N/AC:H/PR:N/UI:N/S:U/C:H/I:H/A:H",
            "source": {"name": "Ubuntu"},
        }
    ]
    assert {"url": "https://usn.ubuntu.com/usn/usn-3863-2"} in vulns["CVE-2019-3462"]["advisories"]


# -- CSV ------------------------------------------------------------------------------------


def test_csv_one_row_per_finding_rfc4180(alma: list[str]) -> None:
    proc = subprocess.run(
        [PATCHWARDEN, "scan", *alma, "--format", "csv"], capture_output=True, timeout=300
    )
    assert proc.returncode == 1, proc.stderr
    raw = proc.stdout.decode()
    assert raw.endswith("\r\n") and "\n" not in raw.replace("\r\n", "").replace("\nsecond", "")
    # The summary holds a comma, double quotes and a line break: quoted, quotes doubled.
    assert '"Moderate: zlib ""inflate"", bounds check\nsecond line"' in raw
    rows = list(csv.DictReader(io.StringIO(raw, newline="")))
    assert len(rows) == 5
    header = raw.split("\r\n", 1)[0].split(",")
    assert header[:7] == [
        "id",
        "severity",
        "cvss",
        "package",
        "source_package",
        "installed_version",
        "fixed_version",
    ]
    zlib = next(r for r in rows if r["package"] == "zlib")
    assert zlib["summary"] == QUOTED_SUMMARY
    assert (zlib["id"], zlib["severity"], zlib["fixed_version"]) == (
        "CVE-2099-4004",
        "medium",
        "99:1-1",
    )
    curl = next(r for r in rows if r["package"] == "curl")
    assert curl["fixed_version"] == "" and curl["exploitable"] == "false"
    bash = next(r for r in rows if r["package"] == "bash")
    assert bash["exploitable"] == "true" and bash["cves"] == "CVE-2021-44228"
    assert header[-4:] == ["severity_source", "cvss_vector", "title", "references"]
    assert (zlib["severity_source"], zlib["title"]) == (
        "almalinux",
        'Moderate: zlib "inflate", bounds check',
    )


def test_csv_and_sarif_follow_the_filters(alma: list[str]) -> None:
    proc = scan(*alma, "--format", "csv", "--severity", "medium")
    assert proc.returncode == 1
    rows = list(csv.DictReader(io.StringIO(proc.stdout)))
    assert [r["package"] for r in rows] == ["zlib"]
    proc = scan(*alma, "--format", "sarif", "--ignore-unfixed", "--severity", "critical")
    assert proc.returncode == 0
    log = json.loads(proc.stdout)
    assert log["runs"][0]["results"] == [] and log["runs"][0]["tool"]["driver"]["rules"] == []
    assert list(sarif_validator().iter_errors(log)) == []
