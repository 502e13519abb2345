"""Per-family detection drivers: which ecosystem, name and version scheme each package uses.

Registered explicitly (STYLE P2); `driver_for(os)` picks the driver of an OS family.
"""

from __future__ import annotations

from patchwarden.core.inventory import OsRelease
from patchwarden.detect.alpine import AlpineDriver
from patchwarden.detect.base import Driver
from patchwarden.detect.debian import DebianDriver, UbuntuDriver
from patchwarden.detect.rhel import RhelDriver

DRIVERS: dict[str, Driver] = {}
for _driver in (DebianDriver(), UbuntuDriver(), RhelDriver(), AlpineDriver()):
    if _driver.family in DRIVERS:
        raise RuntimeError(f"duplicate detection driver for {_driver.family}")
    DRIVERS[_driver.family] = _driver


def driver_for(os: OsRelease) -> Driver | None:
    """The driver of the host's OS family, or None when we have none."""
    return DRIVERS.get(os.family)


__all__ = ["DRIVERS", "Driver", "driver_for"]
