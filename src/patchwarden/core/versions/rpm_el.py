"""RPM versions of RHEL-compatible hosts judged against a rebuild's advisories (`rpm-el`).

AlmaLinux (and Rocky Linux) rebuild RHEL packages; when they change one (debranding, a
rebuild fix) they mark the release: RHEL `1.el9_4` becomes AlmaLinux `1.el9_4.alma.1`. The
security content is RHEL's, but rpm orders `1.el9_4 < 1.el9_4.alma.1`, so a RHEL, CentOS or
Oracle host that installed RHEL's fix would still look vulnerable against AlmaLinux's OSV
data (16 % of AlmaLinux 8/9 fixed versions carry such a mark). This scheme orders like `rpm`
after dropping the rebuild mark from the release, on both sides.
"""

from __future__ import annotations

import re

from patchwarden.core.errors import InvalidVersion
from patchwarden.core.versions import rpm

NAME = "rpm-el"

_REBUILD_MARK = re.compile(r"\.(?:alma|rocky)(?:\.[0-9A-Za-z]+)*$")
"""`.alma`, `.alma.1`, `.alma.plus`, `.rocky.0.2` at the end of a release."""


def strip_rebuild_mark(version: str) -> str:
    """`1:2.0-1.el9_4.alma.1` -> `1:2.0-1.el9_4`; other versions unchanged."""
    head, dash, release = version.rpartition("-")
    if not dash:
        return version
    return f"{head}-{_REBUILD_MARK.sub('', release)}"


def key(version: str) -> tuple[rpm.Token, ...]:
    """The `rpm` key of the version without its rebuild mark."""
    try:
        return rpm.key(strip_rebuild_mark(version))
    except InvalidVersion as exc:
        raise InvalidVersion(NAME, version, str(exc).rpartition(": ")[2]) from None
