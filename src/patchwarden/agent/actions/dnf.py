"""dnf (RHEL 8+, Fedora, AlmaLinux, Rocky) and yum (RHEL/CentOS 7 and older): exact builds.

One class, two programs: `Dnf("dnf")` and `Dnf("yum")` build the same commands with the
program's own words (`upgrade` / `update`, their lock files, their downloaders).

* Plan: `dnf --assumeno upgrade name-[E:]V-R …` prints the transaction table and stops
  ("Operation aborted.", exit 1): its sections (`Upgrading:`, `Installing dependencies:`,
  `Downgrading:`, `Removing:`; yum: `Updating:`, `Installing for dependencies:`, …) are the
  plan. `Nothing to do.` / `No packages marked for update` mean no change; `No match for
  argument` means no repository offers that build.
* Install: `dnf -y upgrade name-[E:]V-R …` (the NEVRA pins the exact build; dnf(8) "Specifying
  packages"); a proxy with `--setopt=proxy=URL`.
* Versions: `rpm -q --qf '%{NAME}\\t%{EPOCH}:%{VERSION}-%{RELEASE}\\t%{ARCH}\\n'` (`(none)` for
  no epoch, as rpm 4.8 and later print it).
* Snapshots: the cached .rpm (when `keepcache=1`) or `dnf download` / `yumdownloader`
  `--destdir`; restore is `rpm -Uvh --oldpackage --replacepkgs x.rpm …`; the manifest is
  `rpm -qa` in the same format.

Outputs the tests read: real dnf 4.14 (tests/data/remediation/dnf, captured against an install
root) and yum 3.4 outputs written from its documentation (tests/data/remediation/yum).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Dict, List, Optional, Sequence

from patchwarden.agent.actions.base import (
    Change,
    Command,
    Installed,
    LockFile,
    PackageManager,
    Plan,
    Target,
    Wanted,
)
from patchwarden.agent.collectors.base import resolve_in_root
from patchwarden.agent.collectors.kernel import RPM_KERNELS

QUERY_FORMAT = "%{NAME}\t%{EPOCH}:%{VERSION}-%{RELEASE}\t%{ARCH}\n"

# Transaction-table sections and what they do (dnf 4 and yum 3 headings).
_SECTIONS = {
    "Upgrading": "upgrade",
    "Updating": "upgrade",
    "Upgrading dependencies": "upgrade",
    "Updating for dependencies": "upgrade",
    "Installing": "install",
    "Installing dependencies": "install",
    "Installing for dependencies": "install",
    "Installing weak dependencies": "install",
    "Downgrading": "downgrade",
    "Downgrading dependencies": "downgrade",
    "Removing": "remove",
    "Removing dependent packages": "remove",
    "Removing for dependencies": "remove",
    "Removing unused dependencies": "remove",
    "Erasing": "remove",
    "Reinstalling": "reinstall",
}
_SECTION_RE = re.compile(r"^([A-Z][A-Za-z ]+):\s*$")
_NO_MATCH_RE = re.compile(r"^No match for argument: (\S+)")
_NO_PACKAGE_RE = re.compile(r"^No package (\S+) available\.")
_NOT_INSTALLED_RE = re.compile(r"^Package (\S+) available, but not installed\.")
_ALREADY_RE = re.compile(
    r"^Package (\S+) (?:is already installed|of (?:a )?higher version already installed)"
)
# yum's resolver lines: `---> Package openssl-libs.x86_64 1:1.0.2k-25.el7_9 will be updated`.
_YUM_UPDATED_RE = re.compile(r"^---> Package (\S+)\.([^.\s]+) (\S+) will be updated")
_NEED_REBOOT = (
    # dnf-plugins-core `needs-restarting -r`: packages whose update needs a reboot.
    "glibc",
    "linux-firmware",
    "systemd",
    "dbus",
    "dbus-broker",
    "dbus-daemon",
    "microcode_ctl",
)


def nevra_spec(wanted: Wanted) -> str:
    """`name-[epoch:]version-release`, the form dnf(8) and yum(8) read as one exact build."""
    return f"{wanted.name}-{wanted.version}"


def strip_epoch(evr: str) -> str:
    """`3.0.7-25.el9_3` from `0:3.0.7-25.el9_3` / `(none):…`; a real epoch stays."""
    epoch, sep, rest = evr.partition(":")
    if sep and epoch in ("0", "(none)", ""):
        return rest
    return evr


class Dnf(PackageManager):
    """dnf or yum (the program name decides the words)."""

    format = "rpm"
    permission_paths = (
        "",
        "var/lib/rpm",
        "etc",
        "usr",
        "usr/bin",
        "usr/sbin",
        "usr/lib",
        "usr/lib64",
    )
    reboot_packages = _NEED_REBOOT

    def __init__(self, program: str = "dnf") -> None:
        if program not in ("dnf", "yum"):
            raise ValueError(f"Dnf drives dnf or yum, not {program!r}")
        self.name = program
        self.program = program
        cache = f"var/cache/{program}"
        self.cache = cache
        self.programs = ("dnf", "yum", "rpm", "dnf-automatic", "yum-cron")
        self.write_paths = (cache, "var/lib/rpm", "usr")
        rpm_lock = LockFile("var/lib/rpm/.rpm.lock", "fcntl")
        if program == "dnf":
            # dnf/lock.py: ProcessLock pid files in the cache dir and the persist dir.
            self.lock_files = (
                LockFile("var/lib/dnf/rpmdb_lock.pid", "pidfile"),
                LockFile(f"{cache}/download_lock.pid", "pidfile"),
                LockFile(f"{cache}/metadata_lock.pid", "pidfile"),
                rpm_lock,
            )
        else:
            self.lock_files = (LockFile("var/run/yum.pid", "pidfile"), rpm_lock)
        self.verb = "upgrade" if program == "dnf" else "update"

    def _setopt(self, target: Target) -> List[str]:
        return [f"--setopt=proxy={target.proxy}"] if target.proxy else []

    def plan(self, target: Target, wanted: Sequence[Wanted]) -> Command:
        """`dnf --assumeno upgrade name-E:V-R …` (stops after printing the transaction)."""
        argv = [self.program, "--assumeno", *self._setopt(target), self.verb]
        return Command(tuple(argv + [nevra_spec(w) for w in wanted]))

    def install(self, target: Target, wanted: Sequence[Wanted]) -> Command:
        """`dnf -y upgrade name-E:V-R …`."""
        argv = [self.program, "-y", *self._setopt(target), self.verb]
        return Command(tuple(argv + [nevra_spec(w) for w in wanted]))

    def query(self, names: Sequence[str]) -> Command:
        """`rpm -q --qf … names`."""
        return Command(("rpm", "-q", "--qf", QUERY_FORMAT, *names))

    def manifest(self) -> Command:
        """`rpm -qa --qf …`."""
        return Command(("rpm", "-qa", "--qf", QUERY_FORMAT))

    def download(self, target: Target, pkg: Installed, dest: str) -> Command:
        """`dnf download --destdir DIR name-E:V-R.arch` (yum: yumdownloader)."""
        spec = f"{pkg.name}-{pkg.version}" + (f".{pkg.arch}" if pkg.arch else "")
        if self.program == "dnf":
            argv = ["dnf", "download", "--destdir", dest, *self._setopt(target), spec]
        else:
            argv = ["yumdownloader", "--destdir", dest, *self._setopt(target), spec]
        return Command(tuple(argv))

    def restore(self, target: Target, files: Sequence[str]) -> Command:
        """`rpm -Uvh --oldpackage --replacepkgs x.rpm …`."""
        return Command(("rpm", "-Uvh", "--oldpackage", "--replacepkgs", *files))

    def parse_plan(self, output: str) -> Plan:
        """The transaction table's sections, and dnf's/yum's refusals."""
        changes: List[Change] = []
        newest: List[Installed] = []
        not_installed: List[str] = []
        unavailable: List[str] = []
        previous: Dict[str, str] = {}
        kind: Optional[str] = None
        pending = ""
        for line in output.splitlines():
            section = _SECTION_RE.match(line)
            if section:
                kind = _SECTIONS.get(section.group(1).strip())
                pending = ""
                continue
            if kind and line.startswith(" ") and line.strip():
                words = (pending + " " + line).split()
                if len(words) == 1:
                    # A long name gets a line of its own; the rest follows indented.
                    pending = words[0]
                    continue
                pending = ""
                if len(words) >= 3 and not line.lstrip().startswith("replacing"):
                    name, arch, version = words[0], words[1], words[2]
                    changes.append(
                        Change(name, kind, version if kind != "remove" else "", "", arch)
                    )
                continue
            if not line.startswith(" "):
                kind = None if line.strip() else kind
            for pattern, into in (
                (_NO_MATCH_RE, unavailable),
                (_NO_PACKAGE_RE, unavailable),
                (_NOT_INSTALLED_RE, not_installed),
            ):
                found = pattern.match(line)
                if found:
                    into.append(found.group(1))
            found = _ALREADY_RE.match(line)
            if found:
                newest.append(Installed(found.group(1), ""))
            found = _YUM_UPDATED_RE.match(line)
            if found:
                previous[found.group(1)] = found.group(3)
        if not_installed:
            # dnf says "No match for argument: NAME-VER" and then why: not installed.
            unavailable = [
                u for u in unavailable if not any(u.startswith(n + "-") for n in not_installed)
            ]
        changes = [
            Change(c.name, c.kind, c.to_version, previous.get(c.name, c.from_version), c.arch)
            for c in changes
        ]
        return Plan(tuple(changes), tuple(newest), tuple(not_installed), tuple(unavailable))

    def parse_query(self, output: str) -> Dict[str, Installed]:
        """name -> installed build (`package X is not installed` lines are skipped)."""
        found: Dict[str, Installed] = {}
        for line in output.splitlines():
            parts = line.split("\t")
            if len(parts) != 3:
                continue
            name, evr, arch = parts
            found.setdefault(name, Installed(name, strip_epoch(evr), arch))
        return found

    def same_version(self, a: str, b: str) -> bool:
        """Equal once a zero or missing epoch is dropped from both."""
        return strip_epoch(a) == strip_epoch(b)

    def file_name(self, pkg: Installed) -> str:
        """`name-version-release.arch.rpm` (rpm file names never carry the epoch)."""
        vr = pkg.version.split(":", 1)[-1]
        return f"{pkg.name}-{vr}.{pkg.arch}.rpm"

    def cached_file(self, root: Path, pkg: Installed) -> Optional[Path]:
        """`/var/cache/dnf/<repo>/packages/<file>` when dnf kept it (keepcache=1)."""
        cache = resolve_in_root(root, self.cache)
        if not cache.is_dir():
            return None
        name = self.file_name(pkg)
        for path in sorted(cache.glob(f"*/packages/{name}")):
            if path.is_file() and path.stat().st_size > 0:
                return path
        return None

    def is_kernel(self, name: str) -> bool:
        """Kernel image packages (kernel-core, kernel, kernel-uek, …)."""
        return name in RPM_KERNELS
