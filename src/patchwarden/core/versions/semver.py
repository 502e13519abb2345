"""Semantic Versioning 2.0.0 as node-semver orders it (OSV `SEMVER` ranges: npm, crates.io, Go).

Parsing is the `semver` package's strict parser (DESIGN §3); like node-semver, a leading `v`
and surrounding blanks are accepted. SemVer §10/§11: build metadata is ignored for ordering and
equality (`1.0.0+build.1 == 1.0.0`), and a pre-release sorts before its release, identifier by
identifier, numeric identifiers numerically and below alphanumeric ones, a shorter set of
identifiers first when all before are equal.
"""

from __future__ import annotations

from typing import Union

from semver import Version

from patchwarden.core.errors import InvalidVersion

NAME = "semver"

_RELEASE = (1,)
"""The pre-release part of a release: sorts after every pre-release, which start with 0."""

Key = tuple[int, int, int, tuple[Union[int, tuple[int, Union[int, str]]], ...]]


def key(version: str) -> Key:
    """(major, minor, patch, pre-release) ordered like node-semver's `compare`.

    Raises InvalidVersion on anything strict SemVer 2.0.0 (with an optional leading `v`)
    rejects: `1.2`, `01.2.3`, `1.2.3-01`, empty strings; and on a number too long for `int`.
    """
    text = version.strip()
    if text.startswith("v"):
        text = text[1:]
    try:
        parsed = Version.parse(text)
    except (ValueError, TypeError) as exc:
        why = str(exc)
        if why.endswith(" is not valid SemVer string"):
            why = "not valid SemVer 2.0.0"  # semver's message repeats the whole string
        elif "integer string conversion" in why:
            # int() refused a number over sys.get_int_max_str_digits() (4300) digits.
            why = "digit run too long"
        raise InvalidVersion(NAME, version, why) from None
    if parsed.prerelease is None:
        pre: tuple[int | tuple[int, int | str], ...] = _RELEASE
    else:
        # SemVer §11.4: numeric identifiers (0, n) sort below alphanumeric ones (1, s).
        try:
            pre = (0,) + tuple(
                (0, int(part)) if part.isdigit() else (1, part)
                for part in parsed.prerelease.split(".")
            )
        except ValueError:
            # int() refuses over sys.get_int_max_str_digits() (4300) digits, as in `dpkg`.
            raise InvalidVersion(NAME, version, "digit run too long") from None
    return (parsed.major, parsed.minor, parsed.patch, pre)
