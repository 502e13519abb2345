"""Where patchwarden keeps its data: `--data-dir`, `$PATCHWARDEN_DATA_DIR`, else the platform's."""

from __future__ import annotations

import os
from pathlib import Path

ENV_DATA_DIR = "PATCHWARDEN_DATA_DIR"


def default_data_dir() -> Path:
    """`$PATCHWARDEN_DATA_DIR`, else `$XDG_DATA_HOME/patchwarden` (~/.local/share/patchwarden)."""
    env = os.environ.get(ENV_DATA_DIR)
    if env:
        return Path(env)
    xdg = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(xdg) / "patchwarden"


def bundled_data_dir() -> Path:
    """Data shipped inside the package (the offline feed snapshot)."""
    return Path(__file__).resolve().parent / "data"
