"""A real Debian 12 (bookworm) chroot for the remediation tests: debootstrap once, cache, reuse.

`debootstrap --variant=minbase bookworm` builds the root the first time (about a minute); the
result is cached as a tarball under `.cache/chroot/` (gitignored) and every later session
unpacks it (a few seconds). The apt sources are this machine's own mirrors, read from
`/etc/apt/sources.list.d/debian.sources`: `bookworm` and `bookworm-security`. A session's
chroot gets `proc` mounted, `/etc/resolv.conf` copied in and fresh lists (`apt-get update`);
teardown stops every process still running in it, unmounts what is mounted under it and
deletes it. Delete the cache directory to rebuild from scratch. scripts/demo-host (`make
demo-host`) builds its long-lived chroot host from the same pieces (`unpack`, `mount_proc`).
"""

from __future__ import annotations

import fcntl
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.paths import REPO
from tests.tools import require

CACHE = REPO / ".cache" / "chroot"
TARBALL = CACHE / "debian-bookworm-minbase.tar"
SOURCES = Path("/etc/apt/sources.list.d/debian.sources")
SUITE = "bookworm"
ENV = {
    "PATH": "/usr/sbin:/usr/bin:/sbin:/bin",
    "LC_ALL": "C",
    "DEBIAN_FRONTEND": "noninteractive",
}


def apt_mirrors(path: Path = SOURCES) -> tuple[str, str]:
    """(Debian mirror, security mirror) this machine's deb822 apt sources use for bookworm."""
    debian = security = ""
    for stanza in path.read_text().split("\n\n"):
        fields = {
            k.strip(): v.strip()
            for k, _, v in (line.partition(":") for line in stanza.splitlines())
            if not k.startswith("#") and v
        }
        suites = fields.get("Suites", "").split()
        uri = fields.get("URIs", "").split()[0] if fields.get("URIs") else ""
        if SUITE in suites and not debian:
            debian = uri
        if f"{SUITE}-security" in suites and not security:
            security = uri
    if not (debian and security):
        pytest.fail(f"{path} names no {SUITE} and {SUITE}-security mirrors", pytrace=False)
    return debian, security


def sources_list(debian: str, security: str) -> str:
    """The chroot's /etc/apt/sources.list."""
    return f"deb {debian} {SUITE} main\ndeb {security} {SUITE}-security main\n"


def _run(argv: Sequence[str], timeout: float = 900) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(
        list(argv), capture_output=True, text=True, env=ENV, timeout=timeout, check=False
    )
    if done.returncode != 0:
        pytest.fail(f"{' '.join(argv)} failed ({done.returncode}):\n{done.stdout[-3000:]}"
                    f"\n{done.stderr[-3000:]}", pytrace=False)  # fmt: skip
    return done


