"""What the agent collects from one host: one serialisable `Inventory` (STYLE A2).

Keep Python 3.9 syntax here: the agent imports this module on stock server Pythons.
"""

from __future__ import annotations

from dataclasses import MISSING, asdict, dataclass, field, fields
from enum import Enum
from typing import (
    TYPE_CHECKING,
    Any,
    Callable,
    Dict,
    Generic,
    List,
    NamedTuple,
    Optional,
    Tuple,
    Type,
    TypeVar,
)

from patchwarden.core.errors import InventoryError
from patchwarden.core.os_upgrade import needs_os_upgrade
from patchwarden.core.text import text_problem

if TYPE_CHECKING:
    from _typeshed import DataclassInstance

SCHEMA = 1
"""Version of the inventory wire/JSON schema; bump on incompatible change."""


class Evidence(str, Enum):
    """A kind of evidence a collection run can vouch for having seen completely (STYLE E3).

    Collectors declare the kinds they cover; an inventory lists, in `Inventory.covered`, the
    kinds it collected completely. Only an inventory that covers a kind may clear a record
    whose detection rests on it: the absence of a package from a failed read is no evidence.
    """

    INSTALLED_PACKAGES = "installed-packages"
    """Every installed package of the host's package databases (dpkg, rpm, apk)."""
    PENDING_UPDATES = "pending-updates"
    """Every security update the host's own repositories offer (apt, dnf repository check)."""
    RUNNING_PROCESSES = "running-processes"
    """Every running process of the host with the components it holds (processes and
    components collectors): only then may a process that is not seen be taken as gone."""


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

    @classmethod
    def from_dict(cls, data: Any, where: str = "os") -> OsRelease:
        """Decode `asdict()` output as an inventory's `os`; raise InventoryError when malformed.

        As in an inventory, an empty value (`{}`, `null`) is UNKNOWN_OS. `where` names the
        value in error messages.
        """
        if not data:
            return UNKNOWN_OS
        return _OS_RELEASE(data, where)


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
    reboot_needed: Optional[bool] = None
    """True when the running kernel is not the newest installed one, or the newest was rebuilt
    since boot (same release, another build: an ABI-compatible update); None when it cannot
    be told (a root that is not booted here, no installed kernel found)."""
    default_pinned: Optional[bool] = None
    """True when the boot loader's default is not the newest installed kernel (a pinned
    GRUB_DEFAULT or saved entry: a reboot would not start the newest); None when unknown."""

    @classmethod
    def from_dict(cls, data: Any, where: str = "kernel") -> Kernel:
        """Decode `asdict()` output as an inventory's `kernel`; raise InventoryError if malformed.

        As in an inventory, `null` is the empty `Kernel()`. `where` names the value in errors.
        """
        if data is None:
            return cls()
        return _KERNEL(data, where)


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

    @classmethod
    def from_dict(cls, data: Any, where: str = "collector_error") -> CollectorError:
        """Decode `asdict()` output (one entry of `collector_errors`); raise InventoryError.

        `where` names the value in error messages (e.g. `collector_errors[2]`).
        """
        return _COLLECTOR_ERROR(data, where)


@dataclass(frozen=True)
class FreeSpace:
    """Free space of one filesystem the package manager writes (statvfs under the root)."""

    path: str
    """A directory on that filesystem, relative to the scanned root (`var/cache/apt/archives`)."""
    free_bytes: int
    """Bytes available to root."""
    total_bytes: int = 0


@dataclass(frozen=True)
class HeldLock:
    """A package-manager lock someone holds, or a package-manager process running on the root."""

    path: str
    """The lock file, relative to the scanned root; "" for a running process alone."""
    pid: Optional[int] = None
    """The holder's process id, when known."""
    program: str = ""
    """The holder's program name (`apt-get`, `dnf`), when known."""


@dataclass(frozen=True)
class PermissionProblem:
    """A file or directory the package manager writes that is not safely root's."""

    path: str
    """Relative to the scanned root ("" for the agent itself, when it does not run as root)."""
    problem: str
    """What is wrong ("owned by uid 1000, not root", "writable by everyone")."""


