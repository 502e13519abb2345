"""Read a package's Debian changelog out of a downloaded .deb, standard library first.

A .deb is an ar archive (deb(5)): `debian-binary`, `control.tar.*`, `data.tar.*`, where
data.tar is uncompressed or gz/xz/bz2/zst (deb(5); Ubuntu ≥ 21.10 builds zstd). ar members are
a 60-byte header (name 16, mtime 12, uid 6, gid 6, mode 8, size 10, magic "`\\n") plus data
padded to an even size. gz/xz/bz2 stream through `tarfile`; zstd has no stdlib decompressor, so
those debs are unpacked with `dpkg-deb -x` (which handles every compression dpkg knows).

The changelog is `usr/share/doc/<pkg>/changelog.Debian.gz`, or `changelog.gz` for native
packages (Debian Policy §12.7). A doc directory may instead be a symlink to the doc directory of
another binary of the same source (Policy §12.5): that is reported back, not followed here.
"""

from __future__ import annotations

import gzip
import io
import os
import shutil
import tarfile
import tempfile
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Optional, Tuple

from patchwarden.agent.runner import CommandNotFound, Runner

AR_MAGIC = b"!<arch>\n"
CHANGELOG_NAMES = ("changelog.Debian.gz", "changelog.gz")
"""In order of preference: for non-native packages `changelog.gz` is the upstream changelog."""
MAX_CHANGELOG_BYTES = 16 * 1024 * 1024
"""Decompressed size guard against a hostile or broken archive."""


class DebError(Exception):
    """A .deb that cannot be read; the message names the file and the reason."""


@dataclass(frozen=True)
class DocLookup:
    """What the .deb holds at `usr/share/doc/<pkg>/`."""

    text: Optional[str] = None
    """The Debian changelog, decompressed (None when the package ships none)."""
    symlink_to: Optional[str] = None
    """Set when the doc directory is a symlink: the package directory name it points to."""


class _Slice:
    """A read-only window of `size` bytes of a file (one ar member) for streaming tarfile."""

    def __init__(self, handle: IO[bytes], size: int) -> None:
        self._handle = handle
        self._left = size

    def read(self, size: int = -1) -> bytes:
        """Read at most `size` bytes (all that is left when negative)."""
        if size < 0 or size > self._left:
            size = self._left
        data = self._handle.read(size)
        self._left -= len(data)
        return data


def _find_data_member(handle: IO[bytes], deb: Path) -> Tuple[str, int]:
    """Position `handle` at the data.tar member; return (member name, size)."""
    if handle.read(len(AR_MAGIC)) != AR_MAGIC:
        raise DebError(f"{deb}: not an ar archive (bad magic)")
    while True:
        header = handle.read(60)
        if not header:
            raise DebError(f"{deb}: no data.tar member")
        if len(header) != 60 or header[58:60] != b"`\n":
            raise DebError(f"{deb}: truncated or corrupt ar member header")
        name = header[:16].decode("ascii", "replace").strip().rstrip("/")
        size_text = header[48:58].decode("ascii", "replace").strip()
        if not size_text.isdigit():
            raise DebError(f"{deb}: bad ar member size {size_text!r}")
        size = int(size_text)
        if name.startswith("data.tar"):
            return name, size
        handle.seek(size + (size % 2), os.SEEK_CUR)


def _doc_paths(package: str) -> Tuple[str, ...]:
    """Tar member names (normalised, no leading ./) of the doc dir and its changelogs."""
    doc = f"usr/share/doc/{package}"
    return (doc,) + tuple(f"{doc}/{name}" for name in CHANGELOG_NAMES)


def _decode_changelog(raw: bytes, where: str) -> str:
    """Gunzip a changelog with a size guard; raise DebError when it is not gzip."""
    try:
        with gzip.GzipFile(fileobj=io.BytesIO(raw)) as handle:
            data = handle.read(MAX_CHANGELOG_BYTES + 1)
    except (OSError, EOFError, zlib.error) as exc:
        raise DebError(f"{where}: changelog is not valid gzip: {exc}") from exc
    if len(data) > MAX_CHANGELOG_BYTES:
        raise DebError(f"{where}: changelog larger than {MAX_CHANGELOG_BYTES} bytes")
    return data.decode("utf-8", errors="replace")


def read_doc_changelog(deb: Path, package: str, runner: Runner) -> DocLookup:
    """The Debian changelog of `package` inside `deb`, or where its doc dir symlinks to."""
    with deb.open("rb") as handle:
        member, size = _find_data_member(handle, deb)
        compression = member[len("data.tar") :].lstrip(".")
        if compression in ("", "gz", "xz", "bz2"):
            return _scan_tar(_Slice(handle, size), compression, deb, package)
    return _extract_with_dpkg_deb(deb, package, runner)


def _scan_tar(stream: _Slice, compression: str, deb: Path, package: str) -> DocLookup:
    """Stream data.tar once, keeping the preferred changelog and any doc-dir symlink."""
    doc_dir, *changelogs = _doc_paths(package)
    found = {}
    mode = f"r|{compression}" if compression else "r|"
    try:
        with tarfile.open(fileobj=stream, mode=mode) as tar:  # type: ignore[call-overload]
            for info in tar:
                name = info.name[2:] if info.name.startswith("./") else info.name
                if name == doc_dir and info.issym():
                    return DocLookup(symlink_to=os.path.basename(info.linkname.rstrip("/")))
                if name in changelogs and info.isfile():
                    extracted = tar.extractfile(info)
                    if extracted is not None:
                        found[name] = extracted.read(MAX_CHANGELOG_BYTES + 1)
                    if name == changelogs[0]:
                        break  # changelog.Debian.gz is the one we want; stop decompressing
    except (tarfile.TarError, OSError, EOFError, zlib.error) as exc:
        raise DebError(f"{deb}: cannot read data.tar.{compression}: {exc}") from exc
    for name in changelogs:
        if name in found:
            return DocLookup(text=_decode_changelog(found[name], f"{deb}:{name}"))
    return DocLookup()


def _extract_with_dpkg_deb(deb: Path, package: str, runner: Runner) -> DocLookup:
    """Unpack with `dpkg-deb -x` (zstd and any future compression) and read the doc dir."""
    target = Path(tempfile.mkdtemp(prefix="pw-deb-", dir=str(deb.parent)))
    try:
        try:
            result = runner.run(["dpkg-deb", "-x", str(deb), str(target)], timeout=300)
        except CommandNotFound as exc:
            raise DebError(f"{deb}: data.tar compression needs dpkg-deb (not found)") from exc
        if not result.ok:
            raise DebError(f"{deb}: dpkg-deb -x failed: {result.stderr.strip()[:300]}")
        doc_dir = target / "usr" / "share" / "doc" / package
        if doc_dir.is_symlink():
            return DocLookup(symlink_to=os.path.basename(os.readlink(doc_dir).rstrip("/")))
        for name in CHANGELOG_NAMES:
            path = doc_dir / name
            if path.is_file() and not path.is_symlink():
                return DocLookup(text=_decode_changelog(path.read_bytes(), f"{deb}:{name}"))
        return DocLookup()
    finally:
        shutil.rmtree(target, ignore_errors=True)
