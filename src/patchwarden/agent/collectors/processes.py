"""processes collector: every running process with its ports, owner package and restart needs.

Reads the proc filesystem (`Context.proc_dir`: `/proc` of a live root, or a tree a test or
benchmark generated) and gives one `ProcessInstance` per process, kernel threads, zombies
and the agent itself apart (SPEC R-D1):

* pid, parent, name, start time (`/proc/PID/stat` starttime + `btime`), real uid and user,
  exe (` (deleted)` noted), cmdline (secrets masked), cwd;
* listening TCP/UDP ports with their bind address: socket inodes of `/proc/PID/fd` joined
  to `net/{tcp,tcp6,udp,udp6}` of the process's own network namespace;
* cgroup path and container id; the distro package owning the exe (`owners.FileOwners`,
  only for processes that see the scanned root: a container's files belong to its image);
* restart needs (`restart_needs`).

The components and fingerprints collectors read the JARs and libraries of these processes
from the views kept in `Context.shared` (no second pass over /proc).

A process that ends while it is read is left out and named in a `processes_exited` event:
it no longer runs, which is no failure. A process that cannot be read completely (its stat
file, executable, open files or maps: an agent that is not root sees little of other users'
processes, `hidepid=1`, a security module, another namespace's init) is reported all the
same, with what could be read and `readable=False`, and named in a `processes_unreadable`
event; its components are not searched. That is no failed collector (STYLE E3): the process
list is complete, so the run still vouches for running-processes, and the console keeps the
records such a process may be (`core.app_instances.held_by_unreadable`). What does spoil the
evidence is a listing that is not complete: /proc missing or unlistable (the collector
fails), or mounted with `hidepid=2` hiding other users' processes from a non-root agent (a
warning).
"""

from __future__ import annotations

import datetime
import os
import pwd
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, List, Optional, Set, Tuple

from patchwarden.agent.collectors.base import (
    Collector,
    CollectorFailed,
    Context,
    InventoryPart,
)
from patchwarden.agent.collectors.owners import file_owners
from patchwarden.agent.collectors.procfs import (
    ProcView,
    boot_time,
    clean,
    clock_ticks,
    hidden_by_mount,
    iter_views,
    parse_cgroup,
    read_sockets,
)
from patchwarden.agent.collectors.restart_needs import JAR_SUFFIXES, restart_needs
from patchwarden.core.inventory import (
    CollectorError,
    Evidence,
    ListeningPort,
    ProcessInstance,
    ScanEvent,
)

NAME = "processes"
SHARED_KEY = "process-scan"
MAX_ARGS = 256
"""Arguments kept per command line (the rest is summarised in one last argument)."""
MAX_ARG = 2048
"""Characters kept per argument (Java class paths run to tens of kB)."""
MAX_NAMED = 10
"""Processes named in one warning or event (the rest are counted)."""

_SECRET_WORD = r"(?:pass(?:word|wd|phrase)?|secret|token|api[-_]?key|credentials?|private[-_]?key)"
_SECRET_ASSIGN = re.compile(rf"(?i)^([^=]*{_SECRET_WORD}[^=]*=)(.+)$")
_SECRET_OPTION = re.compile(rf"(?i)^--?[\w.-]*{_SECRET_WORD}$")
_URL_PASSWORD = re.compile(r"(://[^/\s:@]+:)[^/\s@]+(@)")
_PYTHON = re.compile(r"^python\d*(?:\.\d+)?[a-z]?$")


@dataclass
class ProcessScan:
    """What this collector read, for the collectors after it (kept in `Context.shared`)."""

    views: Dict[int, ProcView] = field(default_factory=dict)
    """pid -> view of each process in the inventory."""
    started: Dict[int, float] = field(default_factory=dict)
    """pid -> start time (epoch seconds)."""
    in_root: Set[int] = field(default_factory=set)
    """Processes that see the scanned root as their `/` (not a container's)."""


def process_scan(ctx: Context) -> Optional[ProcessScan]:
    """The processes collector's views of this run; None when it did not run."""
    scan = ctx.shared.get(SHARED_KEY)
    return scan if isinstance(scan, ProcessScan) else None


def runtime_of(view: ProcView) -> str:
    """java, python or node when the process runs one of these runtimes, else ""."""
    base = os.path.basename(view.exe)
    if base == "java" or any(os.path.basename(m.path) == "libjvm.so" for m in view.maps):
        return "java"
    if _PYTHON.match(base):
        return "python"
    if base in ("node", "nodejs"):
        return "node"
    return ""


