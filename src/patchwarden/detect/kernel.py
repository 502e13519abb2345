"""Which installed packages belong to a kernel, and whether it is the running one (R-D7).

Only the running kernel makes a kernel finding live; packages of other installed kernels
are reported as facts (Inventory.kernel) and never matched (ANCHORS §3: Trivy #3764,
Wazuh #3635). When the scanned root is not booted here, the newest installed kernel stands
in for the one that would boot, with medium confidence.
"""

from __future__ import annotations

import re
from enum import Enum

from patchwarden.core.inventory import Inventory, Package


class KernelRole(str, Enum):
    """A package's relation to the kernels of the host."""

    NOT_KERNEL = "not-kernel"
    RUNNING = "running"
    OTHER_KERNEL = "other-kernel"
    NEWEST_UNBOOTED = "newest-unbooted"
    KERNEL_TOOLING = "kernel-tooling"
    """Built from the kernel source but no kernel image: headers, perf, libc headers."""


KERNEL_ROLES = frozenset({KernelRole.RUNNING, KernelRole.NEWEST_UNBOOTED})
"""Roles whose findings are kernel findings: fixing them takes a reboot (R-F4)."""

# Debian/Ubuntu kernel source packages (linux, linux-signed-amd64, linux-hwe-5.4, linux-aws…),
# but not linux-firmware, linux-base and other userland that merely starts with "linux".
_DEB_KERNEL_SOURCE = re.compile(
    r"^linux(-signed)?(-(hwe|lts|aws|azure|gcp|gke|gkeop|oracle|kvm|raspi|oem|lowlatency|ibm"
    r"|intel|nvidia|realtime|riscv|bluefield|xilinx|starfive)[\w.+-]*)?"
    r"(-(amd64|arm64|i386|armhf|ppc64el|s390x))?$"
)
_RPM_KERNEL_SOURCES = frozenset({"kernel", "kernel-rt", "kernel-uek", "kernel-alt"})
_RPM_KERNEL_PREFIXES = ("kernel", "kernel-core", "kernel-modules", "kernel-uek", "kernel-rt")


def kernel_release_of(pkg: Package, inv: Inventory) -> str | None:
    """The kernel release (`uname -r` form) a package belongs to, or None if not kernel-bound."""
    releases = {k.release for k in inv.kernel.installed}
    names = {k.name: k.release for k in inv.kernel.installed}
    if pkg.name in names:
        return names[pkg.name]
    if pkg.format == "deb":
        # linux-image-6.1.0-18-amd64, linux-modules-5.4.0-42-generic, linux-headers-…
        for rel in releases:
            if pkg.name.startswith("linux-") and pkg.name.endswith("-" + rel):
                return rel
        return None
    if pkg.format == "rpm" and pkg.name.startswith(_RPM_KERNEL_PREFIXES):
        vr = pkg.version.split(":", 1)[-1]
        for rel in releases:
            if rel == vr or rel.startswith(vr + "."):
                return rel
    return None


def from_kernel_source(pkg: Package) -> bool:
    """Whether the package is built from a kernel source package."""
    if pkg.format == "deb":
        return bool(_DEB_KERNEL_SOURCE.match(pkg.source))
    if pkg.format == "rpm":
        return pkg.source in _RPM_KERNEL_SOURCES
    return False


def kernel_role(pkg: Package, inv: Inventory) -> KernelRole:
    """Classify `pkg` against the running / newest kernel of the inventory.

    Kernel advisories name the kernel source; its other binaries (linux-libc-dev, linux-perf,
    kernel-headers) carry the kernel's CVEs in the feeds but do not run the kernel, so they
    are tooling, never kernel findings (R-D7).
    """
    release = kernel_release_of(pkg, inv)
    if release is None:
        return KernelRole.KERNEL_TOOLING if from_kernel_source(pkg) else KernelRole.NOT_KERNEL
    running = inv.kernel.running
    if running is not None:
        return KernelRole.RUNNING if release == running else KernelRole.OTHER_KERNEL
    if release == inv.kernel.newest_installed:
        return KernelRole.NEWEST_UNBOOTED
    return KernelRole.OTHER_KERNEL
