"""Guess the feed kind of a path (used when the user gives `PATH` without `KIND:`).

Looks at names first and then at most a few kilobytes of content, so a 70 MB tracker JSON or a
tarball is never read whole. Paths we cannot place raise `FeedError` telling the user to name
the kind.
"""

from __future__ import annotations

import gzip
import lzma
import re
import tarfile
import zlib
from pathlib import Path

from patchwarden.core.errors import FeedError
from patchwarden.feeds.containers import TAR_SUFFIXES, BoundedTarInfo, dir_files
from patchwarden.feeds.debian_tracker import is_advisory_list_name

_HEAD = 16384
_DIR_SCAN_LIMIT = 200
_DSA_HEADER = re.compile(r"^\[[^\]]+\]\s+D[LST]+A-\d+")
_TRACKER_JSON = re.compile(r'^\s*\{\s*"[^"]+"\s*:\s*\{\s*"(CVE|TEMP)-')
_NVD_FEED_NAME = re.compile(r"^nvdcve-2\.0-[a-z0-9]+\.json(\.gz|\.zip)?$")
"""NVD's 2.0 JSON feed files: `nvdcve-2.0-2024.json.gz`, `nvdcve-2.0-modified.json.zip`."""
_NVD_JSON = re.compile(r'"format"\s*:\s*"NVD_CVE"|"sourceIdentifier"\s*:')


def detect_kind(path: str | Path, kinds: tuple[str, ...] = ()) -> str:
    """The feed kind of `path` (a key of `FEEDS`), or FeedError naming the path.

    `kinds` is only used to list the valid kinds in the error message.
    """
    path = Path(path)
    if not path.exists():
        raise FeedError(f"{path}: no such file or directory")
    kind = _dir_kind(path) if path.is_dir() else _file_kind(path)
    if kind is None:
        known = f" (kinds: {', '.join(kinds)})" if kinds else ""
        raise FeedError(f"{path}: cannot tell which feed this is; give it as KIND:PATH{known}")
    return kind


def _dir_kind(root: Path) -> str | None:
    seen = 0
    # Links out of the directory are not looked at, as the parsers will not read them.
    for rel, full in dir_files(root, lambda _: None):
        # Archives inside a directory are not read by the directory parsers.
        if rel.lower().endswith((".zip", *TAR_SUFFIXES)):
            continue
        try:
            kind = _file_kind(full)
        except FeedError:
            kind = None
        if kind is not None:
            return kind
        seen += 1
        if seen >= _DIR_SCAN_LIMIT:
            return None
    return None


def _file_kind(path: Path) -> str | None:
    name = path.name.lower()
    if _NVD_FEED_NAME.match(name):
        return "nvd"
    if name.endswith(".zip"):
        return "osv"  # the OSV bucket's all.zip layout
    if name.endswith(TAR_SUFFIXES):
        return _tar_kind(path)
    head = _head(path)
    if name.endswith((".csv", ".csv.gz")):
        if "cveID" in head and "vendorProject" in head:
            return "kev"
        if re.search(r"^cve,epss", head, re.MULTILINE):
            return "epss"
        return None
    if is_advisory_list_name(path) or name.endswith(".list"):
        if _DSA_HEADER.match(head):
            return "debian-tracker"
        raise FeedError(
            f"{path}: not a DSA/DLA/DTSA advisory list (CPE.list, for one, maps packages to "
            "CPE names and holds no advisories)"
        )
    if name.endswith((".json", ".json.gz")):
        return _json_kind(path, head)
    if name.endswith((".yaml", ".yml")):
        if re.search(r"^distroversion:", head, re.MULTILINE):
            return "alpine-secdb"
        # OSV requires `id` and `modified` (schema §id, §modified).
        if re.search(r"^id:", head, re.MULTILINE) and re.search(r"^modified:", head, re.MULTILINE):
            return "osv"
        return None
    if path.name.startswith("CVE-") and "Candidate:" in head:
        return "ubuntu-uct"
    return None


def _json_kind(path: Path, head: str) -> str | None:
    if '"$schema"' in head and '"properties"' in head:
        raise FeedError(f"{path}: a JSON schema, not a feed")
    if '"catalogVersion"' in head or '"cveID"' in head:
        return "kev"
    if _TRACKER_JSON.match(head):
        return "debian-tracker"
    if '"vulnerabilities"' in head and _NVD_JSON.search(head):
        return "nvd"  # an NVD CVE API 2.0 page
    if '"csaf_version"' in head:
        raise FeedError(f"{path}: a CSAF document; CSAF is not a supported feed kind yet")
    if '"id"' in head and '"modified"' in head:
        return "osv"
    return None


def _tar_kind(path: Path) -> str:
    """`ubuntu-uct` if the first members are UCT CVE files, else `osv`."""
    try:
        # BoundedTarInfo: a 1 GiB "long name" header is refused, not read into memory.
        with tarfile.open(path, "r|*", tarinfo=BoundedTarInfo) as archive:
            for count, info in enumerate(archive):
                base = info.name.rpartition("/")[2]
                if info.isfile() and base.startswith("CVE-") and "." not in base:
                    return "ubuntu-uct"
                if info.isfile() and base.endswith((".json", ".yaml", ".yml")):
                    return "osv"
                if count > 50:
                    break
    except (tarfile.TarError, EOFError, zlib.error, lzma.LZMAError, OSError) as exc:
        raise FeedError(f"{path}: truncated or corrupt tar archive ({exc})") from exc
    return "osv"


def _head(path: Path) -> str:
    try:
        if path.name.lower().endswith(".gz"):
            with gzip.open(path, "rb") as stream:
                data = stream.read(_HEAD)
        else:
            with path.open("rb") as stream:
                data = stream.read(_HEAD)
    except (OSError, EOFError, zlib.error) as exc:
        raise FeedError(f"{path}: cannot read: {exc}") from exc
    return data.decode("utf-8", errors="replace").lstrip("\ufeff")