@dataclass(frozen=True)
class SnapshotFact:
    """A snapshot the agent keeps (rollback needs one that exists and has not expired)."""

    id: str
    provider: str
    """packages, lvm or btrfs."""
    created_at: str
    expires_at: str
    """ISO 8601 UTC; the agent deletes the snapshot after this time."""
    size_bytes: int = 0
    owner: str = ""
    """The user who asked for the fix that took it."""


class Blocker(NamedTuple):
    """A reason the host cannot be fixed now: a stable code and a sentence for a person."""

    code: str
    """eol, disk_space, pm_locked, permission or not_supported (protocol v1 ERROR_CODES)."""
    reason: str


def eol_blocker(os: OsRelease) -> Optional[Blocker]:
    """The `eol` blocker of a release, or None: the release is on the list of those whose
    fixes need an OS upgrade (`core.os_upgrade`, SPEC R-F2), or past its end of life."""
    name = os.name or f"{os.id} {os.release}"
    if needs_os_upgrade(os.id, os.release):
        return Blocker(
            "eol",
            f"{name}: fixes on this release need an operating system upgrade first; upgrade to"
            " a supported release, then fix",
        )
    if os.eol:
        since = f" on {os.eol_date}" if os.eol_date else ""
        return Blocker(
            "eol",
            f"{name} reached its end of life{since}: no fixes are published for it any more;"
            " upgrade the operating system",
        )
    return None


@dataclass(frozen=True)
class RemediationFacts:
    """What the agent knows about fixing this host, collected with the inventory (SPEC R-F2).

    The console evaluates `blockers()` at queue time with the agent's latest knowledge; the
    agent runs the same checks again, fresh, before it changes anything.
    """

    package_manager: str = ""
    """apt, dnf, yum or apk; "" when none was found."""
    exec_mode: str = ""
    """How the agent runs commands on this root: "direct" (the running system), "chroot" (a
    mounted root), or "" (it cannot: a root inventoried without `--exec chroot`)."""
    free_space: Tuple[FreeSpace, ...] = ()
    """One entry per filesystem the package manager writes."""
    min_free_bytes: int = 0
    """Least free space the agent requires on each of them before a fix."""
    locks: Tuple[HeldLock, ...] = ()
    """Package-manager locks held and package-manager processes running."""
    permission_problems: Tuple[PermissionProblem, ...] = ()
    snapshot_providers: Tuple[str, ...] = ()
    """Snapshot providers that work on this host (`packages`, `lvm`, `btrfs`)."""
    snapshots: Tuple[SnapshotFact, ...] = ()
    """Snapshots the agent keeps (unexpired ones; expired ones are deleted)."""
    boot_default_pinned: Optional[bool] = None
    """True when the boot loader starts a kernel other than the newest installed one (a pinned
    GRUB_DEFAULT or saved entry, SPEC R-F5); None when the kernel facts do not tell."""
    boot_id: str = ""
    """The running system's boot id (/proc/sys/kernel/random/boot_id), new at every boot: the
    console tells from it that the host restarted. "" for a mounted root, or when unknown."""

    @classmethod
    def from_dict(cls, data: Any, where: str = "remediation") -> RemediationFacts:
        """Decode `asdict()` output as an inventory's `remediation`; raise InventoryError when
        malformed (`where` names the value in error messages)."""
        return _REMEDIATION_FACTS(data, where)

    def blockers(self, os: OsRelease) -> Tuple[Blocker, ...]:
        """Every reason a fix cannot run on this host now, in a stable order."""
        found: List[Blocker] = []
        eol = eol_blocker(os)
        if eol is not None:
            found.append(eol)
        if not self.package_manager:
            found.append(
                Blocker("not_supported", "no supported package manager (apt, dnf, yum, apk) found")
            )
        if not self.exec_mode:
            found.append(
                Blocker(
                    "not_supported",
                    "the agent cannot run commands on this root (start it with --exec chroot)",
                )
            )
        found.extend(
            Blocker(
                "disk_space",
                f"only {_gib(space.free_bytes)} free on /{space.path}; a fix needs at"
                f" least {_gib(self.min_free_bytes)}: free some space and retry",
            )
            for space in self.free_space
            if space.free_bytes < self.min_free_bytes
        )
        for lock in self.locks:
            holder = lock.program or "another process"
            if lock.pid is not None:
                holder += f" (process {lock.pid})"
            where = f" holds /{lock.path}" if lock.path else " is running"
            found.append(
                Blocker(
                    "pm_locked",
                    f"the package manager is busy: {holder}{where}; wait for it to finish and"
                    " retry",
                )
            )
        for problem in self.permission_problems:
            where = f"/{problem.path}: " if problem.path else ""
            found.append(
                Blocker(
                    "permission",
                    "failed to obtain permission: check permissions and retry"
                    f" ({where}{problem.problem})",
                )
            )
        return tuple(found)


