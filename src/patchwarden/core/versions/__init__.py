"""Version schemes behind one API: `compare(scheme, a, b)` and `key(scheme, v)`.

Each scheme module exposes `NAME` and `key(version) -> sortable, hashable key` and raises
`InvalidVersion` (naming the scheme and the string) on input it cannot parse. Keys are built
once and compared many times (DESIGN §3: dpkg/rpm keys reach millions of comparisons/s).
"""

from __future__ import annotations

from collections.abc import Callable, Hashable
from functools import cache, lru_cache
from types import ModuleType
from typing import Any

from patchwarden.core.errors import UnknownScheme
from patchwarden.core.versions import apk, dpkg, maven, pep440, rpm, rpm_el, semver

SCHEMES: dict[str, ModuleType] = {}
for _scheme in (dpkg, rpm, rpm_el, apk, maven, semver, pep440):
    if _scheme.NAME in SCHEMES:
        raise RuntimeError(f"duplicate version scheme {_scheme.NAME}")
    SCHEMES[_scheme.NAME] = _scheme

# OSV ecosystem (the part before the first ':') -> scheme. Known ecosystems that we parse but
# cannot order yet map to None, so callers can tell "unsupported" from "unknown".
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


def base_ecosystem(ecosystem: str) -> str:
    """`Debian:12` -> `Debian`; `Ubuntu:Pro:18.04:LTS` -> `Ubuntu`."""
    return ecosystem.split(":", 1)[0]


def scheme_for(ecosystem: str) -> str | None:
    """The version scheme of an OSV ecosystem; None when known but not orderable.

    Raises UnknownScheme for an ecosystem we have never heard of.
    """
    base = base_ecosystem(ecosystem)
    if base not in ECOSYSTEMS:
        raise UnknownScheme(f"unknown ecosystem {ecosystem!r}")
    return ECOSYSTEMS[base]


def _module(scheme: str) -> ModuleType:
    try:
        return SCHEMES[scheme]
    except KeyError:
        raise UnknownScheme(
            f"unknown version scheme {scheme!r} (known: {', '.join(sorted(SCHEMES))})"
        ) from None


def key_function(scheme: str) -> Callable[[str], Any]:
    """The scheme's `key` function, cached per string (hot loops call this once)."""
    return _cached_key(_module(scheme).key)


@cache
def _cached_key(fn: Callable[[str], Any]) -> Callable[[str], Any]:
    return lru_cache(maxsize=1 << 16)(fn)


def key(scheme: str, version: str) -> Hashable:
    """A hashable, totally ordered key for `version`; equal versions have equal keys."""
    result: Hashable = key_function(scheme)(version)
    return result


def compare(scheme: str, a: str, b: str) -> int:
    """-1, 0 or 1 as `a` sorts before, equal to, or after `b` under `scheme`."""
    k = key_function(scheme)
    ka, kb = k(a), k(b)
    return int(ka > kb) - int(ka < kb)


__all__ = [
    "ECOSYSTEMS",
    "SCHEMES",
    "base_ecosystem",
    "compare",
    "key",
    "key_function",
    "scheme_for",
]
