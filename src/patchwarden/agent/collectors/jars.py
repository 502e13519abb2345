"""What a JAR is: Maven coordinates and version read from inside it, nested JARs included.

Identification, best first (DESIGN §4, R-D12):

1. `META-INF/maven/<group>/<artifact>/pom.properties`: groupId, artifactId, version (high
   confidence). A shaded or assembled JAR carries one per library merged into it: each is a
   component (their classes are in the JAR);
2. `META-INF/MANIFEST.MF`: Implementation-Version / Bundle-Version / Specification-Version,
   the group from Implementation-Vendor-Id when it looks like one, the artifact from the file
   name (medium);
3. the file name `artifact-1.2.3.jar` (low): symlinks and renames lose versions, so last.

JARs inside JARs (Spring Boot `BOOT-INF/lib`, WAR `WEB-INF/lib`, EAR modules, any nested
`*.jar`/`*.war`) are identified the same way, as `outer.jar!/BOOT-INF/lib/inner.jar`.

Nothing is extracted to disk, and every read is bounded, since a JAR is input an attacker
may have shaped: member names that climb out (`../`, absolute: zip-slip) are refused, the
central directory may hold at most MAX_ENTRIES entries, metadata members MAX_META bytes,
nested JARs MAX_NESTED bytes and MAX_DEPTH levels, and a member that inflates more than
MAX_RATIO times its compressed size beyond BOMB_FLOOR bytes is taken for a zip bomb. zipfile
stops a member at its declared size and checks its CRC, so a member lying about its size
fails instead of inflating without end. Problems are returned with the components, never
raised.
"""

from __future__ import annotations

import io
import os
import re
import struct
import zipfile
from dataclasses import dataclass
from typing import IO, Dict, List, Optional, Tuple

MAX_ENTRIES = 200_000
"""Most entries of one archive's central directory (zipfile keeps one object per entry)."""
MAX_META = 1 << 20
"""Most bytes of one pom.properties or MANIFEST.MF."""
MAX_NESTED = 512 << 20
"""Most bytes of one nested archive (uncompressed)."""
IN_MEMORY = 16 << 20
"""A compressed nested archive up to this size is inflated into memory (fast); a bigger one
is read through a seekable stream (slow but bounded memory)."""
MAX_DEPTH = 3
"""Nesting levels read below the outer JAR (a WAR in an EAR holds JARs at level 2)."""
MAX_NESTED_COUNT = 2000
"""Most nested archives read per outer JAR."""
MAX_NESTED_TOTAL = 2 << 30
"""Most bytes of nested archives read per outer JAR, all levels together: overlapping
entries (the "non-recursive" zip bomb) make each entry small but their sum huge."""
MAX_RATIO = 100
BOMB_FLOOR = 16 << 20
ARCHIVES = (".jar", ".war", ".ear")

_POM = re.compile(r"^META-INF/maven/[^/]+/[^/]+/pom\.properties$")
_FILE_NAME = re.compile(
    r"^(?P<artifact>[A-Za-z0-9_.\-]+?)-(?P<version>\d+(?:[.\-_+][A-Za-z0-9]+)*)$"
)
_GROUP = re.compile(r"^[a-z][a-z0-9_\-]*(?:\.[a-zA-Z0-9_\-]+)+$")


class BadJar(Exception):
    """An archive that cannot be read: corrupt, not a zip, or over a guard."""


class _Budget:
    """Nested archives read so far below one outer JAR."""

    def __init__(self) -> None:
        self.count = 0
        self.size = 0


@dataclass(frozen=True)
class JarIdentity:
    """One component found in an archive (or nested in it)."""

    inner: str
    """"" for the archive itself, `!/BOOT-INF/lib/x.jar` (and deeper) for a nested one."""
    name: str
    """Maven `group:artifact`, or the artifact alone when the group is unknown."""
    version: str
    method: str
    """pom.properties, manifest or file-name."""
    confidence: str
    evidence: str
    """The member the identity was read from ("" for a file-name guess)."""


@dataclass(frozen=True)
class JarReport:
    """What one archive gave: its components and the problems met on the way."""

    identities: Tuple[JarIdentity, ...]
    problems: Tuple[Tuple[str, str], ...]
    """(inner path as in JarIdentity, what is wrong)."""


def identify_file(path: str, display: str) -> JarReport:
    """Identify the archive at `path` (shown as `display`: its name gives the file-name
    guess)."""
    found: List[JarIdentity] = []
    problems: List[Tuple[str, str]] = []
    try:
        with open(path, "rb") as fh:
            _identify(fh, os.path.basename(display), "", 0, found, problems, _Budget())
    except OSError as exc:
        problems.append(("", f"cannot read: {exc.strerror or exc}"))
        found.extend(_from_file_name(os.path.basename(display), ""))
    return JarReport(tuple(found), tuple(problems))


