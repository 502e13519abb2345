"""Prechecks before a fix (SPEC R-F2): facts collected with every inventory, checked again fresh.

Each check reads the root and the running system, never changes anything, and yields a stable
code: `eol` (the OS is past its end of life: the EOL table of the os-release collector),
`disk_space` (less than `min_free_bytes` free on a filesystem the package manager writes,
measured with statvfs under the root), `pm_locked` (a package-manager lock is held: dpkg and
rpm locks through fcntl F_GETLK, apk's through a non-blocking flock attempt, dnf's and yum's
pid files; or apt/dpkg/dnf/yum/apk is running on this root, from /proc), `permission` (the
agent is not root, or what the package manager writes is not safely root's), `no_update` (no
repository offers the fixed version; decided from the package manager's dry run in
`actions.fix`).

The same facts travel in the inventory (`core.inventory.RemediationFacts`), so the console
refuses at queue time with the agent's latest knowledge; `RemediationFacts.blockers()` turns
them into the refusals both sides use.
"""

from __future__ import annotations

import errno
import fcntl
import os
import stat
import struct
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, Iterable, List, Optional, Sequence, Set, Tuple

from patchwarden.agent.actions import package_manager_for
from patchwarden.agent.actions.base import LockFile, PackageManager
from patchwarden.agent.collectors.base import resolve_in_root
from patchwarden.agent.snapshots import available_providers
from patchwarden.agent.snapshots.base import SnapshotStore
from patchwarden.core.inventory import (
    Blocker,
    FreeSpace,
    HeldLock,
    Kernel,
    OsRelease,
    PermissionProblem,
    RemediationFacts,
    SnapshotFact,
)
from patchwarden.protocol import v1

PROC = Path("/proc")
MAX_PROBLEMS = 20
"""Most permission problems reported (the first ones say enough)."""


@dataclass(frozen=True)
class Setup:
    """What the agent tells the remediation collector and the prechecks."""

    exec_mode: str = ""
    """"direct", "chroot", or "" when the agent cannot run commands on the root."""
    snapshot_dir: Optional[Path] = None
    """Where the agent keeps snapshots (their facts go into the inventory)."""
    min_free_bytes: int = v1.MIN_FREE_BYTES
    proc: Path = PROC
    """The proc filesystem to read processes and locks from (tests use a fake tree)."""


def gather(
    root: Path,
    os_release: Optional[OsRelease],
    kernel: Optional[Kernel],
    setup: Setup,
) -> RemediationFacts:
    """Every precheck fact about fixing the system under `root`."""
    pm = package_manager_for(root, os_release)
    snapshots: Tuple[SnapshotFact, ...] = ()
    if setup.snapshot_dir is not None:
        snapshots = tuple(
            SnapshotFact(s.id, s.provider, s.created_at, s.expires_at, s.size_bytes, s.owner)
            for s in SnapshotStore(setup.snapshot_dir).list()
        )
    return RemediationFacts(
        package_manager=pm.name if pm else "",
        exec_mode=setup.exec_mode,
        free_space=free_space(root, pm.write_paths) if pm else (),
        min_free_bytes=setup.min_free_bytes,
        locks=held_locks(root, pm, setup.proc) if pm else (),
        permission_problems=permission_problems(root, pm.permission_paths) if pm else (),
        snapshot_providers=available_providers(root, setup.exec_mode, setup.proc / "self/mounts"),
        snapshots=snapshots,
        boot_default_pinned=boot_default_pinned(kernel),
        boot_id=boot_id(root, setup) if setup.exec_mode == "direct" else "",
    )


def boot_id(root: Path, setup: Setup) -> str:
    """The running system's boot id when `root` is the running system ("" otherwise): it
    changes at every boot, so the console can tell the host restarted (R-F4)."""
    if os.path.realpath(str(root)) != "/":
        return ""
    try:
        text = (setup.proc / "sys/kernel/random/boot_id").read_text("ascii", "replace")
    except OSError:
        return ""
    text = text.strip()
    return text if len(text) <= 64 and text.replace("-", "").isalnum() else ""


def refusals(
    facts: RemediationFacts,
    os_release: OsRelease,
    pm: Optional[PackageManager] = None,
    root: Optional[Path] = None,
    names: Sequence[str] = (),
) -> List[v1.ActionError]:
    """The facts' blockers as action errors, plus unsafe files of the packages `names`."""
    found = [_error(b) for b in facts.blockers(os_release)]
    if pm is not None and root is not None and names:
        files = package_file_problems(root, pm, names)
        found.extend(
            _error(
                Blocker(
                    "permission",
                    "failed to obtain permission: check permissions and retry"
                    f" (/{p.path}: {p.problem})",
                )
            )
            for p in files
        )
    return found


def _error(blocker: Blocker) -> v1.ActionError:
    hints = {
        "eol": "upgrade the operating system to a supported release, then fix",
        "disk_space": "free space (apt-get clean / dnf clean packages remove downloaded"
        " packages), then retry",
        "pm_locked": "wait for the other package operation to finish, then retry",
        "permission": "run the agent as root and give the files back to root (chown root,"
        " chmod go-w), then retry",
        "not_supported": "",
    }
    return v1.ActionError(blocker.code, blocker.reason, hints.get(blocker.code, ""))


