"""Family drivers and the running-kernel rule (R-D7)."""

from __future__ import annotations

from patchwarden.core.advisory import (
    Advisory,
    Affected,
    AffectedPackage,
    Event,
    EventKind,
    Range,
    Severity,
)
from patchwarden.core.inventory import Host, Inventory, Kernel, KernelPackage, OsRelease, Package
from patchwarden.core.matching import Confidence, Method
from patchwarden.detect import driver_for
from patchwarden.detect.debian import is_lts
from patchwarden.detect.kernel import KernelRole, kernel_role
from patchwarden.services.detection import detect
from patchwarden.services.index import MemoryIndex

DEBIAN12 = OsRelease(id="debian", family="debian", release="12", codename="bookworm")
K_OLD = Package("linux-image-6.1.0-9-amd64", "6.1.27-1", "deb", "amd64", "linux", "6.1.27-1")
K_RUN = Package("linux-image-6.1.0-18-amd64", "6.1.76-1", "deb", "amd64", "linux", "6.1.76-1")
LIBC = Package("linux-libc-dev", "6.1.76-1", "deb", "amd64", "linux")


def inventory(running: str | None, packages=(K_OLD, K_RUN, LIBC), os=DEBIAN12) -> Inventory:
    kernel = Kernel(
        running=running,
        installed=(
            KernelPackage(K_OLD.name, K_OLD.version, "6.1.0-9-amd64"),
            KernelPackage(K_RUN.name, K_RUN.version, "6.1.0-18-amd64"),
        ),
        newest_installed="6.1.0-18-amd64",
    )
    return Inventory(host=Host("h"), os=os, packages=tuple(packages), kernel=kernel)


def linux_advisory(fixed: str) -> Advisory:
    rng = Range("ECOSYSTEM", (Event(EventKind.INTRODUCED, "0"), Event(EventKind.FIXED, fixed)))
    return Advisory(
        id="CVE-2024-1",
        source="test",
        severity=Severity.HIGH,
        affected=(Affected(AffectedPackage("Debian:12", "linux"), ranges=(rng,)),),
    )


def test_kernel_roles_when_booted():
    inv = inventory(running="6.1.0-18-amd64")
    assert kernel_role(K_RUN, inv) is KernelRole.RUNNING
    assert kernel_role(K_OLD, inv) is KernelRole.OTHER_KERNEL
    assert kernel_role(LIBC, inv) is KernelRole.KERNEL_TOOLING
    firmware = Package("firmware-linux-free", "1", "deb", source_name="linux-firmware")
    assert kernel_role(firmware, inv) is KernelRole.NOT_KERNEL


def test_only_the_running_kernel_is_a_finding():
    # Both kernels are older than the fix; only the running one may become a finding.
    found = detect(inventory(running="6.1.0-18-amd64"), MemoryIndex([linux_advisory("6.1.80-1")]))
    kernel_findings = [m for m in found.matches if m.package.startswith("linux-image")]
    assert [m.package for m in kernel_findings] == [K_RUN.name]
    assert kernel_findings[0].method is Method.RUNNING_KERNEL
    # A kernel fix takes a reboot (R-F4); other findings do not say so.
    assert kernel_findings[0].restart_required


def test_kernel_tooling_never_carries_kernel_cves():
    # linux-libc-dev is built from `linux` and below the fix, yet runs no kernel.
    found = detect(inventory(running="6.1.0-18-amd64"), MemoryIndex([linux_advisory("6.1.80-1")]))
    assert "linux-libc-dev" not in {m.package for m in found.matches}


def test_pending_kernel_source_update_is_one_finding_not_one_per_cve():
    from patchwarden.core.inventory import PendingUpdate

    upd = PendingUpdate(
        "linux-libc-dev",
        "6.1.76-1",
        "6.1.90-1",
        "bookworm-security",
        source_package="linux",
        cves=("CVE-2024-1", "CVE-2024-2"),
    )
    runs = PendingUpdate(
        K_RUN.name,
        K_RUN.version,
        "6.1.90-1",
        "bookworm-security",
        source_package="linux",
        cves=("CVE-2024-1", "CVE-2024-2"),
    )
    inv = inventory(running="6.1.0-18-amd64")
    inv = Inventory(
        host=inv.host,
        os=inv.os,
        packages=inv.packages,
        kernel=inv.kernel,
        pending_updates=(upd, runs),
    )
    found = detect(inv, MemoryIndex()).matches
    tooling = [m for m in found if m.package == "linux-libc-dev"]
    assert len(tooling) == 1 and tooling[0].cves == ()
    assert "judged on the running kernel" in tooling[0].reason
    assert sorted(m.id for m in found if m.package == K_RUN.name) == ["CVE-2024-1", "CVE-2024-2"]
    assert {(m.package, m.restart_required) for m in found} == {
        ("linux-libc-dev", False),
        (K_RUN.name, True),
    }


def test_booted_old_kernel_is_reported_even_when_newest_is_fixed():
    # Vuls #540: fully updated, but booted into the old kernel.
    found = detect(inventory(running="6.1.0-9-amd64"), MemoryIndex([linux_advisory("6.1.50-1")]))
    assert [m.package for m in found.matches if m.package.startswith("linux-image")] == [K_OLD.name]


def test_unbooted_root_judges_newest_kernel_with_medium_confidence():
    found = detect(inventory(running=None), MemoryIndex([linux_advisory("6.1.80-1")]))
    (m,) = [m for m in found.matches if m.package.startswith("linux-image")]
    assert (m.package, m.method, m.confidence, m.restart_required) == (
        K_RUN.name,
        Method.NEWEST_KERNEL,
        Confidence.MEDIUM,
        True,
    )


def test_ecosystem_spellings():
    ubuntu = OsRelease(id="ubuntu", family="ubuntu", release="18.04")
    alma = OsRelease(id="almalinux", family="rhel", release="9")
    rhel = OsRelease(id="rhel", family="rhel", release="8")
    alpine = OsRelease(id="alpine", family="alpine", release="3.19")
    inv = lambda os: Inventory(host=Host("h"), os=os)  # noqa: E731
    assert driver_for(ubuntu).ecosystems(inv(ubuntu)) == ["Ubuntu:18.04:LTS"]
    assert driver_for(alma).ecosystems(inv(alma)) == ["AlmaLinux:9"]
    assert driver_for(rhel).ecosystems(inv(rhel)) == ["AlmaLinux:8"]
    assert driver_for(alpine).ecosystems(inv(alpine)) == ["Alpine:v3.19"]
    assert is_lts("22.04") and not is_lts("23.04") and not is_lts("19.10")


def test_unknown_os_is_an_error_not_silence():
    unknown = OsRelease(id="plan9", family="unknown", release="")
    found = detect(inventory(running=None, os=unknown), MemoryIndex())
    assert found.matches == [] and "no detection driver" in found.errors[0]
