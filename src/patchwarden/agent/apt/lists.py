"""apt's downloaded indices: which `Packages` lists belong to security suites, and what they offer.

apt stores one file per (repository, suite, component, arch) in `/var/lib/apt/lists`, named
by `URItoFileName` (every `/` of the URI becomes `_`):
`<host>_<path>_dists_<suite>_<component>_binary-<arch>_Packages[.lz4|.gz|.xz|.bz2|.zst]`,
with the suite's `..._dists_<suite>_InRelease` (or `_Release`) beside it. A `Packages` file is
deb822: stanzas of `Field: value` lines separated by blank lines (Debian Policy §5.1, §5.3).

Security suites: a dist named `<codename>-security` (Debian ≥ 11, Ubuntu pockets, Ubuntu ESM
`<codename>-apps-security`/`-infra-security`), `<codename>/updates` (Debian ≤ 10), or an
InRelease whose `Suite:`/`Codename:` ends in `-security` or whose `Label:` is `Debian-Security`.
"""

from __future__ import annotations

import bz2
import gzip
import lzma
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, Iterator, List, Optional

from patchwarden.agent.collectors.base import CollectorFailed
from patchwarden.agent.runner import CommandNotFound, Runner

LISTS_DIR = "var/lib/apt/lists"
APT_HELPER = "/usr/lib/apt/apt-helper"

_LIST_NAME = re.compile(
    r"^(?P<prefix>.+)_dists_(?P<dist>.+)_(?P<component>[^_]+)_binary-(?P<arch>[^_]+)"
    r"_Packages(?:\.(?P<ext>lz4|gz|xz|bz2|zst))?$"
)
# `Source: name [(version)]`; package names per Debian Policy §5.6.1.
_SOURCE_FIELD = re.compile(r"^(?P<name>[a-z0-9][a-z0-9+.-]+)(?:\s+\((?P<version>[^)\s]+)\))?$")


@dataclass(frozen=True)
class ListFile:
    """One `Packages` index file and the suite it belongs to."""

    path: Path
    dist: str
    """The dist as written in sources.list: bookworm-security, jammy-security, buster/updates."""
    component: str
    arch: str
    compression: str
    """"" for plain text, else the file extension (lz4, gz, xz, bz2, zst)."""
    release: Dict[str, str]
    """Top-level fields of the suite's InRelease/Release ({} when the file is missing)."""

    @property
    def security(self) -> bool:
        """True when this index belongs to a security suite (see module docstring)."""
        names = (self.dist, self.release.get("Suite", ""), self.release.get("Codename", ""))
        if any(n.endswith("-security") or n.endswith("/updates") for n in names):
            return True
        return self.release.get("Label", "") == "Debian-Security"


@dataclass(frozen=True)
class AvailablePackage:
    """One binary package version offered by an index."""

    name: str
    version: str
    arch: str
    source: str
    """Source package name (the binary's own name when the stanza has no `Source:`)."""
    source_version: str
    """Source version (`Source: name (version)` for binNMUs; else the binary version)."""
    size: int
    filename: str
    """Pool path of the .deb (`Filename:`), e.g. pool/updates/main/o/openssl/libssl3_….deb."""
    dist: str


def parse_release(text: str) -> Dict[str, str]:
    """Top-level single-line fields of an InRelease/Release file (PGP armour skipped)."""
    fields: Dict[str, str] = {}
    lines = text.splitlines()
    if lines and lines[0].startswith("-----BEGIN PGP SIGNED MESSAGE"):
        # Clear-signed (RFC 4880 §7): armour headers up to the first blank line, then the body.
        lines = lines[lines.index("") + 1 :] if "" in lines else []
    for line in lines:
        if line.startswith("-----BEGIN PGP SIGNATURE"):
            break
        if not line or line[0] in " \t" or ":" not in line:
            continue  # continuation lines of multi-line fields (SHA256: …) are not needed
        key, _, value = line.partition(":")
        fields[key.strip()] = value.strip()
    return fields


