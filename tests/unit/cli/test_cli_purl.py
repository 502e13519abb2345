"""Package URLs of installed packages, checked against packageurl-python's own encoding."""

from __future__ import annotations

import pytest
from packageurl import PackageURL

from patchwarden.cli.purl import package_purl
from patchwarden.core.inventory import UNKNOWN_OS, OsRelease, Package

DEBIAN = OsRelease(id="debian", family="debian", release="12", version_id="12")
ALMA = OsRelease(id="almalinux", family="rhel", release="9", version_id="9.3")
RHEL = OsRelease(id="rhel", family="rhel", release="9", version_id="9.4")
ALPINE = OsRelease(id="alpine", family="alpine", release="3.19", version_id="3.19.1")


def purl(kind: str, vendor: str | None, name: str, version: str, **qualifiers: str) -> PackageURL:
    return PackageURL(kind, vendor, name, version, qualifiers or None)


CASES = [
    pytest.param(
        Package("libssl3", "3.0.11-1~deb12u2", "deb", "amd64", source_name="openssl"),
        DEBIAN,
        purl("deb", "debian", "libssl3", "3.0.11-1~deb12u2", arch="amd64", distro="debian-12"),
        id="deb",
    ),
    pytest.param(
        Package("bsdutils", "1:2.38.1-5+b1", "deb", "amd64"),
        DEBIAN,
        purl("deb", "debian", "bsdutils", "1:2.38.1-5+b1", arch="amd64", distro="debian-12"),
        id="deb epoch and plus",
    ),
    pytest.param(
        Package("libstdc++6", "12.2.0-14", "deb", "amd64"),
        DEBIAN,
        purl("deb", "debian", "libstdc++6", "12.2.0-14", arch="amd64", distro="debian-12"),
        id="deb plus in the name",
    ),
    pytest.param(
        Package("openssl-libs", "1:3.0.7-27.el9", "rpm", "x86_64", source_name="openssl"),
        ALMA,
        purl(
            "rpm", "almalinux", "openssl-libs", "3.0.7-27.el9",
            arch="x86_64", distro="almalinux-9.3", epoch="1",
        ),
        id="rpm epoch as a qualifier",
    ),
    pytest.param(
        Package("bash", "0:5.1.8-9.el9", "rpm", "x86_64"),
        RHEL,
        purl("rpm", "redhat", "bash", "5.1.8-9.el9", arch="x86_64", distro="redhat-9.4"),
        id="rpm epoch 0 left out, rhel is redhat",
    ),
    pytest.param(
        Package("musl", "1.2.4_git20230717-r4", "apk", "x86_64"),
        ALPINE,
        purl("apk", "alpine", "musl", "1.2.4_git20230717-r4", arch="x86_64", distro="3.19.1"),
        id="apk",
    ),
    pytest.param(
        Package("gpg-pubkey", "0:abc-def", "rpm", ""),
        UNKNOWN_OS,
        purl("rpm", None, "gpg-pubkey", "abc-def"),
        id="unknown os: no vendor, no distro",
    ),
]  # fmt: skip


@pytest.mark.parametrize(("pkg", "os_release", "expected"), CASES)
def test_purl_matches_packageurl_python(
    pkg: Package, os_release: OsRelease, expected: PackageURL
) -> None:
    text = package_purl(pkg, os_release)
    assert text == expected.to_string()
    assert PackageURL.from_string(text) == expected
