"""Read the files of a feed one at a time, from a directory, a zip, a tarball or one file.

Archives are streamed: a tar is read member by member, so a 74 MB UCT tarball is never held
in memory, and a zip member is read only when its turn comes. A truncated or corrupt archive
raises `FeedError` naming the archive (and the last good member).
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

from patchwarden.core.errors import FeedError

TAR_SUFFIXES = (".tar", ".tar.gz", ".tgz", ".tar.xz", ".txz", ".tar.bz2", ".tbz2")

# What a damaged compressed stream raises from inside tarfile / zipfile.
_ARCHIVE_ERRORS = (tarfile.TarError, zipfile.BadZipFile, EOFError, zlib.error, lzma.LZMAError)


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


def iter_members(path: Path, wanted: Callable[[str], bool], ignored: list[str]) -> Iterator[Member]:
    """Yield every file of `path` whose name `wanted` accepts; append the others to `ignored`.

    A single file is yielded whatever its name: the user pointed at it.
    """
    kind = container_of(path)
    if kind == "dir":
        yield from _dir_members(path, wanted, ignored)
    elif kind == "zip":
        yield from _zip_members(path, wanted, ignored)
    elif kind == "tar":
        yield from _tar_members(path, wanted, ignored)
    else:
        yield Member(path.name, read_bytes(path))


def read_bytes(path: Path) -> bytes:
    """The bytes of `path`, or FeedError naming it."""
    try:
        return path.read_bytes()
    except OSError as exc:
        raise FeedError(f"{path}: cannot read: {exc.strerror or exc}") from exc


def _dir_members(root: Path, wanted: Callable[[str], bool], ignored: list[str]) -> Iterator[Member]:
    # Sorted walk: the same directory always yields the same order (reproducible imports).
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames.sort()
        for fname in sorted(filenames):
            full = Path(dirpath) / fname
            rel = full.relative_to(root).as_posix()
            if wanted(rel):
                yield Member(rel, read_bytes(full))
            else:
                ignored.append(rel)


def _zip_members(path: Path, wanted: Callable[[str], bool], ignored: list[str]) -> Iterator[Member]:
    last = "(none)"
    try:
        with zipfile.ZipFile(path) as archive:
            for info in archive.infolist():
                if info.is_dir():
                    continue
                if not wanted(info.filename):
                    ignored.append(info.filename)
                    continue
                data = archive.read(info)
                last = info.filename
                yield Member(info.filename, data)
    except _ARCHIVE_ERRORS as exc:
        raise FeedError(
            f"{path}: truncated or corrupt zip archive ({exc}); last good member: {last}"
        ) from exc
    except OSError as exc:
        raise FeedError(f"{path}: cannot read: {exc.strerror or exc}") from exc


def _tar_members(path: Path, wanted: Callable[[str], bool], ignored: list[str]) -> Iterator[Member]:
    last = "(none)"
    try:
        # "r:*", not the pipe mode "r|*": through GzipFile/LZMAFile a cut-off archive raises
        # EOFError, while the pipe mode silently ends at the cut (seen with a truncated .gz).
        with tarfile.open(path, "r:*") as archive:
            for info in archive:
                if not info.isfile():
                    continue
                if not wanted(info.name):
                    ignored.append(info.name)
                    continue
                stream = archive.extractfile(info)
                if stream is None:  # pragma: no cover - isfile() members always have data
                    raise FeedError(f"{path}: member {info.name} has no data")
                data = stream.read()
                last = info.name
                yield Member(info.name, data)
    except _ARCHIVE_ERRORS as exc:
        raise FeedError(
            f"{path}: truncated or corrupt tar archive ({exc}); last good member: {last}"
        ) from exc
    except OSError as exc:
        raise FeedError(f"{path}: cannot read: {exc.strerror or exc}") from exc
