"""rpm collector: the rpm database under the root -> installed packages, no rpm library needed.

Looks in `usr/lib/sysimage/rpm/` (rpm >= 4.16 default) then `var/lib/rpm/`, and in each for
`rpmdb.sqlite`, `Packages.db` (NDB) and `Packages` (BerkeleyDB), newest format first; the
first database found is the live one (`rpmdb --rebuilddb` conversions leave old files).

Package.version is `[E:]V-R`: the epoch is written only when the header has an EPOCH tag
(rpm treats a missing epoch as 0, and the matcher compares EVR). source_name comes from
SOURCERPM (`name-ver-rel.src.rpm`), origin from VENDOR. `gpg-pubkey` entries are imported
signing keys, not packages, and are left out.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Dict, List, Optional, Tuple

from patchwarden.agent.collectors.base import (
    Collector,
    CollectorFailed,
    Context,
    InventoryPart,
)
from patchwarden.agent.collectors.rpm_header import (
    TAG_ARCH,
    TAG_EPOCH,
    TAG_MODULARITYLABEL,
    TAG_NAME,
    TAG_RELEASE,
    TAG_SOURCERPM,
    TAG_VENDOR,
    TAG_VERSION,
    BadHeader,
    TagValue,
    parse_header,
)
from patchwarden.agent.collectors.rpmdb import BadDatabase, read_blobs
from patchwarden.core.inventory import CollectorError, Evidence, Package

NAME = "rpm"
DB_DIRS = ("usr/lib/sysimage/rpm", "var/lib/rpm")
DB_FILES = ("rpmdb.sqlite", "Packages.db", "Packages")
PSEUDO_PACKAGES = frozenset({"gpg-pubkey"})

_TAGS = frozenset(
    {
        TAG_NAME,
        TAG_VERSION,
        TAG_RELEASE,
        TAG_EPOCH,
        TAG_ARCH,
        TAG_SOURCERPM,
        TAG_VENDOR,
        TAG_MODULARITYLABEL,
    }
)


def find_database(ctx: Context) -> Optional[str]:
    """Relative path of the rpm database under the scanned root, or None when there is none."""
    seen = set()
    for directory in DB_DIRS:
        path = ctx.path(directory)
        if not path.is_dir():
            continue
        # Fedora links var/lib/rpm to usr/lib/sysimage/rpm: look at each real dir once.
        real = os.path.realpath(path)
        if real in seen:
            continue
        seen.add(real)
        for name in DB_FILES:
            if (path / name).is_file():
                return f"{directory}/{name}"
    return None


def package_from_header(tags: Dict[int, TagValue]) -> Optional[Package]:
    """The Package a decoded header describes; None for gpg-pubkey pseudo packages.

    Raise BadHeader when NAME, VERSION or RELEASE is missing.
    """
    name = _text(tags, TAG_NAME)
    if name in PSEUDO_PACKAGES:
        return None
    version, release = _text(tags, TAG_VERSION), _text(tags, TAG_RELEASE)
    if not (name and version and release):
        raise BadHeader(
            f"header of {name or '?'} lacks NAME/VERSION/RELEASE ({version!r}, {release!r})"
        )
    epoch = tags.get(TAG_EPOCH)
    prefix = f"{epoch}:" if isinstance(epoch, int) else ""
    source_name, source_vr = split_source_rpm(_text(tags, TAG_SOURCERPM))
    vr = f"{version}-{release}"
    return Package(
        name=name,
        version=prefix + vr,
        format="rpm",
        arch=_text(tags, TAG_ARCH),
        source_name="" if source_name == name else source_name,
        # The source rpm file name has no epoch: assume the binary's (rpm builds share it).
        source_version="" if source_vr in ("", vr) else prefix + source_vr,
        origin=_text(tags, TAG_VENDOR),
        module=module_stream(_text(tags, TAG_MODULARITYLABEL)),
    )


def module_stream(label: str) -> str:
    """`nginx:1.22` from the modularity label `nginx:1.22:8070020220914:f3d2f1d4`."""
    parts = label.split(":")
    return f"{parts[0]}:{parts[1]}" if len(parts) >= 2 and parts[0] and parts[1] else ""


def split_source_rpm(filename: str) -> Tuple[str, str]:
    """("bash", "4.4-19.6.1") from "bash-4.4-19.6.1.src.rpm"; ("", "") when unparsable."""
    for suffix in (".src.rpm", ".nosrc.rpm"):
        if filename.endswith(suffix):
            parts = filename[: -len(suffix)].rsplit("-", 2)
            if len(parts) == 3 and all(parts):
                return parts[0], f"{parts[1]}-{parts[2]}"
    return "", ""


def _text(tags: Dict[int, TagValue], tag: int) -> str:
    """A string tag's value; "" when absent or rpm's "(none)" placeholder."""
    value = tags.get(tag)
    if not isinstance(value, str) or value == "(none)":
        return ""
    return value


def parse_rpmdb(path: Path) -> Tuple[Tuple[Package, ...], Tuple[str, ...]]:
    """(packages, problems) of one rpm database file; problems name the bad header.

    Raise BadDatabase when the file itself is corrupt or truncated.
    """
    packages: List[Package] = []
    problems: List[str] = []
    for number, blob in enumerate(read_blobs(path), 1):
        try:
            pkg = package_from_header(parse_header(blob, _TAGS))
        except BadHeader as exc:
            problems.append(f"header #{number}: {exc}")
            continue
        if pkg is not None:
            packages.append(pkg)
    return tuple(packages), tuple(problems)


class RpmCollector(Collector):
    """Installed rpm packages read straight from the rpm database files."""

    name = NAME
    version = 1
    covers = frozenset({Evidence.INSTALLED_PACKAGES})

    def applies(self, ctx: Context) -> bool:
        """Only roots that have an rpm database."""
        return find_database(ctx) is not None

    def collect(self, ctx: Context) -> InventoryPart:
        """Read every header; a corrupt file fails, a bad header becomes a warning."""
        rel = find_database(ctx)
        if rel is None:
            raise CollectorFailed("no rpm database found", DB_DIRS[-1])
        try:
            packages, problems = parse_rpmdb(ctx.path(rel))
        except BadDatabase as exc:
            raise CollectorFailed(str(exc), rel) from exc
        if problems and not packages:
            raise CollectorFailed(f"no readable package header; {problems[0]}", rel)
        warnings = tuple(CollectorError(NAME, p, rel) for p in problems)
        return InventoryPart(packages=packages, warnings=warnings)
