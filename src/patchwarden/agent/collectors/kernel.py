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
  names; a menu index (`0`, `2`, `1>2`) is looked up in the menu order of `grub.cfg`, and
  without a grub.cfg `0` (or no setting) is taken for the newest, as grub-mkconfig orders it;
* reboot_needed (R-D7, R-F4): the newest installed release is not the running one, or the
  running release's package was rebuilt since boot (Debian: `/proc/version` names the
  package version the kernel was built as; an ABI-compatible update keeps the release);
* default_pinned: the boot default is not the newest installed release (a reboot would not
  start it).

The running kernel comes from `uname` on a live root, or from the proc tree the scan was
pointed at (`Context.proc`: its `sys/kernel/osrelease` and `version`), so tests can lay out
a whole host, /boot and grub files included, under a test root.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
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
GRUB_CFGS = ("boot/grub/grub.cfg", "boot/grub2/grub.cfg")
MAX_GRUB_CFG = 4 << 20
_MENU_RE = re.compile(r"^\s*(menuentry|submenu)\s+(?:'([^']*)'|\"([^\"]*)\"|(\S+))")
_INDEX_RE = re.compile(r"^\d+(?:>\d+)*$")

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


MenuEntry = Union[str, List[str]]
"""A top-level grub.cfg entry: its title, or a submenu's list of titles."""


def parse_grub_menu(text: str) -> List[MenuEntry]:
    """Top-level menu entries of a grub.cfg in order (submenus with their entries' titles).

    An entry's title is followed by the kernel image its `linux` line loads: Debian's first
    entry is titled "Debian GNU/Linux" alone.
    """
    menu: List[MenuEntry] = []
    stack: List[str] = []  # kinds of the blocks we are in ("menuentry", "submenu", "other")
    for line in text.splitlines():
        stripped = line.strip()
        if stack and stack[-1] == "menuentry" and stripped.startswith(("linux ", "linux\t")):
            image = stripped.split()[1] if len(stripped.split()) > 1 else ""
            _append_to_last(menu, len(stack), " " + image)
            continue
        match = _MENU_RE.match(line)
        if match and stripped.endswith("{"):
            kind = match.group(1)
            title = next(g for g in match.groups()[1:] if g is not None)
            if not stack:
                menu.append(title if kind == "menuentry" else [])
            elif stack == ["submenu"] and kind == "menuentry":
                last = menu[-1]
                if isinstance(last, list):
                    last.append(title)
            stack.append(kind)
        elif stripped.endswith("{") and not stripped.startswith("#"):
            stack.append("other")  # if/function blocks: `}` closes them too
        elif stripped == "}" and stack:
            stack.pop()
    return menu


def _append_to_last(menu: List[MenuEntry], depth: int, text: str) -> None:
    """Add `text` to the title of the entry being read (`depth` 1: top level, 2: submenu)."""
    if not menu:
        return
    last = menu[-1]
    if depth == 1 and isinstance(last, str):
        menu[-1] = last + text
    elif depth == 2 and isinstance(last, list) and last:
        last[-1] += text


def menu_title(menu: List[MenuEntry], index: str) -> Optional[str]:
    """The title a GRUB index (`2`, `1>2`) selects in `menu`; None when it selects none."""
    parts = [int(p) for p in index.split(">")]
    if parts[0] >= len(menu):
        return None
    entry = menu[parts[0]]
    if isinstance(entry, str):
        return entry if len(parts) == 1 else None
    if len(parts) == 1:
        return None  # a submenu itself boots nothing
    return entry[parts[1]] if len(parts) == 2 and parts[1] < len(entry) else None


