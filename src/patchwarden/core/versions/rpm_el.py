"""RPM versions of RHEL-compatible hosts judged against a rebuild's advisories (`rpm-el`).

AlmaLinux (and Rocky Linux) rebuild RHEL packages; when they change one (debranding, a
rebuild fix) they mark the release: RHEL `1.el9_4` becomes AlmaLinux `1.el9_4.alma.1`. The
security content is RHEL's, but rpm orders `1.el9_4 < 1.el9_4.alma.1`, so a RHEL, CentOS or
Oracle host that installed RHEL's fix would still look vulnerable against AlmaLinux's OSV
data (16 % of AlmaLinux 8/9 fixed versions carry such a mark).

Module builds (EL8+) have a second vendor-specific part: the build-system context in the
release, RHEL `1.module+el8.8.0+19978+1d8c5a8e.1` against AlmaLinux
`1.module_el8.8.0+3623+f96e6422.1.alma.1`. The build numbers (19978, 3623) count different
build systems and order nothing across vendors; what orders the fixes is the release around
them (`1` … `.1`).

This scheme orders like `rpm` after dropping both parts from the release, on both sides.
"""

from __future__ import annotations

import re

from patchwarden.core.errors import InvalidVersion
from patchwarden.core.versions import rpm

NAME = "rpm-el"

_REBUILD_WORDS = ("alma", "rocky")
"""The part that opens a rebuild mark: `.alma`, `.alma.1`, `.alma.plus`, `.rocky.0.2` at the end
of a release (only alphanumeric parts after it)."""
_MODULE_BUILD = re.compile(r"\.module[_+]el\d+(?:\.[0-9a-z]+)*\+\d+\+[0-9a-f]+")
"""`.module+el8.8.0+19978+1d8c5a8e`, `.module+el9.2.0.z+18964+42696395` (RHEL, Rocky) or
`.module_el8.8.0+3623+f96e6422` (AlmaLinux)."""


def vendor_neutral(version: str) -> str:
    """`1:2.0-1.el9_4.alma.1` -> `1:2.0-1.el9_4`, `1:1.22.1-1.module+el8.8.0+19978+1d8c5a8e.1`
    -> `1:1.22.1-1.1`; other versions unchanged."""
    head, dash, release = version.rpartition("-")
    if not dash:
        return version
    return f"{head}-{_without_rebuild_mark(_MODULE_BUILD.sub('', release))}"


def _without_rebuild_mark(release: str) -> str:
    """`release` up to its first `.alma` / `.rocky` part that only alphanumeric parts follow.

    A walk over the '.'-separated parts rather than a regex anchored at the end: searching
    such a regex tries every `.alma` as a start and scans to the end from each, quadratic
    in a long release full of them (20 kB took 1.5 s).
    """
    parts = release.split(".")
    first = len(parts)  # the start of the trailing run of non-empty ASCII alphanumeric parts
    while first > 1 and parts[first - 1].isalnum() and parts[first - 1].isascii():
        first -= 1
    for index in range(first, len(parts)):
        if parts[index] in _REBUILD_WORDS:
            return ".".join(parts[:index])
    return release


def key(version: str) -> tuple[rpm.Token, ...]:
    """The `rpm` key of the version without its vendor-specific parts."""
    try:
        return rpm.key(vendor_neutral(version))
    except InvalidVersion as exc:
        raise InvalidVersion(NAME, version, str(exc).rpartition(": ")[2]) from None
