"""Python package versions per PEP 440, through `packaging.version.Version` (DESIGN §3).

`Version` objects are hashable and totally ordered with equal hashes for equal versions
(`1.0 == 1.0.0`, `1.0c1 == 1.0rc1`, `v1.0 == 1.0`), so the parsed object is the key.
"""

from __future__ import annotations

from packaging.version import InvalidVersion as _PackagingInvalidVersion
from packaging.version import Version

from patchwarden.core.errors import InvalidVersion

NAME = "pep440"


def key(version: str) -> Version:
    """The parsed PEP 440 version; raises InvalidVersion on a non-PEP 440 string and on a
    number too long for `int`."""
    try:
        return Version(version)
    except _PackagingInvalidVersion as exc:
        raise InvalidVersion(NAME, version, str(exc)) from None
    except ValueError:
        # packaging calls int() on every number: over sys.get_int_max_str_digits() (4300)
        # digits that is a plain ValueError, not packaging's InvalidVersion.
        raise InvalidVersion(NAME, version, "digit run too long") from None
