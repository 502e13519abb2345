"""Releases whose fixes need an operating system upgrade first (SPEC R-F2): the fix button's EOL.

The os-release collector's end-of-life table follows the vendors' support dates (RHEL 8 is
maintained until 2029); the one-click fix follows the spec's own list instead: on these
releases a fix is refused with the `eol` code and the advice to upgrade the OS. The console's
availability and the agent's prechecks read this one table (through
`core.inventory.eol_blocker`), so both refuse alike.

Standard library only and Python 3.9 syntax: the agent imports it (scripts/build-agent-pyz).
"""

from __future__ import annotations

from typing import FrozenSet, Tuple

FIX_NEEDS_OS_UPGRADE: FrozenSet[Tuple[str, str]] = frozenset(
    {
        # (os-release ID, major release): the spec's list, word for word.
        ("rhel", "5"),
        ("rhel", "6"),
        ("rhel", "7"),
        ("rhel", "8"),
        ("centos", "5"),
        ("ubuntu", "12"),  # 12.04 and 12.10
        ("debian", "8"),
        ("debian", "9"),
        ("debian", "10"),
    }
)
"""Releases on which a fix needs an upgrade of the operating system first."""


def needs_os_upgrade(os_id: str, release: str) -> bool:
    """True when a fix on release `release` ("8", "12.04", "10") of distro `os_id` (an
    os-release ID) needs an operating system upgrade first."""
    major = release.strip().split(".", 1)[0]
    return bool(major) and (os_id.strip().lower(), major) in FIX_NEEDS_OS_UPGRADE
