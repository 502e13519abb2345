"""The upgrade command a finding table shows, per OS family."""

from __future__ import annotations

from dataclasses import replace

import pytest

from patchwarden.cli.upgrade_commands import upgrade_command
from patchwarden.core.advisory import Severity
from patchwarden.core.inventory import OsRelease
from patchwarden.core.matching import Confidence, Match, Method


def finding(package: str, fixed: str | None = "2", *advisories: str, vid: str = "CVE-1") -> Match:
    return Match(
        id=vid,
        cves=(vid,),
        package=package,
        source_package=package,
        installed_version="1",
        fixed_version=fixed,
        severity=Severity.HIGH,
        cvss=None,
        method=Method.DISTRO_ADVISORY,
        confidence=Confidence.HIGH,
        advisories=advisories,
    )


def os_of(os_id: str, family: str, release: str = "9") -> OsRelease:
    return OsRelease(id=os_id, family=family, release=release)


@pytest.mark.parametrize(
    ("os_release", "matches", "command"),
    [
        pytest.param(
            os_of("debian", "debian", "12"),
            [finding("libssl3"), finding("openssl"), finding("libssl3", vid="CVE-2")],
            "apt-get install --only-upgrade libssl3 openssl",
            id="debian: each binary once",
        ),
        pytest.param(
            os_of("ubuntu", "ubuntu", "22.04"),
            [finding("curl"), finding("libc6", None)],
            "apt-get install --only-upgrade curl",
            id="ubuntu: only what has a fix",
        ),
        pytest.param(
            os_of("almalinux", "rhel"),
            [
                finding("openssl", "3", "ALSA-2024:1", "OSV-x"),
                finding("openssl-libs", "3", "ALSA-2024:1"),
            ],
            "dnf upgrade --advisory=ALSA-2024:1",
            id="almalinux: the vendor advisory",
        ),
        pytest.param(
            os_of("rhel", "rhel"),
            [finding("bash", "2", vid="RHSA-2024:2"), finding("zlib", "2", "RHSA-2024:3")],
            "dnf upgrade --advisory=RHSA-2024:2 --advisory=RHSA-2024:3",
            id="rhel: advisories as ids too",
        ),
        pytest.param(
            os_of("rocky", "rhel"),
            [finding("bash", "2", "RLSA-2024:1"), finding("zlib", "2", "TEST-1")],
            "dnf upgrade bash zlib",
            id="rocky: a finding without vendor advisory means packages",
        ),
        pytest.param(
            os_of("centos", "rhel", "7"),
            [finding("bash", "2", "CESA-2020:1")],
            "yum update --advisory=CESA-2020:1",
            id="centos 7 has yum",
        ),
        pytest.param(
            os_of("alpine", "alpine", "3.19"),
            [finding("musl"), finding("busybox")],
            "apk upgrade busybox musl",
            id="alpine",
        ),
        pytest.param(os_of("sles", "suse", "15"), [finding("bash")], "", id="suse: no guess"),
        pytest.param(os_of("debian", "debian"), [finding("bash", None)], "", id="nothing fixed"),
    ],
)
def test_upgrade_command(os_release: OsRelease, matches: list[Match], command: str) -> None:
    assert upgrade_command(os_release, matches) == command


def test_kernel_findings_name_the_kernel_package() -> None:
    kernel = replace(finding("linux-image-6.1.0-13-amd64"), method=Method.RUNNING_KERNEL)
    assert upgrade_command(os_of("debian", "debian"), [kernel]) == (
        "apt-get install --only-upgrade linux-image-6.1.0-13-amd64"
    )
