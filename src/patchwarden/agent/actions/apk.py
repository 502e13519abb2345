"""apk (Alpine): install exactly the fixed versions with apk-tools 2.

* `apk update`, then `apk add --simulate --upgrade name=version …` (its `(1/2) Upgrading
  libssl3 (3.1.4-r5 -> 3.1.4-r6)` lines are the plan), then the same without `--simulate`.
* `apk add name=version` writes the constraint into `/etc/apk/world`, which would pin the
  package for good: afterwards each package goes back to how world named it (`apk add name`
  re-adds it without a version; one that was not in world is dropped from it again with
  `apk del name`, which keeps it installed because others depend on it).
* A proxy goes in as `http_proxy` / `https_proxy` (apk honours them).
* Versions come from `apk info -v` lines (`libssl3-3.1.4-r6`); snapshots keep the cached
  `.apk` (`/var/cache/apk`) or `apk fetch -o DIR name=version`; restore is `apk add
  /path/x.apk …` (fetched files keep their repository signatures).

Outputs the tests read are written from apk-tools' documentation and messages quoted in its
issue tracker (tests/data/remediation/apk); there is no Alpine host here.
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
from patchwarden.agent.collectors.apk import INSTALLED
from patchwarden.agent.collectors.base import resolve_in_root
from patchwarden.agent.collectors.kernel import APK_KERNEL_RE

WORLD = "etc/apk/world"
# `(1/2) Upgrading libssl3 (3.1.4-r5 -> 3.1.4-r6)`, `(2/2) Installing foo (1.0-r0)`,
# `Purging x (1.0-r0)`, `Replacing x (1.0-r0 -> 1.0-r0)`.
_STEP_RE = re.compile(
    r"^\(\d+/\d+\) (Upgrading|Installing|Downgrading|Purging|Deleting|Replacing|Reinstalling)"
    r" (\S+) \((\S+)(?: -> (\S+))?\)"
)
_KINDS = {
    "Upgrading": "upgrade",
    "Installing": "install",
    "Downgrading": "downgrade",
    "Purging": "remove",
    "Deleting": "remove",
    "Replacing": "reinstall",
    "Reinstalling": "reinstall",
}
_NO_SUCH_RE = re.compile(r"^\s+(\S+) \(no such package\):")
_BREAKS_WORLD_RE = re.compile(r"breaks: world\[([^=\]\s]+)=([^\]\s]+)\]")


def apk_spec(wanted: Wanted) -> str:
    """`name=version`: apk's exact-version constraint (apk-world(5))."""
    return f"{wanted.name}={wanted.version}"


def split_name_version(text: str) -> Optional[Tuple[str, str]]:
    """("libssl3", "3.1.4-r6") from apk's `libssl3-3.1.4-r6`: the version starts at the last
    '-' followed by a digit that leaves a `-rN` release behind it."""
    found = re.match(r"^(.+?)-(\d[^-]*-r\d+)$", text)
    return (found.group(1), found.group(2)) if found else None


