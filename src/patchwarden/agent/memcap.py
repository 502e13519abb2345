"""Run one collection in a child process under a memory cap (SPEC R-D3).

A scan reads what the host holds — thousands of processes, JARs an attacker may have shaped —
so it runs in a forked child whose memory is capped, and the agent survives whatever the
child does. The cap is enforced by the first mechanism that works here, detected at run
time:

1. cgroup v2: a child cgroup of the agent's own with `memory.max` (needs the memory
   controller delegated to the agent's cgroup);
2. cgroup v1: a child cgroup in the memory hierarchy with `memory.limit_in_bytes` (and
   `memory.memsw.limit_in_bytes` where swap accounting is on, so the child cannot swap
   past the cap);
3. RLIMIT_AS in the child: caps address space, not resident memory; the child inherits the
   agent's mappings, so the limit is what it already maps plus the cap. A failed allocation
   raises MemoryError there.

The kernel kills a child over a cgroup cap (OOM killer, SIGKILL); the parent reads the
cgroup's OOM counter to tell that from another kill. Either way the parent gets a
`CapExceeded` carrying the `memory_cap_exceeded` ScanEvent to report, and carries on.
The inventory travels back as JSON through a temporary file (no pipe to fill up).
"""

from __future__ import annotations

import contextlib
import datetime
import json
import os
import resource
import signal
import tempfile
import traceback
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Callable, FrozenSet, Optional, Tuple

from patchwarden.core.errors import InventoryError
from patchwarden.core.inventory import Inventory, ScanEvent

DEFAULT_CAP_MB = 200
MECHANISMS = ("cgroup2", "cgroup1", "rlimit")
EVENT_CODE = "memory_cap_exceeded"
CGROUP_PREFIX = "patchwarden-scan-"
_EXIT_MEMORY = 70
"""Exit status of a child that ran out of memory under RLIMIT_AS (MemoryError)."""
_EXIT_FAILED = 71
"""Exit status of a child whose collection raised; the error is in the result file."""


class CapExceeded(InventoryError):
    """The collection was killed at the memory cap; `event` says so for the next upload."""

    def __init__(self, event: ScanEvent) -> None:
        super().__init__(event.message)
        self.event = event


@dataclass
class Cap:
    """A memory cap ready to be applied to one child."""

    mechanism: str
    """cgroup2, cgroup1 or rlimit."""
    limit_mb: int
    cgroup: Optional[Path] = None
    """The child cgroup directory (cgroup mechanisms)."""

    def enter(self) -> None:
        """Put the calling process (the child) under the cap."""
        if self.cgroup is not None:
            try:
                (self.cgroup / "cgroup.procs").write_text(f"{os.getpid()}\n")
                return
            except OSError:
                pass  # the cgroup refuses us after all (delegation rules): cap the address space
        size = _mapped_bytes() + (self.limit_mb << 20)
        resource.setrlimit(resource.RLIMIT_AS, (size, size))

    def oom_killed(self) -> bool:
        """True when the kernel's OOM killer struck in the cgroup (v1 kernels before 4.13
        count no OOM kills: there, the limit having been hit tells)."""
        if self.cgroup is None:
            return False
        name = "memory.events" if self.mechanism == "cgroup2" else "memory.oom_control"
        try:
            text = (self.cgroup / name).read_text()
        except OSError:
            return False
        for line in text.splitlines():
            key, _, value = line.partition(" ")
            if key == "oom_kill" and value.strip().isdigit():
                return int(value) > 0
        try:
            return int((self.cgroup / "memory.failcnt").read_text()) > 0
        except (OSError, ValueError):
            return False

    def remove(self) -> None:
        """Remove the child cgroup (empty once the child is reaped)."""
        if self.cgroup is not None:
            # A leftover empty cgroup costs nothing; the next run uses another name.
            with contextlib.suppress(OSError):
                self.cgroup.rmdir()


