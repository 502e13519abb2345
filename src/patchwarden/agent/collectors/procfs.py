"""Reading one process out of a proc filesystem (proc(5)), and the parsers it needs.

`read_process` returns a `ProcView`: everything the processes, components and fingerprints
collectors use about one process, read once. The proc tree may be the kernel's `/proc` or a
generated one (tests, benchmarks): files a process holds are then read under the scanned
root instead of through its `fd/` and `root/` links (`ProcView.open_path`).

A process can end at any moment: `ProcessGone` says it did (its directory or a file of it
vanished, or the kernel answers ESRCH), so callers can tell "ended" from "unreadable".
"""

from __future__ import annotations

import errno
import os
import re
import socket
import struct
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, FrozenSet, Iterator, List, Optional, Tuple

from patchwarden.core.inventory import ListeningPort

DELETED = " (deleted)"
PF_KTHREAD = 0x00200000
"""`flags` bit of a kernel thread (include/linux/sched.h)."""

# /proc/net/tcp states (include/net/tcp_states.h): LISTEN; a UDP socket that is bound but not
# connected shows TCP_CLOSE.
_TCP_LISTEN = "0A"
_UDP_UNCONNECTED = "07"
_GONE_ERRNOS = frozenset({errno.ENOENT, errno.ESRCH})


class ProcessGone(Exception):
    """The process ended while it was being read."""


class NotAProcess(Exception):
    """A kernel thread or a zombie: no program runs there to inventory."""


@dataclass(frozen=True)
class Mapping:
    """One file-backed line of /proc/PID/maps."""

    path: str
    """Without the ` (deleted)` suffix."""
    perms: str
    dev: str
    """`major:minor` in hex, as maps prints it."""
    inode: int
    deleted: bool

    @property
    def executable(self) -> bool:
        """Mapped with execute permission (code, not data)."""
        return "x" in self.perms


@dataclass
class ProcView:
    """What was read about one process (agent-internal; the inventory gets a ProcessInstance)."""

    pid: int
    proc: Path
    """The proc tree it was read from."""
    real: bool
    """True for the kernel's /proc of a live root: fd/ and root/ links reach the files."""
    scan_root: Path
    """The scanned root (where a generated tree's paths are read)."""
    name: str = ""
    ppid: int = 0
    start_ticks: int = 0
    uid: Optional[int] = None
    exe: str = ""
    exe_deleted: bool = False
    exe_problem: str = ""
    """Why the executable could not be read ("" when it could)."""
    argv: List[str] = field(default_factory=list)
    cwd: str = ""
    cgroup_text: str = ""
    fds: List[Tuple[int, str]] = field(default_factory=list)
    """(fd number, link target) of every open file descriptor."""
    fd_problem: str = ""
    maps: List[Mapping] = field(default_factory=list)
    maps_problem: str = ""
    netns: str = ""
    root_link: Optional[str] = None
    """Where /proc/PID/root points (None when unreadable)."""

    def problems(self) -> List[Tuple[str, str]]:
        """(what, why) of each part that could not be read: executable, open files, maps."""
        found = [
            ("executable", self.exe_problem),
            ("open files", self.fd_problem),
            ("memory maps", self.maps_problem),
        ]
        return [(what, why) for what, why in found if why]

    def socket_inodes(self) -> List[int]:
        """Inodes of the sockets among the open file descriptors."""
        found = []
        for _, target in self.fds:
            if target.startswith("socket:[") and target.endswith("]"):
                try:
                    found.append(int(target[8:-1]))
                except ValueError:
                    continue
        return found

    def held_files(self) -> List[Tuple[int, str, bool]]:
        """(fd, path, deleted) of the regular files among the open descriptors."""
        held = []
        for fd, target in self.fds:
            if not target.startswith("/"):
                continue  # socket:[…], pipe:[…], anon_inode:…
            deleted = target.endswith(DELETED)
            held.append((fd, target[: -len(DELETED)] if deleted else target, deleted))
        return held

    def dir(self) -> Path:
        """The process's directory in the proc tree."""
        return self.proc / str(self.pid)

    def open_path(self, path: str, fd: Optional[int] = None) -> Path:
        """A path to read `path` (as the process sees it) from here.

        Live: the held file itself through `fd/N` when `fd` is given, else through the
        process's `root/` link (containers see their own files). A generated tree: `path`
        under the scanned root.
        """
        if self.real:
            if fd is not None:
                return self.dir() / "fd" / str(fd)
            return self.dir() / "root" / path.lstrip("/")
        return self.scan_root / path.lstrip("/")

    def resolve(self, path: str) -> str:
        """`path`, made absolute against the process's working directory."""
        if path.startswith("/"):
            return os.path.normpath(path)
        return os.path.normpath(os.path.join(self.cwd or "/", path))


