"""RHEL modularity (EL8+): a module build fixes only its own stream.

RHEL 8 ships several streams of one package (`nginx:1.22`, `nginx:1.24`) side by side; their
builds carry `.module_el8…` / `.module+el8…` in the release, and the host's rpm records the
stream in the MODULARITYLABEL header. AlmaLinux and Rocky OSV errata name the stream only in
their summary (`Moderate: nginx:1.22 security update`). Comparing a stream-1.22 host with a
stream-1.24 fix would call every 1.22 build vulnerable (ANCHORS: Vuls and Trivy match the
modularity label for this reason). The rule, as Vuls applies it:

* a modular fix does not apply to a non-modular package, nor a non-modular fix to a modular
  one (different build lines of one name);
* when both the package's stream and the advisory's streams are known, they must agree.
"""

from __future__ import annotations

import re

from patchwarden.core.advisory import Affected, EventKind
from patchwarden.core.inventory import Package

_MODULAR_RELEASE = re.compile(r"\.module[_+]el\d")
_STREAM = re.compile(r"(?<![\w.+-])([A-Za-z0-9][\w.+-]*):([\w.+-]*\w)")


def is_modular(version: str) -> bool:
    """Whether an rpm `[E:]V-R` is a module build (`1.22.1-1.module_el8.7.0+3182+f3d2f1d4`)."""
    return bool(_MODULAR_RELEASE.search(version.rpartition("-")[2]))


def streams_in(summary: str) -> tuple[str, ...]:
    """Module streams an erratum summary names: `virt:rhel and virt-devel:rhel security
    update` -> (`virt:rhel`, `virt-devel:rhel`); the `Important: ` rating is no stream."""
    return tuple(dict.fromkeys(f"{m.group(1)}:{m.group(2)}" for m in _STREAM.finditer(summary)))


def module_fix(affected: Affected) -> bool | None:
    """Whether the entry's fixed versions are module builds; None when it names no fix."""
    fixes = [e.version for r in affected.ranges for e in r.events if e.kind is EventKind.FIXED]
    return any(is_modular(v) for v in fixes) if fixes else None


def module_applies(affected: Affected, pkg: Package) -> bool:
    """Whether `affected` speaks about the build line (modular stream or not) of `pkg`."""
    fix = module_fix(affected)
    if fix is not None and fix != (bool(pkg.module) or is_modular(pkg.version)):
        return False
    if pkg.module and affected.modules:
        return pkg.module in affected.modules
    return True
