"""Debian package versions, `[epoch:]upstream_version[-debian_revision]` (Debian Policy §5.6.12).

`key()` parses a version once into a flat tuple of ints whose plain tuple ordering equals
dpkg's `verrevcmp` ordering (DESIGN §3: keys compare millions of times per second; python-debian
and dpkg itself serve only as test oracles).

How the key is built. dpkg compares upstream and revision alike: alternately a non-digit run,
character by character, then a digit run, numerically. Each non-digit run becomes its
characters' weights followed by 0 (the weight of "end of run"), then the number of the digit
run that follows (0 if none). Weights are: `~` -1 (sorts before everything, even the end),
letters their ASCII code, other characters ASCII + 256 (letters before non-letters). The
first run is always emitted, even when empty, so every later run starts with a non-zero
weight; a string ends with the pair (0, 0), which is how dpkg sees "nothing left". Two keys
therefore stay aligned run by run until they differ, and no key is a proper prefix of another.
"""

from __future__ import annotations

import re

from patchwarden.core.errors import InvalidVersion

NAME = "dpkg"

# Policy §5.6.12: upstream may hold alphanumerics and . + - ~ (and ':' when an epoch is
# present; dpkg itself only warns about ':' without one); the revision has no '-' or ':'.
_UPSTREAM_OK = re.compile(r"[A-Za-z0-9.+~:-]*\Z")
_REVISION_OK = re.compile(r"[A-Za-z0-9.+~]*\Z")
# One non-digit run and the digit run after it; the pattern also matches the empty string
# at the end, which `_runs` stops on.
_RUN = re.compile(r"([^0-9]*)([0-9]*)")


def _weight(char: str) -> int:
    """dpkg's `order()`: `~` first, then end of run, then letters, then other characters."""
    if char == "~":
        return -1
    if char.isalpha():
        return ord(char)
    return ord(char) + 256


_WEIGHTS = {chr(c): _weight(chr(c)) for c in range(128) if not chr(c).isdigit()}


def _runs(part: str) -> tuple[int, ...]:
    """Flatten one upstream or revision string into weights and numbers (module docstring)."""
    out: list[int] = []
    pos = 0
    length = len(part)
    while True:
        match = _RUN.match(part, pos)
        assert match is not None  # the pattern matches the empty string
        text, digits = match.group(1), match.group(2)
        out.extend(_WEIGHTS[c] for c in text)
        out.append(0)
        out.append(int(digits) if digits else 0)
        pos = match.end()
        if pos >= length:
            break
    # The terminator: an empty non-digit run and the number 0, i.e. "nothing left".
    out.append(0)
    out.append(0)
    return tuple(out)


def key(version: str) -> tuple[int, ...]:
    """A flat int tuple ordered like `dpkg --compare-versions` (Policy §5.6.12).

    `1.0`, `1.0-0` and `0:1.0` get the same key. Leading and trailing blanks are ignored as
    dpkg does; raises InvalidVersion for an empty string, embedded blanks, a bad or empty
    epoch, an empty upstream version or revision, or characters Policy does not allow.
    """
    text = version.strip()
    if not text:
        raise InvalidVersion(NAME, version, "empty version")
    if any(c.isspace() for c in text):
        raise InvalidVersion(NAME, version, "embedded whitespace")
    epoch = 0
    rest = text
    if ":" in text:
        epoch_text, rest = text.split(":", 1)
        # dpkg: "epoch in version is empty" / "is not number" / "nothing after colon".
        if not epoch_text:
            raise InvalidVersion(NAME, version, "empty epoch before ':'")
        if not (epoch_text.isascii() and epoch_text.isdigit()):
            raise InvalidVersion(NAME, version, f"epoch {epoch_text!r} is not a number")
        epoch = int(epoch_text)
        if not rest:
            raise InvalidVersion(NAME, version, "nothing after the epoch colon")
    upstream, dash, revision = rest.rpartition("-")
    if not dash:
        upstream, revision = rest, ""
    elif not revision:
        raise InvalidVersion(NAME, version, "empty revision after '-'")
    if not upstream:
        raise InvalidVersion(NAME, version, "empty upstream version")
    if not (upstream.isascii() and _UPSTREAM_OK.match(upstream)):
        raise InvalidVersion(NAME, version, "invalid character in upstream version")
    if not (revision.isascii() and _REVISION_OK.match(revision)):
        raise InvalidVersion(NAME, version, "invalid character in revision")
    # Upstream and revision concatenate safely: each ends in the (0, 0) terminator, so the
    # revision is reached only when both upstreams are equal (and equally long).
    return (epoch, *_runs(upstream), *_runs(revision))