def mask_cmdline(argv: List[str]) -> Tuple[str, ...]:
    """Arguments fit for the inventory: secret values masked, long ones cut, at most MAX_ARGS."""
    out: List[str] = []
    hide_next = False
    for arg in argv[:MAX_ARGS]:
        if hide_next and not arg.startswith("-"):
            out.append("***")
            hide_next = False
            continue
        hide_next = bool(_SECRET_OPTION.match(arg))
        arg = _SECRET_ASSIGN.sub(r"\1***", arg)
        arg = _URL_PASSWORD.sub(r"\1***\2", arg)
        arg = clean(arg)
        out.append(arg if len(arg) <= MAX_ARG else arg[: MAX_ARG - 1] + "…")
    if len(argv) > MAX_ARGS:
        out.append(f"… ({len(argv) - MAX_ARGS} more arguments)")
    return tuple(out)


def _named(items: List[Tuple[int, str]]) -> str:
    """ "1234 (java), 99 (sshd) and 3 more" for a warning."""
    shown = ", ".join(f"{pid} ({name})" if name else str(pid) for pid, name in items[:MAX_NAMED])
    rest = len(items) - MAX_NAMED
    return f"{shown} and {rest} more" if rest > 0 else shown


class ProcessesCollector(Collector):
    """Running processes with ports, owners and restart needs (live roots, or `--proc`)."""

    name = NAME
    version = 1
    covers = frozenset({Evidence.RUNNING_PROCESSES})

    def applies(self, ctx: Context) -> bool:
        """A live root, or a proc tree given explicitly."""
        return ctx.proc_dir is not None

    def collect(self, ctx: Context) -> InventoryPart:
        """Read every process of the proc tree; see the module docstring."""
        proc = ctx.proc_dir
        assert proc is not None
        kernel_proc = os.path.realpath(str(proc)) == "/proc"
        real = ctx.real_proc
        btime = boot_time(proc)
        ticks = clock_ticks()
        skip = frozenset({os.getpid()}) | ctx.ignore_pids
        scan = ProcessScan()
        exited: List[Tuple[int, str]] = []
        try:
            views = list(iter_views(proc, real, ctx.root, skip))
        except OSError as exc:
            raise CollectorFailed(
                f"cannot list processes: {exc.strerror or exc}", str(proc)
            ) from exc
        root = os.path.realpath(str(ctx.root))
        kept: List[ProcView] = []
        unread: List[ProcessInstance] = []  # stat file unreadable: only the pid is known
        unreadable: List[Tuple[int, str, str, str]] = []  # (pid, name, what, why)
        for pid, view, problem in views:
            if problem:
                unread.append(ProcessInstance(pid=pid, start_time="", exe="", readable=False))
                unreadable.append((pid, "", "stat file", problem))
                continue
            if view is None:
                exited.append((pid, ""))
                continue
            problems = view.problems()
            # The kernel's /proc with a mounted root: only processes chrooted into it (one
            # whose root link is unreadable may be one of them when it is unreadable anyway).
            if kernel_proc and not ctx.live:
                if view.root_link is None and not problems:
                    continue
                if view.root_link is not None and os.path.realpath(view.root_link) != root:
                    continue
            kept.append(view)
            if btime is not None:
                scan.started[pid] = btime + view.start_ticks / ticks
            if view.root_link in (None, "/") or not ctx.live:
                scan.in_root.add(pid)
            unreadable.extend((pid, view.name, what, why) for what, why in problems)
            if not problems:
                # Only completely read processes are searched for components: the
                # components of the others are unknown, not absent.
                scan.views[pid] = view
        warnings = list(self._warnings(btime))
        hidden = hidden_by_mount(
            _read_mounts(), os.path.realpath(str(proc)), os.geteuid(), frozenset(os.getgroups())
        )
        hiding = (
            f"other users' processes are hidden from the agent ({proc} is mounted with"
            f" {hidden}); run the agent as root to see them"
        )
        if not kept and not exited and not unread:
            raise CollectorFailed(hiding if hidden else "no process could be read", str(proc))
        if hidden:
            # The listing itself leaves processes out: the process list is not complete.
            warnings.append(CollectorError(NAME, hiding, str(proc)))
        ports = self._ports(proc, kept)
        owners = file_owners(ctx)
        wanted = set()
        for view in kept:
            if view.pid in scan.in_root:
                wanted.add(view.exe)
                wanted.update(p for _, p, _ in view.held_files() if p.endswith(JAR_SUFFIXES))
                wanted.update(m.path for m in view.maps if m.executable)
        owned = owners.lookup(sorted(wanted))
        users = _Users(ctx)
        instances = []
        for view in kept:
            cgroup, container = parse_cgroup(view.cgroup_text)
            started = scan.started.get(view.pid)
            readable = view.pid in scan.views
            instances.append(
                ProcessInstance(
                    pid=view.pid,
                    start_time=_iso(started),
                    exe=clean(view.exe),
                    exe_deleted=view.exe_deleted,
                    name=clean(view.name),
                    ppid=view.ppid,
                    cmdline=mask_cmdline(view.argv),
                    cwd=clean(view.cwd),
                    uid=view.uid,
                    user=users.name(view.uid),
                    ports=tuple(sorted(ports.get(view.pid, ()), key=_port_key)),
                    container=clean(container),
                    cgroup=clean(cgroup),
                    package=owned.get(view.exe, "") if view.pid in scan.in_root else "",
                    runtime=runtime_of(view) if readable else "",
                    restart=restart_needs(view, started) if readable else (),
                    readable=readable,
                )
            )
        instances = sorted(instances + unread, key=lambda p: p.pid)
        ctx.shared[SHARED_KEY] = scan
        warnings.extend(
            CollectorError(NAME, f"package file list unreadable: {p}") for p in owners.problems
        )
        return InventoryPart(
            processes=tuple(instances),
            warnings=tuple(warnings),
            events=_exited_event(exited) + _unreadable_event(unreadable),
        )

    @staticmethod
    def _ports(proc: Path, views: List[ProcView]) -> Dict[int, Set[ListeningPort]]:
        """pid -> listening ports, each network namespace's socket tables read once."""
        tables: Dict[str, Dict[int, ListeningPort]] = {}
        found: Dict[int, Set[ListeningPort]] = {}
        for view in views:
            inodes = view.socket_inodes()
            if not inodes:
                continue
            table = tables.get(view.netns)
            if table is None:
                table = read_sockets(view.dir() / "net") if view.netns else {}
                if not table:
                    table = read_sockets(proc / "net")
                tables[view.netns] = table
            ports = {table[i] for i in inodes if i in table}
            if ports:
                found[view.pid] = ports
        return found

    @staticmethod
    def _warnings(btime: Optional[float]) -> Tuple[CollectorError, ...]:
        """Problems of the whole proc tree (not of one process)."""
        if btime is None:
            return (CollectorError(NAME, "no boot time (btime) in the proc tree's stat file"),)
        return ()


