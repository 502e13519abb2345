"""Distro release codenames -> the OSV ecosystem strings the matcher keys on.

Debian and Ubuntu trackers name releases by codename; OSV names them by number. We emit the
exact strings the distros' own OSV records use (`Debian:12`, `Ubuntu:18.04:LTS`,
`Ubuntu:Pro:14.04:LTS`, see corpus CVE-2024-0727.json) so that a host finds tracker and OSV
data under one key.
"""

from __future__ import annotations

DEBIAN_RELEASES: dict[str, str] = {
    "buzz": "1.1",
    "rex": "1.2",
    "bo": "1.3",
    "hamm": "2.0",
    "slink": "2.1",
    "potato": "2.2",
    "woody": "3.0",
    "sarge": "3.1",
    "etch": "4",
    "lenny": "5",
    "squeeze": "6",
    "wheezy": "7",
    "jessie": "8",
    "stretch": "9",
    "buster": "10",
    "bullseye": "11",
    "bookworm": "12",
    "trixie": "13",
    "forky": "14",
    "duke": "15",
    # sid never gets a number; OSV has no key for it, so we name it.
    "sid": "unstable",
}

# codename -> (version, is LTS). Source: https://wiki.ubuntu.com/Releases
UBUNTU_RELEASES: dict[str, tuple[str, bool]] = {
    "warty": ("4.10", False),
    "hoary": ("5.04", False),
    "breezy": ("5.10", False),
    "dapper": ("6.06", True),
    "edgy": ("6.10", False),
    "feisty": ("7.04", False),
    "gutsy": ("7.10", False),
    "hardy": ("8.04", True),
    "intrepid": ("8.10", False),
    "jaunty": ("9.04", False),
    "karmic": ("9.10", False),
    "lucid": ("10.04", True),
    "maverick": ("10.10", False),
    "natty": ("11.04", False),
    "oneiric": ("11.10", False),
    "precise": ("12.04", True),
    "quantal": ("12.10", False),
    "raring": ("13.04", False),
    "saucy": ("13.10", False),
    "trusty": ("14.04", True),
    "utopic": ("14.10", False),
    "vivid": ("15.04", False),
    "wily": ("15.10", False),
    "xenial": ("16.04", True),
    "yakkety": ("16.10", False),
    "zesty": ("17.04", False),
    "artful": ("17.10", False),
    "bionic": ("18.04", True),
    "cosmic": ("18.10", False),
    "disco": ("19.04", False),
    "eoan": ("19.10", False),
    "focal": ("20.04", True),
    "groovy": ("20.10", False),
    "hirsute": ("21.04", False),
    "impish": ("21.10", False),
    "jammy": ("22.04", True),
    "kinetic": ("22.10", False),
    "lunar": ("23.04", False),
    "mantic": ("23.10", False),
    "noble": ("24.04", True),
    "oracular": ("24.10", False),
    "plucky": ("25.04", False),
    "questing": ("25.10", False),
}


def debian_ecosystem(codename: str) -> str | None:
    """`bookworm` -> `Debian:12`, `sid` -> `Debian:unstable`; None for an unknown name."""
    number = DEBIAN_RELEASES.get(codename.lower())
    return f"Debian:{number}" if number else None


def ubuntu_ecosystem(codename: str, pro: bool = False) -> str | None:
    """`bionic` -> `Ubuntu:18.04:LTS`; with `pro` (ESM) -> `Ubuntu:Pro:18.04:LTS`.

    None for an unknown codename. Ubuntu's OSV data puts ESM fixes under `Ubuntu:Pro:…`
    (all ESM releases are LTS ones) and names non-LTS releases without a suffix.
    """
    known = UBUNTU_RELEASES.get(codename.lower())
    if known is None:
        return None
    version, lts = known
    if pro:
        return f"Ubuntu:Pro:{version}:LTS"
    return f"Ubuntu:{version}:LTS" if lts else f"Ubuntu:{version}"
