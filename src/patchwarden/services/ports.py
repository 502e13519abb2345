"""What the use cases need from the outside world: a unit of work, repositories, read models.

Services see the console database only through `UnitOfWork`: one transaction, opened with
`with uow:` (a write transaction, committed by `uow.commit()` and rolled back otherwise) or
`with uow.read():` (a read transaction, never committed). Inside it, the repositories hand
back the frozen read models below, never rows or dicts. `storage` implements these protocols
for SQLite and PostgreSQL; `tests/fakes.py` implements them in memory.

Advisories live elsewhere (a local store per console replica, like trivy-db): the unit of
work carries the index as `uow.advisories`, and feed imports write through `FeedStore`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import Enum
from typing import Annotated, Any, Optional, Protocol

from pydantic import BeforeValidator, Field, TypeAdapter, field_validator
from pydantic.dataclasses import dataclass as validated_dataclass

from patchwarden.core.advisory import (
    UNRATED,
    Advisory,
    Affected,
    CveRating,
    EpssScore,
    FeedItem,
    KevEntry,
    Severity,
)
from patchwarden.core.app_instances import AppComponent, AppProcess
from patchwarden.core.inventory import CollectorError, Kernel, OsRelease, RemediationFacts
from patchwarden.core.records import (
    CLEAR_AFTER,
    OFFLINE_EXPIRY,
    RETENTION,
    SCAN_LEVELS,
    Record,
    RecordEvent,
    State,
)
from patchwarden.core.vocabulary import VulnType
from patchwarden.feeds.sources import DEFAULT_SOURCES, SOURCES
from patchwarden.protocol.v1 import (
    MAX_MEMORY_CAP_MB,
    MAX_SNAPSHOT_EXPIRY_DAYS,
    MIN_MEMORY_CAP_MB,
)
from patchwarden.services.errors import Conflict

# -- read models ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Host:
    """An enrolled agent's host and what its latest inventory said."""

    id: str
    hostname: str
    machine_id: str
    agent_version: str
    enrolled_at: datetime
    last_seen_at: Optional[datetime]
    """Last time the agent was heard from (any authenticated request)."""
    last_inventory_at: Optional[datetime]
    os: Optional[OsRelease]
    """None until the first inventory."""
    kernel: Optional[Kernel]
    collector_errors: tuple[CollectorError, ...]
    packages: int
    remediation: Optional[RemediationFacts] = None
    """The latest inventory's remediation facts (None: its agent cannot fix this host)."""


@dataclass(frozen=True)
class HostFacts:
    """What one accepted inventory says about its host."""

    os: OsRelease
    kernel: Kernel
    collector_errors: tuple[CollectorError, ...]
    packages: int
    at: datetime
    """When the inventory was accepted: the host's last scan and last contact."""
    remediation: Optional[RemediationFacts] = None
    """What the agent knows about fixing the host (None: it sent none)."""


class Role(str, Enum):
    """A console user's role: a set of permissions (`ROLE_PERMISSIONS`)."""

    OWNER = "owner"
    ADMIN = "admin"
    OPERATOR = "operator"
    VIEWER = "viewer"


class Permission(str, Enum):
    """One thing a user may do (the R-P1 list, plus running maintenance and managing users)."""

    VIEW = "view"
    SCAN = "scan"
    FIX = "fix"
    VERIFY = "verify"
    IGNORE = "ignore"
    ROLLBACK = "rollback"
    SNAPSHOT = "snapshot"
    RESTART = "restart"
    SETTINGS = "settings"
    MAINTENANCE = "maintenance"
    USERS = "users"


ROLE_PERMISSIONS: Mapping[Role, frozenset[Permission]] = {
    Role.OWNER: frozenset(Permission),
    Role.ADMIN: frozenset(Permission) - {Permission.USERS},
    # Runs fixes and restarts, but takes and restores no snapshots: the sub-user of R-P1 whose
    # fix fails on the snapshot unless it goes without one (R-F6).
    Role.OPERATOR: frozenset(
        {
            Permission.VIEW,
            Permission.SCAN,
            Permission.FIX,
            Permission.VERIFY,
            Permission.IGNORE,
            Permission.RESTART,
        }
    ),
    Role.VIEWER: frozenset({Permission.VIEW}),
}
"""The one place roles are defined. Services check them (`services.users.require`); the web
console builds its pages and finer, per-user permissions (R-P1) on the same table."""