def list_pids(proc: Path) -> List[int]:
    """Process ids in the proc tree, ascending; OSError when the tree cannot be listed."""
    return sorted(int(e.name) for e in os.scandir(proc) if e.name.isdigit())


def boot_time(proc: Path) -> Optional[float]:
    """`btime` of /proc/stat: seconds since the epoch at boot; None when unreadable."""
    try:
        with (proc / "stat").open("rb") as fh:
            for line in fh:
                if line.startswith(b"btime "):
                    return float(line.split()[1])
    except (OSError, ValueError, IndexError):
        return None
    return None


def clock_ticks() -> int:
    """Clock ticks per second (`starttime` unit of /proc/PID/stat)."""
    try:
        return int(os.sysconf("SC_CLK_TCK")) or 100
    except (ValueError, OSError):
        return 100


def parse_stat(text: str) -> Tuple[str, str, int, int, int]:
    """(comm, state, ppid, flags, starttime ticks) of a /proc/PID/stat line.

    `comm` may hold spaces and parentheses: the fields after it start after the last `)`.
    Raise ValueError when the line is not one.
    """
    open_at = text.index("(")
    close_at = text.rindex(")")
    comm = text[open_at + 1 : close_at]
    rest = text[close_at + 2 :].split()
    # rest[0] is field 3 (state): ppid is field 4, flags 9, starttime 22.
    return comm, rest[0], int(rest[1]), int(rest[6]), int(rest[19])


def parse_uid(status: str) -> Optional[int]:
    """Real uid from /proc/PID/status (`Uid:\treal\teffective\tsaved\tfs`)."""
    for line in status.splitlines():
        if line.startswith("Uid:"):
            parts = line.split()
            return int(parts[1]) if len(parts) > 1 and parts[1].isdigit() else None
    return None


def parse_maps(text: str) -> List[Mapping]:
    """File-backed mappings of /proc/PID/maps, one per distinct (path, inode, perms)."""
    seen: Dict[Tuple[str, int, str], Mapping] = {}
    for line in text.splitlines():
        parts = line.split(None, 5)
        if len(parts) < 6 or not parts[5].startswith("/"):
            continue  # anonymous, [heap], [stack], [vdso]
        path = parts[5]
        deleted = path.endswith(DELETED)
        if deleted:
            path = path[: -len(DELETED)]
        try:
            inode = int(parts[4])
        except ValueError:
            continue
        key = (path, inode, parts[1])
        if key not in seen:
            seen[key] = Mapping(path, parts[1], parts[3], inode, deleted)
    return list(seen.values())


def decode_address(hex_address: str) -> Tuple[str, int]:
    """("127.0.0.1", 8080) from /proc/net/tcp's "0100007F:1F90" (IPv4 or IPv6).

    The kernel prints each 32-bit word of the address in host byte order. An IPv4-mapped
    IPv6 address (`::ffff:127.0.0.1`) is given as the IPv4 address it stands for.
    """
    addr_hex, port_hex = hex_address.split(":")
    words = [int(addr_hex[i : i + 8], 16) for i in range(0, len(addr_hex), 8)]
    raw = b"".join(struct.pack("=I", w) for w in words)
    if len(raw) == 16 and raw[:12] == b"\0" * 10 + b"\xff\xff":
        raw = raw[12:]  # IPv4-mapped (a JVM binds IPv6 sockets for IPv4 addresses)
    family = socket.AF_INET if len(raw) == 4 else socket.AF_INET6
    return socket.inet_ntop(family, raw), int(port_hex, 16)