def _exited_event(exited: List[Tuple[int, str]]) -> Tuple[ScanEvent, ...]:
    if not exited:
        return ()
    now = datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")
    return (
        ScanEvent(
            "processes_exited",
            f"{len(exited)} processes ended while they were being read and were left out:"
            f" {_named(exited)}",
            now,
        ),
    )


def _unreadable_event(unreadable: List[Tuple[int, str, str, str]]) -> Tuple[ScanEvent, ...]:
    """One `processes_unreadable` event naming the processes and what of each could not be
    read (an event, not a warning: the process list is complete all the same)."""
    if not unreadable:
        return ()
    parts: Dict[int, List[str]] = {}
    names: Dict[int, str] = {}
    for pid, name, what, _ in unreadable:
        parts.setdefault(pid, []).append(what)
        names[pid] = name
    reasons = "; ".join(sorted({why for _, _, _, why in unreadable}))
    named = _named(
        [
            (pid, ": ".join(filter(None, (names[pid], ", ".join(parts[pid])))))
            for pid in sorted(parts)
        ]
    )
    one = len(parts) == 1
    hint = "" if os.geteuid() == 0 else "; run the agent as root to see them"
    now = datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")
    return (
        ScanEvent(
            "processes_unreadable",
            f"{len(parts)} {'process' if one else 'processes'} could not be read completely"
            f" ({reasons}): {named}; {'its' if one else 'their'} application vulnerabilities"
            f" are unknown{hint}",
            now,
        ),
    )


def _read_mounts() -> str:
    """/proc/self/mounts ("" when unreadable: then no hidepid is known)."""
    try:
        with open("/proc/self/mounts", encoding="utf-8", errors="replace") as fh:
            return fh.read()
    except OSError:
        return ""


def _iso(epoch: Optional[float]) -> str:
    """ISO 8601 UTC to the millisecond; "" when unknown."""
    if epoch is None:
        return ""
    moment = datetime.datetime.fromtimestamp(epoch, datetime.timezone.utc)
    return moment.isoformat(timespec="milliseconds")


def _port_key(port: ListeningPort) -> Tuple[str, int, str]:
    return (port.proto, port.port, port.address)


class _Users:
    """uid -> user name from the root's etc/passwd (and the system's database when live)."""

    def __init__(self, ctx: Context) -> None:
        self.live = ctx.live
        self.names: Dict[int, str] = {}
        try:
            text = ctx.path("etc/passwd").read_text("utf-8", "replace")
        except OSError:
            text = ""
        for line in text.splitlines():
            parts = line.split(":")
            if len(parts) >= 3 and parts[2].isdigit():
                self.names.setdefault(int(parts[2]), parts[0])

    def name(self, uid: Optional[int]) -> str:
        if uid is None:
            return ""
        if uid not in self.names and self.live:
            try:
                self.names[uid] = pwd.getpwuid(uid).pw_name  # LDAP/NSS users
            except KeyError:
                self.names[uid] = ""
        return clean(self.names.get(uid, ""))
