"""apt (Debian, Ubuntu): install exactly the fixed versions with apt-get, non-interactively.

* `apt-get update`, then `apt-get install -s --only-upgrade pkg=ver …` (a dry run: its
  `Inst`/`Remv` lines are the plan), then the same without `-s`. `--only-upgrade` never
  installs a named package that is not there; nothing else is upgraded (no full upgrade).
* Non-interactive: `DEBIAN_FRONTEND=noninteractive`, `-y`, dpkg's `--force-confdef` and
  `--force-confold` (keep changed configuration files), `NEEDRESTART_MODE=l` (Ubuntu's
  needrestart only lists services, never asks).
* A proxy goes in as `-o Acquire::http::Proxy=URL` (and https).
* Snapshots: the exact .deb comes from `/var/cache/apt/archives` (apt keeps what it
  downloaded) or `apt-get download pkg:arch=ver`; a rollback installs the saved files with
  `apt-get install --allow-downgrades /path/x.deb …`; the manifest is `dpkg-query -W`.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Set, Tuple

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
from patchwarden.agent.collectors.kernel import DEB_KERNEL_RE

ARCHIVES = "var/cache/apt/archives"
QUERY_FORMAT = "${Package}\t${Version}\t${Architecture}\t${db:Status-Abbrev}\n"
"""dpkg-query -W format: one tab-separated line per package; `ii ` = installed."""

# `Inst libssl3 [3.0.20-1~deb12u2] (3.0.22-1~deb12u2 Debian-Security:12/… [amd64])`;
# a new package has no `[old]`; `Remv name [old]` removes one (apt-get(8) -s).
_INST_RE = re.compile(r"^Inst (\S+) (?:\[([^\]]*)\] )?\((\S+)(?: [^\[]*)?(?:\[([^\]]+)\])?\)")
_REMV_RE = re.compile(r"^Remv (\S+)(?: \[([^\]]*)\])?")
_NEWEST_RE = re.compile(r"^(\S+) is already the newest version \(([^)]+)\)")
_SKIP_RE = re.compile(r"^Skipping (\S+), it is not installed and only upgrades are requested")
_VERSION_NOT_FOUND_RE = re.compile(r"Version '([^']+)' for '([^']+)' was not found")
_NOT_LOCATED_RE = re.compile(r"Unable to locate package (\S+)")


def split_arch(name: str) -> Tuple[str, str]:
    """("libssl3", "i386") from apt's "libssl3:i386"; ("libssl3", "") without a qualifier."""
    base, _, arch = name.partition(":")
    return base, arch


def deb_file_name(pkg: Installed) -> str:
    """`name_version_arch.deb` as apt names downloads (an epoch's ':' is written `%3a`)."""
    return f"{pkg.name}_{pkg.version.replace(':', '%3a')}_{pkg.arch}.deb"