def ensure_tarball() -> Path:
    """The cached minbase tarball, built first when missing (one builder at a time)."""
    require("debootstrap", "debootstrap")
    require("chroot", "coreutils")
    CACHE.mkdir(parents=True, exist_ok=True)
    with (CACHE / ".lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # another xdist worker may be building it
        if TARBALL.is_file():
            return TARBALL
        debian, security = apt_mirrors()
        work = CACHE / f"build-{os.getpid()}"
        shutil.rmtree(work, ignore_errors=True)
        root = work / "root"
        try:
            _run(["debootstrap", "--variant=minbase", SUITE, str(root), debian])
            (root / "etc/apt/sources.list").write_text(sources_list(debian, security))
            # Lists and downloaded packages are fetched fresh per session.
            for pattern in ("var/cache/apt/archives/*.deb", "var/lib/apt/lists/*_*"):
                for path in root.glob(pattern):
                    path.unlink()
            partial = TARBALL.with_suffix(".partial")
            _run(["tar", "-C", str(root), "-cf", str(partial), "."])
            os.replace(partial, TARBALL)
        finally:
            shutil.rmtree(work, ignore_errors=True)
    return TARBALL


@dataclass(frozen=True)
class Policy:
    """`apt-cache policy` of one package."""

    installed: str
    candidate: str
    versions: dict[str, list[str]]
    """version -> the suites offering it ("bookworm/main", "bookworm-security/main")."""

    def from_suite(self, suite: str) -> list[str]:
        """Versions a suite offers, newest first (as apt lists them)."""
        return [
            v
            for v, suites in self.versions.items()
            if any(s.startswith(suite + "/") for s in suites)
        ]


def parse_policy(text: str) -> Policy:
    """Parse `apt-cache policy PKG` output."""
    installed = re.search(r"Installed: (\S+)", text)
    candidate = re.search(r"Candidate: (\S+)", text)
    versions: dict[str, list[str]] = {}
    current = ""
    for line in text.splitlines():
        head = re.match(r"^ (?:\*\*\*| {3}) (\S+) -?\d+$", line)
        if head:
            current = head.group(1)
            versions[current] = []
            continue
        origin = re.match(r"^\s+-?\d+ \S+ (\S+) \S+ Packages$", line)
        if origin and current:
            versions[current].append(origin.group(1))
    return Policy(
        installed.group(1) if installed else "(none)",
        candidate.group(1) if candidate else "(none)",
        versions,
    )


class DebianChroot:
    """A live bookworm chroot: run commands in it, read its packages."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def run(
        self, *argv: str, check: bool = True, timeout: float = 300
    ) -> subprocess.CompletedProcess[str]:
        """`chroot ROOT argv…` (non-interactive apt); fails the test on error when `check`."""
        done = subprocess.run(
            ["chroot", str(self.root), *argv],
            capture_output=True,
            text=True,
            env=ENV,
            timeout=timeout,
            check=False,
        )
        if check and done.returncode != 0:
            pytest.fail(
                f"chroot {' '.join(argv)} failed ({done.returncode}):\n{done.stdout[-2000:]}"
                f"\n{done.stderr[-2000:]}",
                pytrace=False,
            )
        return done

    def policy(self, package: str) -> Policy:
        """apt's view of `package`."""
        return parse_policy(self.run("apt-cache", "policy", package).stdout)

    def version(self, package: str) -> str:
        """Installed version of `package` ("" when not installed)."""
        done = self.run(
            "dpkg-query", "-W", "-f", "${Version}|${db:Status-Abbrev}", package, check=False
        )
        version, _, status = done.stdout.partition("|")
        return version if done.returncode == 0 and status.startswith("ii") else ""

    def install(self, package: str, version: str) -> None:
        """`apt-get install --allow-downgrades package=version`."""
        self.run(
            "apt-get", "install", "-q", "-y", "--allow-downgrades", "--no-install-recommends",
            f"{package}={version}",
        )  # fmt: skip

    def dpkg_list(self) -> str:
        """`dpkg -l`: every package's state, version and architecture."""
        return self.run("dpkg", "-l").stdout

    def archive_sha256(self, package: str, version: str) -> str:
        """The SHA256 the archive publishes for `package` at `version` (`apt-cache show`)."""
        text = self.run("apt-cache", "show", f"{package}={version}").stdout
        found = re.search(r"^SHA256: (\S+)", text, re.MULTILINE)
        assert found, text
        return found.group(1)

    def processes(self) -> list[int]:
        """Pids of processes whose root directory is this chroot."""
        real = os.path.realpath(self.root)
        found = []
        for entry in os.scandir("/proc"):
            if not entry.name.isdigit():
                continue
            try:
                if os.path.realpath(os.readlink(f"/proc/{entry.name}/root")) == real:
                    found.append(int(entry.name))
            except OSError:
                continue
        return found

    def mounts(self) -> list[str]:
        """Mount points under the chroot, deepest first."""
        real = os.path.realpath(self.root)
        points = []
        for line in Path("/proc/self/mounts").read_text().splitlines():
            point = line.split()[1].replace("\\040", " ")
            if point == real or point.startswith(real + "/"):
                points.append(point)
        return sorted(points, key=len, reverse=True)


def unpack(root: Path) -> DebianChroot:
    """The cached tarball unpacked into `root` (made here; it must not exist yet)."""
    tarball = ensure_tarball()
    root.mkdir(parents=True)
    _run(["tar", "-C", str(root), "-xf", str(tarball)])
    return DebianChroot(root)


def mount_proc(chroot: DebianChroot) -> None:
    """Mount proc in the chroot and copy this machine's resolv.conf in (apt needs both)."""
    require("mount", "mount")
    shutil.copyfile("/etc/resolv.conf", chroot.root / "etc/resolv.conf")
    _run(["mount", "-t", "proc", "proc", str(chroot.root / "proc")])


@contextmanager
def bookworm_chroot(base: Path) -> Iterator[DebianChroot]:
    """A fresh chroot from the cached tarball under `base`, with proc and fresh apt lists."""
    chroot = unpack(base / "bookworm")
    try:
        mount_proc(chroot)
        chroot.run("apt-get", "-q", "update")
        yield chroot
    finally:
        stop_and_unmount(chroot)
        shutil.rmtree(chroot.root, ignore_errors=True)


def stop_and_unmount(chroot: DebianChroot) -> None:
    """Kill what still runs in the chroot, then unmount everything under it."""
    for pid in chroot.processes():
        with suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    deadline = time.monotonic() + 10
    while chroot.processes() and time.monotonic() < deadline:
        time.sleep(0.1)
    for point in chroot.mounts():
        if subprocess.run(["umount", point], capture_output=True, check=False).returncode:
            subprocess.run(["umount", "-l", point], capture_output=True, check=False)


@contextmanager
def dpkg_lock_held(root: Path) -> Iterator[subprocess.Popen[str]]:
    """A real process holding the dpkg frontend lock of the system under `root` (a POSIX record
    lock, as dpkg and apt take it) for the duration; yields it (its pid names the holder)."""
    lock = root / "var/lib/dpkg/lock-frontend"
    holder = subprocess.Popen(
        [sys.executable, "-c",
         "import fcntl, os, time\n"
         f"fd = os.open({str(lock)!r}, os.O_RDWR | os.O_CREAT)\n"
         "fcntl.lockf(fd, fcntl.LOCK_EX)\n"
         "print('locked', flush=True)\n"
         "time.sleep(600)\n"],
        stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert holder.stdout is not None and holder.stdout.readline() == "locked\n"
        yield holder
    finally:
        holder.kill()
        holder.wait()
