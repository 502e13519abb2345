"""Read the files of a feed one at a time, from a directory, a zip, a tarball or one file.

Archives are streamed and bounded: imports run inside the console process when its scheduler
syncs feeds, so a small archive must not be able to take its memory (a 1 MB zip can hold a
1 GiB member). A tar is read member by member, its bookkeeping dropped after each one; a zip
member is opened only when its turn comes. Each member is read into memory only up to
`MAX_MEMBER_BYTES` (a larger one is skipped with a reason, never inflated: the size is checked
before reading, and reading stops one byte past the limit whatever the header said), and an
archive may inflate to `MAX_TOTAL_BYTES` and list `MAX_MEMBERS` entries at most (beyond them
the archive is refused with FeedError). A truncated or corrupt archive raises `FeedError`
naming the archive (and the last good member).

Directory feeds never leave their root: a symbolic link whose target lies inside the root is
read like the file it points to, one that leads outside (or nowhere) is skipped with a reason.
Member names are only labels: nothing is ever written to disk, so `../` in an archive is
harmless.
"""

from __future__ import annotations

import lzma
import os
import tarfile
import zipfile
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from patchwarden.core.errors import FeedError, MalformedRecord
from patchwarden.feeds.base import ParseReport

TAR_SUFFIXES = (".tar", ".tar.gz", ".tgz", ".tar.xz", ".txz", ".tar.bz2", ".tbz2")

MAX_MEMBER_BYTES = 8 * 2**20
"""One file of a directory or an archive, inflated. The largest real record we know is
0.2 MB (an AlmaLinux 8 erratum); a member over this is skipped, never read whole. A record
this large costs the importer about 40 MB while it is decoded and stored."""
MAX_TOTAL_BYTES = 8 * 2**30
"""Everything one archive inflates to, skipped members' data included (the 2020 Ubuntu CVE
Tracker tarball inflates to 74 MB; OSV's largest distro zips to about 2 GB)."""
MAX_MEMBERS = 1_000_000
"""Entries (files, directories, links) of one archive (OSV's npm zip lists about 200,000)."""
MAX_TAR_HEADER_BYTES = 2**20
"""A tar's long-name and pax headers: tarfile reads each into memory whole."""

# What a damaged compressed stream raises from inside tarfile / zipfile.
_ARCHIVE_ERRORS = (
    tarfile.TarError,
    zipfile.BadZipFile,
    EOFError,
    zlib.error,
    lzma.LZMAError,
)
# zipfile inflates members compressed otherwise (bzip2, lzma) in one call however large
# the result, so only these two are read.
_ZIP_METHODS = {zipfile.ZIP_STORED: "stored", zipfile.ZIP_DEFLATED: "deflated"}


def _mib(size: int) -> str:
    """`8 MiB`, `1 GiB`: a cap as people write it."""
    for unit, scale in (("GiB", 2**30), ("MiB", 2**20), ("KiB", 2**10)):
        if size >= scale and size % scale == 0:
            return f"{size // scale} {unit}"
    return f"{size} bytes"


@dataclass(frozen=True)
class Member:
    """One file of a feed input."""

    name: str
    """Path inside the directory or archive (the file name for a single file)."""
    data: bytes


def container_of(path: Path) -> str:
    """`dir`, `zip`, `tar` or `file`, from what `path` is and how it is named."""
    if path.is_dir():
        return "dir"
    name = path.name.lower()
    if name.endswith(".zip"):
        return "zip"
    if name.endswith(TAR_SUFFIXES):
        return "tar"
    return "file"


def iter_members(
    path: Path, wanted: Callable[[str], bool], report: ParseReport
) -> Iterator[Member]:
    """Yield every file of `path` whose name `wanted` accepts; the others go to
    `report.ignored`, members too large (or links out of a directory) to `report.skip`.

    A single file is yielded whatever its name and size: the user pointed at it.
    """
    kind = container_of(path)
    if kind == "dir":
        yield from _dir_members(path, wanted, report)
    elif kind == "zip":
        yield from _zip_members(path, wanted, report)
    elif kind == "tar":
        yield from _tar_members(path, wanted, report)
    else:
        yield Member(path.name, read_bytes(path))


def read_bytes(path: Path) -> bytes:
    """The bytes of `path`, or FeedError naming it."""
    try:
        return path.read_bytes()
    except OSError as exc:
        raise FeedError(f"{path}: cannot read: {exc.strerror or exc}") from exc