# -- kernel ------------------------------------------------------------------------------------


def boot_default_pinned(kernel: Optional[Kernel]) -> Optional[bool]:
    """True when the boot loader starts a kernel other than the newest installed (R-F5)."""
    if kernel is None or not kernel.boot_default or not kernel.newest_installed:
        return None
    return kernel.boot_default != kernel.newest_installed


# -- disk --------------------------------------------------------------------------------------


def free_space(root: Path, paths: Iterable[str]) -> Tuple[FreeSpace, ...]:
    """statvfs of each filesystem holding one of `paths` (first path per filesystem).

    A path that does not exist yet is measured at its nearest existing parent: that is where
    the package manager's files will land.
    """
    seen: Set[int] = set()
    found: List[FreeSpace] = []
    for rel in paths:
        path = _existing(resolve_in_root(root, rel), root)
        try:
            device = os.stat(path).st_dev
            vfs = os.statvfs(path)
        except OSError:
            continue
        if device in seen:
            continue
        seen.add(device)
        found.append(FreeSpace(rel, vfs.f_bavail * vfs.f_frsize, vfs.f_blocks * vfs.f_frsize))
    return tuple(found)


def _existing(path: Path, root: Path) -> Path:
    """`path`, or its nearest existing parent (never above `root`)."""
    while not path.exists() and path != root and path.parent != path:
        path = path.parent
    return path


# -- locks -------------------------------------------------------------------------------------

# struct flock: short l_type, short l_whence, off_t l_start, off_t l_len, pid_t l_pid (+ padding
# the kernel may write: the buffer is longer than the fields we read).
_FLOCK = "hhqqi"
_FLOCK_BUFFER = struct.calcsize(_FLOCK) + 16


