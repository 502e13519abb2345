"""What the agent collects from one host: one serialisable `Inventory` (STYLE A2).

Keep Python 3.9 syntax here: the agent imports this module on stock server Pythons.
"""

from __future__ import annotations

from dataclasses import MISSING, asdict, dataclass, field, fields
from typing import Any, Dict, Optional, Tuple

from patchwarden.core.errors import InventoryError

SCHEMA = 1
"""Version of the inventory wire/JSON schema; bump on incompatible change."""


@dataclass(frozen=True)
class OsRelease:
    """The operating system release, normalised for advisory lookup."""

    id: str
    """Distro id as os-release spells it: debian, ubuntu, rhel, centos, almalinux, rocky, alpine."""
    family: str
    """Which detection driver applies: debian, ubuntu, rhel, alpine, suse, unknown."""
    release: str
    """Release key for advisories: "12", "18.04", "9", "3.19"; "" when unknown."""
    version_id: str = ""
    """VERSION_ID verbatim ("9.3", "3.19.1")."""
    codename: str = ""
    """bookworm, bionic, … ("" when the distro has none)."""
    name: str = ""
    """Human name (PRETTY_NAME)."""
    eol: Optional[bool] = None
    """True when the release is past its end of life; None when we do not know."""
    eol_date: Optional[str] = None
    """ISO date the release reached or reaches end of life (standard support)."""
    source: str = ""
    """The file the release was read from, relative to the scanned root."""


UNKNOWN_OS = OsRelease(id="unknown", family="unknown", release="")


@dataclass(frozen=True)
class Package:
    """One installed distro package with binary and source identity (STYLE D2)."""

    name: str
    version: str
    """Full version in its manager's scheme: dpkg `[epoch:]upstream[-revision]`, rpm `[E:]V-R`."""
    format: str
    """Package manager: deb, rpm or apk."""
    arch: str = ""
    source_name: str = ""
    """Source package (dpkg `Source:`, rpm SOURCERPM name, apk origin); "" when same as name."""
    source_version: str = ""
    """Version of the source package when it differs from the binary's (dpkg binNMUs)."""
    origin: str = ""
    """Vendor or maintainer when known; third-party packages are not covered by vendor feeds."""
    module: str = ""
    """RHEL modularity stream `name:stream` the rpm was built for (MODULARITYLABEL)."""

    @property
    def source(self) -> str:
        """Source package name, falling back to the binary name."""
        return self.source_name or self.name

    @property
    def source_ver(self) -> str:
        """Source package version, falling back to the binary version."""
        return self.source_version or self.version


@dataclass(frozen=True)
class KernelPackage:
    """An installed kernel image package and the kernel release (`uname -r`) it provides."""

    name: str
    version: str
    release: str


@dataclass(frozen=True)
class Kernel:
    """Kernel facts kept apart (DESIGN §4): running, installed, newest installed, boot default."""

    running: Optional[str] = None
    """`uname -r` of the running kernel; None when scanning a root that is not booted."""
    running_package: Optional[str] = None
    """Name of the installed package that provides the running kernel, when found."""
    installed: Tuple[KernelPackage, ...] = ()
    newest_installed: Optional[str] = None
    """Kernel release of the newest installed kernel package."""
    boot_default: Optional[str] = None
    """Kernel release the boot loader starts by default, when it can be read."""


@dataclass(frozen=True)
class PendingUpdate:
    """A security update the host's own repositories already offer (repository check)."""

    package: str
    installed_version: str
    candidate_version: str
    repository: str
    """Suite or repository that offers it: bookworm-security, baseos, …"""
    source_package: str = ""
    advisories: Tuple[str, ...] = ()
    """Vendor advisory ids (DSA-…, ALSA-…, RHSA-…) when known."""
    cves: Tuple[str, ...] = ()
    """CVE ids the update fixes (from changelog or updateinfo); may be empty."""
    severity: Optional[str] = None
    restart_required: bool = False
    note: str = ""
    """Why the CVE list may be incomplete (e.g. "changelog unavailable")."""


@dataclass(frozen=True)
class CollectorError:
    """A collector that failed: data, never "package removed" (STYLE E3)."""

    collector: str
    message: str
    path: str = ""


