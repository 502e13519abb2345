"""Load Red Hat container-catalog rpm manifests (`*.rpm-manifest.json`) as Packages.

Not a collector: a loader so tests and benchmarks can use real RHEL 8/9 package lists
(corpus `hosts/rpmdb/claircore-rpm-manifest/`) as inventories. Two shapes exist:

* `{"rpms": [{"name", "architecture", "release", "nerva": "dbus-common-1:1.12.8-7.el8.noarch",
  "srpm_name", "srpm_nevra": "dbus-1.12.8-7.el8.src"}]}` (older API, epoch inside `nerva`);
* `{"rpms": [{"name", "version", "release", "architecture", "srpm_name",
  "srpm_nevra": "acl-0:2.3.1-3.el9.src"}]}` (newer API, epoch only in the source NEVRA).

Versions follow the rpm collector: `[E:]V-R`, the epoch written when it is not 0.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Dict, List, Tuple

from patchwarden.core.errors import InventoryError
from patchwarden.core.inventory import Package


def load_rpm_manifest(path: Path) -> Tuple[Package, ...]:
    """Packages of one rpm manifest file; InventoryError naming the file and entry if bad."""
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise InventoryError(f"{path}: not a readable JSON rpm manifest: {exc}") from exc
    rpms = data.get("rpms") if isinstance(data, dict) else None
    if not isinstance(rpms, list):
        raise InventoryError(f"{path}: no 'rpms' list")
    packages: List[Package] = []
    try:
        packages.extend(manifest_package(entry) for entry in rpms)
    except (KeyError, TypeError, ValueError) as exc:
        # The failing entry is the one after the last good one.
        raise InventoryError(f"{path}: rpms[{len(packages)}]: {exc!r}") from exc
    return tuple(packages)


def manifest_package(entry: Dict[str, Any]) -> Package:
    """One manifest entry as a Package; KeyError/ValueError when fields are missing."""
    name, arch, release = entry["name"], entry["architecture"], entry["release"]
    src_name, src_evr = _split_nevr(entry["srpm_nevra"][: -len(".src")])
    if "nerva" in entry:
        nevra = entry["nerva"]
        prefix, suffix = f"{name}-", f".{arch}"
        if not (nevra.startswith(prefix) and nevra.endswith(suffix)):
            raise ValueError(f"nerva {nevra!r} does not match name {name!r} / arch {arch!r}")
        evr = nevra[len(prefix) : -len(suffix)]
    else:
        epoch = src_evr.split(":", 1)[0] if ":" in src_evr else ""
        evr = f"{epoch}:{entry['version']}-{release}" if epoch not in ("", "0") else ""
        evr = evr or f"{entry['version']}-{release}"
    if evr.startswith("0:"):
        evr = evr[2:]
    src_vr = src_evr.split(":", 1)[-1]
    source_name = entry.get("srpm_name") or src_name
    return Package(
        name=name,
        version=evr,
        format="rpm",
        arch=arch,
        source_name="" if source_name == name else source_name,
        source_version="" if src_vr == evr.split(":", 1)[-1] else src_vr,
        module=str(entry.get("module") or ""),
    )


def _split_nevr(nevr: str) -> Tuple[str, str]:
    """("dbus", "1:1.12.8-7.el8") from "dbus-1:1.12.8-7.el8"."""
    parts = nevr.rsplit("-", 2)
    if len(parts) != 3:
        raise ValueError(f"source NEVRA {nevr!r} is not name-[epoch:]version-release")
    return parts[0], f"{parts[1]}-{parts[2]}"
