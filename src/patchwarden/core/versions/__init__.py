"""Version schemes behind one API: `compare(scheme, a, b)` and `key(scheme, v)`.

Each scheme module exposes `NAME` and `key(version) -> sortable, hashable key` and raises
`InvalidVersion` (naming the scheme and the string) on input it cannot parse. Keys are built
once and compared many times (DESIGN §3: dpkg/rpm keys reach millions of comparisons/s).

Schemes are imported on first use, not here: `maven`, `semver` and `pep440` wrap univers,
semver and packaging, while the agent imports `core.versions.dpkg` - and with it this package -
on stock server Pythons that have none of them. So importing `core.versions.dpkg` or `.rpm`
costs only the standard library (a test runs it with no site-packages at all); the OSV
ecosystem table lives in the stdlib module `core.ecosystems` and is re-exported here.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Hashable, Iterator, Mapping
from functools import cache, lru_cache
from types import ModuleType
from typing import Any

from patchwarden.core.ecosystems import ECOSYSTEMS, base_ecosystem, scheme_for
from patchwarden.core.errors import UnknownScheme

SCHEME_MODULES: dict[str, str] = {
    "dpkg": "patchwarden.core.versions.dpkg",
    "rpm": "patchwarden.core.versions.rpm",
    "rpm-el": "patchwarden.core.versions.rpm_el",
    "apk": "patchwarden.core.versions.apk",
    "maven": "patchwarden.core.versions.maven",  # univers
    "semver": "patchwarden.core.versions.semver",  # semver
    "pep440": "patchwarden.core.versions.pep440",  # packaging
}
"""Scheme name -> module, one line per scheme (STYLE P2); the module's `NAME` must match."""


_LOADED: dict[str, ModuleType] = {}


def _load(scheme: str) -> ModuleType:
    """Import a registered scheme module once; later calls are one dict lookup."""
    module = _LOADED.get(scheme)
    if module is None:
        module = importlib.import_module(SCHEME_MODULES[scheme])
        declared = module.NAME
        if declared != scheme:
            raise RuntimeError(f"{module.__name__} is registered as {scheme!r}, not {declared!r}")
        _LOADED[scheme] = module
    return module


class _Schemes(Mapping[str, ModuleType]):
    """`SCHEMES[name]` is the scheme's module, imported on first access; `in`, `len` and
    iteration see the names only, so they import nothing."""

    def __getitem__(self, scheme: str) -> ModuleType:
        if scheme not in SCHEME_MODULES:
            raise KeyError(scheme)
        return _load(scheme)

    def __contains__(self, scheme: object) -> bool:
        return scheme in SCHEME_MODULES

    def __iter__(self) -> Iterator[str]:
        return iter(SCHEME_MODULES)

    def __len__(self) -> int:
        return len(SCHEME_MODULES)


SCHEMES: Mapping[str, ModuleType] = _Schemes()
"""Read-only scheme name -> module mapping; a scheme's module loads when first looked up."""


def _module(scheme: str) -> ModuleType:
    module = _LOADED.get(scheme)  # the hot path: compare() and key() come through here
    if module is None:
        if scheme not in SCHEME_MODULES:
            known = ", ".join(sorted(SCHEME_MODULES))
            raise UnknownScheme(f"unknown version scheme {scheme!r} (known: {known})")
        module = _load(scheme)
    return module


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
    "SCHEME_MODULES",
    "base_ecosystem",
    "compare",
    "key",
    "key_function",
    "scheme_for",
]
