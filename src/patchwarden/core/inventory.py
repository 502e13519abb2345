"""What the agent collects from one host: one serialisable `Inventory` (STYLE A2).

Keep Python 3.9 syntax here: the agent imports this module on stock server Pythons.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
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
        """Rebuild an inventory from `to_dict()` output; raise InventoryError when malformed."""
        if not isinstance(data, dict):
            raise InventoryError("inventory must be a JSON object")
        schema = data.get("schema", SCHEMA)
        if schema != SCHEMA:
            raise InventoryError(f"unsupported inventory schema {schema!r} (expected {SCHEMA})")
        try:
            kernel = dict(data.get("kernel") or {})
            kernel["installed"] = tuple(KernelPackage(**k) for k in kernel.get("installed") or ())
            return cls(
                host=Host(**data["host"]),
                os=OsRelease(**data["os"]) if data.get("os") else UNKNOWN_OS,
                packages=tuple(Package(**p) for p in data.get("packages") or ()),
                kernel=Kernel(**kernel),
                pending_updates=tuple(
                    PendingUpdate(
                        **{
                            **u,
                            "advisories": tuple(u.get("advisories") or ()),
                            "cves": tuple(u.get("cves") or ()),
                        }
                    )
                    for u in data.get("pending_updates") or ()
                ),
                collectors=tuple(data.get("collectors") or ()),
                collector_errors=tuple(
                    CollectorError(**e) for e in data.get("collector_errors") or ()
                ),
                collected_at=str(data.get("collected_at") or ""),
                schema=SCHEMA,
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise InventoryError(f"malformed inventory: {exc}") from exc
