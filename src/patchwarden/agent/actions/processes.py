"""Processes that still run replaced code after a fix (like needrestart; DESIGN §4).

A library upgrade replaces files on disk, but a running process keeps the old ones mapped:
`/proc/PID/maps` then names them with ` (deleted)`. Only processes whose root directory is
the fixed root count (`/proc/PID/root`); the paths are reported as the process sees them.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Dict, List

from patchwarden.protocol.v1 import MAX_PROCESSES, RestartProcess

PROC = Path("/proc")
DELETED = " (deleted)"
# Mappings that are deleted by design, not replaced code.
_IGNORED_PREFIXES = ("/dev/", "/memfd:", "/SYSV", "/tmp/", "/var/tmp/", "/run/", "/dev/shm/")
_CODE_MARKERS = ("/lib", ".so", "/bin/", "/sbin/", "/libexec/")


def needing_restart(
    root: Path, proc: Path = PROC, limit: int = MAX_PROCESSES
) -> List[RestartProcess]:
    """Processes on `root` that map replaced (deleted) executables or libraries."""
    real_root = os.path.realpath(str(root))
    prefix = "" if real_root == "/" else real_root
    me = os.getpid()
    found: List[RestartProcess] = []
    try:
        entries = sorted(
            (e for e in os.scandir(proc) if e.name.isdigit()), key=lambda e: int(e.name)
        )
    except OSError:
        return found
    for entry in entries:
        pid = int(entry.name)
        if pid == me:
            continue
        try:
            if os.path.realpath(os.readlink(os.path.join(entry.path, "root"))) != real_root:
                continue
            maps = Path(entry.path, "maps").read_text("utf-8", "replace")
            name = Path(entry.path, "comm").read_text("utf-8", "replace").strip()
        except OSError:
            continue  # gone, or not ours to read
        files = _replaced(maps, prefix)
        if files:
            found.append(RestartProcess(pid, name, tuple(files[:4])))
            if len(found) >= limit:
                break
    return found


def _replaced(maps: str, prefix: str) -> List[str]:
    """Deleted code mappings of one maps file, as paths inside the root."""
    seen: Dict[str, None] = {}
    for line in maps.splitlines():
        if not line.endswith(DELETED):
            continue
        parts = line.split(None, 5)
        if len(parts) < 6:
            continue
        path = parts[5][: -len(DELETED)]
        # Paths are printed relative to the reader's root: a chrooted process's files carry
        # the root's own path in front.
        if prefix and path.startswith(prefix + "/"):
            path = path[len(prefix) :]
        if path.startswith(_IGNORED_PREFIXES) or not any(m in path for m in _CODE_MARKERS):
            continue
        seen.setdefault(path, None)
    return list(seen)