def _gib(count: int) -> str:
    """Bytes as GiB with one decimal ("2.5 GiB"), MiB below one GiB."""
    if count >= 1024**3:
        return f"{count / 1024**3:.1f} GiB"
    return f"{count / 1024**2:.0f} MiB"


# Running processes (SPEC R-D1, R-D2, R-T4). The agent reports every process it could read
# (kernel threads and the agent itself apart) with its listening ports and the software
# components it holds; the console makes one application record per process instance and
# vulnerable component that is `loaded` and not owned by a distro package.

IDENTIFIED_BY = {
    "pom.properties": "high",
    "manifest": "medium",
    "file-name": "low",
    "fingerprint": "medium",
    "dist-info": "high",
    "package.json": "high",
}
"""How a component was identified (`Component.method`) -> the confidence it gives by default
(DESIGN §4, R-D12). A fingerprint rule may state its own confidence (a version file that the
product itself writes, like Tomcat's ServerInfo.properties, is high)."""

RESTART_REASONS = (
    "exe-deleted",
    "exe-replaced",
    "library-deleted",
    "library-replaced",
    "jar-deleted",
    "jar-replaced",
    "jar-changed",
)
"""`RestartNeed.reason` values: the process runs an executable, maps a library or holds a JAR
that was deleted, replaced by another file, or (JARs) modified after the process started."""


@dataclass(frozen=True)
class ListeningPort:
    """A socket a process listens on (TCP in LISTEN state, or a bound unconnected UDP one)."""

    proto: str
    """tcp or udp (IPv6 sockets too: the address tells the family)."""
    address: str
    """Bind address as text: 0.0.0.0, ::, 127.0.0.1, ::1, 10.0.0.5 (an IPv4-mapped IPv6 bind,
    as JVMs make, is given as the IPv4 address). `::` and `0.0.0.0` mean every address."""
    port: int

    @property
    def loopback(self) -> bool:
        """True when only the host itself can connect (127.0.0.0/8, ::1, ::ffff:127.x)."""
        address = self.address.lower()
        if address.startswith("::ffff:"):
            address = address[len("::ffff:") :]
        return address.startswith("127.") or address == "::1"