def _too_large(name: str, size: int | None = None) -> MalformedRecord:
    more = f" ({size} bytes)" if size is not None else ""
    return MalformedRecord(name, f"larger than {_mib(MAX_MEMBER_BYTES)}{more}; not read")


def _read_capped(stream: IO[bytes]) -> bytes | None:
    """All of `stream`, or None when it holds more than MAX_MEMBER_BYTES (read no further)."""
    data = stream.read(MAX_MEMBER_BYTES + 1)
    return data if len(data) <= MAX_MEMBER_BYTES else None


def dir_files(
    root: Path, skip: Callable[[MalformedRecord], None], ignored: list[str] | None = None
) -> Iterator[tuple[str, Path]]:
    """(name relative to `root`, path to open) of every file under `root`, in a stable order:
    a directory's files by name, then its subdirectories by name (as `os.walk` goes).

    A symbolic link to a file inside `root` gives the file's real path; a link leading out
    of `root`, to nothing or in a loop goes to `skip`, and so does a directory that cannot
    be listed. Linked directories are not entered (their files inside `root` are reached
    through their real path). Entries that are no regular file (sockets, devices, links to
    directories) go to `ignored` when given.
    """
    real_root = root.resolve()
    pending = [(root, "")]
    while pending:
        directory, prefix = pending.pop()
        try:
            # DirEntry knows its type from the listing: no stat per file.
            with os.scandir(directory) as listing:
                entries = sorted(listing, key=lambda e: e.name)
        except OSError as exc:
            skip(MalformedRecord(prefix or ".", f"directory cannot be read: {exc.strerror}"))
            continue
        subdirs = []
        for entry in entries:
            rel = prefix + entry.name
            if entry.is_dir(follow_symlinks=False):
                subdirs.append((Path(entry.path), rel + "/"))
                continue
            full = Path(entry.path)
            if entry.is_symlink():
                try:
                    full = full.resolve(strict=True)
                except (OSError, RuntimeError):  # dangling, or a loop
                    skip(MalformedRecord(rel, "symbolic link to nothing; not followed"))
                    continue
                if not full.is_relative_to(real_root):
                    skip(MalformedRecord(rel, "symbolic link out of the feed directory"))
                    continue
                if not full.is_file():
                    if ignored is not None:
                        ignored.append(rel)
                    continue
            elif not entry.is_file(follow_symlinks=False):
                if ignored is not None:
                    ignored.append(rel)
                continue
            yield rel, full
        pending.extend(reversed(subdirs))  # popped in name order


def _open_no_follow(path: Path) -> IO[bytes]:
    """`path` opened for reading, refusing a symbolic link put in its place since the walk."""
    return os.fdopen(os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0)), "rb")


def _dir_members(
    root: Path, wanted: Callable[[str], bool], report: ParseReport
) -> Iterator[Member]:
    for rel, full in dir_files(root, report.skip, report.ignored):
        if not wanted(rel):
            report.ignored.append(rel)
            continue
        try:
            with _open_no_follow(full) as stream:
                data = _read_capped(stream)
        except OSError as exc:
            raise FeedError(f"{full}: cannot read: {exc.strerror or exc}") from exc
        if data is None:
            report.skip(_too_large(rel))
            continue
        yield Member(rel, data)


def _zip_entries(path: Path) -> int | None:
    """How many entries the zip's end record announces (None if it cannot be read), before
    `ZipFile` loads every one of them into memory."""
    end_record: Callable[[Any], Any] | None = getattr(zipfile, "_EndRecData", None)
    if end_record is None:  # pragma: no cover - present from Python 2 to 3.13 at least
        return None
    with path.open("rb") as stream:
        found = end_record(stream)
    return int(found[zipfile._ECD_ENTRIES_TOTAL]) if found else None  # type: ignore[attr-defined]


