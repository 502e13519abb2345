"""Debian package versions, `[epoch:]upstream_version[-debian_revision]` (Debian Policy §5.6.12).

`key()` parses a version once into a flat tuple of ints whose plain tuple ordering equals
`dpkg --compare-versions` (`verrevcmp` in dpkg's lib/dpkg/version.c). This is the only dpkg
ordering in the tree: the console matches with it and the agent's repository check imports it,
so it is standard library only and Python 3.9 syntax (DESIGN §2-3: keys compare millions of
times per second; python-debian, apt_pkg and dpkg itself serve only as test oracles).

What is a version. We take what dpkg takes (`parseversion` in lib/dpkg/parsehelp.c): it
*refuses* (exit 2) a blank string, blanks inside, an empty, non-numeric, negative or too big
epoch, nothing after the epoch colon, an empty revision after the last '-' and an empty
upstream version, and so do we (`InvalidVersion`); we refuse "" too, which dpkg's command line
alone reads as "not installed". Everything else dpkg only *warns* about and
still orders: upstream not starting with a digit (`a1.0`), characters outside Policy's sets
(`1.0_1`, `1.0-1_2`, `1.0!`, `1.0é`, a newline). Those get a key here too, ordered as dpkg
orders them. Only space and tab are blanks (C `isblank`), the epoch is read like C `strtol`
(`+1:` is epoch 1), and a NUL, which no C string can hold, is refused.

How the key is built. dpkg compares upstream and revision alike: alternately a non-digit run,
character by character, then a digit run, numerically. Each non-digit run becomes its
characters' weights followed by 0 (the weight of "end of run"), then the number of the digit
run that follows (0 if none). Weights are dpkg's `order()`: `~` -1 (sorts before everything,
even the end), ASCII letters their code, other ASCII characters code + 256 (letters before
non-letters). dpkg works on bytes, so a non-ASCII character weighs as its UTF-8 bytes, one
weight each: `order()` takes a plain `char`, which is signed on amd64, so a byte 0x80-0xFF
weighs its own value 128-255 (after the letters, before ASCII punctuation; checked against
dpkg 1.21 on amd64 - on arm64, where `char` is unsigned, dpkg itself would say byte + 256).
The first run is always emitted, even when empty, so every later run starts with a non-zero
weight; a string ends with the pair (0, 0), which is how dpkg sees "nothing left". Two keys
therefore stay aligned run by run until they differ, and no key is a proper prefix of another.
"""

from __future__ import annotations

import re

from patchwarden.core.errors import InvalidVersion

NAME = "dpkg"

# One non-digit run and the digit run after it. `findall` also yields one empty match at the
# end of the string: exactly the (0, 0) "nothing left" terminator (module docstring).
_RUN = re.compile(r"([^0-9]*)([0-9]*)")
# The epoch as C strtol reads it: leading whitespace (blanks are gone by then), a sign, digits.
_EPOCH = re.compile(r"[\n\v\f\r]*([+-]?[0-9]+)")
_INT_MAX = 2**31 - 1  # dpkg stores the epoch in an int: "epoch in version is too big"
# An empty revision equals "0" (Policy §5.6.12): its run (0, 0) and the terminator (0, 0).
_NO_REVISION = (0, 0, 0, 0)


def _weight(byte: int) -> int:
    """dpkg's `order()` for one non-digit byte, with amd64's signed `char` (module docstring)."""
    if byte == 0x7E:  # '~'
        return -1
    if 0x41 <= byte <= 0x5A or 0x61 <= byte <= 0x7A or byte >= 0x80:
        return byte
    return byte + 256


# Keyed by character: non-ASCII text is first turned into one latin-1 character per UTF-8
# byte, so this table covers every character `key` can meet. Digits never reach it, and NUL
# is refused before (its weight would be 0, the end of a run).
_WEIGHTS = {chr(b): _weight(b) for b in range(1, 256) if not 0x30 <= b <= 0x39}


def _runs(part: str, out: list[int]) -> None:
    """Append one upstream version or non-empty revision, flattened (module docstring)."""
    for text, digits in _RUN.findall(part):
        if text:
            out.extend([_WEIGHTS[c] for c in text])
        out.append(0)
        out.append(int(digits) if digits else 0)


def _epoch(version: str, text: str) -> int:
    """The number before the first ':', read and refused the way dpkg does."""
    match = _EPOCH.match(text)
    if match is None:
        why = "empty epoch before ':'" if not text else f"epoch {text!r} is not a number"
        raise InvalidVersion(NAME, version, why)
    if match.end() != len(text):
        raise InvalidVersion(NAME, version, f"epoch {text!r} is not a number")
    digits = match.group(1)
    try:
        epoch = int(digits)
    except ValueError:
        # Over sys.get_int_max_str_digits() digits: strtol saturates (ERANGE), so dpkg says
        # "negative" or "too big" as the sign tells.
        epoch = -1 if digits.startswith("-") else _INT_MAX + 1
    if epoch < 0:
        raise InvalidVersion(NAME, version, f"epoch {text!r} is negative")
    if epoch > _INT_MAX:
        raise InvalidVersion(NAME, version, f"epoch {text!r} is too big")
    return epoch


def key(version: str) -> tuple[int, ...]:
    """A flat int tuple ordered like `dpkg --compare-versions` (Policy §5.6.12).

    `1.0`, `1.0-0` and `0:1.0` get the same key. Leading and trailing spaces and tabs are
    ignored as dpkg does. Raises InvalidVersion where dpkg refuses the string: empty, blanks
    inside, a bad or empty epoch, nothing after the epoch, an empty revision or upstream
    version (and a NUL character, or a digit run too long for `int`). Strings dpkg merely
    warns about (`1.0_1`, `a1.0`, `1.0é`) are ordered like dpkg orders them.
    """
    text = version.strip(" \t")
    if not text:
        raise InvalidVersion(NAME, version, "empty version")
    if " " in text or "\t" in text:
        raise InvalidVersion(NAME, version, "embedded whitespace")
    if "\x00" in text:
        raise InvalidVersion(NAME, version, "NUL character")
    epoch = 0
    colon = text.find(":")
    if colon >= 0:
        epoch = _epoch(version, text[:colon])
        text = text[colon + 1 :]
        if not text:
            raise InvalidVersion(NAME, version, "nothing after the epoch colon")
    if not text.isascii():
        # dpkg orders bytes: one latin-1 character per UTF-8 byte keeps the rest byte-wise.
        # surrogateescape gives back the bytes of a file decoded with that handler.
        try:
            text = text.encode("utf-8", "surrogateescape").decode("latin-1")
        except UnicodeEncodeError:
            raise InvalidVersion(NAME, version, "not encodable as UTF-8") from None
    # Policy §5.6.12: the revision is everything after the *last* hyphen.
    hyphen = text.rfind("-")
    if hyphen >= 0 and hyphen == len(text) - 1:
        raise InvalidVersion(NAME, version, "empty revision after '-'")
    if hyphen == 0:
        raise InvalidVersion(NAME, version, "empty upstream version")
    out = [epoch]
    try:
        # Upstream and revision concatenate safely: each ends in the (0, 0) terminator, so
        # the revision is reached only when both upstreams are equal (and equally long).
        if hyphen > 0:
            _runs(text[:hyphen], out)
            _runs(text[hyphen + 1 :], out)
        else:
            _runs(text, out)
            out.extend(_NO_REVISION)
    except ValueError:
        # int() refuses a digit run longer than sys.get_int_max_str_digits() (4300).
        raise InvalidVersion(NAME, version, "digit run too long") from None
    return tuple(out)
