"""RPM versions, `[epoch:]version[-release]`, ordered like rpm's `rpmvercmp` / `labelCompare`.

`key()` parses once into a flat tuple whose tuple ordering equals rpm 4.15+ (DESIGN §3; rpm's
own `labelCompare` via Debian's python3-rpm is the test oracle).

How rpmvercmp becomes a key. rpmvercmp skips every character that is not an ASCII letter,
digit, `~` or `^` (those only separate segments), then walks both strings segment by segment.
Read as a token stream, its rules are one total order on tokens:

    `~`  <  end of string  <  `^`  <  alphabetic segment  <  numeric segment

- `~` sorts before everything, even the end (`1.0~rc1 < 1.0`);
- `^` sorts after the end but before any further segment (`1.0 < 1.0^git1 < 1.0.1`);
- a numeric segment beats an alphabetic one (`1.0a < 1.0.1`, `a < 1`); numbers compare as
  integers (leading zeros ignored), letters with strcmp;
- when one string runs out first, the other wins (`2.0 < 2.0.0`) unless its next token is `~`.

Each token becomes two tuple items (rank, value), and every string ends with the end token,
so plain tuple comparison walks token by token exactly like rpmvercmp and no key is a proper
prefix of another.

Epoch, version and release: `labelCompare` compares the epochs (missing = 0), then versions,
then releases; a missing release sorts before any present one (`1.0 < 1.0-1`), which the key
encodes with a 0/1 flag before the release tokens.
"""

from __future__ import annotations

import re
from typing import Union

from patchwarden.core.errors import InvalidVersion

NAME = "rpm"

_TILDE, _END, _CARET, _ALPHA, _NUM = 0, 1, 2, 3, 4
# rpmvercmp's segments: digit runs, ASCII letter runs, and the lone `~` / `^` markers;
# everything else (`.`, `_`, `+`, `-`, non-ASCII bytes, …) is a separator and is dropped.
_TOKEN = re.compile(r"([0-9]+)|([A-Za-z]+)|(~)|(\^)")
_EPOCH = re.compile(r"([0-9]*):")

Token = Union[int, str]


def _tokens(part: str) -> list[Token]:
    """Flatten a version or release string into (rank, value) pairs ending with the end token."""
    out: list[Token] = []
    for digits, letters, tilde, _caret in _TOKEN.findall(part):
        if digits:
            out.extend((_NUM, int(digits)))
        elif letters:
            out.extend((_ALPHA, letters))
        elif tilde:
            out.extend((_TILDE, 0))
        else:
            out.extend((_CARET, 0))
    out.extend((_END, 0))
    return out


def split_evr(version: str) -> tuple[str, str, str | None]:
    """Split `[E:]V[-R]` the way rpm's `parseEVR` does: leading digits and ':' are the epoch,
    the release follows the last '-'. Returns (epoch, version, release or None); the epoch is
    "0" when absent.

    Like rpm, a ':' that does not follow leading digits is part of the version or release
    (Red Hat module releases such as `…noarch.rpm-nginx:1` have them) and an empty release
    (`1.0-`) is a present, empty release. Raises InvalidVersion on an empty string, blanks or
    control characters, an empty epoch (`:1.0`) or an empty version.
    """
    if not version:
        raise InvalidVersion(NAME, version, "empty version")
    if not version.isprintable() or any(c.isspace() for c in version):
        raise InvalidVersion(NAME, version, "contains whitespace or control characters")
    epoch = "0"
    rest = version
    match = _EPOCH.match(version)
    if match:
        if not match.group(1):
            raise InvalidVersion(NAME, version, "empty epoch before ':'")
        epoch, rest = match.group(1), version[match.end() :]
    ver, dash, release = rest.rpartition("-")
    if not dash:
        ver, release_or_none = rest, None
    else:
        release_or_none = release
    if not ver:
        raise InvalidVersion(NAME, version, "empty version part")
    return epoch, ver, release_or_none


def key(version: str) -> tuple[Token, ...]:
    """A flat tuple ordered like rpm's `labelCompare((E, V, R), …)` on `[E:]V[-R]` strings.

    `0:1.0-1` and `1.0-1` get the same key, so do `1.01` and `1.1`. Raises InvalidVersion
    (see `split_evr`) on input that is not an EVR at all, and on a digit run too long for
    `int`.
    """
    epoch, ver, release = split_evr(version)
    try:
        out: list[Token] = [int(epoch)]
        out.extend(_tokens(ver))
        if release is None:
            out.append(0)
        else:
            out.append(1)
            out.extend(_tokens(release))
    except ValueError:
        # int() refuses a digit run longer than sys.get_int_max_str_digits() (4300), as
        # in `dpkg`: such a string is no version a vendor ships, and comparing it is a guess.
        raise InvalidVersion(NAME, version, "digit run too long") from None
    return tuple(out)
