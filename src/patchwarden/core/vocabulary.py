"""Words every part of patchwarden shares: the vulnerability types of SPEC §1.

Standard library only and Python 3.9: the agent (through `protocol.v1`) uses it too.
"""

from __future__ import annotations

from enum import Enum


class VulnType(str, Enum):
    """Vulnerability types, keyed as in SPEC §1 (R-T1…R-T5)."""

    LINUX = "linux"
    WINDOWS = "windows"
    CMS = "cms"
    APP = "app"
    EMERGENCY = "emergency"