@dataclass(frozen=True)
class Component:
    """A piece of software a process holds: a JAR (or a JAR nested in one), a Python
    distribution, an npm package, or a server product recognised by a fingerprint rule."""

    path: str
    """The file as the process sees it; a nested JAR is `outer.jar!/BOOT-INF/lib/inner.jar`."""
    ecosystem: str
    """OSV ecosystem the name belongs to: Maven, PyPI, npm, Bitnami (redis, nginx by
    fingerprint); "" when none does (OpenSSL: then `cpe` names the product)."""
    name: str
    """Name in that ecosystem: Maven `group:artifact`; a Maven name without `:` is an artifact
    id whose group is unknown (file-name guesses); PyPI names as the distribution's metadata
    spells them (not normalised); without an ecosystem, the product's plain name (openssl);
    "" when nothing names it."""
    version: str
    """Version as the component states it; "" when unknown."""
    method: str
    """How it was identified: a key of IDENTIFIED_BY (pom.properties, manifest, file-name,
    fingerprint, dist-info, package.json)."""
    confidence: str
    """high, medium or low (R-D12): how far name and version can be trusted."""
    loaded: bool = True
    """False for a JAR named on the command line (class path, `-jar`) that the JVM has not
    opened: its classes never ran, so it makes no record (R-D2); kept as an inventory fact."""
    package: str = ""
    """Distro package that owns the file (of the outermost file, for a nested JAR): the distro
    advisory covers it, so it is not reported again as an application."""
    cpe: str = ""
    """CPE 2.3 name of the product and version (fingerprinted servers only: Tomcat,
    Elasticsearch, Redis, nginx, OpenSSL); the one name of a product no OSV ecosystem
    carries."""
    evidence: str = ""
    """Where name and version were read: `META-INF/maven/g/a/pom.properties`, a rule's file
    and member, a byte offset in a binary."""


@dataclass(frozen=True)
class RestartNeed:
    """Why a process runs outdated code and needs a restart (needrestart's checks)."""

    reason: str
    """One of RESTART_REASONS."""
    path: str
    """The executable, library or JAR, as the process sees it."""


@dataclass(frozen=True)
class ProcessInstance:
    """One running process: identity, exposure, what it runs and holds (SPEC R-D1).

    `pid` + `start_time` identify the instance (a reused pid has another start time).
    """

    pid: int
    start_time: str
    """ISO 8601 UTC, to the clock tick (from /proc/PID/stat and the boot time)."""
    exe: str
    """Executable as the process sees it, without the kernel's ` (deleted)` suffix."""
    exe_deleted: bool = False
    """The executable was deleted or replaced on disk since the process started."""
    name: str = ""
    """The kernel's short process name (`comm`)."""
    ppid: int = 0
    cmdline: Tuple[str, ...] = ()
    """Arguments; values of arguments that look like secrets (password=, token=, …) are
    replaced by `***`, very long arguments are cut (ending in `…`)."""
    cwd: str = ""
    uid: Optional[int] = None
    """Real user id; None when it could not be read."""
    user: str = ""
    """User name of `uid` ("" when the user database does not name it)."""
    ports: Tuple[ListeningPort, ...] = ()
    container: str = ""
    """Container id (64 hex digits for docker, containerd, CRI-O and podman) or name (LXC);
    "" for a process of the host itself."""
    cgroup: str = ""
    """The process's cgroup path (the unified hierarchy's, else systemd's)."""
    package: str = ""
    """Distro package that owns the executable ("" when none does, or in a container)."""
    runtime: str = ""
    """java, python or node when the agent looked for components inside; "" otherwise."""
    components: Tuple[Component, ...] = ()
    restart: Tuple[RestartNeed, ...] = ()
    """Why the process needs a restart; empty when it runs current code."""
    readable: bool = True
    """False when the agent could not read all of the process (its stat file, executable,
    open files or memory maps: permissions, `hidepid`, a security module): only what could
    be read is filled in (at least `pid`), and its components are unknown. The process list
    can still be complete: the console then keeps the application records such a process
    may be (`core.app_instances.held_by_unreadable`) instead of clearing them."""

    @property
    def exposed(self) -> bool:
        """True when it listens on an address other hosts can reach (R-D11)."""
        return any(not port.loopback for port in self.ports)