def _mapped_bytes() -> int:
    """The calling process's address space size (VmSize of /proc/self/status)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmSize:"):
                return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return 0


def _own_cgroup(version: int) -> Optional[str]:
    """The calling process's cgroup path in the v2 hierarchy (version 2) or the v1 memory
    hierarchy (version 1), from /proc/self/cgroup."""
    try:
        text = Path("/proc/self/cgroup").read_text()
    except OSError:
        return None
    for line in text.splitlines():
        parts = line.split(":", 2)
        if len(parts) != 3:
            continue
        if version == 2 and parts[0] == "0" and parts[1] == "":
            return parts[2]
        if version == 1 and "memory" in parts[1].split(","):
            return parts[2]
    return None


def _mount_point(fstype: str, option: str = "") -> Optional[Path]:
    """Where a cgroup filesystem is mounted (v1: the one with `option` among its options)."""
    try:
        text = Path("/proc/self/mountinfo").read_text()
    except OSError:
        return None
    for line in text.splitlines():
        left, sep, right = line.partition(" - ")
        if not sep:
            continue
        fields = right.split()
        if len(fields) < 3 or fields[0] != fstype:
            continue
        if option and option not in fields[2].split(","):
            continue
        return Path(left.split()[4])
    return None


def _make_cgroup(parent: Path, limit_files: Tuple[str, ...], limit_mb: int) -> Path:
    """A new child cgroup under `parent` with the limit written; OSError when not possible."""
    sweep_stale(parent)
    child = parent / f"{CGROUP_PREFIX}{os.getpid()}-{os.urandom(3).hex()}"
    child.mkdir()
    try:
        if not (child / limit_files[0]).exists():
            raise OSError(f"{child}: no {limit_files[0]} (memory controller not delegated)")
        size = str(limit_mb << 20)
        (child / limit_files[0]).write_text(size)
        for extra in limit_files[1:]:
            if (child / extra).exists():
                with contextlib.suppress(OSError):  # swap accounting off: the limit holds
                    (child / extra).write_text(size)
    except OSError:
        child.rmdir()
        raise
    return child


def sweep_stale(parent: Path) -> None:
    """Remove empty scan cgroups of agents that are gone (killed before they cleaned up)."""
    try:
        names = [n for n in os.listdir(parent) if n.startswith(CGROUP_PREFIX)]
    except OSError:
        return
    for name in names:
        pid = name[len(CGROUP_PREFIX) :].split("-", 1)[0]
        if pid.isdigit() and not os.path.exists(f"/proc/{pid}"):
            with contextlib.suppress(OSError):  # still has a task, or not ours to remove
                (parent / name).rmdir()


def prepare_cap(limit_mb: int, mechanism: Optional[str] = None) -> Tuple[Cap, str]:
    """The first mechanism that works here (or `mechanism` forced), and why the ones before
    it did not (for the log; "" when the first worked)."""
    problems = []
    for name in MECHANISMS if mechanism is None else (mechanism,):
        try:
            if name == "cgroup2":
                mount, own = _mount_point("cgroup2"), _own_cgroup(2)
                if mount is None or own is None:
                    raise OSError("no cgroup v2 hierarchy")
                controllers = (mount / own.lstrip("/") / "cgroup.controllers").read_text()
                if "memory" not in controllers.split():
                    raise OSError("memory controller not delegated to this cgroup")
                parent = mount / own.lstrip("/")
                return Cap(name, limit_mb, _make_cgroup(parent, ("memory.max",), limit_mb)), (
                    "; ".join(problems)
                )
            if name == "cgroup1":
                mount, own = _mount_point("cgroup", "memory"), _own_cgroup(1)
                if mount is None or own is None:
                    raise OSError("no cgroup v1 memory hierarchy")
                parent = mount / own.lstrip("/")
                files = ("memory.limit_in_bytes", "memory.memsw.limit_in_bytes")
                return Cap(name, limit_mb, _make_cgroup(parent, files, limit_mb)), (
                    "; ".join(problems)
                )
            return Cap("rlimit", limit_mb), "; ".join(problems)
        except OSError as exc:
            problems.append(f"{name}: {exc.strerror or exc}")
    raise InventoryError(f"no memory cap can be set here: {'; '.join(problems)}")


def cap_event(limit_mb: int) -> ScanEvent:
    """The event that reports a scan killed at the cap."""
    now = datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")
    return ScanEvent(EVENT_CODE, f"scan exceeded memory cap {limit_mb} MB", now)


def run_capped(
    collect: Callable[[], Inventory], limit_mb: int, mechanism: Optional[str] = None
) -> Inventory:
    """`collect()` run in a forked child under a `limit_mb` memory cap.

    Raise CapExceeded when the child was killed at the cap (or ran out of memory under
    RLIMIT_AS), InventoryError with the child's message when the collection failed.
    """
    cap, _ = prepare_cap(limit_mb, mechanism)
    fd, name = tempfile.mkstemp(prefix="patchwarden-scan-", suffix=".json")
    os.close(fd)
    result = Path(name)
    try:
        pid = os.fork()
        if pid == 0:  # the child: never returns
            _child(cap, collect, result)
        _, status = os.waitpid(pid, 0)
        return _outcome(cap, status, result)
    finally:
        cap.remove()
        result.unlink()


def _child(cap: Cap, collect: Callable[[], Inventory], result: Path) -> None:
    code = 0
    try:
        cap.enter()
        inventory = collect()
        with result.open("w") as fh:
            json.dump({"inventory": inventory.to_dict()}, fh, separators=(",", ":"))
    except MemoryError:
        code = _EXIT_MEMORY
    except BaseException as exc:  # everything goes back to the parent, which stays up
        code = _EXIT_FAILED
        message = str(exc) if isinstance(exc, InventoryError) else traceback.format_exc(limit=5)
        with contextlib.suppress(BaseException):
            result.write_text(json.dumps({"error": message}))
    finally:
        os._exit(code)


def _outcome(cap: Cap, status: int, result: Path) -> Inventory:
    if os.WIFSIGNALED(status):
        sig = os.WTERMSIG(status)
        if sig == signal.SIGKILL and cap.oom_killed():
            raise CapExceeded(cap_event(cap.limit_mb))
        raise InventoryError(f"scan process died of signal {signal.Signals(sig).name}")
    code = os.WEXITSTATUS(status)
    if code == _EXIT_MEMORY:
        raise CapExceeded(cap_event(cap.limit_mb))
    try:
        data = json.loads(result.read_text() or "{}")
    except (OSError, ValueError) as exc:
        raise InventoryError(f"scan process left no readable result: {exc}") from None
    if code == 0 and "inventory" in data:
        return Inventory.from_dict(data["inventory"])
    raise InventoryError(data.get("error") or f"scan process exited with status {code}")


HEAVY_COLLECTORS = frozenset({"processes", "components", "fingerprints"})
"""What a retry after a killed scan leaves out: the process and component collectors read
what the host's processes hold, the rest (packages, kernel) is small."""


