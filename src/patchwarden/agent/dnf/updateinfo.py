"""Parse dnf/yum text output about pending security updates (stdlib only, py3.9).

Three outputs, shapes taken from the tools' own code (see tests/data/repocheck/dnf/README.md):

* `updateinfo list` (dnf `UpdateInfoCommand.display_list`: `'%-*s %-*s %s' % (id, label, nevra)`;
  yum-security the same columns):
  `ALSA-2024:1234 Important/Sec. openssl-libs-1:3.0.7-27.el9.x86_64`.
  With `--with-cve` (dnf ≥ 4.2.17) or yum's `list cves` the first column is a CVE id instead.
  `--all` adds an `i `/`  ` installed marker in front.
* `updateinfo info` (dnf `display_info`; yum `UpdateNotice.text`): blocks framed by 79 `=`,
  the title, then right-aligned `Label: value` (dnf) or `Label : value` (yum) lines, where a
  label-less `: value` line continues the previous field (one CVE per line).
* `check-update` (dnf/yum `list updates` columns): `name.arch  [epoch:]version-release  repo`,
  a long `name.arch` may be wrapped onto its own line, then `Obsoleting Packages` follows.

Lines that are none of these are errors, except the known chatter listed in `NOISE`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Dict, List, Optional, Tuple

from patchwarden.agent.collectors.base import CollectorFailed

SEVERITY_ORDER = ("Unknown", "Low", "Moderate", "Important", "Critical")
"""updateinfo severities, least to most severe (dnf `SECURITY2LABEL`)."""

NOISE = (
    "Last metadata expiration check",
    "Loaded plugins",
    "updateinfo list done",
    "updateinfo info done",
    "Updating Subscription Management repositories",
    "Unable to read consumer identity",
    "This system is not registered",
    "Security: kernel",  # dnf's running-kernel check ("... is an installed security update")
)
"""Prefixes of status lines dnf/yum print around the data, even with -q on some versions."""

_LIST_ROW = re.compile(
    r"^(?:i |  )?(?P<id>\S+)\s+(?P<label>\S+/Sec\.|bugfix|enhancement|newpackage|security|unknown)"
    r"\s+(?P<nevra>\S+)$"
)
_INFO_FIELD = re.compile(r"^\s*(?P<label>[A-Za-z][A-Za-z ]*?)?\s*:(?: (?P<value>.*))?$")
_UPGRADE_ROW = re.compile(r"^(?P<na>\S+)\s+(?P<evr>\S+)\s+(?P<repo>\S+)$")


@dataclass(frozen=True)
class Nevra:
    """An rpm name-[epoch:]version-release.arch."""

    name: str
    evr: str
    """`[E:]V-R` as rpm and our Package.version write it (no epoch when 0)."""
    arch: str


@dataclass(frozen=True)
class ListRow:
    """One `updateinfo list` row: an advisory (or CVE) id for one package build."""

    id: str
    kind: str
    """security, bugfix, enhancement, newpackage, unknown."""
    severity: Optional[str]
    """Critical/Important/Moderate/Low/Unknown for security rows, else None."""
    nevra: Nevra


@dataclass(frozen=True)
class AdvisoryInfo:
    """The fields of one `updateinfo info` block the repository check uses."""

    id: str
    title: str
    kind: str
    severity: Optional[str]
    cves: Tuple[str, ...]
    updated: str


@dataclass(frozen=True)
class Upgrade:
    """One `check-update` row: the version dnf/yum would install, and from which repo."""

    name: str
    arch: str
    evr: str
    repository: str


def _is_noise(line: str) -> bool:
    """Blank lines and the status chatter of `NOISE`."""
    stripped = line.strip()
    return not stripped or stripped.startswith(NOISE)


def parse_nevra(text: str, source: str = "") -> Nevra:
    """`openssl-libs-1:3.0.7-27.el9.x86_64` -> Nevra; raise CollectorFailed when malformed."""
    head, dot, arch = text.rpartition(".")
    parts = head.rsplit("-", 2)
    if not dot or len(parts) != 3 or not all(parts) or not arch:
        raise CollectorFailed(f"not a package NEVRA: {text!r}", source)
    name, version, release = parts
    epoch, colon, bare = version.partition(":")
    if colon and epoch == "0":
        version = bare  # rpm writes no epoch when it is 0
    return Nevra(name=name, evr=f"{version}-{release}", arch=arch)


def parse_list(text: str, source: str = "updateinfo list") -> List[ListRow]:
    """Rows of `updateinfo list` (advisory or CVE ids); raise CollectorFailed on other lines."""
    rows = []
    for number, line in enumerate(text.splitlines(), start=1):
        if _is_noise(line):
            continue
        match = _LIST_ROW.match(line.rstrip())
        if not match:
            raise CollectorFailed(f"line {number}: not an updateinfo row: {line!r}", source)
        label = match["label"]
        severity = label.split("/", 1)[0] if label.endswith("/Sec.") else None
        rows.append(
            ListRow(
                id=match["id"],
                kind="security" if severity is not None else label,
                severity=severity,
                nevra=parse_nevra(match["nevra"], source),
            )
        )
    return rows


def parse_info(text: str, source: str = "updateinfo info") -> List[AdvisoryInfo]:
    """Blocks of `updateinfo info`; raise CollectorFailed when a block has no Update ID."""
    advisories = []
    title = ""
    for block in re.split(r"^={20,}\s*$", text, flags=re.MULTILINE)[1:]:
        lines = block.strip("\n").splitlines()
        if len(lines) == 1 and lines[0].strip():
            title = lines[0].strip()  # the title sits between two rules
            continue
        fields = _info_fields(lines, source)
        if not fields.get("Update ID"):
            raise CollectorFailed("updateinfo block without an Update ID", source)
        cves = tuple(v for v in fields.get("CVEs", []) if v)
        severity = (fields.get("Severity") or [None])[0]
        advisories.append(
            AdvisoryInfo(
                id=fields["Update ID"][0],
                title=title,
                kind=(fields.get("Type") or [""])[0],
                severity=severity if severity and severity != "None" else None,
                cves=cves,
                updated=(fields.get("Updated") or fields.get("Issued") or [""])[0],
            )
        )
    return advisories


def _info_fields(lines: List[str], source: str) -> Dict[str, List[str]]:
    """`Label: value` lines of one block; label-less lines continue the previous field."""
    fields: Dict[str, List[str]] = {}
    label = ""
    for line in lines:
        if _is_noise(line):
            continue
        match = _INFO_FIELD.match(line)
        if match and match["label"]:
            label = match["label"].strip()
            fields.setdefault(label, []).append((match["value"] or "").strip())
        elif match and label:
            fields[label].append((match["value"] or "").strip())
        elif label == "Description":
            fields[label].append(line.strip())  # yum wraps descriptions without a ':' column
        else:
            raise CollectorFailed(f"unexpected updateinfo line {line!r}", source)
    return fields


def parse_check_update(text: str, source: str = "check-update") -> List[Upgrade]:
    """Rows of `check-update` up to `Obsoleting Packages`; wrapped names are re-joined."""
    upgrades = []
    pending_name = ""
    for number, line in enumerate(text.splitlines(), start=1):
        if line.startswith("Obsoleting Packages"):
            break  # what follows are obsoletes, not updates of installed packages
        if _is_noise(line):
            continue
        fields = line.split()
        if pending_name:
            fields = [pending_name, *fields]
            pending_name = ""
        if len(fields) == 1 and "." in fields[0]:
            pending_name = fields[0]  # name.arch too long for its column: data on next line
            continue
        match = _UPGRADE_ROW.match(" ".join(fields))
        if not match or "." not in match["na"]:
            raise CollectorFailed(f"line {number}: not a check-update row: {line!r}", source)
        name, _, arch = match["na"].rpartition(".")
        evr = match["evr"]
        if evr.startswith("0:"):
            evr = evr[2:]
        upgrades.append(Upgrade(name=name, arch=arch, evr=evr, repository=match["repo"]))
    if pending_name:
        raise CollectorFailed(f"check-update output ends inside a row: {pending_name!r}", source)
    return upgrades


def highest_severity(severities: List[Optional[str]]) -> Optional[str]:
    """The most severe of updateinfo severities (None when none is known)."""
    known = [s for s in severities if s in SEVERITY_ORDER]
    return max(known, key=SEVERITY_ORDER.index) if known else None
