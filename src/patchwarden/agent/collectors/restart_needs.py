"""Does a process run outdated code? needrestart's checks, on what the processes collector read.

* the executable was deleted (`/proc/PID/exe` ends in ` (deleted)`) or replaced (the file now
  at its path is another inode than the one running);
* an executable mapping of `/proc/PID/maps` was deleted, or the file now at its path is
  another file (inode, and device where maps names a real one) — needrestart's map_files
  check; data mappings and the kernel's special files are ignored as needrestart does;
* a JAR it holds open was deleted, replaced by another file, or modified after the process
  started (a JVM reads classes from the JAR lazily: it runs a mix of old and new code).
"""

from __future__ import annotations

import os
import re
from typing import List, Optional, Tuple

from patchwarden.agent.collectors.procfs import ProcView
from patchwarden.core.inventory import RestartNeed

MAX_NEEDS = 20
"""Most reasons kept per process (one is enough to restart it; a few help a person)."""
JAR_SUFFIXES = (".jar", ".war", ".ear")

# needrestart's default blacklist_mappings (/etc/needrestart/needrestart.conf): special
# devices, memfd, aio, JIT files, JNA's temporary libraries and temporary directories.
_IGNORED = re.compile(
    r"^/(?:SYSV[0-9a-f]{8}|drm(?:\s|$)|dev/|memfd:|\[aio\])"
    r"|/orcexec\.[\w]+$|/#\d+$|/jna\d+\.tmp$"
    r"|^(?:/var)?/tmp/|^/run/|^/dev/shm/"
)


def restart_needs(view: ProcView, started_at: Optional[float]) -> Tuple[RestartNeed, ...]:
    """Why the process `view` needs a restart (empty when it runs current code).

    `started_at` is its start time (epoch seconds), None when unknown (no JAR-age check).
    """
    found: List[RestartNeed] = []
    seen = set()

    def add(reason: str, path: str) -> None:
        if (reason, path) not in seen and len(found) < MAX_NEEDS:
            seen.add((reason, path))
            found.append(RestartNeed(reason, path))

    if view.exe and not _IGNORED.search(view.exe):
        # A memfd executable (`/memfd:…`, runc and sandboxes re-exec themselves from one)
        # always reads as deleted: needrestart ignores it as well.
        if view.exe_deleted:
            add("exe-deleted", view.exe)
        elif view.real and _replaced(view, view.exe, _stat(str(view.dir() / "exe"))):
            add("exe-replaced", view.exe)
    for mapping in view.maps:
        if not mapping.executable or mapping.inode == 0 or _IGNORED.search(mapping.path):
            continue
        kind = "exe" if mapping.path == view.exe else "library"
        if mapping.deleted:
            add(f"{kind}-deleted", mapping.path)
            continue
        now = _stat(str(view.open_path(mapping.path)))
        if now is None:
            add(f"{kind}-deleted", mapping.path)
        elif now[1] != mapping.inode or not _same_device(mapping.dev, now[0]):
            add(f"{kind}-replaced", mapping.path)
    for fd, path, deleted in view.held_files():
        if not path.lower().endswith(JAR_SUFFIXES):
            continue
        if deleted:
            add("jar-deleted", path)
            continue
        held = _stat_full(str(view.open_path(path, fd)))
        if held is None:
            continue  # closed meanwhile
        if view.real and _replaced(view, path, (held.st_dev, held.st_ino)):
            add("jar-replaced", path)
        elif started_at is not None and held.st_mtime > started_at + 1:
            # +1 s: start times are clock ticks, mtimes may be rounded by the filesystem.
            add("jar-changed", path)
    if found and view.real and not view.dir().exists():
        # Ended while being checked: its files went with its /proc entry, not from disk.
        return ()
    return tuple(found)


def _replaced(view: ProcView, path: str, running: Optional[Tuple[int, int]]) -> bool:
    """True when the file now at `path` is not the (dev, inode) the process runs or holds."""
    if running is None:
        return False
    now = _stat(str(view.open_path(path)))
    return now is not None and now != running


def _stat(path: str) -> Optional[Tuple[int, int]]:
    """(st_dev, st_ino) of `path`, None when it does not exist or cannot be read."""
    st = _stat_full(path)
    return None if st is None else (st.st_dev, st.st_ino)


def _stat_full(path: str) -> Optional[os.stat_result]:
    try:
        return os.stat(path)
    except OSError:
        return None


def _same_device(maps_dev: str, st_dev: int) -> bool:
    """Whether maps' `major:minor` (hex) names `st_dev`; maps' `00:xx` (anonymous devices:
    btrfs subvolumes, overlayfs, tmpfs) is never compared, as needrestart does."""
    if maps_dev.startswith("00:") or ":" not in maps_dev:
        return True
    major, minor = maps_dev.split(":", 1)
    try:
        return (int(major, 16), int(minor, 16)) == (os.major(st_dev), os.minor(st_dev))
    except ValueError:
        return True