class Plan(str, Enum):
    """The console's edition (R-P2): which features it has (`PLAN_FEATURES`)."""

    BASIC = "basic"
    ENTERPRISE = "enterprise"
    ULTIMATE = "ultimate"


class Feature(str, Enum):
    """A feature a plan may lack."""

    ONE_CLICK_FIX = "one_click_fix"
    """Fix, restart and rollback through the agent (R-F1)."""
    APP_DETECTION = "app_detection"
    """Application vulnerabilities of running processes (R-T4)."""


PLAN_FEATURES: Mapping[Plan, frozenset[Feature]] = {
    # R-P2 names what the basic plan lacks; the higher plans have both (they differ in nothing
    # the console does yet).
    Plan.BASIC: frozenset(),
    Plan.ENTERPRISE: frozenset(Feature),
    Plan.ULTIMATE: frozenset(Feature),
}
"""The one place plans are defined; `Settings.plan` names the console's."""

FEATURE_NAMES: Mapping[Feature, str] = {
    Feature.ONE_CLICK_FIX: "one-click fix",
    Feature.APP_DETECTION: "application vulnerability detection",
}
"""How messages name each feature."""


@dataclass(frozen=True)
class User:
    """A console user."""

    id: int
    name: str
    role: Role
    permissions: frozenset[Permission] = frozenset()
    """Permissions granted to this user on top of the role's (R-P1)."""

    def can(self, permission: Permission) -> bool:
        """Whether the user's role, or a permission granted to the user, allows `permission`."""
        return permission in ROLE_PERMISSIONS[self.role] or permission in self.permissions


@dataclass(frozen=True)
class TokenOwner:
    """The user an API token belongs to, when the token was last used and when it expires."""

    user: User
    token_id: int
    last_used_at: Optional[datetime]
    expires_at: Optional[datetime]
    """None: the token never expires."""


@dataclass(frozen=True)
class ApiToken:
    """An API token as listed: who it belongs to and its dates, never its secret."""

    id: int
    user: str
    created_at: datetime
    last_used_at: Optional[datetime]
    expires_at: Optional[datetime]
    """None: the token never expires."""


@dataclass(frozen=True)
class RecordDetail:
    """What a detection says about a record: refreshed by every scan that sees it."""

    package: str
    source_package: str
    installed_version: str
    fixed_version: Optional[str]
    cves: tuple[str, ...]
    advisories: tuple[str, ...]
    summary: str
    cvss: Optional[float]
    exploitable: bool
    epss: Optional[float]
    method: str
    confidence: str
    restart_required: bool
    reason: str
    urgency: float
    bucket: str
    severity_source: str = UNRATED
    """Who rated the finding (`core.matching.Match.severity_source`)."""
    cvss_vector: str = ""
    title: str = ""
    references: tuple[str, ...] = ()
    """URLs about the vulnerability."""
    process: Optional[AppProcess] = None
    """The running process of an application record (R-D1); None for other types."""
    component: Optional[AppComponent] = None
    """The component an application record's advisory names; None for other types."""


@dataclass(frozen=True)
class StoredRecord:
    """A record as stored: identity, lifecycle and the detail of its latest detection."""

    id: int
    host_id: str
    vuln_id: str
    affected_key: str
    record: Record
    detail: RecordDetail


@dataclass(frozen=True)
class NewRecord:
    """A record to create (its id comes from the database)."""

    host_id: str
    vuln_id: str
    affected_key: str
    record: Record
    detail: RecordDetail


@dataclass(frozen=True)
class ListedRecord:
    """A record with its host's name, as the record list shows it."""

    stored: StoredRecord
    hostname: str


@dataclass(frozen=True)
class StoredEvent:
    """One audited move of a record, with its id."""

    id: int
    event: RecordEvent


