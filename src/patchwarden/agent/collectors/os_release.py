"""os-release collector: which distribution and release a root holds, and whether it is EOL.

Sources, in order of trust: `etc/os-release` (fallback `usr/lib/os-release`, freedesktop
os-release(5)), then the distribution's own files for what os-release leaves out
(`etc/lsb-release`, `etc/debian_version`, `etc/oracle-release`, `etc/redhat-release` and
siblings, `etc/system-release-cpe`, `etc/alpine-release`) and, for BusyBox images, the
version string inside `bin/busybox`.

`release` is the key advisories use (OsRelease docstring): Debian major ("12"), Ubuntu
"YY.MM", RHEL-likes major ("9"), Alpine "major.minor" or "edge", SUSE VERSION_ID ("15.2"),
other distributions VERSION_ID verbatim. Debian testing/sid has no release ("") but keeps its
codename. An unknown distribution is a valid result (family "unknown"), not an error; a file
that is not text is (CollectorFailed).
"""

from __future__ import annotations

import dataclasses
import datetime
import re
from pathlib import Path
from typing import Dict, List, Mapping, Optional, Tuple

from patchwarden.agent.collectors.base import (
    Collector,
    Context,
    InventoryPart,
)
from patchwarden.agent.collectors.eol_table import EOL_TABLE
from patchwarden.agent.collectors.textfile import read_text
from patchwarden.core.inventory import UNKNOWN_OS, CollectorError, OsRelease

NAME = "os-release"

RELEASE_FILES = (
    "etc/os-release",
    "usr/lib/os-release",
    "etc/lsb-release",
    "etc/debian_version",
    "etc/alpine-release",
    "etc/oracle-release",
    "etc/centos-release",
    "etc/almalinux-release",
    "etc/rocky-release",
    "etc/system-release",
    "etc/redhat-release",
    "etc/system-release-cpe",
)
"""Text files read from the root (relative paths); missing ones are skipped."""

BUSYBOX = "bin/busybox"
_BUSYBOX_SCAN_BYTES = 4 * 1024 * 1024

# os-release ID -> family (which console detection driver applies). Fedora, Amazon Linux,
# Mariner, Photon, Wolfi, Arch … keep their id but get "unknown": RHEL or Debian advisories
# do not describe their packages, whatever ID_LIKE says.
FAMILIES: Dict[str, str] = {
    "debian": "debian",
    "ubuntu": "ubuntu",
    "rhel": "rhel",
    "centos": "rhel",
    "almalinux": "rhel",
    "rocky": "rhel",
    "ol": "rhel",
    "scientific": "rhel",
    "alpine": "alpine",
    "sles": "suse",
    "sled": "suse",
    "sles_sap": "suse",
    "opensuse": "suse",
    "opensuse-leap": "suse",
    "opensuse-tumbleweed": "suse",
}

# First words of `*-release` banner lines ("CentOS release 5.7 (Final)") -> os-release ID.
_BANNER_IDS = (
    ("red hat enterprise linux", "rhel"),
    ("centos", "centos"),
    ("almalinux", "almalinux"),
    ("rocky linux", "rocky"),
    ("oracle linux", "ol"),
    ("scientific linux", "scientific"),
    ("fedora", "fedora"),
    ("amazon linux", "amzn"),
)
# Vendor part of `cpe:/o:<vendor>:<product>:<version>` -> os-release ID.
_CPE_IDS = {
    "redhat": "rhel",
    "centos": "centos",
    "almalinux": "almalinux",
    "rocky": "rocky",
    "oracle": "ol",
    "fedoraproject": "fedora",
    "amazon": "amzn",
}
_BANNER_RE = re.compile(r"^(?P<name>.+?)\s+release\s+(?P<version>\d+(?:\.\d+)*)", re.IGNORECASE)
_PAREN_CODENAME_RE = re.compile(r"\(([A-Za-z]+)[ )]")
_BUSYBOX_RE = re.compile(rb"BusyBox v(\d+(?:\.\d+)+)")


