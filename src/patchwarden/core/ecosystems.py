"""OSV ecosystems: which version scheme orders each one, and which are Linux software (R-T1).

An OSV ecosystem string is a base name, optionally followed by `:` and a release
(`Debian:12`, `Ubuntu:Pro:18.04:LTS`, `Alpine:v3.20`); everything here is keyed by the base.
Standard library only, Python 3.9 syntax (annotations are postponed): `core.versions`
re-exports this table, and the agent imports `core.versions.dpkg` (DESIGN §2).
"""

from __future__ import annotations

from patchwarden.core.errors import UnknownScheme

ECOSYSTEMS: dict[str, str | None] = {
    "Debian": "dpkg",
    "Ubuntu": "dpkg",
    "AlmaLinux": "rpm",
    "Rocky Linux": "rpm",
    "Red Hat": "rpm",
    "RHEL": "rpm",
    "CentOS": "rpm",
    "Oracle Linux": "rpm",
    "openSUSE": "rpm",
    "SUSE": "rpm",
    "Mageia": "rpm",
    "Alpine": "apk",
    "Wolfi": "apk",
    "Chainguard": "apk",
    "MinimOS": "apk",
    "Photon OS": "rpm",
    "Azure Linux": "rpm",
    "Mariner": "rpm",
    "openEuler": "rpm",
    "Bitnami": "semver",
    "Maven": "maven",
    "npm": "semver",
    "crates.io": "semver",
    "Go": "semver",
    "PyPI": "pep440",
    "Packagist": None,
    "NuGet": None,
    "RubyGems": None,
    "Hex": None,
    "Pub": None,
    "GitHub Actions": None,
    "OSS-Fuzz": None,
    "Linux": None,
    "CRAN": None,
    "Hackage": None,
    "SwiftURL": None,
}
"""Base OSV ecosystem -> version scheme name (a key of `core.versions.SCHEMES`). Ecosystems
we know but cannot order yet map to None, so callers can tell "unsupported" from "unknown"."""

DISTRO_ECOSYSTEMS: frozenset[str] = frozenset(
    {
        "Debian", "Ubuntu", "AlmaLinux", "Rocky Linux", "Red Hat", "RHEL", "CentOS",
        "Oracle Linux", "openSUSE", "SUSE", "Mageia", "Alpine", "Wolfi", "Chainguard",
        "MinimOS", "Photon OS", "Azure Linux", "Mariner", "openEuler", "Linux",
    }
)  # fmt: skip
"""Base ecosystems of Linux software (R-T1, type `linux`): distribution packages and the
kernel (`Linux`, which has no version scheme yet). Every other ecosystem (Maven, PyPI, npm,
Packagist …) names application libraries (R-T4)."""


def base_ecosystem(ecosystem: str) -> str:
    """`Debian:12` -> `Debian`; `Ubuntu:Pro:18.04:LTS` -> `Ubuntu`; a base stays as it is."""
    return ecosystem.split(":", 1)[0]


def scheme_for(ecosystem: str) -> str | None:
    """The version scheme of an OSV ecosystem (with or without release); None when known but
    not orderable.

    Raises UnknownScheme for an ecosystem we have never heard of.
    """
    base = base_ecosystem(ecosystem)
    if base not in ECOSYSTEMS:
        raise UnknownScheme(f"unknown ecosystem {ecosystem!r}")
    return ECOSYSTEMS[base]


def is_distro(ecosystem: str) -> bool:
    """Whether an ecosystem (base, or with its release) holds Linux software (R-T1)."""
    return base_ecosystem(ecosystem) in DISTRO_ECOSYSTEMS


__all__ = ["DISTRO_ECOSYSTEMS", "ECOSYSTEMS", "base_ecosystem", "is_distro", "scheme_for"]