@dataclass(frozen=True)
class RecordFilter:
    """Filters of the record list; empty means "any"."""

    types: tuple[str, ...] = ()
    severities: tuple[str, ...] = ()
    statuses: tuple[str, ...] = ()
    host: str = ""
    """Host id or hostname."""
    exploitable: Optional[bool] = None
    buckets: tuple[str, ...] = ()
    vuln_id: str = ""
    methods: tuple[str, ...] = ()
    """Detection methods (`core.matching.Method` values)."""
    confidences: tuple[str, ...] = ()


@dataclass(frozen=True)
class VulnerabilityGroup:
    """The records of one vulnerability (and type): how many hosts, the worst of them."""

    vuln_id: str
    type: str
    hosts: int
    records: int
    severity: Severity
    urgency: float
    exploitable: bool


class JobStatus(str, Enum):
    """Where a job is in its life: queued → claimed → done | failed; queued → cancelled."""

    QUEUED = "queued"
    CLAIMED = "claimed"
    DONE = "done"
    FAILED = "failed"
    CANCELLED = "cancelled"


FINISHED_JOBS = frozenset({JobStatus.DONE, JobStatus.FAILED, JobStatus.CANCELLED})


@dataclass(frozen=True)
class Job:
    """A typed agent action in the queue."""

    id: int
    host_id: str
    kind: str
    params: dict[str, Any]
    status: JobStatus
    requested_by: str
    created_at: datetime
    claimed_at: Optional[datetime]
    finished_at: Optional[datetime]
    result: Optional[Any]
    error: Optional[str]
    attempts: int
    """How many times an agent claimed it (requeues included)."""


class JobStateError(Conflict):
    """A job that does not exist, or whose state forbids the requested move."""


@dataclass(frozen=True)
class NewSnapshot:
    """A snapshot an agent took before a fix, as its result reported it (R-F6)."""

    host_id: str
    snapshot_id: str
    """The agent's id of the snapshot (protocol v1 `SnapshotInfo.id`)."""
    provider: str
    size_bytes: int
    created_at: datetime
    expires_at: datetime
    owner: str
    """The user whose fix took it."""
    job_id: Optional[int]
    """The fix job that took it."""
    record_ids: tuple[int, ...]
    """The records that fix was for: a rollback of any of them restores this snapshot."""


@dataclass(frozen=True)
class Snapshot:
    """A snapshot the console knows of, and whether it can still be restored."""

    id: int
    host_id: str
    snapshot_id: str
    provider: str
    size_bytes: int
    created_at: datetime
    expires_at: datetime
    owner: str
    job_id: Optional[int]
    record_ids: tuple[int, ...]
    expired: bool
    """Marked past `expires_at` by the scheduler's sweep (the agent deletes its files)."""
    deleted_at: Optional[datetime]
    """When a user deleted it, or the agent was seen not to keep it any more."""

    @property
    def deleted(self) -> bool:
        """True once deleted."""
        return self.deleted_at is not None

    def expired_at(self, now: datetime) -> bool:
        """True when it is marked expired or its expiry time has passed at `now`."""
        return self.expired or self.expires_at <= now


@dataclass(frozen=True)
class BatchItem:
    """One record of a remediation batch: its job, or why it was refused."""

    record_id: int
    host_id: Optional[str] = None
    job_id: Optional[int] = None
    """The agent job that acts on the record (None when refused)."""
    code: Optional[str] = None
    """The refusal code (`services.availability.REFUSALS`) when refused."""
    reason: str = ""


@dataclass(frozen=True)
class Batch:
    """A remediation request on a list of records (R-F3): one item per record, in list order."""

    id: int
    action: str
    requested_by: str
    created_at: datetime
    items: tuple[BatchItem, ...]


@dataclass(frozen=True)
class ImportStats:
    """Outcome of one feed import."""

    kind: str
    location: str
    advisories: int = 0
    affected: int = 0
    kev: int = 0
    epss: int = 0
    ratings: int = 0
    """CVE ratings the feed gave as such (NVD); advisories' own are not counted here."""
    replaced: int = 0
    """Rows this origin had before, removed by the import (atomic replace)."""

    @property
    def records(self) -> int:
        """Items stored, whatever their kind."""
        return self.advisories + self.kev + self.epss + self.ratings