def parse_key_values(text: str) -> Dict[str, str]:
    """Parse os-release(5) / lsb-release `KEY=value` lines; quotes and `\\` escapes removed.

    Comments and lines without `=` are ignored, as os-release(5) tells readers to do.
    """
    out: Dict[str, str] = {}
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#") or "=" not in line:
            continue
        key, _, value = line.partition("=")
        value = value.strip()
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
            value = re.sub(r"\\(.)", r"\1", value[1:-1])
        out[key.strip()] = value
    return out


def identify(
    files: Mapping[str, str],
    today: Optional[datetime.date] = None,
    busybox_version: str = "",
) -> Tuple[OsRelease, Tuple[Tuple[str, str], ...]]:
    """Work out the OS from release files' text (`files`: relative path -> text).

    Returns the release and (file, note) pairs on odd input (an empty os-release, a banner we
    could not read); an unknown OS is `UNKNOWN_OS` with what name we found, never an exception.
    """
    notes: List[Tuple[str, str]] = []
    osr_path = next((p for p in ("etc/os-release", "usr/lib/os-release") if p in files), "")
    fields = parse_key_values(files[osr_path]) if osr_path else {}
    if osr_path and not fields:
        notes.append((osr_path, "no KEY=value lines (empty file?)"))
    elif osr_path and not fields.get("ID"):
        notes.append((osr_path, "no ID field"))
    lsb = parse_key_values(files.get("etc/lsb-release", ""))

    os_id = fields.get("ID", "").strip().lower()
    version_id = fields.get("VERSION_ID", "")
    codename = fields.get("VERSION_CODENAME", "") or fields.get("UBUNTU_CODENAME", "")
    name = fields.get("PRETTY_NAME", "") or fields.get("NAME", "")
    source = osr_path

    if not os_id and lsb.get("DISTRIB_ID"):
        os_id = lsb["DISTRIB_ID"].lower()
        source = "etc/lsb-release"
    if os_id == "ubuntu" and lsb.get("DISTRIB_ID", "").lower() == "ubuntu":
        version_id = version_id or lsb.get("DISTRIB_RELEASE", "")
        codename = codename or lsb.get("DISTRIB_CODENAME", "")
        name = name or lsb.get("DISTRIB_DESCRIPTION", "")

    if not os_id and "etc/debian_version" in files:
        os_id, source = "debian", "etc/debian_version"
    if not os_id and "etc/alpine-release" in files:
        os_id, source = "alpine", "etc/alpine-release"
        version_id = files["etc/alpine-release"].strip()
    if not os_id or (not version_id and FAMILIES.get(os_id) == "rhel"):
        banner = _from_banners(files, notes)
        if banner and (not os_id or os_id == banner[0]):
            os_id, version_id, banner_name, source = banner
            name = name or banner_name
    if not os_id and busybox_version:
        os_id, version_id, name, source = (
            "busybox",
            busybox_version,
            f"BusyBox v{busybox_version}",
            BUSYBOX,
        )
    if not os_id:
        return dataclasses.replace(UNKNOWN_OS, name=name, source=source), tuple(notes)

    if os_id == "debian":
        had_version = bool(version_id)
        release, version_id, codename = _debian(fields, files, version_id, codename)
        if version_id and not had_version:
            source = "etc/debian_version"
    elif os_id == "alpine":
        release = _alpine(version_id, name)
    elif FAMILIES.get(os_id) == "rhel":
        release = version_id.split(".", 1)[0]
    else:
        release = version_id

    eol_date, table_codename = EOL_TABLE.get((os_id, release), ("", ""))
    if os_id in ("debian", "ubuntu"):
        codename = codename or table_codename
    eol: Optional[bool] = None
    if (os_id, release) in EOL_TABLE:
        eol = bool(eol_date) and (today or datetime.date.today()).isoformat() > eol_date
    return (
        OsRelease(
            id=os_id,
            family=FAMILIES.get(os_id, "unknown"),
            release=release,
            version_id=version_id,
            codename=codename.lower(),
            name=name,
            eol=eol,
            eol_date=eol_date or None,
            source=source,
        ),
        tuple(notes),
    )


