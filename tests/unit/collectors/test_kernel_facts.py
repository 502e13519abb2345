"""Kernel facts (pure parts): which packages are kernels, release ordering, GRUB default."""

from __future__ import annotations

from typing import List, Optional

import pytest

from patchwarden.agent.collectors.kernel import boot_default, kernel_packages, release_key
from patchwarden.core.inventory import Package


def deb(name: str, version: str = "1") -> Package:
    return Package(name=name, version=version, format="deb", arch="amd64")


def test_deb_kernel_images_but_not_meta_or_debug_packages() -> None:
    packages = [
        deb("linux-image-6.1.0-18-amd64", "6.1.76-1"),
        deb("linux-image-6.1.0-9-amd64", "6.1.27-1"),
        deb("linux-image-amd64", "6.1.76-1"),
        deb("linux-image-6.1.0-18-amd64-dbg"),
        deb("linux-headers-6.1.0-18-amd64"),
        deb("linux-image-unsigned-6.8.0-1029-aws", "6.8.0-1029.31"),
    ]
    assert [(k.name, k.release) for k in kernel_packages(packages)] == [
        ("linux-image-6.1.0-9-amd64", "6.1.0-9-amd64"),
        ("linux-image-6.1.0-18-amd64", "6.1.0-18-amd64"),
        ("linux-image-unsigned-6.8.0-1029-aws", "6.8.0-1029-aws"),
    ]


def test_rpm_kernel_release_is_v_r_arch_and_kernel_core_is_preferred() -> None:
    packages = [
        Package("kernel", "5.14.0-362.8.1.el9_3", "rpm", "x86_64"),
        Package("kernel-core", "5.14.0-362.8.1.el9_3", "rpm", "x86_64"),
        Package("kernel-uek", "1:5.15.0-200.131.27.el8uek", "rpm", "x86_64"),
        Package("kernel-headers", "5.14.0-362.8.1.el9_3", "rpm", "x86_64"),
    ]
    assert [(k.name, k.release) for k in kernel_packages(packages)] == [
        ("kernel-core", "5.14.0-362.8.1.el9_3.x86_64"),
        ("kernel-uek", "5.15.0-200.131.27.el8uek.x86_64"),
    ]


def test_apk_kernel_release_follows_alpine_uname() -> None:
    packages = [
        Package("linux-lts", "6.6.31-r0", "apk", "x86_64"),
        Package("linux-firmware", "1-r0", "apk"),
    ]
    assert [k.release for k in kernel_packages(packages)] == ["6.6.31-0-lts"]


def test_release_key_orders_digit_runs_numerically() -> None:
    releases = ["6.1.0-18-amd64", "6.1.0-9-amd64", "5.10.0-28-amd64"]
    assert sorted(releases, key=release_key) == [
        "5.10.0-28-amd64",
        "6.1.0-9-amd64",
        "6.1.0-18-amd64",
    ]
    rhel = ["5.14.0-362.13.1.el9_3.x86_64", "5.14.0-362.8.1.el9_3.x86_64"]
    assert max(rhel, key=release_key) == "5.14.0-362.13.1.el9_3.x86_64"


RELEASES = ["6.1.0-9-amd64", "6.1.0-18-amd64"]


@pytest.mark.parametrize(
    ("grub_default", "saved", "releases", "expected"),
    [
        (None, None, RELEASES, "6.1.0-18-amd64"),
        ("0", None, RELEASES, "6.1.0-18-amd64"),
        (
            "Advanced options for Debian GNU/Linux>Debian GNU/Linux, with Linux 6.1.0-9-amd64",
            None,
            RELEASES,
            "6.1.0-9-amd64",
        ),
        (
            "saved",
            "gnulinux-advanced-x>gnulinux-6.1.0-9-amd64-advanced-x",
            RELEASES,
            "6.1.0-9-amd64",
        ),
        (
            None,
            "3d12c7-5.14.0-362.8.1.el9_3.x86_64",
            ["5.14.0-362.8.1.el9_3.x86_64"],
            "5.14.0-362.8.1.el9_3.x86_64",
        ),
        ("saved", None, RELEASES, None),
        ("2", None, RELEASES, None),
        (None, None, [], None),
    ],
)
def test_boot_default(
    grub_default: Optional[str], saved: Optional[str], releases: List[str], expected: Optional[str]
) -> None:
    assert boot_default(grub_default, saved, releases) == expected
