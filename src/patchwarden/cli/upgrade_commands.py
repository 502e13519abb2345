"""The command a user runs to install the fixes of some findings, per OS family.

Debian/Ubuntu: `apt-get install --only-upgrade PKG…` (upgrades only what is installed);
RHEL family: `dnf upgrade --advisory=ALSA-…` when every finding names a vendor advisory,
else `dnf upgrade PKG…` (`yum update` on releases before 8, which have no dnf);
Alpine: `apk upgrade PKG…`. Other systems get no command rather than a guess.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from patchwarden.core.inventory import OsRelease
from patchwarden.core.matching import Match

VENDOR_ADVISORY = re.compile(r"^(?:RH|AL|RL|EL)[SBE]A-|^CESA-|^FEDORA-", re.IGNORECASE)
"""Advisory ids `dnf --advisory` knows: Red Hat, AlmaLinux, Rocky, Oracle, CentOS, Fedora."""


def upgrade_command(os: OsRelease, matches: Sequence[Match]) -> str:
    """The command installing the fixes of `matches` on `os`; "" when none has a fix or the
    family has no known command."""
    # Application findings are fixed in the application, not by the package manager (R-F1).
    fixable = [m for m in matches if m.fixed_version and m.process is None]
    if not fixable:
        return ""
    names = " ".join(sorted({m.package for m in fixable}))
    if os.family in ("debian", "ubuntu"):
        return f"apt-get install --only-upgrade {names}"
    if os.family == "rhel":
        tool = "yum update" if _major(os.release) < 8 else "dnf upgrade"
        per_finding = [
            [a for a in dict.fromkeys((m.id, *m.advisories)) if VENDOR_ADVISORY.match(a)]
            for m in fixable
        ]
        if all(per_finding):
            advisories = sorted({a for found in per_finding for a in found})
            return f"{tool} " + " ".join(f"--advisory={a}" for a in advisories)
        return f"{tool} {names}"
    if os.family == "alpine":
        return f"apk upgrade {names}"
    return ""


def _major(release: str) -> int:
    """The major number of a release ("9", "7.9" -> 9, 7); large when unknown (newest tools)."""
    head = release.split(".", 1)[0]
    return int(head) if head.isdigit() else 1_000