@dataclass(frozen=True)
class FeedInfo:
    """One imported feed location."""

    kind: str
    location: str
    imported_at: str
    records: int
    skipped: int
    etag: Optional[str]
    last_modified: Optional[str]


def _days(delta: timedelta) -> float:
    return delta / timedelta(days=1)


VULN_TYPES = tuple(t.value for t in VulnType)
LEVELS = tuple(s.value for s in SCAN_LEVELS)

MAX_DAYS = 3650.0
"""Longest duration in days a setting may hold: ten years (and far from timedelta's limit)."""
MAX_HOURS = 8760.0
"""Longest period in hours a setting may hold: one year."""


def _not_bool(v: Any) -> Any:
    # JSON true would otherwise pass as 1.0.
    if isinstance(v, bool):
        raise ValueError("must be a number, not true/false")
    return v


_NUMBER = BeforeValidator(_not_bool)
# Finite, bounded numbers: an unbounded one (1e10 days, Infinity) used to be stored and then
# overflow timedelta in every upload, action and tick.
Days = Annotated[float, _NUMBER, Field(ge=1.0, le=MAX_DAYS, allow_inf_nan=False)]
"""TTLs, grace and retention periods: at least a day, so a typo cannot expire every record."""
Hours = Annotated[float, _NUMBER, Field(ge=1.0, le=MAX_HOURS, allow_inf_nan=False)]
OfflineSeconds = Annotated[float, _NUMBER, Field(ge=30.0, le=86_400.0, allow_inf_nan=False)]
SyncHours = Annotated[float, _NUMBER, Field(ge=0.0, le=MAX_HOURS, allow_inf_nan=False)]
SnapshotDays = Annotated[int, _NUMBER, Field(ge=1, le=MAX_SNAPSHOT_EXPIRY_DAYS, strict=True)]
DEFAULT_SNAPSHOT_EXPIRY_DAYS = 7
MemoryCapMb = Annotated[int, _NUMBER, Field(ge=0, le=MAX_MEMORY_CAP_MB, strict=True)]
DEFAULT_AGENT_MEMORY_CAP_MB = 200