def _debian(
    fields: Mapping[str, str], files: Mapping[str, str], version_id: str, codename: str
) -> Tuple[str, str, str]:
    """(release, version_id, codename) of Debian: the major number, or "" for testing/sid."""
    if not codename:
        # Debian < 9 and distroless images put the codename only in VERSION: "7 (wheezy)".
        match = _PAREN_CODENAME_RE.search(fields.get("VERSION", "") + " ")
        codename = match.group(1) if match else ""
    debian_version = files.get("etc/debian_version", "").strip()
    if not version_id and debian_version:
        if debian_version[:1].isdigit():
            version_id = debian_version
        elif "/" in debian_version:
            # testing and unstable say "trixie/sid": no release number yet.
            codename = codename or debian_version.split("/", 1)[0]
    return version_id.split(".", 1)[0], version_id, codename


def _alpine(version_id: str, name: str) -> str:
    """Alpine's release branch: "3.19" from VERSION_ID 3.19.1; "edge" for development builds."""
    if "_alpha" in version_id or "_beta" in version_id or name.lower().endswith(" edge"):
        return "edge"
    parts = version_id.split(".")
    return ".".join(parts[:2]) if len(parts) >= 2 else version_id


def _from_banners(
    files: Mapping[str, str], notes: List[Tuple[str, str]]
) -> Optional[Tuple[str, str, str, str]]:
    """(id, version_id, name, source) from `*-release` banners or system-release-cpe."""
    for rel in (
        "etc/oracle-release",
        "etc/centos-release",
        "etc/almalinux-release",
        "etc/rocky-release",
        "etc/system-release",
        "etc/redhat-release",
    ):
        if rel not in files:
            continue
        line = files[rel].strip().splitlines()[0] if files[rel].strip() else ""
        match = _BANNER_RE.match(line)
        os_id = ""
        if match:
            lowered = match.group("name").lower()
            os_id = next((i for prefix, i in _BANNER_IDS if lowered.startswith(prefix)), "")
        if os_id and match:
            return os_id, match.group("version"), line, rel
        notes.append((rel, f"unrecognised release banner {line[:80]!r}"))
    cpe = files.get("etc/system-release-cpe", "").strip()
    if cpe:
        parts = cpe.split(":")
        # cpe:/o:centos:linux:6:GA -> vendor centos, version 6.
        if len(parts) >= 5 and parts[0] == "cpe" and parts[4][:1].isdigit():
            os_id = _CPE_IDS.get(parts[2], "")
            if os_id:
                return os_id, parts[4], "", "etc/system-release-cpe"
        notes.append(("etc/system-release-cpe", f"unrecognised CPE {cpe[:80]!r}"))
    return None


def busybox_version(path: Path) -> str:
    """The `BusyBox vX.Y.Z` version string embedded in a busybox binary, or ""."""
    try:
        with path.open("rb") as fh:
            match = _BUSYBOX_RE.search(fh.read(_BUSYBOX_SCAN_BYTES))
    except OSError:
        return ""
    return match.group(1).decode("ascii") if match else ""


class OsReleaseCollector(Collector):
    """Reads the release files under the root; always runs first (others need `ctx.os`)."""

    name = NAME
    version = 1

    def __init__(self, today: Optional[datetime.date] = None) -> None:
        """`today` is the day EOL is judged against; None means the real today."""
        self.today = today

    def collect(self, ctx: Context) -> InventoryPart:
        """Identify the OS of `ctx.root`; notes on odd files become warnings."""
        files = {}
        for rel in RELEASE_FILES:
            path = ctx.path(rel)
            if path.is_file():
                files[rel] = read_text(path, rel)
        bb = ctx.path(BUSYBOX)
        bb_version = busybox_version(bb) if not files and bb.is_file() else ""
        release, notes = identify(files, self.today, bb_version)
        warnings = tuple(CollectorError(NAME, note, rel) for rel, note in notes)
        return InventoryPart(os=release, warnings=warnings)
