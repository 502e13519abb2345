"""Agent configuration and state on disk: `/var/lib/patchwarden` unless `--state-dir` says else.

`agent.json` holds the server URL and the per-agent credentials (mode 0600); `outbox/` holds
uploads not yet acknowledged, so an agent killed mid-upload resends them on its next start.
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


class StateError(Exception):
    """The state directory is unusable or the agent is not enrolled."""


@dataclass(frozen=True)
class AgentState:
    """What enrolment leaves behind."""

    server: str
    host_id: str
    secret: str


def _write_private(path: Path, data: bytes) -> None:
    """Write atomically with mode 0600 (credentials, pending uploads)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=str(path.parent), prefix=path.name + ".")
    try:
        os.fchmod(fd, 0o600)
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
    """Persist the enrolment (credentials readable by root only)."""
    _write_private(state_dir / STATE_FILE, json.dumps(asdict(state), indent=2).encode())


def outbox_put(state_dir: Path, report_id: str, body: bytes) -> Path:
    """Keep an upload until the console acknowledges it."""
    path = state_dir / OUTBOX / f"{report_id}.json.gz"
    _write_private(path, body)
    return path


def outbox_pending(state_dir: Path) -> List[Path]:
    """Unacknowledged uploads, oldest first."""
    box = state_dir / OUTBOX
    if not box.is_dir():
        return []
    return sorted(box.glob("*.json.gz"), key=lambda p: p.stat().st_mtime)
