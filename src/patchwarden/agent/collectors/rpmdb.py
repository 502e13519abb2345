"""The three on-disk rpm databases, read without the rpm library: each yields header blobs.

* SQLite (`rpmdb.sqlite`, rpm >= 4.16: Fedora 33+, RHEL 9, Mariner): table
  `Packages(hnum, blob)`. Opened read-only from a temporary copy (corpus MANIFEST §2), since
  SQLite would otherwise create `-wal`/`-shm` files beside the scanned database.
* NDB (`Packages.db`, SUSE): rpm `lib/backend/ndb/rpmpkg.c`. A 32-byte header (`RpmP`
  magic, slot page count), 4 KiB slot pages of 16-byte slots (`Slot` magic, package index,
  block offset, block count); each used slot points at a blob (`BlbS` magic, package index,
  checksum, length) in 16-byte blocks.
* BerkeleyDB hash (`Packages`, RHEL <= 8, CentOS, Amazon Linux 2): libdb `dbinc/db_page.h`.
  Page 0 is the hash metadata page (magic 0x061561, page size, last page number); hash pages
  (type 13, or 2 on RHEL 5) hold key/value item offsets; package headers sit in chains of
  overflow pages (type 7) that a HOFFPAGE item (type 3) points at.

Reference: knqyf263/go-rpmdb (pkg/bdb, pkg/ndb, pkg/sqlite3), read for the layouts only.
"""

from __future__ import annotations

import mmap
import os
import shutil
import sqlite3
import struct
import tempfile
from pathlib import Path
from typing import Callable, Iterator, List

from patchwarden.core.errors import InventoryError


class BadDatabase(InventoryError):
    """An rpm database whose structure is truncated or corrupt."""


def read_blobs(path: Path) -> List[bytes]:
    """Every header blob of the rpm database at `path`, format chosen by its file name."""
    name = path.name
    if name.endswith(".sqlite"):
        return sqlite_blobs(path)
    if name == "Packages.db":
        return _with_map(path, ndb_blobs)
    return _with_map(path, bdb_blobs)


def _with_map(path: Path, reader: Callable[[mmap.mmap], Iterator[bytes]]) -> List[bytes]:
    """Run `reader` over a read-only memory map of `path` (no copy of a large file)."""
    with path.open("rb") as fh:
        size = os.fstat(fh.fileno()).st_size
        if size == 0:
            raise BadDatabase("empty file")
        with mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ) as data:
            return list(reader(data))


def sqlite_blobs(path: Path) -> List[bytes]:
    """Header blobs of an rpm SQLite database, read from a private copy."""
    with tempfile.TemporaryDirectory(prefix="patchwarden-rpmdb-") as tmp:
        copy = Path(tmp) / path.name
        shutil.copyfile(path, copy)
        # Committed-but-not-checkpointed transactions live in the -wal file: copy it too.
        wal = path.with_name(path.name + "-wal")
        if wal.is_file():
            shutil.copyfile(wal, copy.with_name(copy.name + "-wal"))
        try:
            conn = sqlite3.connect(f"file:{copy}?mode=ro", uri=True)
            try:
                rows = conn.execute("SELECT blob FROM Packages").fetchall()
            finally:
                conn.close()
        except sqlite3.DatabaseError as exc:
            raise BadDatabase(f"not a readable rpm SQLite database: {exc}") from exc
    return [bytes(row[0]) for row in rows]


_NDB_HEADER = struct.Struct("<4sIII16x")
_NDB_SLOT = struct.Struct("<4sIII")
_NDB_BLOB = struct.Struct("<4sIII")
_NDB_SLOTS_PER_PAGE = 4096 // 16


def ndb_blobs(data: mmap.mmap) -> Iterator[bytes]:
    """Header blobs of an NDB `Packages.db`, in slot order."""
    if len(data) < _NDB_HEADER.size:
        raise BadDatabase("truncated NDB header")
    magic, version, _generation, npages = _NDB_HEADER.unpack_from(data, 0)
    if magic != b"RpmP" or version != 0:
        raise BadDatabase(f"not an NDB database (magic {magic!r}, version {version})")
    if npages == 0 or npages > 2048:
        raise BadDatabase(f"implausible NDB slot page count {npages}")
    if len(data) < npages * 4096:
        raise BadDatabase(f"truncated: {npages} slot pages need {npages * 4096} bytes")
    # The header takes the place of the first two slots of page 0.
    for i in range(2, npages * _NDB_SLOTS_PER_PAGE):
        slot_magic, pkg_index, blk_offset, _blk_count = _NDB_SLOT.unpack_from(data, i * 16)
        if slot_magic != b"Slot":
            raise BadDatabase(f"slot {i}: bad magic {slot_magic!r}")
        if pkg_index == 0:
            continue  # free slot
        at = blk_offset * 16
        if at + _NDB_BLOB.size > len(data):
            raise BadDatabase(f"package {pkg_index}: blob offset {at} beyond end of file")
        blob_magic, blob_index, _checksum, length = _NDB_BLOB.unpack_from(data, at)
        if blob_magic != b"BlbS" or blob_index != pkg_index:
            raise BadDatabase(f"package {pkg_index}: no blob at offset {at}")
        start = at + _NDB_BLOB.size
        if start + length > len(data):
            raise BadDatabase(f"package {pkg_index}: blob runs past end of file (truncated)")
        yield bytes(data[start : start + length])


