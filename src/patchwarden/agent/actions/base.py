"""Package-manager plug-in family (STYLE P1/P4): pure command builders and output parsers.

A fix, a rollback and the prechecks ask a `PackageManager` *what* to run (`Command` values:
argv lists, an environment, never shell text) and *what the output means* (`Plan`, installed
versions); `Target` says *where* it runs: directly on the running system, or inside
`chroot ROOT` for a mounted root (`patchwarden-agent --exec chroot`). Nothing here runs a
command; `execute` in `actions.fix` / `actions.rollback` does, through the target's runner.
"""

from __future__ import annotations

import os
import shlex
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, List, Mapping, Optional, Sequence, Tuple

from patchwarden.agent.runner import ChrootRunner, Completed, Runner, SubprocessRunner

EXEC_MODES = ("direct", "chroot")
"""How the agent runs package-manager commands: on the running system, or inside the root."""
DEFAULT_TIMEOUT = 1800.0
"""Longest a package-manager transaction may take (seconds; agent config `fix_timeout`)."""
QUERY_TIMEOUT = 300.0
"""Longest a read-only package-manager command may take (seconds)."""


@dataclass(frozen=True)
class Target:
    """Where remediation commands run: the root the agent inventories and how to reach it."""

    root: Path
    runner: Runner
    """Runs package-manager commands on the root (inside `chroot ROOT` in chroot mode)."""
    host_runner: Runner
    """Runs commands on the machine itself (volume snapshots, the reboot)."""
    exec_mode: str = "direct"
    """"direct" or "chroot" (EXEC_MODES)."""
    proxy: str = ""
    """HTTP(S) proxy for the package manager's downloads ("" = the host's own setting)."""
    timeout: float = DEFAULT_TIMEOUT

    @property
    def live(self) -> bool:
        """True when the root is the running system."""
        return os.path.realpath(str(self.root)) == "/"

    @property
    def cannot_execute(self) -> Optional[str]:
        """None when commands can act on this root, else why not (a sentence)."""
        if self.exec_mode == "chroot":
            return None
        if self.exec_mode == "direct" and self.live:
            return None
        return (
            f"{self.root} is not the running system: the agent can fix it only when started"
            " with --exec chroot"
        )

    def inside(self, path: Path) -> str:
        """`path` (under the root, as the agent sees it) as the commands see it."""
        rel = Path(os.path.realpath(str(path))).relative_to(os.path.realpath(str(self.root)))
        return "/" + str(rel) if str(rel) != "." else "/"

    def path(self, inside: str) -> Path:
        """A path as the commands see it, as the agent sees it."""
        return self.root / inside.lstrip("/")

    def show(self, command: Command) -> str:
        """`command` as a person would type it here (with `chroot ROOT` in chroot mode)."""
        if self.exec_mode != "chroot":
            return command.shown()
        # What ChrootRunner runs: a working directory is entered with `env -C`.
        inner = Command(command.argv, command.env).shown()
        cwd = f"env -C {shlex.quote(command.cwd)} " if command.cwd else ""
        return f"chroot {shlex.quote(str(self.root))} {cwd}{inner}"


def make_target(
    root: Path,
    exec_mode: str = "direct",
    proxy: str = "",
    timeout: float = DEFAULT_TIMEOUT,
    host_runner: Optional[Runner] = None,
) -> Target:
    """A target whose runner fits `exec_mode` (a `ChrootRunner` for "chroot")."""
    if exec_mode not in EXEC_MODES:
        raise ValueError(f"exec mode must be one of {EXEC_MODES}, got {exec_mode!r}")
    host = host_runner or SubprocessRunner()
    runner: Runner = ChrootRunner(root, host) if exec_mode == "chroot" else host
    return Target(root, runner, host, exec_mode, proxy, timeout)


@dataclass(frozen=True)
class Command:
    """One package-manager command: argv, extra environment, working directory (inside)."""

    argv: Tuple[str, ...]
    env: Mapping[str, str] = field(default_factory=dict)
    cwd: Optional[str] = None
    """Working directory as the command sees it (inside the root)."""

    def shown(self) -> str:
        """The command as a person would type it (for histories and `--dry-run`)."""
        parts = [f"{k}={shlex.quote(v)}" for k, v in sorted(self.env.items())]
        text = " ".join(parts + [shlex.join(self.argv)])
        return f"(cd {shlex.quote(self.cwd)} && {text})" if self.cwd else text


@dataclass(frozen=True)
class Wanted:
    """A package a fix asks for, at the exact (fixed) version."""

    name: str
    version: str


@dataclass(frozen=True)
class Installed:
    """An installed package as the package manager reports it."""

    name: str
    version: str
    arch: str = ""


CHANGE_KINDS = ("install", "upgrade", "downgrade", "remove", "reinstall")


@dataclass(frozen=True)
class Change:
    """One package a transaction changes."""

    name: str
    kind: str
    """One of CHANGE_KINDS."""
    to_version: str = ""
    """The version it installs ("" for a removal)."""
    from_version: str = ""
    """The version it replaces, when the output says ("" otherwise: ask `query`)."""
    arch: str = ""