def _identify(
    fh: IO[bytes],
    file_name: str,
    inner: str,
    depth: int,
    found: List[JarIdentity],
    problems: List[Tuple[str, str]],
    budget: _Budget,
) -> None:
    """Identify one archive (and what is nested in it) read from `fh`."""
    try:
        check_entry_count(fh)
        archive = zipfile.ZipFile(fh)
    except (BadJar, zipfile.BadZipFile, zipfile.LargeZipFile, OSError, ValueError) as exc:
        problems.append((inner, f"not a readable JAR: {_why(exc)}"))
        found.extend(_from_file_name(file_name, inner))
        return
    with archive:
        try:
            own = _own_identities(archive, file_name, inner, problems)
        except (zipfile.BadZipFile, OSError, ValueError, EOFError) as exc:
            problems.append((inner, f"corrupt JAR: {_why(exc)}"))
            own = _from_file_name(file_name, inner)
        found.extend(own)
        for info in archive.infolist():
            if not info.filename.lower().endswith(ARCHIVES) or info.is_dir():
                continue
            member = f"{inner}!/{info.filename}"
            problem = member_problem(info)
            if problem:
                problems.append((member, problem))
                continue
            if depth + 1 > MAX_DEPTH:
                problems.append((member, f"nested deeper than {MAX_DEPTH} levels; not read"))
                continue
            if budget.count >= MAX_NESTED_COUNT or budget.size + info.file_size > MAX_NESTED_TOTAL:
                problems.append(
                    (
                        inner,
                        f"nested archives exceed {MAX_NESTED_COUNT} or {MAX_NESTED_TOTAL} bytes"
                        " in all; the rest was not read",
                    )
                )
                break
            budget.count += 1
            budget.size += info.file_size
            try:
                with _open_nested(archive, info) as nested:
                    _identify(
                        nested,
                        os.path.basename(info.filename),
                        member,
                        depth + 1,
                        found,
                        problems,
                        budget,
                    )
            except (zipfile.BadZipFile, OSError, ValueError, EOFError, RuntimeError) as exc:
                problems.append((member, f"cannot read nested archive: {_why(exc)}"))


def member_problem(info: zipfile.ZipInfo) -> str:
    """Why a nested archive member must not be read ("" when it may)."""
    name = info.filename
    parts = name.replace("\\", "/").split("/")
    if name.startswith(("/", "\\")) or ".." in parts or ":" in parts[0]:
        return "member name leaves the archive (zip-slip); not read"
    if info.file_size > MAX_NESTED:
        return f"nested archive of {info.file_size} bytes exceeds {MAX_NESTED}; not read"
    if (
        info.compress_type != zipfile.ZIP_STORED
        and info.file_size > BOMB_FLOOR
        and info.file_size > MAX_RATIO * max(info.compress_size, 1)
    ):
        return (
            f"member inflates {info.compress_size} to {info.file_size} bytes"
            " (a zip bomb?); not read"
        )
    return ""


def _open_nested(archive: zipfile.ZipFile, info: zipfile.ZipInfo) -> IO[bytes]:
    """A seekable reader of a nested archive: small compressed ones inflated into memory,
    others read in place (a stored member seeks for free; Spring Boot stores its libs)."""
    if info.compress_type != zipfile.ZIP_STORED and info.file_size <= IN_MEMORY:
        with archive.open(info) as member:
            return io.BytesIO(member.read(IN_MEMORY + 1))
    return archive.open(info)


def check_entry_count(fh: IO[bytes]) -> None:
    """Raise BadJar when the end of central directory is missing or counts too many entries.

    Read from the archive's tail (APPNOTE 4.3.16, zip64 4.3.14/4.3.15) before zipfile builds
    an object per entry.
    """
    fh.seek(0, os.SEEK_END)
    size = fh.tell()
    tail_size = min(size, 22 + 65535 + 20)
    fh.seek(size - tail_size)
    tail = fh.read(tail_size)
    at = tail.rfind(b"PK\x05\x06")
    if at < 0 or at + 22 > len(tail):
        raise BadJar("no zip end-of-central-directory record")
    (entries,) = struct.unpack_from("<H", tail, at + 10)
    if entries == 0xFFFF and at >= 20 and tail[at - 20 : at - 16] == b"PK\x06\x07":
        (offset,) = struct.unpack_from("<Q", tail, at - 20 + 8)
        if offset + 56 <= size:
            fh.seek(offset)
            record = fh.read(56)
            if record[:4] == b"PK\x06\x06":
                (entries,) = struct.unpack_from("<Q", record, 32)
    if entries > MAX_ENTRIES:
        raise BadJar(f"{entries} entries exceed {MAX_ENTRIES}")
    fh.seek(0)


