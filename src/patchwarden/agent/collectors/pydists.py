"""Python distributions a Python process has loaded: site-packages files it maps or holds.

Python closes a module's source once imported, so what stays visible in /proc is what is
mapped: C extensions (`*.so`) and the libraries bundled beside them (`numpy.libs/`), plus
files held open. Each such file under a `site-packages` or `dist-packages` directory is
mapped to its distribution through the `*.dist-info/RECORD` (or `*.egg-info/
installed-files.txt`, `top_level.txt`) beside it; name and version come from the
distribution's METADATA / PKG-INFO. Pure-Python distributions leave no trace there and are
not reported.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Dict, List, Optional, Tuple

SITE_MARKERS = ("/site-packages/", "/dist-packages/")
MAX_DISTS = 5000
"""Most distributions read per site directory."""
MAX_RECORD = 4 << 20
"""Most bytes read of one RECORD / installed-files.txt."""
MAX_METADATA = 256 << 10


@dataclass(frozen=True)
class Dist:
    """One installed distribution."""

    name: str
    version: str
    info_dir: str
    """The `*.dist-info` / `*.egg-info` directory name."""


class SiteIndex:
    """Which distribution installed each file of one site directory."""

    def __init__(self, site: Path) -> None:
        self.by_file: Dict[str, Dist] = {}
        self.by_top: Dict[str, Dist] = {}
        self.problems: List[str] = []
        try:
            names = sorted(os.listdir(site))
        except OSError as exc:
            self.problems.append(f"cannot list: {exc.strerror or exc}")
            return
        infos = [n for n in names if n.endswith((".dist-info", ".egg-info"))][:MAX_DISTS]
        for info in infos:
            self._read(site, info)

    def _read(self, site: Path, info: str) -> None:
        folder = site / info
        meta = _bounded(folder / ("METADATA" if info.endswith(".dist-info") else "PKG-INFO"))
        if meta is None and (site / info).is_file():
            meta = _bounded(site / info)  # an egg-info file, not a directory
        fields = _metadata(meta or "")
        name, version = fields.get("Name", ""), fields.get("Version", "")
        if not name:
            stem = info.rsplit(".", 1)[0]
            name, _, version = stem.partition("-")
            version = version.split("-")[0]
        dist = Dist(name, version, info)
        record = _bounded(folder / "RECORD", MAX_RECORD)
        if record is not None:
            for line in record.splitlines():
                rel = line.split(",", 1)[0].strip()
                if rel and not rel.startswith(".."):
                    self.by_file.setdefault(os.path.normpath(rel), dist)
        files = _bounded(folder / "installed-files.txt", MAX_RECORD)
        if files is not None:
            for line in files.splitlines():
                rel = os.path.normpath(os.path.join(info, line.strip()))
                if line.strip() and not rel.startswith(".."):
                    self.by_file.setdefault(rel, dist)
        tops = _bounded(folder / "top_level.txt")
        for top in (tops or "").split():
            self.by_top.setdefault(top, dist)
        # No RECORD or top level list (Debian's egg-info): the distribution's own name.
        self.by_top.setdefault(name.replace("-", "_").lower(), dist)

    def dist_of(self, rel: str) -> Optional[Dist]:
        """The distribution that installed `rel` (a path relative to the site directory)."""
        found = self.by_file.get(os.path.normpath(rel))
        if found is not None:
            return found
        top = rel.split("/", 1)[0]
        for suffix in (".libs",):
            if top.endswith(suffix):
                top = top[: -len(suffix)]
        top = top.split(".", 1)[0]  # a top-level extension: name.cpython-311-….so
        return self.by_top.get(top) or self.by_top.get(top.lower())


def site_split(path: str) -> Optional[Tuple[str, str]]:
    """(site directory, path inside it) of a file under site-packages/dist-packages."""
    for marker in SITE_MARKERS:
        at = path.find(marker)
        if at >= 0:
            return path[: at + len(marker) - 1], path[at + len(marker) :]
    return None


def loaded_dists(
    files: List[str], open_site: Callable[[str], Path], indexes: Dict[str, SiteIndex]
) -> List[Tuple[str, Dist, str]]:
    """(site directory, distribution, one of its loaded files) per distribution `files`
    show loaded; `open_site` says where to read a site directory, `indexes` caches them."""
    found: Dict[Tuple[str, str], Tuple[str, Dist, str]] = {}
    for path in files:
        split = site_split(path)
        if split is None:
            continue
        site, rel = split
        index = indexes.get(site)
        if index is None:
            index = indexes[site] = SiteIndex(open_site(site))
        dist = index.dist_of(rel)
        if dist is not None:
            found.setdefault((site, dist.info_dir), (site, dist, path))
    return sorted(found.values(), key=lambda f: (f[0], f[1].name.lower()))


def _metadata(text: str) -> Dict[str, str]:
    """Header fields of core metadata (RFC 822 style), up to the first blank line."""
    out: Dict[str, str] = {}
    for line in text.splitlines():
        if not line.strip():
            break
        key, sep, value = line.partition(":")
        if sep and not key.startswith((" ", "\t")):
            out.setdefault(key.strip(), value.strip())
    return out


def _bounded(path: Path, limit: int = MAX_METADATA) -> Optional[str]:
    """A text file read up to `limit` bytes; None when it is missing or unreadable."""
    try:
        with path.open("rb") as fh:
            return fh.read(limit).decode("utf-8", "replace")
    except OSError:
        return None