class Apt(PackageManager):
    """apt-get / dpkg."""

    name = "apt"
    format = "deb"
    programs = ("apt", "apt-get", "aptitude", "dpkg", "unattended-upgr", "synaptic")
    write_paths = (ARCHIVES, "var/lib/dpkg", "usr")
    permission_paths = (
        "",
        "var/lib/dpkg",
        "var/lib/dpkg/info",
        "var/lib/dpkg/updates",
        ARCHIVES,
        "var/lib/apt/lists",
        "etc",
        "usr",
        "usr/bin",
        "usr/sbin",
        "usr/lib",
    )
    lock_files = (
        LockFile("var/lib/dpkg/lock-frontend", "fcntl"),
        LockFile("var/lib/dpkg/lock", "fcntl"),
        LockFile(ARCHIVES + "/lock", "fcntl"),
        LockFile("var/lib/apt/lists/lock", "fcntl"),
    )
    reboot_flag = "var/run/reboot-required"

    def env(self, target: Target) -> Dict[str, str]:
        """Never ask: debconf, apt-listchanges, needrestart and ucf all stay quiet."""
        return {
            "DEBIAN_FRONTEND": "noninteractive",
            "APT_LISTCHANGES_FRONTEND": "none",
            "NEEDRESTART_MODE": "l",
            "UCF_FORCE_CONFFOLD": "1",
        }

    def _options(self, target: Target) -> List[str]:
        opts = [
            "-o",
            "Dpkg::Options::=--force-confdef",
            "-o",
            "Dpkg::Options::=--force-confold",
        ]
        return opts + self._proxy(target)

    @staticmethod
    def _proxy(target: Target) -> List[str]:
        if not target.proxy:
            return []
        return [
            "-o",
            f"Acquire::http::Proxy={target.proxy}",
            "-o",
            f"Acquire::https::Proxy={target.proxy}",
        ]

    def refresh(self, target: Target) -> Optional[Command]:
        """`apt-get update`: the fixed version may be newer than the lists on disk."""
        return Command(("apt-get", "-q", "update", *self._proxy(target)), self.env(target))

    def _install_argv(self, target: Target, wanted: Sequence[Wanted], simulate: bool) -> Command:
        argv = ["apt-get", "install", "-q", "-y", "--only-upgrade", "--no-install-recommends"]
        if simulate:
            argv.insert(2, "-s")
        argv += self._options(target)
        argv += [f"{w.name}={w.version}" for w in wanted]
        return Command(tuple(argv), self.env(target))

    def plan(self, target: Target, wanted: Sequence[Wanted]) -> Command:
        """`apt-get install -s --only-upgrade name=version …`."""
        return self._install_argv(target, wanted, simulate=True)

    def install(self, target: Target, wanted: Sequence[Wanted]) -> Command:
        """`apt-get install -y --only-upgrade name=version …`."""
        return self._install_argv(target, wanted, simulate=False)

    def query(self, names: Sequence[str]) -> Command:
        """`dpkg-query -W -f … names` (a name not installed is reported on stderr)."""
        return Command(("dpkg-query", "-W", "-f", QUERY_FORMAT, *names))

    def manifest(self) -> Command:
        """`dpkg-query -W -f …`: every package dpkg knows, with version and state."""
        return Command(("dpkg-query", "-W", "-f", QUERY_FORMAT))

    def download(self, target: Target, pkg: Installed, dest: str) -> Command:
        """`apt-get download name:arch=version` in `dest` (it writes to the working dir)."""
        spec = pkg.name if pkg.arch in ("", "all") else f"{pkg.name}:{pkg.arch}"
        argv = ("apt-get", "-q", "download", *self._proxy(target), f"{spec}={pkg.version}")
        return Command(argv, self.env(target), cwd=dest)

    def restore(self, target: Target, files: Sequence[str]) -> Command:
        """`apt-get install --allow-downgrades /path/x.deb …` (dependencies still checked)."""
        argv = ["apt-get", "install", "-q", "-y", "--allow-downgrades", "--no-install-recommends"]
        return Command(tuple(argv + self._options(target) + list(files)), self.env(target))

    def parse_plan(self, output: str) -> Plan:
        """Changes from `Inst`/`Remv` lines; refusals from apt's own sentences."""
        changes: List[Change] = []
        newest: List[Installed] = []
        skipped: List[str] = []
        unavailable: List[str] = []
        downgraded = _listed_after(output, "The following packages will be DOWNGRADED:")
        for line in output.splitlines():
            inst = _INST_RE.match(line)
            if inst:
                name, arch_q = split_arch(inst.group(1))
                old, new, arch = inst.group(2), inst.group(3), inst.group(4) or arch_q
                if old is None:
                    kind = "install"
                elif name in downgraded or inst.group(1) in downgraded:
                    kind = "downgrade"
                elif old == new:
                    kind = "reinstall"
                else:
                    kind = "upgrade"
                changes.append(Change(name, kind, new, old or "", arch))
                continue
            remv = _REMV_RE.match(line)
            if remv:
                name, arch = split_arch(remv.group(1))
                changes.append(Change(name, "remove", "", remv.group(2) or "", arch))
                continue
            found = _NEWEST_RE.match(line)
            if found:
                newest.append(Installed(split_arch(found.group(1))[0], found.group(2)))
                continue
            found = _SKIP_RE.match(line)
            if found:
                skipped.append(split_arch(found.group(1))[0])
                continue
            found = _VERSION_NOT_FOUND_RE.search(line)
            if found:
                unavailable.append(f"{found.group(2)}={found.group(1)}")
                continue
            found = _NOT_LOCATED_RE.search(line)
            if found:
                unavailable.append(found.group(1))
        # apt -y refuses a downgrade before printing its Inst line: the heading still says it.
        listed = {c.name for c in changes}
        changes.extend(
            Change(split_arch(n)[0], "downgrade", arch=split_arch(n)[1])
            for n in sorted(downgraded)
            if split_arch(n)[0] not in listed
        )
        return Plan(tuple(changes), tuple(newest), tuple(skipped), tuple(unavailable))

    def parse_query(self, output: str) -> Dict[str, Installed]:
        """Installed packages (status `ii`/`iU`… with files on disk) of dpkg-query output."""
        found: Dict[str, Installed] = {}
        for line in output.splitlines():
            parts = line.split("\t")
            if len(parts) < 4 or len(parts[3]) < 2:
                continue
            name, version, arch, status = parts[0], parts[1], parts[2], parts[3]
            # Second letter of db:Status-Abbrev: i(nstalled), U(npacked), F(ailed config),
            # H(alf-installed), W/t (triggers): the files are there. n/c: not installed.
            if status[1] in "nc" or not version:
                continue
            found.setdefault(name, Installed(name, version, arch))
        return found

    def file_name(self, pkg: Installed) -> str:
        """`name_version_arch.deb`."""
        return deb_file_name(pkg)

    def cached_file(self, root: Path, pkg: Installed) -> Optional[Path]:
        """`/var/cache/apt/archives/name_version_arch.deb`, when apt kept it."""
        path = resolve_in_root(root, f"{ARCHIVES}/{deb_file_name(pkg)}")
        return path if path.is_file() and path.stat().st_size > 0 else None

    def owned_files(self, root: Path, name: str) -> List[str]:
        """Paths in `/var/lib/dpkg/info/NAME[:ARCH].list` (relative to the root)."""
        info = resolve_in_root(root, "var/lib/dpkg/info")
        lists = [info / f"{name}.list"] + sorted(info.glob(f"{name}:*.list"))
        paths: List[str] = []
        for path in lists:
            try:
                text = path.read_text("utf-8", "replace")
            except OSError:
                continue
            paths.extend(line.strip().lstrip("/") for line in text.splitlines() if line.strip())
        return [p for p in paths if p and p != "."]

    def is_kernel(self, name: str) -> bool:
        """linux-image-<release> packages."""
        return DEB_KERNEL_RE.match(name) is not None


def _listed_after(output: str, heading: str) -> Set[str]:
    """Package names apt lists (indented, blank-separated) under `heading`."""
    names: Set[str] = set()
    lines = iter(output.splitlines())
    for line in lines:
        if line.strip() != heading:
            continue
        for item in lines:
            if not item.startswith(" "):
                break
            names.update(item.split())
    return names