def boot_default(
    grub_default: Optional[str],
    saved_entry: Optional[str],
    releases: List[str],
    menu: Optional[List[MenuEntry]] = None,
) -> Optional[str]:
    """The release GRUB boots by default, from GRUB_DEFAULT / saved_entry; None if unknown.

    `releases` are the installed releases, oldest first; `menu` is grub.cfg's menu (None when
    there is no grub.cfg: index 0 is then taken for the newest, grub-mkconfig's order).
    """
    if not releases:
        return None
    choice = grub_default
    if choice is None or choice == "saved":
        # No GRUB_DEFAULT and a grubenv saved_entry: BLS hosts (RHEL 8+) set it that way.
        choice = saved_entry if saved_entry else ("0" if grub_default is None else None)
    if choice is None:
        return None
    if _INDEX_RE.match(choice):
        if menu:
            title = menu_title(menu, choice)
            if title is None:
                return None
            choice = title
        elif choice == "0":
            return releases[-1]
        else:
            return None
    # A title ("Advanced options…>Debian GNU/Linux, with Linux 6.1.0-18-amd64") or a BLS id
    # ("<machine-id>-5.14.0-362.8.1.el9_3.x86_64"): the longest release it contains.
    named = [r for r in releases if r in choice]
    return max(named, key=len) if named else None


def running_kernel(ctx: Context) -> Tuple[Optional[str], str]:
    """(running release, /proc/version text) of the scanned system; (None, "") when the
    root is not booted here and no proc tree was given."""
    if ctx.proc is not None:
        try:
            release = (ctx.proc / "sys/kernel/osrelease").read_text("utf-8", "replace").strip()
        except OSError:
            return None, ""
        return release or None, _read_small(ctx.proc / "version")
    if ctx.live:
        return os.uname().release, _read_small(Path("/proc/version"))
    return None, ""


def reboot_needed(
    running: Optional[str], newest: Optional[str], running_version: str, proc_version: str
) -> Optional[bool]:
    """True when a reboot would start newer kernel code (see the module docstring)."""
    if running is None or newest is None:
        return None
    if running != newest:
        return True
    # Debian's /proc/version: "… Debian 6.1.76-1 (2024-02-01)"; the package now installed
    # for this release is another build when its version is not the one that booted.
    # The last "Debian X": the compiler's own version comes first ("gcc-12 (Debian 12.2.0-14)").
    built = re.findall(r"\bDebian (\S+)", proc_version)
    return bool(built and running_version and built[-1] != running_version)


def _read_small(path: Path) -> str:
    try:
        with path.open("rb") as fh:
            return fh.read(4096).decode("utf-8", "replace")
    except OSError:
        return ""


class KernelCollector(Collector):
    """Running, installed, newest and boot-default kernel; needs the package collectors' output."""

    name = NAME
    version = 1

    def collect(self, ctx: Context) -> InventoryPart:
        """Combine `ctx.packages`, the files under the root and the running kernel."""
        running, proc_version = running_kernel(ctx)
        installed = list(kernel_packages(ctx.packages))
        packaged = {k.release for k in installed}
        installed.extend(
            KernelPackage(name="", version="", release=r)
            for r in on_disk_releases(ctx)
            if r not in packaged
        )
        installed.sort(key=lambda k: release_key(k.release))
        releases = [k.release for k in installed]
        running_pkg = next((k for k in installed if k.release == running and k.name), None)
        newest = releases[-1] if releases else None
        default = self._boot_default(ctx, releases)
        return InventoryPart(
            kernel=Kernel(
                running=running,
                running_package=running_pkg.name if running_pkg else None,
                installed=tuple(installed),
                newest_installed=newest,
                boot_default=default,
                reboot_needed=reboot_needed(
                    running, newest, running_pkg.version if running_pkg else "", proc_version
                ),
                default_pinned=None if default is None or newest is None else default != newest,
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
        menu: Optional[List[MenuEntry]] = None
        for rel in GRUB_CFGS:
            path = ctx.path(rel)
            if path.is_file():
                found = True
                with path.open("rb") as fh:
                    menu = parse_grub_menu(fh.read(MAX_GRUB_CFG).decode("utf-8", "replace"))
                break
        return boot_default(grub_default, saved, releases, menu) if found else None
