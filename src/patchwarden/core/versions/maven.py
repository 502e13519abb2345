"""Maven versions, ordered like Maven 3.8+'s `ComparableVersion` (org.apache.maven.artifact).

Built on univers' port of ComparableVersion (`univers.maven.Version`, DESIGN §3: the only
correct Python option), parsed once per string (the scheme registry caches `key`). Where univers
still follows older Maven, this module fixes it, each time because real `ComparableVersion`
(maven-artifact 3.8.7, the test oracle) disagreed on a corpus vector:

1. `release` is an alias of the empty qualifier like `ga` and `final` (Maven 3.8+; without it
   `5.3.18.RELEASE > 5.3.18`).
2. A qualifier after a dot that ends the version or is followed by a digit opens a sub-list, as
   if written with `-` (Maven's "treat .X as -X", MNG-5568): `1.0.0.RC8 == 1.0.0-RC8`,
   `2.0.a == 2.0.0.a`, `6.1.12.rc5 > 6.1.12rc1`. We rewrite such a dot to a dash before univers
   parses the string; that is exactly the sub-list Maven builds.
3. A sub-list compared with "nothing" (the shorter version ran out) compares *every* item with
   nothing, not only the first (MNG-6964): `1-0.alpha < 1`.
4. Maven normalises every (sub-)list once parsing ends; univers only normalises a list before
   it opens a sub-list in it, leaving empty sub-lists behind (`-release-` parses to `[[[]]]`,
   Maven's is `[]`, which then compares differently). `MavenKey` re-normalises the item tree,
   compares the normalised trees, and hashes them: univers hashes the raw string, so `1.0` and
   `1` would hash differently although equal.

Fixes 1-4 were checked on 100,000 random strings against maven-artifact 3.8.7 (oracle test).
"""

from __future__ import annotations

import re
from typing import Any

from univers.maven import Version as _UniversVersion

from patchwarden.core.errors import InvalidVersion

NAME = "maven"

# fix 2: a qualifier after '.' that is followed by a digit or ends the version.
_DOT_QUALIFIER = re.compile(r"\.([^.\-0-9]+)(?=[0-9]|\Z)")

MAX_DEPTH = 100
"""Sub-version lists nested deeper than this are refused: building, normalising and
comparing the item tree recurse once per level. Real versions nest a few levels; a 40-digit
commit hash switching between digits and letters at every character would nest 40."""
_TOO_DEEP = f"sub-versions nested more than {MAX_DEPTH} deep"


class _ComparableVersion(_UniversVersion):
    """univers' ComparableVersion with fixes 1 and 3 of the module docstring."""

    def _parse_buffer(self, buf: str, followed_by_digit: bool = False) -> Any:
        value = super()._parse_buffer(buf, followed_by_digit)  # type: ignore[no-untyped-call]
        return "" if value == "release" else value  # fix 1

    def _list_compare(self, items: Any, other: Any) -> Any:
        if other is None:  # fix 3 (MNG-6964): every item against "nothing"
            for item in items:
                result = self._compare(item, None)  # type: ignore[no-untyped-call]
                if result:
                    return result
            return 0
        return super()._list_compare(items, other)  # type: ignore[no-untyped-call]


def _is_null(item: Any) -> bool:
    """Maven's `Item.isNull()`: 0, the empty qualifier, the empty list."""
    return bool(item == 0 or item == "" or item == ())


def _canonical(items: Any) -> Any:
    """Maven's `ListItem.normalize()` applied to every list, bottom up.

    univers normalises a list only before it opens a sub-list in it, so a sub-list that turns
    out empty (`1-final-ga`) is left behind; Maven normalises every list once parsing ends.
    """
    if not isinstance(items, tuple):
        return items
    out = [_canonical(item) for item in items]
    index = len(out) - 1
    while index >= 0:
        if _is_null(out[index]):
            del out[index]
        elif not isinstance(out[index], tuple):
            break
        index -= 1
    return tuple(out)


class MavenKey:
    """A parsed Maven version: totally ordered, hashable, equal for equal versions."""

    __slots__ = ("_hash", "_items", "_version", "text")

    def __init__(self, text: str) -> None:
        self.text = text
        self._version: Any = _ComparableVersion(  # type: ignore[no-untyped-call]
            _DOT_QUALIFIER.sub(r"-\1", text)
        )
        # Every '-' and every switch between digits and letters opens a sub-list; univers
        # converts the tree recursively (deeper than ~450 levels: RecursionError, see `key`),
        # and so do `_canonical` and the comparisons.
        if _depth(self._version._parsed) > MAX_DEPTH:
            raise InvalidVersion(NAME, text, _TOO_DEEP)
        # Compare and hash the fully normalised tree (fix 4).
        self._items = _canonical(self._version._parsed)
        self._hash = hash(self._items)

    def _cmp(self, other: MavenKey) -> int:
        result: int = self._version._compare(self._items, other._items)
        return result

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, MavenKey):
            return NotImplemented
        return self._cmp(other) == 0

    def __lt__(self, other: MavenKey) -> bool:
        return self._cmp(other) < 0

    def __le__(self, other: MavenKey) -> bool:
        return self._cmp(other) <= 0

    def __gt__(self, other: MavenKey) -> bool:
        return self._cmp(other) > 0

    def __ge__(self, other: MavenKey) -> bool:
        return self._cmp(other) >= 0

    def __hash__(self) -> int:
        return self._hash

    def __repr__(self) -> str:
        return f"MavenKey({self.text!r})"


def _depth(items: Any) -> int:
    """How deeply `items` nests sub-lists (iteratively: the point is not to recurse)."""
    depth, level = 0, [items]
    while level:
        depth += 1
        level = [item for items in level for item in items if isinstance(item, tuple)]
    return depth


def key(version: str) -> MavenKey:
    """An ordered, hashable key equal to Maven's `ComparableVersion` order.

    Any non-blank string is a Maven version (Maven never rejects one); raises InvalidVersion
    on an empty string or one containing whitespace, and where Python cannot follow Maven:
    a digit run too long for `int`, sub-versions nested more than `MAX_DEPTH` deep.
    """
    if not version:
        raise InvalidVersion(NAME, version, "empty version")
    if any(c.isspace() for c in version):
        raise InvalidVersion(NAME, version, "contains whitespace")
    try:
        return MavenKey(version)
    except InvalidVersion:
        raise
    except RecursionError:
        raise InvalidVersion(NAME, version, _TOO_DEEP) from None
    except ValueError:
        # int() refuses a run over sys.get_int_max_str_digits() (4300) digits, and univers
        # takes digits `str.isdigit()` accepts but `int()` does not (superscripts).
        raise InvalidVersion(NAME, version, "digit run too long or not decimal") from None
