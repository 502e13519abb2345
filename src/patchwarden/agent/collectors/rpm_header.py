"""rpm header blobs -> tag values, without the rpm library.

Every rpmdb backend stores one header blob per installed package. Its layout (rpm
`lib/header.c`, `headerImport`; the rpm file-format docs "Header Structure"):

    int32 il          number of index entries          (big-endian, like everything here)
    int32 dl          size of the data store
    il x { int32 tag, uint32 type, int32 offset, uint32 count }
    dl bytes of data; each entry's value starts at `offset` in it

The first entry is usually a region tag (63, HEADERIMMUTABLE) that rpm uses to verify the
header; entries after the region ("dribble" entries) override earlier ones with the same
tag, so the last occurrence of a tag wins here. We decode only string, string-array and
int32 values, which is all the package identity needs.
"""

from __future__ import annotations

import struct
from typing import Dict, FrozenSet, List, Union

from patchwarden.core.errors import InventoryError

# Tag numbers from rpm `include/rpm/rpmtag.h`.
TAG_NAME = 1000
TAG_VERSION = 1001
TAG_RELEASE = 1002
TAG_EPOCH = 1003
TAG_VENDOR = 1011
TAG_ARCH = 1022
TAG_SOURCERPM = 1044
TAG_MODULARITYLABEL = 5096

# Value types from rpm `rpmtag.h` (rpmTagType).
_INT32 = 4
_STRING = 6
_STRING_ARRAY = 8
_I18NSTRING = 9

_MAX_HEADER = 256 * 1024 * 1024  # rpm's own headerMaxbytes sanity limit
_ENTRY = struct.Struct(">iIiI")

TagValue = Union[str, int, List[str], List[int]]


class BadHeader(InventoryError):
    """A header blob whose structure is inconsistent (truncated or corrupt database)."""


def parse_header(blob: bytes, wanted: FrozenSet[int] = frozenset()) -> Dict[int, TagValue]:
    """Decode the string / int32 tags of one header blob; `wanted` limits which (empty = all).

    Strings come back as str (UTF-8, undecodable bytes replaced), int32 tags with count 1
    as int, arrays as lists. Raise BadHeader when the index or an offset is out of bounds.
    """
    if len(blob) < 8:
        raise BadHeader(f"header blob of {len(blob)} bytes is too short")
    il, dl = struct.unpack_from(">ii", blob, 0)
    data_start = 8 + 16 * il
    if il < 1 or dl < 0 or data_start + dl > min(len(blob), _MAX_HEADER):
        raise BadHeader(f"header index ({il} entries, {dl} data bytes) exceeds the blob")
    values: Dict[int, TagValue] = {}
    for i in range(il):
        tag, kind, offset, count = _ENTRY.unpack_from(blob, 8 + 16 * i)
        if wanted and tag not in wanted:
            continue
        if offset < 0 or offset >= dl:
            raise BadHeader(f"tag {tag}: offset {offset} outside the {dl}-byte data store")
        start = data_start + offset
        end = data_start + dl
        if kind in (_STRING, _I18NSTRING, _STRING_ARRAY):
            strings = _strings(blob, start, end, 1 if kind != _STRING_ARRAY else count, tag)
            # I18N strings hold one translation per locale; the first is the C locale.
            values[tag] = strings if kind == _STRING_ARRAY else strings[0]
        elif kind == _INT32:
            if start + 4 * count > end:
                raise BadHeader(f"tag {tag}: {count} int32 values overrun the data store")
            ints = list(struct.unpack_from(f">{count}i", blob, start))
            values[tag] = ints[0] if count == 1 else ints
    return values


def _strings(blob: bytes, start: int, end: int, count: int, tag: int) -> List[str]:
    """`count` NUL-terminated strings from `start`, none of them running past `end`."""
    out = []
    pos = start
    for _ in range(count):
        nul = blob.find(b"\0", pos, end)
        if nul < 0:
            raise BadHeader(f"tag {tag}: unterminated string in the data store")
        out.append(blob[pos:nul].decode("utf-8", "replace"))
        pos = nul + 1
    return out