@dataclass(frozen=True)
class ScanEvent:
    """Something that happened to a collection run, reported as a normal event."""

    code: str
    """Stable code: `memory_cap_exceeded` (a scan killed at the agent's memory cap; the agent
    then collects again without the process collectors, so the inventory carrying the event
    has no `processes` and does not cover running-processes — or, when that dies too, the
    event comes with the next upload), `processes_exited` (processes left out because they
    ended while being read), `processes_unreadable` (processes the agent could not read
    completely: `ProcessInstance.readable` is False)."""
    message: str
    """A sentence for a person ("scan exceeded memory cap 200 MB")."""
    at: str = ""
    """ISO 8601 UTC time it happened."""


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
    """Collectors that failed, and warnings of those that ran (STYLE E3)."""
    covered: Tuple[str, ...] = ()
    """Evidence kinds (`Evidence` values) this run collected completely: every collector
    declaring the kind ran and none of them failed or warned. Empty in inventories of older
    agents: they cover nothing, so they clear nothing. Strings, not `Evidence`, so a kind
    only a newer agent knows is kept and ignored instead of refused."""
    collected_at: str = ""
    """ISO 8601 UTC time of collection."""
    schema: int = SCHEMA
    remediation: Optional[RemediationFacts] = None
    """Precheck facts of an agent that can fix this host; None in inventories of a scan (and
    of older agents). Left out of `to_dict()` when None, so those inventories stay as before."""
    processes: Tuple[ProcessInstance, ...] = ()
    """Running processes (live hosts only; `Evidence.RUNNING_PROCESSES` in `covered` says the
    list is complete). Left out of `to_dict()` when empty."""
    scan_events: Tuple[ScanEvent, ...] = ()
    """Events of this and of earlier, failed collection runs (a scan killed at the memory cap
    is reported with the next inventory). Left out of `to_dict()` when empty."""

    def to_dict(self) -> Dict[str, Any]:
        """A JSON-ready dict (tuples become lists)."""
        data = asdict(self)
        if self.remediation is None:
            del data["remediation"]
        for key in ("processes", "scan_events"):
            if not data[key]:
                del data[key]
        return data

    @classmethod
    def from_dict(cls, data: Dict[str, Any]) -> Inventory:
        """Rebuild an inventory from `to_dict()` output; raise InventoryError when malformed.

        Every field is type-checked by its decoder (`_SHAPES`): an inventory is untrusted
        input on the console, and a list where a name belongs must be refused here, not fail
        deep in matching. `null` or a missing key stands for a list field's empty default.
        """
        if not isinstance(data, dict):
            raise InventoryError("inventory must be a JSON object")
        schema = data.get("schema", SCHEMA)
        if schema != SCHEMA:
            raise InventoryError(f"unsupported inventory schema {schema!r} (expected {SCHEMA})")
        # A null top-level value is that field's default; only the host is required.
        data = {k: v for k, v in data.items() if v is not None or k == "host"}
        if not data.get("os"):
            data.pop("os", None)  # an empty os means "not known" (UNKNOWN_OS)
        return _INVENTORY(data, "inventory")


# Decoding. Each dataclass above has a `_Shape` below naming a decoder for every field, in
# declaration order; tests/unit/core/test_inventory.py checks the two lists agree, so a new
# field without a decoder line fails there. Error messages are part of the console's API
# (422 details): keep them word for word.

_T = TypeVar("_T")
_D = TypeVar("_D", bound="DataclassInstance")
_Decoder = Callable[[Any, str], _T]
"""Checks one JSON value found at `where` (a path such as `inventory.os.eol`), returns it."""


def _malformed(where: str, problem: str) -> InventoryError:
    """The error for a bad value at `where` ("malformed inventory: <where> <problem>")."""
    return InventoryError(f"malformed inventory: {where} {problem}")


def _kind(value: Any) -> str:
    """The JSON-ish name of a value's type, for error messages."""
    return "null" if value is None else type(value).__name__


def _str(value: Any, where: str) -> str:
    """A string the console can store: no NUL, no lone surrogate (`core.text`)."""
    if not isinstance(value, str):
        raise _malformed(where, f"must be str, got {_kind(value)}")
    problem = text_problem(value)
    if problem:
        raise _malformed(where, problem)
    return value


def _bool(value: Any, where: str) -> bool:
    """`true` or `false`."""
    if not isinstance(value, bool):
        raise _malformed(where, f"must be bool, got {_kind(value)}")
    return value