_BDB_HASH_MAGIC = 0x061561
_BDB_META_PAGE = 8
_BDB_HASH_PAGE = 13
_BDB_HASH_UNSORTED_PAGE = 2  # RHEL/CentOS 5
_BDB_OVERFLOW_PAGE = 7
_BDB_KEYDATA = 1
_BDB_OFFPAGE = 3
_BDB_PAGE_HEADER = 26
_BDB_PAGE_SIZES = frozenset(1 << n for n in range(9, 17))


def bdb_blobs(data: mmap.mmap) -> Iterator[bytes]:
    """Header blobs (the values) of a BerkeleyDB hash `Packages` database."""
    if len(data) < 512:
        raise BadDatabase("truncated BerkeleyDB metadata page")
    endian = "<"
    if struct.unpack_from("<I", data, 12)[0] != _BDB_HASH_MAGIC:
        endian = ">"
        if struct.unpack_from(">I", data, 12)[0] != _BDB_HASH_MAGIC:
            raise BadDatabase("not a BerkeleyDB hash database (bad magic)")
    page_size = struct.unpack_from(endian + "I", data, 20)[0]
    if page_size not in _BDB_PAGE_SIZES:
        raise BadDatabase(f"unexpected page size {page_size}")
    if data[24] != 0:
        raise BadDatabase("encrypted BerkeleyDB databases are not supported")
    if data[25] != _BDB_META_PAGE:
        raise BadDatabase(f"page 0 is not a hash metadata page (type {data[25]})")
    last_page = struct.unpack_from(endian + "I", data, 32)[0]
    if (last_page + 1) * page_size > len(data):
        raise BadDatabase(
            f"truncated: metadata says {last_page + 1} pages of {page_size} bytes,"
            f" file has {len(data)} bytes"
        )
    u16 = struct.Struct(endian + "H")
    u32 = struct.Struct(endian + "I")
    for pgno in range(1, last_page + 1):
        page = pgno * page_size
        if data[page + 25] not in (_BDB_HASH_PAGE, _BDB_HASH_UNSORTED_PAGE):
            continue
        entries = u16.unpack_from(data, page + 20)[0]
        if entries % 2:
            raise BadDatabase(f"page {pgno}: odd number of hash items ({entries})")
        # Items come in key/value pairs; their offsets are stored after the page header and
        # items are packed from the end of the page down, so an inline item ends where the
        # previous one starts.
        offsets = [
            u16.unpack_from(data, page + _BDB_PAGE_HEADER + 2 * i)[0] for i in range(entries)
        ]
        for i in range(1, entries, 2):
            off = offsets[i]
            if off >= page_size:
                raise BadDatabase(f"page {pgno}: item offset {off} outside the page")
            kind = data[page + off]
            if kind == _BDB_OFFPAGE:
                first = u32.unpack_from(data, page + off + 4)[0]
                total = u32.unpack_from(data, page + off + 8)[0]
                yield _bdb_overflow(data, first, total, page_size, last_page, u16, u32)
            elif kind == _BDB_KEYDATA:
                end = offsets[i - 1] if offsets[i - 1] > off else page_size
                value = bytes(data[page + off + 1 : page + end])
                # The 4-byte record 0 holds rpm's next instance number, not a header.
                if len(value) > 8:
                    yield value


def _bdb_overflow(
    data: mmap.mmap,
    pgno: int,
    total: int,
    page_size: int,
    last_page: int,
    u16: struct.Struct,
    u32: struct.Struct,
) -> bytes:
    """Concatenate a chain of overflow pages holding `total` bytes."""
    parts = []
    have = 0
    seen = 0
    while pgno:
        if pgno > last_page or seen > last_page:
            raise BadDatabase(f"overflow chain points at page {pgno} (last page {last_page})")
        seen += 1
        page = pgno * page_size
        if data[page + 25] != _BDB_OVERFLOW_PAGE:
            raise BadDatabase(f"page {pgno} in an overflow chain is type {data[page + 25]}")
        used = u16.unpack_from(data, page + 22)[0]  # hf_offset: bytes used on this page
        parts.append(bytes(data[page + _BDB_PAGE_HEADER : page + _BDB_PAGE_HEADER + used]))
        have += used
        pgno = u32.unpack_from(data, page + 16)[0]
    if have != total:
        raise BadDatabase(f"overflow chain holds {have} bytes, item says {total}")
    return b"".join(parts)
