"""Reading a text database or release file under the scanned root, with clear failures."""

from __future__ import annotations

from pathlib import Path

from patchwarden.agent.collectors.base import CollectorFailed


def read_text(path: Path, rel: str) -> str:
    """The UTF-8 text of `path`; CollectorFailed naming `rel` for binary garbage or bad bytes.

    A NUL byte never occurs in these text formats, so it marks a corrupt or wrong file.
    """
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise CollectorFailed(f"cannot read: {exc.strerror or exc}", rel) from exc
    nul = data.find(b"\0")
    if nul >= 0:
        raise CollectorFailed(f"binary data (NUL byte at offset {nul}), expected text", rel)
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise CollectorFailed(f"not UTF-8 text (bad byte at offset {exc.start})", rel) from exc