@dataclass(frozen=True)
class Host:
    """Identity of the scanned host."""

    hostname: str
    machine_id: str = ""
    arch: str = ""
    root: str = "/"


@dataclass(frozen=True)
class Inventory:
    """Everything collected from one host in one run."""

    host: Host
    os: OsRelease = UNKNOWN_OS
    packages: Tuple[Package, ...] = ()
    kernel: Kernel = field(default_factory=Kernel)
    pending_updates: Tuple[PendingUpdate, ...] = ()
    collectors: Tuple[str, ...] = ()
    """Names of the collectors that ran successfully (`name@version`)."""
    collector_errors: Tuple[CollectorError, ...] = ()
    collected_at: str = ""
    """ISO 8601 UTC time of collection."""
    schema: int = SCHEMA

    def to_dict(self) -> Dict[str, Any]:
        """A JSON-ready dict (tuples become lists)."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Dict[str, Any]) -> Inventory:
        """Rebuild an inventory from `to_dict()` output; raise InventoryError when malformed.

        Every field is type-checked against its annotation: an inventory is untrusted input
        on the console, and a list where a name belongs must be refused here, not fail deep
        in matching. `null` or a missing key stands for a list field's empty default.
        """
        if not isinstance(data, dict):
            raise InventoryError("inventory must be a JSON object")
        schema = data.get("schema", SCHEMA)
        if schema != SCHEMA:
            raise InventoryError(f"unsupported inventory schema {schema!r} (expected {SCHEMA})")
        data = {k: v for k, v in data.items() if v is not None or k in ("host",)}
        if not data.get("os"):
            data.pop("os", None)  # an empty os means "not known" (UNKNOWN_OS)
        inventory: Inventory = _build(cls, data, "inventory")
        return inventory


_NESTED = {
    "Host": Host,
    "OsRelease": OsRelease,
    "Package": Package,
    "Kernel": Kernel,
    "KernelPackage": KernelPackage,
    "PendingUpdate": PendingUpdate,
    "CollectorError": CollectorError,
}
"""Dataclasses an inventory nests, by the name their annotations use."""
_SCALARS = {"str": str, "bool": bool, "int": int}


def _build(cls: Any, data: Any, where: str) -> Any:
    """An instance of dataclass `cls` from a JSON object, every field type-checked."""
    if not isinstance(data, dict):
        raise InventoryError(f"malformed inventory: {where} must be an object, got {_kind(data)}")
    known = {f.name: f for f in fields(cls)}
    unknown = sorted(k for k in data if k not in known)
    if unknown:
        raise InventoryError(f"malformed inventory: {where} has unknown fields {unknown}")
    missing = [
        name
        for name, f in known.items()
        if name not in data and f.default is MISSING and f.default_factory is MISSING
    ]
    if missing:
        raise InventoryError(f"malformed inventory: {where} lacks {missing}")
    return cls(**{k: _typed(str(known[k].type), v, f"{where}.{k}") for k, v in data.items()})


def _typed(annotation: str, value: Any, where: str) -> Any:
    """`value` checked against a field annotation (the few forms this module uses)."""
    if annotation.startswith("Optional["):
        if value is None:
            return None
        annotation = annotation[len("Optional[") : -1]
    if annotation.startswith("Tuple["):
        item = annotation[len("Tuple[") : -len(", ...]")]
        if value is None:
            return ()
        if not isinstance(value, (list, tuple)):  # JSON lists; tuples from to_dict()
            raise InventoryError(f"malformed inventory: {where} must be a list, got {_kind(value)}")
        return tuple(_typed(item, v, f"{where}[{i}]") for i, v in enumerate(value))
    if annotation in _NESTED:
        return _build(_NESTED[annotation], value, where)
    expected = _SCALARS[annotation]
    # bool is an int subclass: `true` is no schema number and 1 is no flag.
    if not isinstance(value, expected) or (expected is int and isinstance(value, bool)):
        raise InventoryError(
            f"malformed inventory: {where} must be {annotation}, got {_kind(value)}"
        )
    return value


def _kind(value: Any) -> str:
    return "null" if value is None else type(value).__name__
