"""RHEL family: advisories name *binary* packages; versions are EVR with epoch.

AlmaLinux and Rocky Linux rebuild RHEL, so a RHEL, CentOS or Oracle host is judged against
AlmaLinux's OSV data of the same major release (the issue's RHEL 8/9 manifests are tested
that way), with the rebuild's release marks (`.alma.1`) ignored.
"""

from __future__ import annotations

from patchwarden.core.advisory import Advisory
from patchwarden.core.inventory import Inventory
from patchwarden.detect.base import Driver

_ECOSYSTEM_BY_ID = {
    "almalinux": ("AlmaLinux",),
    "rocky": ("Rocky Linux", "AlmaLinux"),
}
_DEFAULT = ("AlmaLinux",)
# Bug-fix (xxBA) and enhancement (xxEA) errata ship in the same OSV feeds as security
# advisories (xxSA); they fix no vulnerability and must not become findings.
_NON_SECURITY = ("ALBA-", "ALEA-", "RLBA-", "RLEA-", "RHBA-", "RHEA-")


class RhelDriver(Driver):
    """RHEL, CentOS, AlmaLinux, Rocky, Oracle: binary name, rpm EVR ordering."""

    family = "rhel"
    name = "rhel"
    scheme = "rpm"
    package_format = "rpm"

    def relevant(self, advisory: Advisory) -> bool:
        """Security errata only (ALSA/RLSA/RHSA), not bug-fix or enhancement errata."""
        return not advisory.id.startswith(_NON_SECURITY)

    def version_scheme(self, inv: Inventory) -> str:
        """`rpm` on AlmaLinux itself; `rpm-el` elsewhere, so that RHEL's own fix is not
        older than AlmaLinux's rebuild of it (see `core.versions.rpm_el`)."""
        return "rpm" if inv.os.id == "almalinux" else "rpm-el"

    def ecosystems(self, inv: Inventory) -> list[str]:
        """`AlmaLinux:9` (plus `Rocky Linux:9` first on Rocky hosts)."""
        major = inv.os.release.split(".", 1)[0]
        if not major:
            return []
        return [f"{eco}:{major}" for eco in _ECOSYSTEM_BY_ID.get(inv.os.id, _DEFAULT)]
