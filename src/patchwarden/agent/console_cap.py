"""The scan memory cap the console sets (SPEC R-D3), kept in the state directory.

Every jobs poll carries the console's cap; the agent keeps the latest one on disk so the scan
that starts its next run (`run --once` from a timer, a restarted service) uses it too. A cap
the agent's own config or command line sets wins over it: the local administrator decides.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Optional

from patchwarden.protocol import v1

FILE = "console-memory-cap.json"


def load(state_dir: Path) -> Optional[int]:
    """The cap last received from the console; None when none was (or the file is unusable,
    so a damaged file falls back to the default instead of stopping the agent)."""
    try:
        data = json.loads((state_dir / FILE).read_text())
        return v1.memory_cap_from_response(data) if isinstance(data, dict) else None
    except (OSError, ValueError):  # ProtocolError is a ValueError
        return None


def save(state_dir: Path, cap_mb: int) -> None:
    """Keep `cap_mb` for the next scans (atomically, readable by the agent only)."""
    state_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=str(state_dir), prefix=FILE + ".")
    try:
        with os.fdopen(fd, "w") as fh:
            json.dump({"memory_cap_mb": cap_mb}, fh)
        os.replace(tmp, str(state_dir / FILE))
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
