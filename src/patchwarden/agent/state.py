"""Agent configuration and state on disk: `/var/lib/patchwarden` unless `--state-dir` says else.

`agent.json` holds the server URL and the per-agent credentials; `outbox/` holds uploads not
yet acknowledged, so an agent killed mid-upload resends them on its next start; `cache/` what
collectors fetched once. Inventories and credentials are the agent's alone: the directories
the agent creates are 0700 and every file it writes is 0600.
"""

from __future__ import annotations

import json
import os
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import List, Optional

DEFAULT_STATE_DIR = Path("/var/lib/patchwarden")
STATE_FILE = "agent.json"
OUTBOX = "outbox"
CACHE = "cache"
PRIVATE_DIR = 0o700
PRIVATE_FILE = 0o600


class StateError(Exception):
    """The state directory is unusable or the agent is not enrolled."""


@dataclass(frozen=True)
class AgentState:
    """What enrolment leaves behind."""

    server: str
    host_id: str
    secret: str


def prepare(state_dir: Path) -> None:
    """Create the state directory and its outbox and cache, each 0700.

    Directories that exist keep their mode (a state dir made by an older agent is 0755, but
    everything in it was written 0600).
    """
    for path in (state_dir, state_dir / OUTBOX, state_dir / CACHE):
        # mkdir(parents=True) gives missing parents the umask's mode: the state dir itself
        # comes first so that it gets 0700 too.
        path.mkdir(mode=PRIVATE_DIR, parents=True, exist_ok=True)


def _write_private(path: Path, data: bytes) -> None:
    """Write atomically with mode 0600 (credentials, pending uploads)."""
    fd, tmp = tempfile.mkstemp(dir=str(path.parent), prefix=path.name + ".")
    try:
        os.fchmod(fd, PRIVATE_FILE)
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, str(path))
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def load(state_dir: Path) -> Optional[AgentState]:
    """The saved state, or None when not enrolled yet."""
    path = state_dir / STATE_FILE
    if not path.exists():
        return None
    try:
        data = json.loads(path.read_text())
        return AgentState(server=data["server"], host_id=data["host_id"], secret=data["secret"])
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise StateError(f"{path}: unreadable agent state ({exc}); enrol again") from exc


def save(state_dir: Path, state: AgentState) -> None:
    """Persist the enrolment (credentials readable by the agent's user only)."""
    prepare(state_dir)
    _write_private(state_dir / STATE_FILE, json.dumps(asdict(state), indent=2).encode())


def outbox_put(state_dir: Path, report_id: str, body: bytes) -> Path:
    """Keep an upload until the console acknowledges it."""
    path = state_dir / OUTBOX / f"{report_id}.json.gz"
    prepare(state_dir)
    _write_private(path, body)
    return path


def outbox_pending(state_dir: Path) -> List[Path]:
    """Unacknowledged uploads, oldest first."""
    box = state_dir / OUTBOX
    if not box.is_dir():
        return []
    return sorted(box.glob("*.json.gz"), key=lambda p: p.stat().st_mtime)
