"""Which installed packages belong to a kernel, and whether it is the running one (R-D7).

Only the running kernel makes a kernel finding live; packages of other installed kernels
are reported as facts (Inventory.kernel) and never matched (ANCHORS §3: Trivy #3764,
Wazuh #3635). When the scanned root is not booted here, the newest installed kernel stands
in for the one that would boot, with medium confidence.
"""

from __future__ import annotations

from enum import Enum

from patchwarden.core.inventory import Inventory, Package


class KernelRole(str, Enum):
    """A package's relation to the kernels of the host."""

    NOT_KERNEL = "not-kernel"
    RUNNING = "running"
    OTHER_KERNEL = "other-kernel"
    NEWEST_UNBOOTED = "newest-unbooted"


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


def kernel_role(pkg: Package, inv: Inventory) -> KernelRole:
    """Classify `pkg` against the running / newest kernel of the inventory."""
    release = kernel_release_of(pkg, inv)
    if release is None:
        return KernelRole.NOT_KERNEL
    running = inv.kernel.running
    if running is not None:
        return KernelRole.RUNNING if release == running else KernelRole.OTHER_KERNEL
    if release == inv.kernel.newest_installed:
        return KernelRole.NEWEST_UNBOOTED
    return KernelRole.OTHER_KERNEL
