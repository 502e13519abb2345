"""Remediation actions of the agent: package managers (STYLE P2 registry), fix, rollback,
restart, error classification.

`PACKAGE_MANAGERS` holds one instance per package manager, one line each; `package_manager_for`
picks the one a root uses (from its OS family, then from the programs present).
"""

from __future__ import annotations

from pathlib import Path
from typing import Dict, Optional

from patchwarden.agent.actions.apk import Apk
from patchwarden.agent.actions.apt import Apt
from patchwarden.agent.actions.base import PackageManager
from patchwarden.agent.actions.dnf import Dnf
from patchwarden.agent.collectors.base import resolve_in_root
from patchwarden.core.inventory import OsRelease

PACKAGE_MANAGERS: Dict[str, PackageManager] = {}
"""name -> package manager."""


def _register(pm: PackageManager) -> None:
    if not pm.name or pm.name in PACKAGE_MANAGERS:
        raise ValueError(f"package manager {pm.name!r} is empty or already registered")
    PACKAGE_MANAGERS[pm.name] = pm


_register(Apt())
_register(Dnf("dnf"))  # RHEL 8+, Fedora, AlmaLinux, Rocky, Amazon Linux 2023
_register(Dnf("yum"))  # RHEL/CentOS 7 and older
_register(Apk())

# Which programs betray a package manager, in order of preference per OS family.
_PROGRAMS = {
    "apt": ("usr/bin/apt-get",),
    "dnf": ("usr/bin/dnf", "usr/bin/dnf-3", "usr/bin/dnf5"),
    "yum": ("usr/bin/yum",),
    "apk": ("sbin/apk", "usr/sbin/apk", "bin/apk"),
}
_BY_FAMILY = {
    "debian": ("apt",),
    "ubuntu": ("apt",),
    "rhel": ("dnf", "yum"),
    "alpine": ("apk",),
}


def package_manager_for(root: Path, os: Optional[OsRelease] = None) -> Optional[PackageManager]:
    """The package manager that manages `root`, None when there is none we drive."""
    family = os.family if os is not None else ""
    order = list(_BY_FAMILY.get(family, ())) + list(_PROGRAMS)
    for name in order:
        if any(resolve_in_root(root, p).exists() for p in _PROGRAMS[name]):
            return PACKAGE_MANAGERS[name]
    return None