def _int(value: Any, where: str) -> int:
    """An integer, not a boolean."""
    # bool is an int subclass: `true` is no schema number.
    if not isinstance(value, int) or isinstance(value, bool):
        raise _malformed(where, f"must be int, got {_kind(value)}")
    return value


def _optional(decode: _Decoder[_T]) -> _Decoder[Optional[_T]]:
    """`decode`, with `null` read as None."""

    def read(value: Any, where: str) -> Optional[_T]:
        return None if value is None else decode(value, where)

    return read


def _list_of(decode: _Decoder[_T]) -> _Decoder[Tuple[_T, ...]]:
    """A JSON list (or a tuple, from `to_dict()`) of `decode` items; `null` is empty."""

    def read(value: Any, where: str) -> Tuple[_T, ...]:
        if value is None:
            return ()
        if not isinstance(value, (list, tuple)):
            raise _malformed(where, f"must be a list, got {_kind(value)}")
        return tuple(decode(item, f"{where}[{i}]") for i, item in enumerate(value))

    return read


class _Shape(Generic[_D]):
    """How one dataclass is read from a JSON object: a decoder per field (all of them)."""

    def __init__(self, cls: Type[_D], decoders: Dict[str, _Decoder[Any]]) -> None:
        self.cls = cls
        self.decoders = decoders
        self.required = [
            f.name for f in fields(cls) if f.default is MISSING and f.default_factory is MISSING
        ]
        """Fields without a default, in declaration order: a JSON object must have them."""

    def __call__(self, value: Any, where: str) -> _D:
        """An instance from the JSON object `value`; raise InventoryError when malformed."""
        if not isinstance(value, dict):
            raise _malformed(where, f"must be an object, got {_kind(value)}")
        unknown = sorted(k for k in value if k not in self.decoders)
        if unknown:
            raise _malformed(where, f"has unknown fields {unknown}")
        missing = [name for name in self.required if name not in value]
        if missing:
            raise _malformed(where, f"lacks {missing}")
        # In the object's own key order: with several bad fields, the first one is named.
        return self.cls(**{k: self.decoders[k](v, f"{where}.{k}") for k, v in value.items()})


