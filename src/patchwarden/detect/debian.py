"""Debian and Ubuntu: advisories name *source* packages and source versions (DESIGN §1.3)."""

from __future__ import annotations

from patchwarden.core.inventory import Inventory, Package
from patchwarden.detect.base import Driver


class DebianDriver(Driver):
    """Debian: `Debian:<major>` ecosystem, source name, dpkg ordering."""

    family = "debian"
    name = "debian"
    scheme = "dpkg"
    package_format = "deb"

    def ecosystems(self, inv: Inventory) -> list[str]:
        """`Debian:12`; testing/sid hosts have no numeric release and get none."""
        return [f"Debian:{inv.os.release}"] if inv.os.release else []

    def lookup_key(self, pkg: Package) -> tuple[str, str]:
        """Source name and source version (binNMUs keep the source version)."""
        return pkg.source, pkg.source_ver


class UbuntuDriver(DebianDriver):
    """Ubuntu: `Ubuntu:<YY.MM>[:LTS]` as Ubuntu's OSV spells it (OSV ecosystem table)."""

    family = "ubuntu"
    name = "ubuntu"

    def ecosystems(self, inv: Inventory) -> list[str]:
        """Standard support only: ESM (`Ubuntu:Pro:…`) fixes need a Pro subscription."""
        release = inv.os.release
        if not release:
            return []
        return [f"Ubuntu:{release}:LTS" if is_lts(release) else f"Ubuntu:{release}"]


def is_lts(release: str) -> bool:
    """Ubuntu LTS releases are the April releases of even years (6.06 aside)."""
    if release == "6.06":
        return True
    year, _, month = release.partition(".")
    return month == "04" and year.isdigit() and int(year) % 2 == 0