def collect_capped(
    collect: Callable[[FrozenSet[str]], Inventory],
    limit_mb: int,
    mechanism: Optional[str] = None,
) -> Inventory:
    """`collect(skip)` under the cap; when it is killed there, once more without the heavy
    collectors, so the host still reports its packages and the event.

    The returned inventory then carries the `memory_cap_exceeded` event first in its
    `scan_events` (and no process evidence). Raise CapExceeded when the retry dies too.
    """
    try:
        return run_capped(lambda: collect(frozenset()), limit_mb, mechanism)
    except CapExceeded as exc:
        event = exc.event
    inventory = run_capped(lambda: collect(HEAVY_COLLECTORS), limit_mb, mechanism)
    return replace(inventory, scan_events=(event, *inventory.scan_events))


EVENTS_FILE = "scan-events.json"
MAX_PENDING = 50


def save_pending(state_dir: Path, event: ScanEvent) -> None:
    """Keep `event` for the next upload (a scan that left no inventory to carry it)."""
    events = [*pending_events(state_dir), event][-MAX_PENDING:]
    state_dir.mkdir(parents=True, exist_ok=True)
    tmp = state_dir / (EVENTS_FILE + ".tmp")
    tmp.write_text(json.dumps([asdict(e) for e in events]))
    tmp.replace(state_dir / EVENTS_FILE)


def pending_events(state_dir: Path) -> Tuple[ScanEvent, ...]:
    """Events kept for the next upload (none when the file is missing or unreadable)."""
    try:
        data = json.loads((state_dir / EVENTS_FILE).read_text())
        return tuple(ScanEvent(str(e["code"]), str(e["message"]), str(e["at"])) for e in data)
    except (OSError, ValueError, KeyError, TypeError):
        return ()


def clear_pending(state_dir: Path) -> None:
    """Forget the kept events (they went out with an upload)."""
    with contextlib.suppress(OSError):
        (state_dir / EVENTS_FILE).unlink()
