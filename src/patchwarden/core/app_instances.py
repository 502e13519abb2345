"""Running process instances as application records see them (SPEC R-D1, R-T4).

An application record is host × vulnerability × *process instance* × component. This module
names the instance a record belongs to (`instance_keys`) and keeps the few facts a record
shows about its process and component (`AppProcess`, `AppComponent`).

Keep Python 3.9 syntax and the standard library only (`core`).
"""

from __future__ import annotations

import datetime
import hashlib
from dataclasses import dataclass
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple

from patchwarden.core.inventory import Component, ListeningPort, ProcessInstance

MAX_CMDLINE = 64
"""Arguments of a process an application record keeps (the rest is cut)."""
MAX_ARGUMENT = 512
"""Characters of one argument an application record keeps."""


@dataclass(frozen=True)
class AppProcess:
    """The process instance of an application finding, as its record shows it."""

    pid: int
    exe: str
    cmdline: Tuple[str, ...] = ()
    ports: Tuple[ListeningPort, ...] = ()
    start_time: str = ""
    user: str = ""
    container: str = ""

    @property
    def exposed(self) -> bool:
        """True when it listens on an address other hosts can reach (R-D11)."""
        return any(not port.loopback for port in self.ports)

    def to_dict(self) -> Dict[str, Any]:
        """The `process` object of the scan JSON and the API (`pid`, `exe`, `cmdline`,
        `ports`, then the extra facts)."""
        return {
            "pid": self.pid,
            "exe": self.exe,
            "cmdline": list(self.cmdline),
            "ports": [{"proto": p.proto, "address": p.address, "port": p.port} for p in self.ports],
            "start_time": self.start_time,
            "user": self.user,
            "container": self.container,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> AppProcess:
        """Rebuild from `to_dict()` output (as stored by the console)."""
        return cls(
            pid=int(data["pid"]),
            exe=str(data["exe"]),
            cmdline=tuple(str(a) for a in data.get("cmdline") or ()),
            ports=tuple(
                ListeningPort(str(p["proto"]), str(p["address"]), int(p["port"]))
                for p in data.get("ports") or ()
            ),
            start_time=str(data.get("start_time", "")),
            user=str(data.get("user", "")),
            container=str(data.get("container", "")),
        )

    @classmethod
    def of(cls, process: ProcessInstance) -> AppProcess:
        """The record's view of an inventory's process (long command lines cut)."""
        cmdline = tuple(_cut(a) for a in process.cmdline[:MAX_CMDLINE])
        return cls(
            pid=process.pid,
            exe=process.exe,
            cmdline=cmdline,
            ports=tuple(sorted(process.ports, key=_port_order)),
            start_time=process.start_time,
            user=process.user,
            container=process.container,
        )


@dataclass(frozen=True)
class AppComponent:
    """The component of an application finding: the file, and what it was identified as."""

    path: str
    ecosystem: str
    name: str
    """Maven `group:artifact`, PyPI or npm name."""
    version: str
    method: str = ""
    """How the agent identified it (`core.inventory.IDENTIFIED_BY` key)."""
    evidence: str = ""
    """Where name and version were read (`META-INF/maven/…/pom.properties`, …)."""

    def to_dict(self) -> Dict[str, Any]:
        """The `component` object of the scan JSON and the API."""
        return {
            "path": self.path,
            "ecosystem": self.ecosystem,
            "name": self.name,
            "version": self.version,
            "method": self.method,
            "evidence": self.evidence,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> AppComponent:
        """Rebuild from `to_dict()` output."""
        return cls(
            path=str(data["path"]),
            ecosystem=str(data["ecosystem"]),
            name=str(data["name"]),
            version=str(data["version"]),
            method=str(data.get("method", "")),
            evidence=str(data.get("evidence", "")),
        )

    @classmethod
    def of(cls, component: Component, name: Optional[str] = None) -> AppComponent:
        """The record's view of an inventory component (`name`: the name it matched as)."""
        return cls(
            path=component.path,
            ecosystem=component.ecosystem,
            name=name or component.name,
            version=component.version,
            method=component.method,
            evidence=component.evidence,
        )


def instance_keys(processes: Sequence[ProcessInstance]) -> List[str]:
    """A stable identity for each process instance, in input order (SPEC R-D1).

    R-D1 makes an application record per process instance (host, vulnerability, pid + exe +
    ports): two identical Tomcats on two ports are two records. The pid alone would be no
    identity worth keeping: a restarted service (new pid) would open a second record for the
    same vulnerability in the same service and leave the first to be cleared as "fixed" three
    days later, although nothing was fixed. So the key is what the service *is* rather than
    its pid:

    - its signature: container, executable, working directory and command line (a second
      Tomcat started with another `catalina.base` or another port argument differs here);
    - an ordinal among processes with the same signature, ordered by their listening ports
      (then start time): two otherwise identical instances on ports 8080 and 8081 are #0 and
      #1 scan after scan, whatever their pids.

    Consequences: the same long-running process keeps its record (its key does not depend on
    its pid); a service restarted under the same command line keeps its record too, which
    then shows the new pid (a restart after an upgrade leaves the vulnerable version
    undetected, and the record clears after the grace period, R-L2); a process that is gone
    for good is undetected by the next scan that covers running processes (unless a process
    the agent could not read may be it: `held_by_unreadable`).

    The key is a short hex digest plus the ordinal (`3f9a…-0`): it names no secrets that a
    command line may carry and fits the record identity column.

    A process the agent could not read completely (`ProcessInstance.readable` False) gets no
    key ("") and takes no ordinal: what of it was read is no signature, and it must not shift
    the ordinals of the processes that were read.
    """
    groups: Dict[str, List[int]] = {}
    for i, process in enumerate(processes):
        if process.readable:
            groups.setdefault(_signature(process), []).append(i)
    keys = [""] * len(processes)
    for sig, members in groups.items():
        ordered = sorted(members, key=lambda i: _instance_order(processes[i]))
        for ordinal, i in enumerate(ordered):
            keys[i] = f"{sig}-{ordinal}"
    return keys


START_SLACK = datetime.timedelta(seconds=2)
"""Start times closer than this are one start: the agent derives them from the kernel's boot
time (`btime`), which moves by a second when the clock is adjusted."""


def held_by_unreadable(
    process: AppProcess, processes: Sequence[ProcessInstance]
) -> Optional[ProcessInstance]:
    """The process of `processes` the agent could not read that may be `process` (the
    instance an application record last saw), else None.

    The rule (R-D1, STYLE E3): a record of a process instance that a scan covering running
    processes does not see is undetected, since that process list is complete: the
    instance is gone. Except when the agent listed a process it could not read
    (`ProcessInstance.readable` False: permissions, `hidepid`, a security module): its
    components are unknown, not absent, so a record it may be is neither detected nor
    undetected, and stays as it was. It may be the instance when it has the pid the record
    last saw and, when both start times are known, the same start time (a pid reused by a
    later process starts later). One unreadable process is no failed collector: it holds
    only the records it may be, not the host's others.
    """
    for candidate in processes:
        if candidate.readable or candidate.pid != process.pid:
            continue
        if _same_start(candidate.start_time, process.start_time):
            return candidate
    return None


def unreadable_note(process: AppProcess) -> str:
    """Why an application record of `process` stays as it was (`held_by_unreadable`)."""
    return (
        f"kept as it was: the agent could not read process {process.pid} in its latest scan,"
        " so whether this instance still runs is unknown"
    )


def _same_start(one: str, other: str) -> bool:
    """True unless both start times are known and differ."""
    try:
        a = datetime.datetime.fromisoformat(one)
        b = datetime.datetime.fromisoformat(other)
        return abs(a - b) < START_SLACK
    except (ValueError, TypeError):
        return True  # one unknown (or unreadable): the pid decides


def _signature(process: ProcessInstance) -> str:
    parts = (process.container, process.exe, process.cwd, *process.cmdline)
    digest = hashlib.sha256("\0".join(parts).encode("utf-8", "surrogatepass")).hexdigest()
    return digest[:16]


def _instance_order(process: ProcessInstance) -> Tuple[Any, ...]:
    tcp = sorted(p.port for p in process.ports if p.proto == "tcp")
    udp = sorted(p.port for p in process.ports if p.proto != "tcp")
    # Processes without a TCP port sort after those with one, then by start time.
    return (not tcp, tcp, udp, process.start_time, process.pid)


def _port_order(port: ListeningPort) -> Tuple[str, int, str]:
    return (port.proto, port.port, port.address)


def _cut(argument: str) -> str:
    return argument if len(argument) <= MAX_ARGUMENT else argument[: MAX_ARGUMENT - 1] + "…"