@validated_dataclass(frozen=True)
class Settings:
    """Everything an admin can change at run time; the defaults are the spec's.

    Every severity scanned (R-D4), daily scans (R-D5), offline expiry per type (R-L1), clear
    after 3 days (R-L2), retention (R-L6). Validated on construction (pydantic), so a stored
    or submitted value that breaks a rule never becomes a `Settings`.
    """

    scan_levels: list[str] = field(default_factory=lambda: list(LEVELS))
    """Severities that are scanned *and updated* (R-D4)."""
    scan_cycle_hours: dict[str, Hours] = field(
        default_factory=lambda: dict.fromkeys(VULN_TYPES, 24.0)
    )
    """Periodic scan interval per vulnerability type (R-D5): 1 to 8,760 hours."""
    offline_ttl_days: dict[str, Days] = field(
        default_factory=lambda: {t.value: _days(d) for t, d in OFFLINE_EXPIRY.items()}
    )
    """1 to 3,650 days per type (R-L1)."""
    clear_after_days: Days = _days(CLEAR_AFTER)
    retention_days: Days = _days(RETENTION)
    agent_offline_after_seconds: OfflineSeconds = 600.0
    """An agent not heard from for this long is offline (verify is refused, R-L3): 30 s to a
    day."""
    feed_sync_hours: SyncHours = 0.0
    """Sync the official feeds this often (0: never — the air-gapped default; R-S2), else 1 to
    8,760 hours."""
    feed_sources: list[str] = field(default_factory=lambda: list(DEFAULT_SOURCES))
    """Sources the periodic sync downloads (`patchwarden feeds sources`)."""
    plan: Plan = Plan.ULTIMATE
    """The console's edition (R-P2): basic has no one-click fix (`PLAN_FEATURES`)."""
    snapshot_expiry_days: SnapshotDays = DEFAULT_SNAPSHOT_EXPIRY_DAYS
    """How long the snapshot a fix takes is kept for a rollback (R-F6): 1 to 365 days."""
    agent_memory_cap_mb: MemoryCapMb = DEFAULT_AGENT_MEMORY_CAP_MB
    """Memory an agent's scan may use (R-D3): 0 (no cap) or 16 to 65,536 MB; an agent whose
    own config or command line sets a cap keeps that one."""

    @field_validator("feed_sources")
    @classmethod
    def _sources(cls, v: list[str]) -> list[str]:
        bad = [x for x in v if x not in SOURCES]
        if bad:
            raise ValueError(f"unknown feed sources {bad}; known {list(SOURCES)}")
        return v

    @field_validator("scan_levels")
    @classmethod
    def _levels(cls, v: list[str]) -> list[str]:
        bad = [x for x in v if x not in LEVELS]
        if bad:
            raise ValueError(f"unknown severities {bad}; allowed {list(LEVELS)}")
        return v

    @field_validator("feed_sync_hours")
    @classmethod
    def _never_or_hourly(cls, v: float) -> float:
        if 0 < v < 1:
            raise ValueError("must be 0 (never) or at least 1 hour")
        return v

    @field_validator("agent_memory_cap_mb")
    @classmethod
    def _no_cap_or_enough(cls, v: int) -> int:
        if 0 < v < MIN_MEMORY_CAP_MB:
            raise ValueError(f"must be 0 (no cap) or at least {MIN_MEMORY_CAP_MB} MB")
        return v

    @field_validator("scan_cycle_hours", "offline_ttl_days")
    @classmethod
    def _per_type(cls, v: dict[str, float]) -> dict[str, float]:
        bad = [k for k in v if k not in VULN_TYPES]
        if bad:
            raise ValueError(f"types must be among {list(VULN_TYPES)}: {bad}")
        return v

    def scan_level_severities(self) -> frozenset[Severity]:
        """Scan levels as severities (R-D4)."""
        return frozenset(Severity(x) for x in self.scan_levels)

    def agent_online(self, last_seen: Optional[datetime], now: datetime) -> bool:
        """Whether an agent last heard from at `last_seen` counts as online at `now`."""
        return (
            last_seen is not None
            and (now - last_seen).total_seconds() <= self.agent_offline_after_seconds
        )


def settings_from(values: Mapping[str, Any]) -> Settings:
    """Settings from key/values over the defaults (unknown keys ignored); pydantic's
    ValidationError when a value breaks a rule."""
    return _SETTINGS.validate_python(dict(values))


_SETTINGS = TypeAdapter(Settings)


# -- repositories -----------------------------------------------------------------------------


class HostRepository(Protocol):
    """Enrolled hosts."""

    def add(
        self,
        host_id: str,
        hostname: str,
        machine_id: str,
        secret_hash: str,
        agent_version: str,
        now: datetime,
    ) -> None:
        """Register an enrolled agent's host."""
        ...

    def reenrol(
        self,
        machine_id: str,
        hostname: str,
        secret_hash: str,
        agent_version: str,
        now: datetime,
    ) -> Optional[str]:
        """Give the host enrolled with `machine_id` (non-empty; the first enrolled, should
        there be several) new agent credentials, hostname and agent version; its id, or None
        when no host has that machine id."""
        ...

    def get(self, host_id: str) -> Optional[Host]:
        """One host, or None."""
        ...

    def list(self) -> list[Host]:
        """Every host, by hostname."""
        ...

    def secret_hash(self, host_id: str) -> Optional[str]:
        """The stored digest of a host's agent secret (None: no such host)."""
        ...

    def touch(self, host_id: str, now: datetime) -> None:
        """The agent was heard from."""
        ...

    def lock(self, host_id: str) -> None:
        """Hold the host until the transaction ends, ordering its concurrent writers."""
        ...

    def update_facts(self, host_id: str, facts: HostFacts) -> None:
        """Store what the latest inventory says about the host."""
        ...

    def last_seen(self) -> dict[str, Optional[datetime]]:
        """host id -> last contact of its agent."""
        ...


