"""Paths tests share: the repository, the shared corpus, the venv's console scripts."""

from __future__ import annotations

import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
CORPUS = (REPO / ".." / "shared" / "corpus").resolve()
BIN = Path(sys.executable).parent
PATCHWARDEN = str(BIN / "patchwarden")