class Apk(PackageManager):
    """apk-tools 2."""

    name = "apk"
    format = "apk"
    programs = ("apk",)
    write_paths = ("var/cache/apk", "lib/apk/db", "usr")
    permission_paths = ("", "lib/apk/db", "etc/apk", "usr", "usr/bin", "usr/lib", "lib")
    lock_files = (LockFile("lib/apk/db/lock", "flock"),)

    def env(self, target: Target) -> Dict[str, str]:
        """A proxy through the environment (apk reads http_proxy / https_proxy)."""
        if not target.proxy:
            return {}
        return {"http_proxy": target.proxy, "https_proxy": target.proxy}

    def refresh(self, target: Target) -> Optional[Command]:
        """`apk update`."""
        return Command(("apk", "update"), self.env(target))

    def plan(self, target: Target, wanted: Sequence[Wanted]) -> Command:
        """`apk add --simulate --upgrade name=version …`."""
        argv = ("apk", "add", "--simulate", "--upgrade", *[apk_spec(w) for w in wanted])
        return Command(argv, self.env(target))

    def install(self, target: Target, wanted: Sequence[Wanted]) -> Command:
        """`apk add --upgrade name=version …`."""
        return Command(
            ("apk", "add", "--upgrade", *[apk_spec(w) for w in wanted]), self.env(target)
        )

    def after_install(self, target: Target, wanted: Sequence[Wanted]) -> List[Command]:
        """Give world back its own words for each package (no version pin left behind)."""
        world = self.world(target.root)
        commands: List[Command] = []
        readd = [w.name for w in wanted if w.name in world]
        drop = [w.name for w in wanted if w.name not in world]
        if readd:
            commands.append(Command(("apk", "add", *readd), self.env(target)))
        if drop:
            commands.append(Command(("apk", "del", *drop), self.env(target)))
        return commands

    @staticmethod
    def world(root: Path) -> Set[str]:
        """Package names `/etc/apk/world` asks for (constraints stripped)."""
        try:
            text = resolve_in_root(root, WORLD).read_text("utf-8", "replace")
        except OSError:
            return set()
        return {re.split(r"[<>=~@]", item, maxsplit=1)[0] for item in text.split() if item}

    def query(self, names: Sequence[str]) -> Command:
        """`apk info -v name …`: `name-version` of each installed one."""
        return Command(("apk", "info", "-v", *names))

    def manifest(self) -> Command:
        """`apk info -v`: every installed package as `name-version`."""
        return Command(("apk", "info", "-v"))

    def download(self, target: Target, pkg: Installed, dest: str) -> Command:
        """`apk fetch -o DIR name=version`."""
        return Command(("apk", "fetch", "-o", dest, f"{pkg.name}={pkg.version}"), self.env(target))

    def restore(self, target: Target, files: Sequence[str]) -> Command:
        """`apk add /path/x.apk …` (the fetched files keep their repository signatures)."""
        return Command(("apk", "add", *files), self.env(target))

    def parse_plan(self, output: str) -> Plan:
        """Steps of the simulated transaction; `no such package` / a broken pin = unavailable."""
        changes: List[Change] = []
        unavailable: List[str] = []
        for line in output.splitlines():
            step = _STEP_RE.match(line)
            if step:
                kind = _KINDS[step.group(1)]
                first, second = step.group(3), step.group(4)
                if second is not None:
                    changes.append(Change(step.group(2), kind, second, first))
                elif kind == "remove":
                    changes.append(Change(step.group(2), kind, "", first))
                else:
                    changes.append(Change(step.group(2), kind, first))
                continue
            found = _NO_SUCH_RE.match(line)
            if found:
                unavailable.append(found.group(1))
                continue
            found = _BREAKS_WORLD_RE.search(line)
            if found:
                unavailable.append(f"{found.group(1)}={found.group(2)}")
        return Plan(tuple(changes), (), (), tuple(dict.fromkeys(unavailable)))

    def parse_query(self, output: str) -> Dict[str, Installed]:
        """name -> installed package from `apk info -v` lines (`libssl3-3.1.4-r6`)."""
        found: Dict[str, Installed] = {}
        for line in output.splitlines():
            pair = split_name_version(line.strip())
            if pair:
                found.setdefault(pair[0], Installed(pair[0], pair[1]))
        return found

    def file_name(self, pkg: Installed) -> str:
        """`name-version.apk` (what `apk fetch` writes)."""
        return f"{pkg.name}-{pkg.version}.apk"

    def cached_file(self, root: Path, pkg: Installed) -> Optional[Path]:
        """`/var/cache/apk/name-version.<hash>.apk`, when a cache is set up."""
        cache = resolve_in_root(root, "var/cache/apk")
        if not cache.is_dir():
            return None
        for path in sorted(cache.glob(f"{pkg.name}-{pkg.version}.*.apk")):
            if path.is_file() and path.stat().st_size > 0:
                return path
        return None

    def owned_files(self, root: Path, name: str) -> List[str]:
        """Files of package `name` from the installed database (`F:` dir, `R:` file lines)."""
        try:
            text = resolve_in_root(root, INSTALLED).read_text("utf-8", "replace")
        except OSError:
            return []
        paths: List[str] = []
        for stanza in text.split("\n\n"):
            lines = stanza.splitlines()
            if f"P:{name}" not in lines:
                continue
            folder = ""
            for line in lines:
                if line.startswith("F:"):
                    folder = line[2:]
                    paths.append(folder)
                elif line.startswith("R:"):
                    paths.append(f"{folder}/{line[2:]}" if folder else line[2:])
        return paths

    def is_kernel(self, name: str) -> bool:
        """linux-lts, linux-virt, … ."""
        return APK_KERNEL_RE.match(name) is not None