def parse_sockets(text: str, proto: str) -> Dict[int, ListeningPort]:
    """Listening sockets of one /proc/net/{tcp,tcp6,udp,udp6} file: inode -> port."""
    wanted = _TCP_LISTEN if proto == "tcp" else _UDP_UNCONNECTED
    found: Dict[int, ListeningPort] = {}
    for line in text.splitlines()[1:]:
        parts = line.split()
        if len(parts) < 10 or parts[3] != wanted:
            continue
        try:
            address, port = decode_address(parts[1])
            inode = int(parts[9])
        except (ValueError, OSError):
            continue
        if inode and (proto == "tcp" or port):
            found[inode] = ListeningPort(proto, address, port)
    return found


def read_sockets(net_dir: Path) -> Dict[int, ListeningPort]:
    """Listening sockets of one network namespace (its `net/` directory): inode -> port."""
    found: Dict[int, ListeningPort] = {}
    for name, proto in (("tcp", "tcp"), ("tcp6", "tcp"), ("udp", "udp"), ("udp6", "udp")):
        try:
            text = (net_dir / name).read_text("ascii", "replace")
        except OSError:
            continue  # no IPv6, or no such file in a generated tree
        found.update(parse_sockets(text, proto))
    return found


_CONTAINER_ID = re.compile(r"(?:^|[/\-:])([0-9a-f]{64})(?:\.scope)?(?:/|$)")
_LXC = re.compile(r"/lxc(?:\.payload)?[./]([^/]+)")


def parse_cgroup(text: str) -> Tuple[str, str]:
    """(cgroup path, container id or name) of /proc/PID/cgroup.

    The path is the unified hierarchy's (`0::/…`) unless that is `/` on a hybrid host, then
    systemd's or the first controller's. Docker, containerd, CRI-O and podman name their
    cgroups after the 64-hex container id; LXC after the container name.
    """
    unified = systemd = first = ""
    for line in text.splitlines():
        parts = line.split(":", 2)
        if len(parts) != 3:
            continue
        if parts[0] == "0" and parts[1] == "":
            unified = parts[2]
        elif parts[1] == "name=systemd":
            systemd = parts[2]
        elif not first:
            first = parts[2]
    path = unified if unified not in ("", "/") else (systemd or first or unified)
    container = ""
    for candidate in (unified, systemd, first):
        match = _CONTAINER_ID.search(candidate)
        if match:
            container = match.group(1)
            break
        lxc = _LXC.search(candidate)
        if lxc:
            container = lxc.group(1)
            break
    return path, container


def read_process(proc: Path, pid: int, real: bool, scan_root: Path) -> ProcView:
    """Everything about one process; ProcessGone when it ended, NotAProcess for a kernel
    thread or zombie. What cannot be read for lack of permission is left empty and named in
    the view's `*_problem` fields."""
    view = ProcView(pid=pid, proc=proc, real=real, scan_root=scan_root)
    base = view.dir()
    stat = _read(base / "stat")
    try:
        view.name, state, view.ppid, flags, view.start_ticks = parse_stat(stat)
    except (ValueError, IndexError):
        raise ProcessGone(pid) from None
    if state in ("Z", "X") or flags & PF_KTHREAD or pid == 2 or view.ppid == 2:
        raise NotAProcess(pid)
    try:
        view.uid = parse_uid(_read(base / "status"))
    except OSError:
        view.uid = None  # unreadable (not gone): the uid stays unknown
    view.argv = _read_argv(base / "cmdline")
    view.exe, view.exe_deleted, view.exe_problem = _link(base / "exe")
    view.cwd = _link(base / "cwd")[0]
    try:
        view.cgroup_text = _read(base / "cgroup")
    except OSError:
        view.cgroup_text = ""
    view.fds, view.fd_problem = _read_fds(base / "fd")
    try:
        view.maps = parse_maps(_read(base / "maps"))
    except OSError as exc:
        view.maps_problem = exc.strerror or str(exc)
    view.netns = _link(base / "ns" / "net")[0]
    root = _link(base / "root")
    view.root_link = root[0] if not root[2] else None
    return view


def _read(path: Path) -> str:
    """A small proc file as text; ProcessGone when the process ended."""
    try:
        with path.open("rb") as fh:
            return fh.read(1 << 20).decode("utf-8", "surrogateescape")
    except OSError as exc:
        if exc.errno in _GONE_ERRNOS:
            raise ProcessGone(path) from None
        raise


