"""agent.dnf.updateinfo parsers and DnfUpdatesCollector on recorded dnf/yum outputs."""

from __future__ import annotations

from pathlib import Path
from typing import List

import pytest

from patchwarden.agent.collectors.base import CollectorFailed, Context
from patchwarden.agent.collectors.dnf_updates import DnfUpdatesCollector
from patchwarden.agent.dnf.updateinfo import (
    parse_check_update,
    parse_info,
    parse_list,
    parse_nevra,
)
from patchwarden.agent.runner import FakeRunner
from patchwarden.core.inventory import OsRelease, Package

DNF = Path(__file__).resolve().parents[2] / "data" / "repocheck" / "dnf"


def read(name: str) -> str:
    return (DNF / name).read_text(encoding="utf-8")


@pytest.mark.parametrize(
    ("text", "name", "evr", "arch"),
    [
        ("openssl-libs-1:3.5.5-4.el9_8.x86_64", "openssl-libs", "1:3.5.5-4.el9_8", "x86_64"),
        ("dhcp-client-12:4.4.2-11.b1.fc34.x86_64", "dhcp-client", "12:4.4.2-11.b1.fc34", "x86_64"),
        ("glibc-doc-2.33-20.fc34.noarch", "glibc-doc", "2.33-20.fc34", "noarch"),
        ("bash-0:5.1.8-9.el9.x86_64", "bash", "5.1.8-9.el9", "x86_64"),
    ],
)
def test_nevra(text: str, name: str, evr: str, arch: str) -> None:
    nevra = parse_nevra(text)
    assert (nevra.name, nevra.evr, nevra.arch) == (name, evr, arch)


@pytest.mark.parametrize("bad", ["openssl", "openssl-3.0.x86_64", "-1-2.x86_64"])
def test_bad_nevra(bad: str) -> None:
    with pytest.raises(CollectorFailed):
        parse_nevra(bad)


def test_dnf_list_rows() -> None:
    rows = parse_list(read("updateinfo-list-security.txt"))
    assert len(rows) == 7
    assert (rows[0].id, rows[0].severity, rows[0].nevra.name) == (
        "ALSA-2026:55439",
        "Important",
        "curl",
    )
    assert rows[-1].severity == "Moderate" and rows[-1].kind == "security"


def test_with_cve_rows_carry_cve_ids() -> None:
    rows = parse_list(read("updateinfo-list-with-cve.txt"))
    assert [r.id for r in rows if r.nevra.name == "kernel-core"] == [
        "CVE-2026-43284",
        "CVE-2026-46300",
        "CVE-2026-46333",
    ]


def test_yum_list_with_chatter() -> None:
    rows = parse_list(read("yum-updateinfo-list-security.txt"))
    assert [(r.id, r.nevra.name) for r in rows] == [
        ("RHSA-2019:0679", "libssh2"),
        ("RHSA-2019:0710", "python"),
        ("RHSA-2019:0710", "python-libs"),
    ]


def test_list_rejects_unknown_lines() -> None:
    with pytest.raises(CollectorFailed, match="line 2"):
        parse_list("ALSA-2026:1 Low/Sec. a-1-1.x86_64\nError: cache is broken\n")


def test_dnf_info_blocks() -> None:
    infos = {i.id: i for i in parse_info(read("updateinfo-info-security.txt"))}
    assert set(infos) == {"ALSA-2026:55439", "ALSA-2026:25239", "ALSA-2026:A005", "ALSA-2026:A009"}
    curl = infos["ALSA-2026:55439"]
    assert curl.title == "Important: curl security update"
    assert curl.cves == ("CVE-2026-1965", "CVE-2026-3783", "CVE-2026-8286", "CVE-2026-9547")
    assert (curl.severity, curl.kind, curl.updated) == (
        "Important",
        "security",
        "2026-08-17 00:00:00",
    )
    assert len(infos["ALSA-2026:25239"].cves) == 15


def test_yum_info_block() -> None:
    (info,) = parse_info(read("yum-updateinfo-info-security.txt"))
    assert info.id == "RHSA-2019:0679"
    assert info.cves == ("CVE-2019-3855", "CVE-2019-3856", "CVE-2019-3857", "CVE-2019-3863")
    assert info.severity == "Important" and info.updated.startswith("2019-03-28")


def test_check_update_rows_wrapping_and_obsoletes() -> None:
    rows = parse_check_update(read("check-update-security.txt"))
    assert [(r.name, r.evr, r.repository) for r in rows][-2:] == [
        ("openssl-libs", "1:3.5.5-4.el9_8", "baseos"),
        ("python3-sssd-ad-integration-helper-tools", "2.9.6-4.el9_8", "appstream"),
    ]
    assert "grub2-tools" not in {r.name for r in rows}  # listed under Obsoleting Packages


def test_check_update_rejects_garbage() -> None:
    with pytest.raises(CollectorFailed, match="not a check-update row"):
        parse_check_update("curl.x86_64 7.76.1 baseos extra-column\n")