_HOST = _Shape(
    Host,
    {
        "hostname": _str,
        "machine_id": _str,
        "arch": _str,
        "root": _str,
    },
)
_OS_RELEASE = _Shape(
    OsRelease,
    {
        "id": _str,
        "family": _str,
        "release": _str,
        "version_id": _str,
        "codename": _str,
        "name": _str,
        "eol": _optional(_bool),
        "eol_date": _optional(_str),
        "source": _str,
    },
)
_PACKAGE = _Shape(
    Package,
    {
        "name": _str,
        "version": _str,
        "format": _str,
        "arch": _str,
        "source_name": _str,
        "source_version": _str,
        "origin": _str,
        "module": _str,
    },
)
_KERNEL_PACKAGE = _Shape(
    KernelPackage,
    {
        "name": _str,
        "version": _str,
        "release": _str,
    },
)
_KERNEL = _Shape(
    Kernel,
    {
        "running": _optional(_str),
        "running_package": _optional(_str),
        "installed": _list_of(_KERNEL_PACKAGE),
        "newest_installed": _optional(_str),
        "boot_default": _optional(_str),
        "reboot_needed": _optional(_bool),
        "default_pinned": _optional(_bool),
    },
)
_PENDING_UPDATE = _Shape(
    PendingUpdate,
    {
        "package": _str,
        "installed_version": _str,
        "candidate_version": _str,
        "repository": _str,
        "source_package": _str,
        "advisories": _list_of(_str),
        "cves": _list_of(_str),
        "severity": _optional(_str),
        "restart_required": _bool,
        "note": _str,
    },
)
_COLLECTOR_ERROR = _Shape(
    CollectorError,
    {
        "collector": _str,
        "message": _str,
        "path": _str,
    },
)
_FREE_SPACE = _Shape(
    FreeSpace,
    {
        "path": _str,
        "free_bytes": _int,
        "total_bytes": _int,
    },
)
_HELD_LOCK = _Shape(
    HeldLock,
    {
        "path": _str,
        "pid": _optional(_int),
        "program": _str,
    },
)
_PERMISSION_PROBLEM = _Shape(
    PermissionProblem,
    {
        "path": _str,
        "problem": _str,
    },
)
_SNAPSHOT_FACT = _Shape(
    SnapshotFact,
    {
        "id": _str,
        "provider": _str,
        "created_at": _str,
        "expires_at": _str,
        "size_bytes": _int,
        "owner": _str,
    },
)
_REMEDIATION_FACTS = _Shape(
    RemediationFacts,
    {
        "package_manager": _str,
        "exec_mode": _str,
        "free_space": _list_of(_FREE_SPACE),
        "min_free_bytes": _int,
        "locks": _list_of(_HELD_LOCK),
        "permission_problems": _list_of(_PERMISSION_PROBLEM),
        "snapshot_providers": _list_of(_str),
        "snapshots": _list_of(_SNAPSHOT_FACT),
        "boot_default_pinned": _optional(_bool),
        "boot_id": _str,
    },
)
_LISTENING_PORT = _Shape(
    ListeningPort,
    {
        "proto": _str,
        "address": _str,
        "port": _int,
    },
)
_COMPONENT = _Shape(
    Component,
    {
        "path": _str,
        "ecosystem": _str,
        "name": _str,
        "version": _str,
        "method": _str,
        "confidence": _str,
        "loaded": _bool,
        "package": _str,
        "cpe": _str,
        "evidence": _str,
    },
)
_RESTART_NEED = _Shape(
    RestartNeed,
    {
        "reason": _str,
        "path": _str,
    },
)
_PROCESS_INSTANCE = _Shape(
    ProcessInstance,
    {
        "pid": _int,
        "start_time": _str,
        "exe": _str,
        "exe_deleted": _bool,
        "name": _str,
        "ppid": _int,
        "cmdline": _list_of(_str),
        "cwd": _str,
        "uid": _optional(_int),
        "user": _str,
        "ports": _list_of(_LISTENING_PORT),
        "container": _str,
        "cgroup": _str,
        "package": _str,
        "runtime": _str,
        "components": _list_of(_COMPONENT),
        "restart": _list_of(_RESTART_NEED),
        "readable": _bool,
    },
)
_SCAN_EVENT = _Shape(
    ScanEvent,
    {
        "code": _str,
        "message": _str,
        "at": _str,
    },
)
_INVENTORY = _Shape(
    Inventory,
    {
        "host": _HOST,
        "os": _OS_RELEASE,
        "packages": _list_of(_PACKAGE),
        "kernel": _KERNEL,
        "pending_updates": _list_of(_PENDING_UPDATE),
        "collectors": _list_of(_str),
        "collector_errors": _list_of(_COLLECTOR_ERROR),
        "covered": _list_of(_str),
        "collected_at": _str,
        "schema": _int,
        "remediation": _optional(_REMEDIATION_FACTS),
        "processes": _list_of(_PROCESS_INSTANCE),
        "scan_events": _list_of(_SCAN_EVENT),
    },
)

_SHAPES: Tuple[_Shape[Any], ...] = (
    _HOST,
    _OS_RELEASE,
    _PACKAGE,
    _KERNEL_PACKAGE,
    _KERNEL,
    _PENDING_UPDATE,
    _COLLECTOR_ERROR,
    _FREE_SPACE,
    _HELD_LOCK,
    _PERMISSION_PROBLEM,
    _SNAPSHOT_FACT,
    _REMEDIATION_FACTS,
    _LISTENING_PORT,
    _COMPONENT,
    _RESTART_NEED,
    _PROCESS_INSTANCE,
    _SCAN_EVENT,
    _INVENTORY,
)
"""Every decoded dataclass (the field-coverage test walks this)."""