def fcntl_holder(path: Path) -> Optional[int]:
    """Pid of the process holding a POSIX write lock conflicting with ours on `path` (0 when
    the kernel does not say), None when nobody holds one. F_GETLK only asks: it takes nothing.
    """
    try:
        fd = os.open(str(path), os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    except OSError:
        return None
    try:
        query = struct.pack(_FLOCK, fcntl.F_WRLCK, os.SEEK_SET, 0, 0, 0)
        query += b"\0" * (_FLOCK_BUFFER - len(query))
        answer = fcntl.fcntl(fd, fcntl.F_GETLK, query)
        l_type, _, _, _, l_pid = struct.unpack_from(_FLOCK, answer)
    except OSError:
        return None
    finally:
        os.close(fd)
    return None if l_type == fcntl.F_UNLCK else max(l_pid, 0)


def flock_held(path: Path) -> bool:
    """True when another open file holds a flock(2) lock on `path` (a non-blocking attempt,
    released at once when it succeeds)."""
    try:
        fd = os.open(str(path), os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    except OSError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError as exc:
        return exc.errno in (errno.EWOULDBLOCK, errno.EAGAIN)
    finally:
        os.close(fd)  # closing releases a lock we got
    return False


def pidfile_holder(path: Path, proc: Path = PROC) -> Optional[int]:
    """The pid written in a dnf/yum lock file, when that process is alive."""
    try:
        text = path.read_text("ascii", "replace").strip()
    except OSError:
        return None
    if not text.isdigit():
        return None
    pid = int(text)
    return pid if (proc / str(pid)).is_dir() else None


def _lock_pids(proc: Path) -> Dict[int, int]:
    """inode -> pid of every lock /proc/locks lists (to name who holds a flock)."""
    found: Dict[int, int] = {}
    try:
        text = (proc / "locks").read_text("ascii", "replace")
    except OSError:
        return found
    for line in text.splitlines():
        parts = line.split()
        # "1: FLOCK  ADVISORY  WRITE 812 fe:00:2189896 0 EOF" ("->" marks a waiter)
        if len(parts) >= 6 and parts[1] != "->" and parts[4].isdigit():
            inode = parts[5].rsplit(":", 1)[-1]
            if inode.isdigit():
                found.setdefault(int(inode), int(parts[4]))
    return found


def held_locks(root: Path, pm: PackageManager, proc: Path = PROC) -> Tuple[HeldLock, ...]:
    """Locks of `pm` held on this root, then its programs running on this root."""
    found: List[HeldLock] = []
    holders: Set[int] = set()
    for lock in pm.lock_files:
        pid = _holder(resolve_in_root(root, lock.path), lock, proc)
        if pid is None:
            continue
        found.append(HeldLock(lock.path, pid or None, _comm(proc, pid) if pid else ""))
        holders.add(pid)
    for pid, name in running_programs(root, pm.programs, proc):
        if pid not in holders:
            found.append(HeldLock("", pid, name))
    return tuple(found)


def _holder(path: Path, lock: LockFile, proc: Path) -> Optional[int]:
    if lock.kind == "fcntl":
        return fcntl_holder(path)
    if lock.kind == "flock":
        if not flock_held(path):
            return None
        try:
            return _lock_pids(proc).get(os.stat(path).st_ino, 0)
        except OSError:
            return 0
    if lock.kind == "pidfile":
        return pidfile_holder(path, proc)
    raise ValueError(f"unknown lock kind {lock.kind!r}")


def _comm(proc: Path, pid: int) -> str:
    try:
        return (proc / str(pid) / "comm").read_text("utf-8", "replace").strip()
    except OSError:
        return ""


def running_programs(
    root: Path, programs: Sequence[str], proc: Path = PROC
) -> List[Tuple[int, str]]:
    """(pid, name) of processes named in `programs` whose root directory is `root`.

    A process in a chroot or container elsewhere works on another package database; only
    those whose `/proc/PID/root` is this root compete with a fix.
    """
    wanted = set(programs)
    real_root = os.path.realpath(str(root))
    me = os.getpid()
    found: List[Tuple[int, str]] = []
    try:
        entries = list(os.scandir(proc))
    except OSError:
        return found
    for entry in entries:
        if not entry.name.isdigit() or int(entry.name) == me:
            continue
        name = _comm(proc, int(entry.name))
        if name not in wanted or _idle_helper(Path(entry.path)):
            continue
        try:
            process_root = os.readlink(os.path.join(entry.path, "root"))
        except OSError:
            continue
        if os.path.realpath(process_root) == real_root:
            found.append((int(entry.name), name))
    return sorted(found)


# Long-running helpers whose name looks like a package manager's but that hold no lock: Ubuntu's
# unattended-upgrade-shutdown waits for shutdown all the time, and its comm is, like the real
# unattended-upgrade's, "unattended-upgr".
_IDLE_HELPERS = ("unattended-upgrade-shutdown",)


def _idle_helper(process: Path) -> bool:
    try:
        cmdline = (process / "cmdline").read_bytes().replace(b"\0", b" ").decode("utf-8", "replace")
    except OSError:
        return False
    return any(helper in cmdline for helper in _IDLE_HELPERS)


# -- permissions -------------------------------------------------------------------------------


def permission_problems(
    root: Path, paths: Iterable[str], euid: Optional[int] = None
) -> Tuple[PermissionProblem, ...]:
    """The agent not being root, and directories the package manager writes that are not
    safely root's (owner, group- or world-writable)."""
    found: List[PermissionProblem] = []
    uid = os.geteuid() if euid is None else euid
    if uid != 0:
        found.append(PermissionProblem("", f"the agent runs as uid {uid}, not as root"))
    for rel in paths:
        path = resolve_in_root(root, rel)
        try:
            st = os.stat(path)
        except OSError:
            continue
        problem = unsafe(st, directory_group_ok=False)
        if problem:
            found.append(PermissionProblem(rel, problem))
    return tuple(found[:MAX_PROBLEMS])


def unsafe(st: os.stat_result, directory_group_ok: bool = True) -> Optional[str]:
    """Why a file with this status is not safely root's, or None."""
    if st.st_uid != 0:
        return f"owned by uid {st.st_uid}, not root"
    is_dir = stat.S_ISDIR(st.st_mode)
    if st.st_mode & stat.S_IWOTH and not (is_dir and st.st_mode & stat.S_ISVTX):
        return "writable by everyone"
    if st.st_mode & stat.S_IWGRP and st.st_gid != 0 and not (is_dir and directory_group_ok):
        return f"writable by group {st.st_gid}"
    return None


def package_file_problems(
    root: Path, pm: PackageManager, names: Sequence[str]
) -> Tuple[PermissionProblem, ...]:
    """Files of packages `names` (what the fix replaces) that are not safely root's.

    Symlinks are skipped (their mode means nothing); ownership dpkg-statoverride sets on
    purpose is accepted; directories may be group-writable (setgid group directories such as
    /var/mail are, by design).
    """
    overrides = _statoverrides(root)
    found: List[PermissionProblem] = []
    for name in names:
        for rel in pm.owned_files(root, name):
            if rel in overrides:
                continue
            parent, _, leaf = rel.rpartition("/")
            try:
                # The directories on the way resolve inside the root; the file itself not (a
                # symlink is skipped, not followed).
                st = os.lstat(resolve_in_root(root, parent) / leaf)
            except OSError:
                continue
            if stat.S_ISLNK(st.st_mode):
                continue
            problem = unsafe(st)
            if problem:
                found.append(PermissionProblem(rel, problem))
                if len(found) >= MAX_PROBLEMS:
                    return tuple(found)
    return tuple(found)


def _statoverrides(root: Path) -> Set[str]:
    """Paths (relative) whose owner and mode dpkg-statoverride sets on purpose."""
    try:
        text = resolve_in_root(root, "var/lib/dpkg/statoverride").read_text("utf-8", "replace")
    except OSError:
        return set()
    return {
        line.split(None, 3)[3].lstrip("/") for line in text.splitlines() if len(line.split()) >= 4
    }
