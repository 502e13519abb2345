"""dpkg version ordering for the agent (Debian Policy §5.6.12), standard library only.

The agent may not import `core.versions` (import-linter contract, DESIGN §2), yet the repository
check on a non-live root has to tell "newer than installed" by itself. This is the same
algorithm as dpkg's `verrevcmp` in `lib/dpkg/version.c`, kept small; it is tested against
`dpkg --compare-versions`. On a live root the collector asks apt instead (`apt-cache policy`).
"""

from __future__ import annotations

import functools
from typing import Tuple

from patchwarden.core.errors import InvalidVersion


def split(version: str) -> Tuple[int, str, str]:
    """`[epoch:]upstream[-revision]` -> (epoch, upstream, revision); raise InvalidVersion."""
    text = version.strip()
    if not text:
        raise InvalidVersion("dpkg", version, "empty version")
    epoch = 0
    if ":" in text:
        head, text = text.split(":", 1)
        if not head.isdigit():
            raise InvalidVersion("dpkg", version, "epoch is not a number")
        epoch = int(head)
    # Policy §5.6.12: the revision is everything after the *last* hyphen; "0" when absent
    # (dpkg treats "1.0" and "1.0-0" as equal).
    upstream, sep, revision = text.rpartition("-")
    if not sep:
        upstream, revision = text, ""
    if not upstream:
        raise InvalidVersion("dpkg", version, "empty upstream version")
    return epoch, upstream, revision


def _order(char: str) -> int:
    """Weight of one non-digit character: '~' sorts before everything, letters before others."""
    if char == "~":
        return -1
    if char.isalpha():
        return ord(char)
    return ord(char) + 256


def _compare_part(a: str, b: str) -> int:
    """dpkg's verrevcmp: alternate non-digit runs (by `_order`) and digit runs (numerically)."""
    i = j = 0
    while i < len(a) or j < len(b):
        first_diff = 0
        while (i < len(a) and not a[i].isdigit()) or (j < len(b) and not b[j].isdigit()):
            ac = _order(a[i]) if i < len(a) and not a[i].isdigit() else 0
            bc = _order(b[j]) if j < len(b) and not b[j].isdigit() else 0
            if ac != bc:
                return -1 if ac < bc else 1
            i += 1
            j += 1
        while i < len(a) and a[i] == "0":
            i += 1
        while j < len(b) and b[j] == "0":
            j += 1
        while i < len(a) and a[i].isdigit() and j < len(b) and b[j].isdigit():
            if not first_diff:
                first_diff = ord(a[i]) - ord(b[j])
            i += 1
            j += 1
        if i < len(a) and a[i].isdigit():
            return 1
        if j < len(b) and b[j].isdigit():
            return -1
        if first_diff:
            return -1 if first_diff < 0 else 1
    return 0


def compare(a: str, b: str) -> int:
    """-1, 0 or 1 as dpkg orders versions `a` and `b`; raise InvalidVersion on bad input."""
    ea, ua, ra = split(a)
    eb, ub, rb = split(b)
    if ea != eb:
        return -1 if ea < eb else 1
    return _compare_part(ua, ub) or _compare_part(ra, rb)


sort_key = functools.cmp_to_key(compare)
"""Key function for `sorted`/`max` over dpkg version strings."""