class UserRepository(Protocol):
    """Console users and their API tokens."""

    def get(self, name: str) -> Optional[User]:
        """User `name`, or None."""
        ...

    def add(self, name: str, role: Role, now: datetime) -> User:
        """Create a user (callers check that the name is free)."""
        ...

    def all(self) -> list[User]:
        """Every user, by name."""
        ...

    def owners(self) -> list[User]:
        """The owners, held until the transaction ends: two requests cannot each demote or
        remove one of the last two owners at once."""
        ...

    def set_role(self, user_id: int, role: Role) -> None:
        """Change a user's role."""
        ...

    def remove(self, user_id: int) -> None:
        """Delete a user and their API tokens."""
        ...

    def add_api_token(
        self, user_id: int, token_hash: str, now: datetime, expires_at: Optional[datetime]
    ) -> int:
        """Store an API token digest for a user (expiring at `expires_at`, None: never); its
        id."""
        ...

    def tokens(self) -> list[ApiToken]:
        """Every API token, oldest first."""
        ...

    def revoke_token(self, token_id: int) -> Optional[ApiToken]:
        """Delete an API token; what it was, or None when there is no such token."""
        ...

    def by_token(self, token_hash: str) -> Optional[TokenOwner]:
        """The owner of an API token digest, or None."""
        ...

    def mark_token_used(self, token_id: int, now: datetime) -> None:
        """Store when an API token was last used."""
        ...

    def set_permissions(self, user_id: int, permissions: frozenset[Permission]) -> None:
        """Replace the permissions granted to a user on top of their role's."""
        ...

    def set_password(self, user_id: int, password_hash: str, now: datetime) -> None:
        """Store a user's password hash (argon2; never the password)."""
        ...

    def password_hash(self, name: str) -> Optional[tuple[User, str]]:
        """User `name` and their password hash; None when there is no such user or they have
        no password."""
        ...


class EnrolmentRepository(Protocol):
    """One-time enrolment tokens."""

    def add(self, token_hash: str, now: datetime, ttl: timedelta) -> None:
        """Store a token digest valid for `ttl`."""
        ...

    def use(self, token_hash: str, host_id: str, now: datetime) -> str:
        """Consume a token for `host_id`: "" on success, else why it cannot be used."""
        ...


class RecordRepository(Protocol):
    """Records: one per host × vulnerability × affected thing."""

    def of_host(self, host_id: str, vuln_type: VulnType) -> list[StoredRecord]:
        """Every record of a host and type."""
        ...

    def by_ids(self, ids: Sequence[int]) -> list[StoredRecord]:
        """Records by id; unknown ids are absent."""
        ...

    def add(self, new: Sequence[NewRecord]) -> list[int]:
        """Create records; their ids in input order."""
        ...

    def update(
        self, changes: Sequence[tuple[StoredRecord, Record, Optional[RecordDetail]]]
    ) -> None:
        """Write back `(as stored, new lifecycle, new detail or None to keep it)`."""
        ...

    def query(
        self, where: RecordFilter, page: int, per_page: int
    ) -> tuple[list[ListedRecord], int]:
        """One page of records, most urgent first, and how many match."""
        ...

    def get(self, record_id: int) -> Optional[ListedRecord]:
        """One record with its hostname."""
        ...

    def vulnerabilities(
        self, statuses: Sequence[State], page: int, per_page: int
    ) -> tuple[list[VulnerabilityGroup], int]:
        """Records in `statuses` grouped by vulnerability, most urgent first; and the count."""
        ...

    def counts_by_host(self, statuses: Sequence[State]) -> dict[str, int]:
        """Records in `statuses` per host id."""
        ...


@dataclass(frozen=True)
class AuditEntry:
    """One move of a record, with what the record is and whose host it is on."""

    id: int
    record_id: int
    vuln_id: str
    host_id: str
    hostname: str
    event: RecordEvent


@dataclass(frozen=True)
class OpenCount:
    """How many records in the asked states share a type, urgency bucket and exploitability."""

    type: str
    bucket: str
    exploitable: bool
    records: int


