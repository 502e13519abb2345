"""Which errata suggest a reboot, from the updateinfo.xml dnf and yum keep in their cache (R-F4).

No text output of dnf 4 or yum prints an erratum's `reboot_suggested`, but the repository
metadata they downloaded holds it: `<reboot_suggested>True</reboot_suggested>` on a
`<package>` of the erratum's `<pkglist>` (createrepo_c, RHEL and AlmaLinux) or on the
`<update>` itself (older yum metadata). The files live in the cache under the scanned root:
`var/cache/dnf/<repo>-<hash>/repodata/<sha>-updateinfo.xml.gz` (dnf) and
`var/cache/yum/<arch>/<release>/<repo>/<sha>-updateinfo.xml.bz2` (yum); gzip, xz and bzip2 are
read, zstd (no standard-library decoder) is reported as unreadable.
"""

from __future__ import annotations

import bz2
import gzip
import lzma
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import IO, Callable, Dict, Iterable, List, Set, Tuple

CACHE_GLOBS = (
    "var/cache/dnf/*/repodata/*updateinfo.xml*",
    "var/cache/yum/*/*/*/*updateinfo.xml*",
)
WHOLE_UPDATE = "*"
"""Package name standing for "every package of the erratum"."""
_OPENERS: Dict[str, Callable[..., IO[bytes]]] = {
    ".gz": gzip.open,
    ".xz": lzma.open,
    ".bz2": bz2.open,
    ".xml": open,
}
_TRUE = frozenset({"true", "1", "yes"})


def cached_updateinfo(root: Path) -> List[Path]:
    """The updateinfo files of the dnf / yum caches under `root`, sorted."""
    return sorted({p for pattern in CACHE_GLOBS for p in root.glob(pattern) if p.is_file()})


def reboot_flags(paths: Iterable[Path], ids: Set[str]) -> Tuple[Dict[str, Set[str]], List[str]]:
    """For the errata in `ids`: erratum id -> names of packages whose update suggests a
    reboot (`WHOLE_UPDATE` for all of them); plus one problem line per unreadable file."""
    flags: Dict[str, Set[str]] = {}
    problems: List[str] = []
    for path in paths:
        opener = _OPENERS.get(path.suffix)
        if opener is None:
            problems.append(f"{path}: cannot decompress {path.suffix} (no stdlib decoder)")
            continue
        try:
            with opener(path, "rb") as stream:
                _scan(stream, ids, flags)
        except (OSError, EOFError, lzma.LZMAError, ET.ParseError) as exc:
            problems.append(f"{path}: {exc}")
    return flags, problems


def _scan(stream: IO[bytes], ids: Set[str], flags: Dict[str, Set[str]]) -> None:
    """Stream one updateinfo document, one `<update>` element at a time."""
    for _event, elem in ET.iterparse(stream, events=("end",)):
        if elem.tag != "update":
            continue
        rid = (elem.findtext("id") or "").strip()
        if rid in ids:
            names = {WHOLE_UPDATE} if _true(elem.findtext("reboot_suggested")) else set()
            names |= {
                pkg.get("name", "")
                for pkg in elem.iter("package")
                if _true(pkg.findtext("reboot_suggested"))
            }
            if names:
                flags.setdefault(rid, set()).update(names)
        elem.clear()


def _true(text: object) -> bool:
    return isinstance(text, str) and text.strip().lower() in _TRUE
