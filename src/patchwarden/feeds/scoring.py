"""CVSS base scores from vectors (v2, v3.x, v4) through the pinned `cvss` package."""

from __future__ import annotations

from cvss import CVSS2, CVSS3, CVSS4, CVSSError


def cvss_version(vector: str) -> int:
    """2, 3 or 4 from the vector's prefix (`CVSS:3.1/…`, `CVSS:4.0/…`; v2 has none)."""
    if vector.startswith("CVSS:4"):
        return 4
    if vector.startswith("CVSS:3"):
        return 3
    return 2


def base_score(vector: str) -> float:
    """The base score of a CVSS vector; ValueError naming the vector if it is invalid."""
    text = vector.strip()
    # NVD writes v2 vectors in parentheses sometimes: "(AV:N/AC:L/Au:N/C:P/I:P/A:P)".
    if text.startswith("(") and text.endswith(")"):
        text = text[1:-1]
    version = cvss_version(text)
    try:
        if version == 4:
            return float(CVSS4(text).base_score)
        if version == 3:
            return float(CVSS3(text).base_score)
        return float(CVSS2(text).base_score)
    except CVSSError as exc:
        raise ValueError(f"invalid CVSS vector {vector!r}: {exc}") from exc
