"""kernel collector: the four kernel facts kept apart (R-D7, R-F5, DESIGN §4).

* running: `os.uname().release`, only when scanning the live system (a mounted root is not
  booted here, so it has no running kernel);
* installed: kernel image packages from the package collectors (`ctx.packages`), each with
  the kernel release (`uname -r` form) it provides; kernels found only as `boot/vmlinuz-*`
  or `lib/modules/*` are added with an empty package name and version (not packaged);
* newest_installed: the highest installed release. The agent may not import the version
  schemes (DESIGN §2 import rules), so releases are compared with a numeric-aware key
  (digit runs as numbers): right for `6.1.0-18-amd64` > `6.1.0-9-amd64` and for RHEL's
  `5.14.0-362.13.1.el9_3` > `5.14.0-362.8.1.el9_3`; the console re-checks with rpm/dpkg
  ordering;
* boot_default: what GRUB starts — GRUB_DEFAULT in `etc/default/grub`, `saved_entry` from
  grubenv when it says `saved`; a menu title or BLS id is mapped to the installed release it
  names. `0` (or no setting) is the first menu entry, which grub-mkconfig makes the newest.
"""

from __future__ import annotations

import os
import re
from typing import Dict, Iterable, List, Optional, Set, Tuple, Union

from patchwarden.agent.collectors.base import Collector, Context, InventoryPart
from patchwarden.agent.collectors.os_release import parse_key_values
from patchwarden.core.inventory import Kernel, KernelPackage, Package

NAME = "kernel"

# rpm kernel image packages, in order of preference when several give the same release:
# kernel-core holds vmlinuz on RHEL 8+, `kernel` is then a meta package.
RPM_KERNELS = (
    "kernel-core",
    "kernel",
    "kernel-uek-core",
    "kernel-uek",
    "kernel-rt-core",
    "kernel-rt",
    "kernel-lt",
    "kernel-ml",
)
# Alpine kernel packages: linux-<flavor>, version V-rN -> release V-N-<flavor>.
APK_KERNEL_RE = re.compile(r"^linux-(lts|virt|edge|rpi|rpi4|stable)$")
# Debian/Ubuntu: linux-image-<release> (and -unsigned-); meta packages such as
# linux-image-amd64 have no digit after the prefix; -dbg(sym) packages are debug symbols.
DEB_KERNEL_RE = re.compile(r"^linux-image-(?:unsigned-)?(\d[^ ]*?)(?<!-dbg)(?<!-dbgsym)$")

GRUB_DEFAULTS = ("etc/default/grub",)
GRUBENVS = ("boot/grub/grubenv", "boot/grub2/grubenv", "boot/efi/EFI/redhat/grubenv")

_NATURAL_RE = re.compile(r"(\d+)")


def release_key(release: str) -> Tuple[Union[Tuple[int, int], Tuple[int, str]], ...]:
    """Sort key that compares digit runs as numbers ("18" > "9"); letters sort after digits."""
    return tuple(
        (0, int(part)) if part.isdigit() else (1, part)
        for part in _NATURAL_RE.split(release)
        if part
    )


def kernel_packages(packages: Iterable[Package]) -> Tuple[KernelPackage, ...]:
    """Kernel image packages among `packages`, one per kernel release."""
    by_release: Dict[str, Tuple[int, KernelPackage]] = {}
    for pkg in packages:
        found = _kernel_release(pkg)
        if found is None:
            continue
        rank, release = found
        kp = KernelPackage(name=pkg.name, version=pkg.version, release=release)
        if release not in by_release or rank < by_release[release][0]:
            by_release[release] = (rank, kp)
    return tuple(
        kp for _, kp in sorted(by_release.values(), key=lambda r: release_key(r[1].release))
    )