class ConsoleReadRepository(Protocol):
    """Aggregates the web console's pages show (overview, trend, audit log, grouped list)."""

    def open_counts(self, statuses: Sequence[State]) -> list[OpenCount]:
        """Records in `statuses` counted by type, bucket and exploitability."""
        ...

    def daily_moves(self, states: Sequence[State], since: datetime) -> dict[str, int]:
        """UTC day (YYYY-MM-DD) -> records that entered `states` that day minus those that
        left them, over the moves at or after `since`."""
        ...

    def audit(
        self, page: int, per_page: int, actor: str = "", record_id: Optional[int] = None
    ) -> tuple[list[AuditEntry], int]:
        """Record moves newest first (by `actor` / of `record_id` when given), and the
        count."""
        ...

    def vulnerability_groups(
        self, where: RecordFilter, page: int, per_page: int
    ) -> tuple[list[VulnerabilityGroup], int]:
        """Records matching `where` grouped by vulnerability and type, most urgent first;
        and the count of groups."""
        ...


class EventRepository(Protocol):
    """The audit trail of records."""

    def add(self, events: Sequence[tuple[int, RecordEvent]]) -> None:
        """Append `(record id, event)` pairs."""
        ...

    def of_record(self, record_id: int) -> list[StoredEvent]:
        """A record's history, oldest first."""
        ...


class JobRepository(Protocol):
    """The job queue of typed agent actions; exactly one agent poll claims a job."""

    def enqueue(
        self, host_id: str, kind: str, params: dict[str, Any], requested_by: str, now: datetime
    ) -> int:
        """Queue a job; returns its id. Callers validate `kind` and `params`."""
        ...

    def claim(self, host_id: str, now: datetime, limit: int = 10) -> list[Job]:
        """Claim up to `limit` of the host's queued jobs, oldest first."""
        ...

    def finish(
        self,
        job_id: int,
        ok: bool,
        now: datetime,
        result: Optional[Any] = None,
        error: Optional[str] = None,
    ) -> Job:
        """Record a job's outcome; JobStateError when unknown or already finished."""
        ...

    def cancel(self, job_id: int, now: datetime) -> Job:
        """Cancel a job no agent has claimed; JobStateError otherwise."""
        ...

    def requeue_stale(
        self, older_than: timedelta, now: datetime, max_attempts: int = 3
    ) -> tuple[int, int]:
        """Put back claims older than `older_than`, fail those claimed `max_attempts` times;
        (requeued, failed)."""
        ...

    def pending_for(self, host_id: str) -> list[Job]:
        """The host's queued and claimed jobs, oldest first."""
        ...

    def get(self, job_id: int) -> Optional[Job]:
        """One job, or None."""
        ...

    def unfinished(self, kinds: Sequence[str]) -> list[Job]:
        """Every host's queued and claimed jobs of these kinds, oldest first."""
        ...


class InventoryRepository(Protocol):
    """Accepted inventory uploads, kept as received."""

    def find(self, host_id: str, report_id: str) -> Optional[int]:
        """The id of the host's upload with this report id, if it was accepted before."""
        ...

    def add(self, host_id: str, report_id: str, body: bytes, received_at: datetime) -> int:
        """Store an upload; returns its id."""
        ...

    def latest(self, host_id: str) -> Optional[bytes]:
        """The body of the host's latest accepted upload, as sent (gzip or not), or None."""
        ...


class SnapshotRepository(Protocol):
    """Snapshots agents took before fixes (R-F6)."""

    def add(self, new: NewSnapshot) -> int:
        """Store a snapshot an agent reported; its id. A snapshot id the host reported before
        is not stored twice: the id it has is returned."""
        ...

    def get(self, snapshot_id: int) -> Optional[Snapshot]:
        """One snapshot by the console's id, or None."""
        ...

    def of_host(self, host_id: str) -> list[Snapshot]:
        """A host's snapshots, newest first (deleted and expired ones included)."""
        ...

    def mark_deleted(self, ids: Sequence[int], now: datetime) -> None:
        """Mark snapshots deleted (those already deleted keep their time)."""
        ...

    def expire(self, now: datetime) -> int:
        """Mark every snapshot past its expiry (and not deleted) expired; how many were new."""
        ...