def _zip_members(
    path: Path, wanted: Callable[[str], bool], report: ParseReport
) -> Iterator[Member]:
    last = "(none)"
    try:
        entries = _zip_entries(path)
        if entries is not None and entries > MAX_MEMBERS:
            raise FeedError(f"{path}: {entries} entries, more than {MAX_MEMBERS} allowed")
        total = 0
        with zipfile.ZipFile(path) as archive:
            for info in archive.infolist():
                if info.is_dir():
                    continue
                name = info.filename
                if not wanted(name):
                    report.ignored.append(name)
                    continue
                if info.file_size > MAX_MEMBER_BYTES:
                    report.skip(_too_large(name, info.file_size))
                    continue
                if info.compress_type not in _ZIP_METHODS:
                    why = f"compressed with method {info.compress_type}; only stored and deflated"
                    report.skip(MalformedRecord(name, f"{why} members are read"))
                    continue
                # zipfile stops at the size the header gives (and then finds a bad CRC if the
                # data goes on), so `total` counts what is inflated.
                total += info.file_size
                if total > MAX_TOTAL_BYTES:
                    raise FeedError(f"{path}: inflates to more than {_mib(MAX_TOTAL_BYTES)}")
                with archive.open(info) as stream:
                    data = _read_capped(stream)
                if data is None:  # pragma: no cover - zipfile stops at file_size
                    report.skip(_too_large(name))
                    continue
                last = name
                yield Member(name, data)
    except FeedError:
        raise
    except _ARCHIVE_ERRORS as exc:
        raise FeedError(
            f"{path}: truncated or corrupt zip archive ({exc}); last good member: {last}"
        ) from exc
    except OSError as exc:
        raise FeedError(f"{path}: cannot read: {exc.strerror or exc}") from exc


class HeaderTooLarge(tarfile.TarError):
    """A tar header extension over MAX_TAR_HEADER_BYTES, or a sparse member."""


class BoundedTarInfo(tarfile.TarInfo):
    """TarInfo that refuses header extensions tarfile would read into memory whole.

    GNU long names and pax headers are read whole by `tarfile` before any member is seen (a
    1 GiB "long name" would be 1 GiB of memory), and a GNU sparse header chains extension
    blocks without end; feeds need neither. `_proc_member` is tarfile's dispatch on the
    header type (private, unchanged since Python 3.2).
    """

    def _proc_member(self, tarfile_: tarfile.TarFile) -> tarfile.TarInfo:
        if self.type == tarfile.GNUTYPE_SPARSE:
            raise HeaderTooLarge(f"{self.name}: sparse members are not read")
        extension = self.type in (
            tarfile.GNUTYPE_LONGNAME,
            tarfile.GNUTYPE_LONGLINK,
            tarfile.XHDTYPE,
            tarfile.XGLTYPE,
            tarfile.SOLARIS_XHDTYPE,
        )
        if extension and self.size > MAX_TAR_HEADER_BYTES:
            raise HeaderTooLarge(
                f"a header extension of {self.size} bytes, more than {_mib(MAX_TAR_HEADER_BYTES)}"
            )
        result: tarfile.TarInfo = super()._proc_member(tarfile_)  # type: ignore[misc]
        return result


def _tar_members(
    path: Path, wanted: Callable[[str], bool], report: ParseReport
) -> Iterator[Member]:
    last = "(none)"
    try:
        # "r:*", not the pipe mode "r|*": through GzipFile/LZMAFile a cut-off archive raises
        # EOFError, while the pipe mode silently ends at the cut (seen with a truncated .gz).
        with tarfile.open(path, "r:*", tarinfo=BoundedTarInfo) as archive:
            count = 0
            while True:
                info = archive.next()
                if info is None:
                    break
                # tarfile keeps every TarInfo it has read; nothing here looks back, so
                # dropping them keeps a tar of a million members as small as one of ten.
                archive.members.clear()
                count += 1
                if count > MAX_MEMBERS:
                    raise FeedError(f"{path}: more than {MAX_MEMBERS} entries")
                # `offset`: where the next header starts in the inflated stream, so all that
                # was inflated to get here, skipped members' data included.
                if archive.offset > MAX_TOTAL_BYTES:
                    raise FeedError(f"{path}: inflates to more than {_mib(MAX_TOTAL_BYTES)}")
                if not info.isfile():
                    continue
                if not wanted(info.name):
                    report.ignored.append(info.name)
                    continue
                if info.size > MAX_MEMBER_BYTES:
                    report.skip(_too_large(info.name, info.size))
                    continue
                stream = archive.extractfile(info)
                if stream is None:  # pragma: no cover - isfile() members always have data
                    raise FeedError(f"{path}: member {info.name} has no data")
                data = stream.read()  # info.size bytes at most: checked above
                last = info.name
                yield Member(info.name, data)
    except FeedError:
        raise
    except HeaderTooLarge as exc:
        raise FeedError(f"{path}: {exc}; last good member: {last}") from exc
    except _ARCHIVE_ERRORS as exc:
        raise FeedError(
            f"{path}: truncated or corrupt tar archive ({exc}); last good member: {last}"
        ) from exc
    except OSError as exc:
        raise FeedError(f"{path}: cannot read: {exc.strerror or exc}") from exc