def _kernel_release(pkg: Package) -> Optional[Tuple[int, str]]:
    """(preference rank, kernel release) when `pkg` is a kernel image package."""
    if pkg.format == "deb":
        match = DEB_KERNEL_RE.match(pkg.name)
        return (0 if "-unsigned-" not in pkg.name else 1, match.group(1)) if match else None
    if pkg.format == "rpm" and pkg.name in RPM_KERNELS:
        # uname -r of an rpm kernel is VERSION-RELEASE.ARCH, epoch never shows.
        vr = pkg.version.split(":", 1)[-1]
        return RPM_KERNELS.index(pkg.name), f"{vr}.{pkg.arch}" if pkg.arch else vr
    if pkg.format == "apk":
        match = APK_KERNEL_RE.match(pkg.name)
        if match and "-r" in pkg.version:
            version, _, rel = pkg.version.rpartition("-r")
            return 0, f"{version}-{rel}-{match.group(1)}"
    return None


def on_disk_releases(ctx: Context) -> List[str]:
    """Kernel releases with an image in `boot/` or a module tree in `lib/modules/`."""
    found: Set[str] = set()
    boot = ctx.path("boot")
    if boot.is_dir():
        found.update(p.name[len("vmlinuz-") :] for p in boot.glob("vmlinuz-*"))
    for modules in (ctx.path("lib/modules"), ctx.path("usr/lib/modules")):
        if modules.is_dir():
            found.update(p.name for p in modules.iterdir() if p.is_dir())
    # Rescue images (vmlinuz-0-rescue-<machine-id>) are copies, not kernels of their own.
    return sorted((r for r in found if not r.startswith("0-rescue")), key=release_key)


def boot_default(
    grub_default: Optional[str], saved_entry: Optional[str], releases: List[str]
) -> Optional[str]:
    """The release GRUB boots by default, from GRUB_DEFAULT / saved_entry; None if unknown.

    `releases` are the installed releases, oldest first.
    """
    if not releases:
        return None
    choice = grub_default
    if choice is None or choice == "saved":
        # No GRUB_DEFAULT and a grubenv saved_entry: BLS hosts (RHEL 8+) set it that way.
        choice = saved_entry if saved_entry else ("0" if grub_default is None else None)
    if choice is None:
        return None
    if choice == "0":
        return releases[-1]
    # A title ("Advanced options…>Debian GNU/Linux, with Linux 6.1.0-18-amd64") or a BLS id
    # ("<machine-id>-5.14.0-362.8.1.el9_3.x86_64"): the longest release it contains.
    named = [r for r in releases if r in choice]
    return max(named, key=len) if named else None


class KernelCollector(Collector):
    """Running, installed, newest and boot-default kernel; needs the package collectors' output."""

    name = NAME
    version = 1

    def collect(self, ctx: Context) -> InventoryPart:
        """Combine `ctx.packages`, the files under the root and (live only) `uname`."""
        running = os.uname().release if ctx.live else None
        installed = list(kernel_packages(ctx.packages))
        packaged = {k.release for k in installed}
        installed.extend(
            KernelPackage(name="", version="", release=r)
            for r in on_disk_releases(ctx)
            if r not in packaged
        )
        installed.sort(key=lambda k: release_key(k.release))
        releases = [k.release for k in installed]
        running_package = next((k.name for k in installed if k.release == running and k.name), None)
        return InventoryPart(
            kernel=Kernel(
                running=running,
                running_package=running_package,
                installed=tuple(installed),
                newest_installed=releases[-1] if releases else None,
                boot_default=self._boot_default(ctx, releases),
            )
        )

    @staticmethod
    def _boot_default(ctx: Context, releases: List[str]) -> Optional[str]:
        """boot_default() over the GRUB files under the root; None when there are none."""
        grub_default = saved = None
        found = False
        for rel in GRUB_DEFAULTS:
            path = ctx.path(rel)
            if path.is_file():
                found = True
                text = path.read_text("utf-8", "replace")
                grub_default = parse_key_values(text).get("GRUB_DEFAULT")
        for rel in GRUBENVS:
            path = ctx.path(rel)
            if path.is_file():
                found = True
                text = path.read_text("utf-8", "replace")
                saved = parse_key_values(text).get("saved_entry")
                break
        return boot_default(grub_default, saved, releases) if found else None