def rpm(name: str, version: str, arch: str = "x86_64", source: str = "") -> Package:
    return Package(name=name, version=version, format="rpm", arch=arch, source_name=source)


INSTALLED: List[Package] = [
    rpm("curl", "7.76.1-35.el9_7.3"),
    rpm("libcurl", "7.76.1-35.el9_7.3", source="curl"),
    rpm("openssl", "1:3.5.5-3.el9_8"),
    rpm("openssl-libs", "1:3.5.5-3.el9_8", source="openssl"),
    rpm("kernel-core", "5.14.0-611.50.1.el9_7", source="kernel"),
    rpm("kernel-core", "5.14.0-611.52.1.el9_7", source="kernel"),
    rpm("sudo", "1.9.5p2-14.el9_7"),
]


def dnf_context(online: bool = True) -> Context:
    runner = FakeRunner()
    cache = [] if online else ["-C"]
    runner.add(
        ["dnf", "-q", *cache, "check-update", "--security"], read("check-update-security.txt"), 100
    )
    runner.add(
        ["dnf", "-q", *cache, "updateinfo", "list", "--security", "--available"],
        read("updateinfo-list-security.txt"),
    )
    runner.add(
        ["dnf", "-q", *cache, "updateinfo", "info", "--security", "--available"],
        read("updateinfo-info-security.txt"),
    )
    ctx = Context(root=Path("/"), runner=runner, online=online)
    ctx.os = OsRelease(id="almalinux", family="rhel", release="9")
    ctx.packages = tuple(INSTALLED)
    return ctx


def test_collector_joins_candidates_advisories_and_cves() -> None:
    ctx = dnf_context()
    collector = DnfUpdatesCollector()
    assert collector.applies(ctx)
    updates = {u.package: u for u in collector.collect(ctx).pending_updates}
    assert set(updates) == {"curl", "kernel-core", "libcurl", "openssl", "openssl-libs", "sudo"}
    libcurl = updates["libcurl"]
    assert (libcurl.installed_version, libcurl.candidate_version) == (
        "7.76.1-35.el9_7.3",
        "7.76.1-40.el9_8.5",
    )
    assert (libcurl.repository, libcurl.source_package) == ("baseos", "curl")
    assert libcurl.advisories == ("ALSA-2026:55439",) and len(libcurl.cves) == 4
    assert libcurl.severity == "Important" and libcurl.note == ""
    kernel = updates["kernel-core"]
    assert kernel.advisories == ("ALSA-2026:A005", "ALSA-2026:A009")
    assert kernel.cves == ("CVE-2026-43284", "CVE-2026-46300", "CVE-2026-46333")
    assert kernel.candidate_version == "5.14.0-611.54.6.el9_7"
    assert "several versions installed" in kernel.note
    sudo = updates["sudo"]  # advised, but check-update does not offer it; no info block
    assert sudo.candidate_version == "1.9.5p2-15.el9_7" and sudo.repository == ""
    assert "not offered by check-update" in sudo.note and "no info for ALSA-2026:12310" in sudo.note
    assert sudo.severity == "Moderate"
    assert not any(u.restart_required for u in updates.values())


def test_offline_runs_from_cache_only() -> None:
    ctx = dnf_context(online=False)
    DnfUpdatesCollector().collect(ctx)
    assert all("-C" in call for call in ctx.runner.calls)  # type: ignore[attr-defined]


def test_yum_fallback_and_failures() -> None:
    runner = FakeRunner()
    runner.add(["yum", "-q", "check-update", "--security"], "", 0)
    runner.add(
        ["yum", "-q", "updateinfo", "list", "security"], read("yum-updateinfo-list-security.txt")
    )
    runner.add(
        ["yum", "-q", "updateinfo", "info", "security"], read("yum-updateinfo-info-security.txt")
    )
    ctx = Context(root=Path("/"), runner=runner)
    ctx.os = OsRelease(id="rhel", family="rhel", release="7")
    ctx.packages = (rpm("libssh2", "1.4.3-12.el7"),)
    updates = {u.package: u for u in DnfUpdatesCollector().collect(ctx).pending_updates}
    assert updates["libssh2"].cves[0] == "CVE-2019-3855"
    assert "installed version unknown" in updates["python"].note
    failing = FakeRunner()
    failing.add(
        ["dnf", "-q", "check-update", "--security"], "", 1, "Error: Failed to download metadata"
    )
    ctx.runner = failing
    with pytest.raises(CollectorFailed, match="Failed to download metadata"):
        DnfUpdatesCollector().collect(ctx)


def test_not_applicable_off_live_or_off_rhel(tmp_path: Path) -> None:
    ctx = dnf_context()
    ctx.root = tmp_path
    assert not DnfUpdatesCollector().applies(ctx)
    ctx = dnf_context()
    ctx.os = OsRelease(id="debian", family="debian", release="12")
    assert not DnfUpdatesCollector().applies(ctx)
