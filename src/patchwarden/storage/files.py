"""Private files: the data directory is 0700, databases 0600 (inventories, token digests and
advisory stores are nobody else's business).

SQLite creates a database's `-wal` and `-shm` files lazily, and with the database file's own
permission bits (os_unix.c: "WAL and journal files are created using the same permissions as
the associated database file"; the shared-memory file likewise), so a database file made
0600 before SQLite first opens it keeps all three private, whatever the process umask.
"""

from __future__ import annotations

import logging
import os
import stat
from pathlib import Path

PRIVATE_DIR = 0o700
PRIVATE_FILE = 0o600
SQLITE_SIDE_FILES = ("-wal", "-shm", "-journal")

log = logging.getLogger(__name__)


def private_dir(path: Path) -> Path:
    """Create directory `path` (and missing parents) with mode 0700 for `path` itself.

    A directory that already exists keeps its mode: it may be shared on purpose (a user's
    choice of `--data-dir`); the files we create in it are private anyway.
    """
    path.mkdir(mode=PRIVATE_DIR, parents=True, exist_ok=True)
    return path


def private_file(path: Path) -> Path:
    """Make `path` exist with mode 0600 (an empty file is a valid new SQLite database), and
    take group and other access away from it and its SQLite side files if they exist."""
    try:
        os.close(os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, PRIVATE_FILE))
        return path
    except FileExistsError:
        pass
    for p in (path, *(Path(f"{path}{side}") for side in SQLITE_SIDE_FILES)):
        _tighten(p)
    return path


def _tighten(path: Path) -> None:
    try:
        mode = stat.S_IMODE(path.stat().st_mode)
    except OSError:
        return  # absent (side files come and go), or not ours to look at
    if not mode & 0o077:
        return
    try:
        os.chmod(path, mode & ~0o077)
    except PermissionError:
        # Not our file (an admin running a command as another user): leave it as it is.
        log.warning("%s: cannot make it private (mode %o): not its owner", path, mode)