def _own_identities(
    archive: zipfile.ZipFile, file_name: str, inner: str, problems: List[Tuple[str, str]]
) -> List[JarIdentity]:
    """The components of the archive itself: pom.properties, else manifest, else file name."""
    found: List[JarIdentity] = []
    for info in archive.infolist():
        if not _POM.match(info.filename):
            continue
        text = _read_meta(archive, info, inner, problems)
        if text is None:
            continue
        props = parse_properties(text)
        group, artifact, version = (props.get(k, "") for k in ("groupId", "artifactId", "version"))
        if not (group and artifact) or "${" in group + artifact:
            problems.append((inner, f"{info.filename} lacks groupId/artifactId"))
            continue
        if "${" in version:
            version = ""
        name = f"{group}:{artifact}"
        found.append(JarIdentity(inner, name, version, "pom.properties", "high", info.filename))
    if found:
        return found
    manifest = _manifest(archive, inner, problems)
    if manifest:
        identity = _from_manifest(manifest, file_name, inner)
        if identity is not None:
            return [identity]
    return _from_file_name(file_name, inner)


def _read_meta(
    archive: zipfile.ZipFile,
    info: zipfile.ZipInfo,
    inner: str,
    problems: List[Tuple[str, str]],
) -> Optional[str]:
    """A metadata member as text, read at most MAX_META bytes; None (and a problem) when it
    is bigger."""
    if info.file_size > MAX_META:
        problems.append((inner, f"{info.filename} of {info.file_size} bytes exceeds {MAX_META}"))
        return None
    with archive.open(info) as member:
        data = member.read(MAX_META + 1)
    if len(data) > MAX_META:
        problems.append((inner, f"{info.filename} exceeds {MAX_META} bytes"))
        return None
    return data.decode("utf-8", "replace")


def _manifest(
    archive: zipfile.ZipFile, inner: str, problems: List[Tuple[str, str]]
) -> Dict[str, str]:
    try:
        info = archive.getinfo("META-INF/MANIFEST.MF")
    except KeyError:
        return {}
    text = _read_meta(archive, info, inner, problems)
    return parse_manifest(text) if text else {}


def parse_properties(text: str) -> Dict[str, str]:
    """Java .properties keys and values (`k=v`, `k:v`, `k v`; `#`/`!` comments), simply."""
    out: Dict[str, str] = {}
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line[0] in "#!":
            continue
        match = re.match(r"^([^=:\s]+)\s*[=:\s]\s*(.*)$", line)
        if match:
            out.setdefault(match.group(1), match.group(2).strip())
    return out


def parse_manifest(text: str) -> Dict[str, str]:
    """Main attributes of a MANIFEST.MF (JAR spec: 72-byte lines continued by one space)."""
    out: Dict[str, str] = {}
    key = ""
    for line in text.replace("\r\n", "\n").replace("\r", "\n").split("\n"):
        if not line:
            break  # the main section ends at the first blank line
        if line.startswith(" ") and key:
            out[key] += line[1:]
            continue
        name, sep, value = line.partition(":")
        if sep:
            key = name.strip()
            out[key] = value.strip()
    return out


def _from_manifest(manifest: Dict[str, str], file_name: str, inner: str) -> Optional[JarIdentity]:
    version = ""
    for key in ("Implementation-Version", "Bundle-Version", "Specification-Version"):
        if manifest.get(key):
            version = manifest[key].strip()
            break
    if not version:
        return None
    guess = _FILE_NAME.match(_stem(file_name))
    artifact = guess.group("artifact") if guess else _stem(file_name)
    group = manifest.get("Implementation-Vendor-Id", "").strip()
    name = f"{group}:{artifact}" if group and _GROUP.match(group) else artifact
    return JarIdentity(inner, name, version, "manifest", "medium", "META-INF/MANIFEST.MF")


def _from_file_name(file_name: str, inner: str) -> List[JarIdentity]:
    stem = _stem(file_name)
    guess = _FILE_NAME.match(stem)
    if guess:
        artifact, version = guess.group("artifact"), guess.group("version")
        return [JarIdentity(inner, artifact, version, "file-name", "low", "")]
    return [JarIdentity(inner, stem, "", "file-name", "low", "")]


def _stem(file_name: str) -> str:
    base = os.path.basename(file_name)
    for suffix in ARCHIVES:
        if base.lower().endswith(suffix):
            return base[: -len(suffix)]
    return base


def _why(exc: BaseException) -> str:
    text = str(exc) or type(exc).__name__
    return text if len(text) <= 200 else text[:197] + "..."