@dataclass(frozen=True)
class Plan:
    """What a transaction would do, parsed from the package manager's dry run."""

    changes: Tuple[Change, ...] = ()
    already_newest: Tuple[Installed, ...] = ()
    """Asked-for packages already at the newest version the repositories offer."""
    not_installed: Tuple[str, ...] = ()
    """Asked-for packages that are not installed (a fix only upgrades)."""
    unavailable: Tuple[str, ...] = ()
    """Asked-for name=version pairs no repository offers ("name=version")."""

    def change(self, name: str) -> Optional[Change]:
        """The change of package `name`, if the plan has one."""
        return next((c for c in self.changes if c.name == name), None)


@dataclass(frozen=True)
class LockFile:
    """A lock the package manager takes, and how it takes it."""

    path: str
    """Relative to the root."""
    kind: str
    """"fcntl" (POSIX record lock: dpkg, apt, rpm), "flock" (apk) or "pidfile" (dnf, yum:
    a file holding the pid of the process that holds the lock)."""


class PackageManager:
    """Base class of one package manager: builders and parsers, no I/O besides reading files
    under the root (`owned_files`, `cached_file`)."""

    name: str = ""
    format: str = ""
    """Package format: deb, rpm or apk (`Package.format`)."""
    programs: Tuple[str, ...] = ()
    """Process names (`/proc/PID/comm`, at most 15 characters) that mean it is running."""
    write_paths: Tuple[str, ...] = ()
    """Directories it writes during a transaction (relative to the root): the disk check
    measures their filesystems."""
    permission_paths: Tuple[str, ...] = ()
    """Directories whose ownership and mode must be root's for a safe transaction."""
    lock_files: Tuple[LockFile, ...] = ()
    reboot_flag: str = ""
    """A file whose presence after a transaction means a reboot is needed ("" = none)."""
    reboot_packages: Tuple[str, ...] = ()
    """Packages whose upgrade needs a reboot besides kernel images."""

    # -- builders ------------------------------------------------------------------------------

    def env(self, target: Target) -> Dict[str, str]:
        """Environment of every command (non-interactive, proxy)."""
        return {}

    def refresh(self, target: Target) -> Optional[Command]:
        """Refresh the repository metadata first (None: the transaction does it itself)."""
        return None

    def plan(self, target: Target, wanted: Sequence[Wanted]) -> Command:
        """A dry run of installing exactly `wanted` (changes nothing)."""
        raise NotImplementedError

    def install(self, target: Target, wanted: Sequence[Wanted]) -> Command:
        """Install exactly `wanted` (upgrades only; never a full upgrade)."""
        raise NotImplementedError

    def after_install(self, target: Target, wanted: Sequence[Wanted]) -> List[Command]:
        """Commands that undo side effects of `install` on the package manager's own state."""
        return []

    def query(self, names: Sequence[str]) -> Command:
        """Installed versions of `names`."""
        raise NotImplementedError

    def manifest(self) -> Command:
        """Every installed package with its version (the package-state manifest)."""
        raise NotImplementedError

    def download(self, target: Target, pkg: Installed, dest: str) -> Command:
        """Download the package file of exactly `pkg` into `dest` (inside the root)."""
        raise NotImplementedError

    def restore(self, target: Target, files: Sequence[str]) -> Command:
        """Install saved package files (paths inside the root), downgrades allowed."""
        raise NotImplementedError

    # -- parsers -------------------------------------------------------------------------------

    def parse_plan(self, output: str) -> Plan:
        """What the dry run says the transaction would do."""
        raise NotImplementedError

    def parse_query(self, output: str) -> Dict[str, Installed]:
        """name -> installed package, from `query` or `manifest` output."""
        raise NotImplementedError

    # -- files under the root ------------------------------------------------------------------

    def file_name(self, pkg: Installed) -> str:
        """The package file name a download of `pkg` produces."""
        raise NotImplementedError

    def cached_file(self, root: Path, pkg: Installed) -> Optional[Path]:
        """The package file of exactly `pkg` in the package manager's cache, if kept there."""
        return None

    def owned_files(self, root: Path, name: str) -> List[str]:
        """Paths (relative to the root) package `name` installed, as far as the database says."""
        return []

    def same_version(self, a: str, b: str) -> bool:
        """True when `a` and `b` name the same version in this format."""
        return a == b

    def is_kernel(self, name: str) -> bool:
        """True for kernel image packages (their fix needs a reboot)."""
        return False

    def needs_reboot(self, name: str) -> bool:
        """True when upgrading package `name` needs a reboot to take effect."""
        return self.is_kernel(name) or name in self.reboot_packages


def run(target: Target, command: Command, timeout: Optional[float] = None) -> Completed:
    """Run `command` on the target (inside the root in chroot mode); CommandNotFound when
    its program is missing."""
    return target.runner.run(
        command.argv,
        timeout=target.timeout if timeout is None else timeout,
        env=dict(command.env) or None,
        cwd=command.cwd,
    )
