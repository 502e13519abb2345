"""Alpine: secdb and OSV name the *origin* package under `Alpine:v<major.minor>`."""

from __future__ import annotations

from patchwarden.core.inventory import Inventory, Package
from patchwarden.detect.base import Driver


class AlpineDriver(Driver):
    """Alpine: origin name, apk ordering."""

    family = "alpine"
    name = "alpine"
    scheme = "apk"
    package_format = "apk"

    def ecosystems(self, inv: Inventory) -> list[str]:
        """`Alpine:v3.19`; edge has no release branch in the feeds."""
        release = inv.os.release
        if not release or release == "edge":
            return []
        return [f"Alpine:v{release}"]

    def lookup_key(self, pkg: Package) -> tuple[str, str]:
        """Origin (source) name with the binary's version (apk builds share it)."""
        return pkg.source, pkg.version