def _read_argv(path: Path) -> List[str]:
    """NUL-separated arguments of /proc/PID/cmdline (empty when unreadable)."""
    try:
        with path.open("rb") as fh:
            data = fh.read(1 << 20)
    except OSError as exc:
        if exc.errno in _GONE_ERRNOS:
            raise ProcessGone(path) from None
        return []
    if data.endswith(b"\0"):
        data = data[:-1]
    return [os.fsdecode(a) for a in data.split(b"\0")] if data else []


def _link(path: Path) -> Tuple[str, bool, str]:
    """(target without ` (deleted)`, deleted?, problem) of a proc symlink.

    ENOENT here means a kernel thread's exe or a gone process: the caller decides.
    """
    try:
        target = os.readlink(path)
    except OSError as exc:
        if exc.errno == errno.ESRCH:
            raise ProcessGone(path) from None
        return "", False, exc.strerror or str(exc)
    if target.endswith(DELETED):
        return target[: -len(DELETED)], True, ""
    return target, False, ""


def _read_fds(fd_dir: Path) -> Tuple[List[Tuple[int, str]], str]:
    """(fd, target) of each open descriptor, and the problem when the directory is unreadable."""
    try:
        entries = list(os.scandir(fd_dir))
    except OSError as exc:
        if exc.errno in _GONE_ERRNOS:
            raise ProcessGone(fd_dir) from None
        return [], exc.strerror or str(exc)
    found = []
    problem = ""
    for entry in entries:
        try:
            found.append((int(entry.name), os.readlink(entry.path)))
        except ValueError:
            continue
        except OSError as exc:
            if exc.errno not in _GONE_ERRNOS:
                # Listed but not readable (EACCES: the descriptors are not ours to follow).
                problem = problem or exc.strerror or str(exc)
            # else: closed while we looked
    found.sort()
    return found, problem


def iter_views(
    proc: Path, real: bool, scan_root: Path, skip: FrozenSet[int] = frozenset()
) -> Iterator[Tuple[int, Optional[ProcView], str]]:
    """(pid, view, problem) per process of the tree, kernel threads and zombies apart; view
    None when the process ended meanwhile (problem "") or its stat file is unreadable
    (problem says why)."""
    for pid in list_pids(proc):
        if pid in skip:
            continue
        try:
            yield pid, read_process(proc, pid, real, scan_root), ""
        except NotAProcess:
            continue
        except ProcessGone:
            yield pid, None, ""
        except OSError as exc:
            yield pid, None, exc.strerror or str(exc)


HIDING = frozenset({"2", "invisible"})
"""`hidepid` values that hide other users' processes from /proc listings (proc(5))."""


def hidden_by_mount(mounts: str, mountpoint: str, euid: int, groups: FrozenSet[int]) -> str:
    """The `hidepid=…` option when the proc mount at `mountpoint` hides processes from us,
    else "".

    `mounts` is /proc/self/mounts. With hidepid=2 (`invisible`) the kernel leaves other
    users' processes out of the listing itself, so a complete-looking listing is not;
    root sees everything, and so do members of the mount's `gid=` group.
    """
    hidden = ""
    for line in mounts.splitlines():
        parts = line.split()
        if len(parts) < 4 or parts[2] != "proc" or parts[1] != mountpoint:
            continue
        options: Dict[str, str] = {}
        for option in parts[3].split(","):
            key, _, value = option.partition("=")
            options[key] = value
        gid = options.get("gid", "")
        exempt = euid == 0 or (gid.isdigit() and int(gid) in groups)
        # The last mount on a mountpoint is the one in effect.
        hidden = f"hidepid={options['hidepid']}" if options.get("hidepid") in HIDING else ""
        hidden = "" if exempt else hidden
    return hidden


def clean(text: str) -> str:
    """`text` as the inventory can carry it: undecodable bytes (kept by surrogateescape)
    become U+FFFD, NUL is dropped."""
    if text.isascii():
        return text.replace("\0", "")
    return text.encode("utf-8", "surrogateescape").decode("utf-8", "replace").replace("\0", "")