def find_list_files(lists_dir: Path) -> List[ListFile]:
    """Every `*_Packages[.ext]` index under `lists_dir`, with its suite's Release fields."""
    if not lists_dir.is_dir():
        raise CollectorFailed(
            "apt lists directory is missing (has `apt update` run?)", str(lists_dir)
        )
    found = []
    for path in sorted(lists_dir.iterdir()):
        match = _LIST_NAME.match(path.name)
        if not match or not path.is_file():
            continue
        base = f"{match['prefix']}_dists_{match['dist']}"
        release: Dict[str, str] = {}
        for candidate in (lists_dir / f"{base}_InRelease", lists_dir / f"{base}_Release"):
            if candidate.is_file():
                release = parse_release(candidate.read_text(encoding="utf-8", errors="replace"))
                break
        found.append(
            ListFile(
                path=path,
                # URItoFileName turned the dist's own "/" (buster/updates) into "_".
                dist=match["dist"].replace("_", "/"),
                component=match["component"],
                arch=match["arch"],
                compression=match["ext"] or "",
                release=release,
            )
        )
    return found


def read_list_text(list_file: ListFile, runner: Runner) -> str:
    """The decompressed text of an index: stdlib for plain/gz/xz/bz2, apt-helper for lz4/zst."""
    path = list_file.path
    try:
        if list_file.compression == "":
            return path.read_text(encoding="utf-8", errors="replace")
        if list_file.compression in ("gz", "xz", "bz2"):
            opener = {"gz": gzip.open, "xz": lzma.open, "bz2": bz2.open}[list_file.compression]
            with opener(path, "rt", encoding="utf-8", errors="replace") as handle:
                return str(handle.read())
    except (OSError, EOFError, lzma.LZMAError) as exc:
        raise CollectorFailed(f"cannot read apt index: {exc}", str(path)) from exc
    # lz4 and zstd have no stdlib decompressor: apt's own helper reads every compression apt
    # writes (apt-helper(1) `cat-file`), so use it whenever it exists on the scanning host.
    try:
        result = runner.run([APT_HELPER, "cat-file", str(path)], timeout=60)
    except CommandNotFound as exc:
        raise CollectorFailed(
            f"{list_file.compression}-compressed apt index needs {APT_HELPER} (not found)",
            str(path),
        ) from exc
    if not result.ok:
        raise CollectorFailed(
            f"apt-helper cat-file failed (exit {result.returncode}): {result.stderr.strip()}",
            str(path),
        )
    return result.stdout


def parse_packages(text: str, dist: str, path: str = "") -> Iterator[AvailablePackage]:
    """Parse the stanzas of a `Packages` index; raise CollectorFailed on a malformed stanza."""
    fields: Dict[str, str] = {}
    start_line = 1
    for number, line in enumerate(text.splitlines() + [""], start=1):
        if line.strip():
            if not fields:
                start_line = number
            if line[0] in " \t":
                continue  # continuation of a multi-line field (Description); not needed
            key, sep, value = line.partition(":")
            if not sep:
                raise CollectorFailed(f"line {number}: not a `Field: value` line: {line!r}", path)
            fields[key] = value.strip()
            continue
        if fields:
            yield _stanza_to_package(fields, dist, path, start_line)
            fields = {}


def _stanza_to_package(fields: Dict[str, str], dist: str, path: str, line: int) -> AvailablePackage:
    """Build one AvailablePackage from a stanza's fields."""
    name, version = fields.get("Package", ""), fields.get("Version", "")
    if not name or not version:
        raise CollectorFailed(f"stanza at line {line} lacks Package or Version", path)
    source, source_version = name, version
    if fields.get("Source"):
        match = _SOURCE_FIELD.match(fields["Source"])
        if not match:
            raise CollectorFailed(f"stanza at line {line}: bad Source: {fields['Source']!r}", path)
        source = match["name"]
        source_version = match["version"] or version
    size_text = fields.get("Size", "0")
    if not size_text.isdigit():
        raise CollectorFailed(f"stanza at line {line}: bad Size: {size_text!r}", path)
    return AvailablePackage(
        name=name,
        version=version,
        arch=fields.get("Architecture", ""),
        source=source,
        source_version=source_version,
        size=int(size_text),
        filename=fields.get("Filename", ""),
        dist=dist,
    )


def load_security_packages(
    root: Path, runner: Runner, lists: Optional[List[ListFile]] = None
) -> List[AvailablePackage]:
    """All packages offered by the security-suite indices under `root`'s apt lists."""
    if lists is None:
        lists = find_list_files(root / LISTS_DIR)
    packages: List[AvailablePackage] = []
    for list_file in lists:
        if list_file.security:
            text = read_list_text(list_file, runner)
            packages.extend(parse_packages(text, list_file.dist, str(list_file.path)))
    return packages