class BatchRepository(Protocol):
    """Remediation batches (R-F3) and their items."""

    def add(self, action: str, requested_by: str, now: datetime, items: Sequence[BatchItem]) -> int:
        """Store a batch with its items in list order; its id."""
        ...

    def get(self, batch_id: int) -> Optional[Batch]:
        """One batch with its items, or None."""
        ...


class SettingsRepository(Protocol):
    """The console settings."""

    def get(self) -> Settings:
        """Current settings (defaults where nothing is stored)."""
        ...

    def put(self, settings: Settings) -> None:
        """Store every setting."""
        ...


class LeaseRepository(Protocol):
    """Leases for singleton work across console replicas."""

    def acquire(self, name: str, holder: str, ttl: timedelta, now: datetime) -> bool:
        """Take or renew `name` for `holder` until now + `ttl`; False if another holds it."""
        ...


class AdvisoryIndex(Protocol):
    """Advisory lookups by package key, plus exploitation data."""

    def lookup(self, ecosystem: str, name: str) -> list[tuple[Advisory, Affected]]:
        """Every (advisory, affected entry) for `name` under `ecosystem`."""
        ...

    def artifact_names(self, artifact: str) -> list[str]:
        """Every Maven `group:artifact` the advisories name with this artifact id, sorted (a
        JAR named only by its file name matches when there is exactly one)."""
        ...

    def kev(self, cves: Sequence[str]) -> dict[str, KevEntry]:
        """CISA KEV entries of the given CVEs."""
        ...

    def epss(self, cves: Sequence[str]) -> dict[str, EpssScore]:
        """EPSS scores of the given CVEs."""
        ...

    def ratings(self, cves: Sequence[str]) -> dict[str, list[CveRating]]:
        """Every source's rating of each of the given CVEs (the rating index, issue 8)."""
        ...


class Advisories(AdvisoryIndex, Protocol):
    """The console's advisory store: lookups plus the catalogue's search (R-T7)."""

    def search(self, q: str, limit: int, offset: int) -> tuple[list[Advisory], int]:
        """Advisories whose id, aliases or summary contain `q`, one per id; and the count."""
        ...

    def ids_by_base_ecosystem(self, ids: Sequence[str] = ()) -> Mapping[str, set[str]]:
        """Base ecosystem -> ids of advisories naming packages in it (all, or `ids` only)."""
        ...


class FeedStore(Protocol):
    """Where feed imports land (the local advisory store)."""

    def import_items(
        self,
        kind: str,
        location: str,
        items: Iterable[FeedItem],
        now: datetime,
        skipped: Optional[Callable[[], int]] = None,
        etag: Optional[str] = None,
        last_modified: Optional[str] = None,
    ) -> ImportStats:
        """Store a feed's items in one transaction, replacing what this location held."""
        ...

    def feed(self, kind: str, location: str) -> Optional[FeedInfo]:
        """What was imported from a location (for conditional downloads)."""
        ...


class UnitOfWork(Protocol):
    """One transaction over the console database, and the advisory index beside it."""

    hosts: HostRepository
    users: UserRepository
    enrolment: EnrolmentRepository
    records: RecordRepository
    events: EventRepository
    jobs: JobRepository
    inventories: InventoryRepository
    settings: SettingsRepository
    leases: LeaseRepository
    snapshots: SnapshotRepository
    batches: BatchRepository
    console: ConsoleReadRepository
    advisories: Advisories

    def __enter__(self) -> UnitOfWork:
        """Begin a write transaction (serialised with other writers on SQLite)."""
        ...

    def __exit__(self, *exc: object) -> None:
        """End it: whatever was not committed is rolled back."""
        ...

    def read(self) -> AbstractContextManager[UnitOfWork]:
        """Begin a read transaction (never blocks or waits for writers; never commits)."""
        ...

    def commit(self) -> None:
        """Make the transaction's writes durable."""
        ...
