"""Console database schema (SQLAlchemy Core). Migrations in `storage/migrations` follow it.

Services read and write through the unit of work (`storage.uow`) and its repositories, which
map rows to core values and `services.ports` read models explicitly (STYLE A5); nothing
outside `storage` touches these tables.
"""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
)

from patchwarden.storage.types import UtcDateTime

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}
metadata = MetaData(naming_convention=NAMING)

Id = BigInteger().with_variant(Integer(), "sqlite")
"""64-bit ids on PostgreSQL; SQLite wants INTEGER for its rowid alias."""


def _ts(name: str, nullable: bool = True) -> Column:  # type: ignore[type-arg]
    # UtcDateTime, not DateTime(timezone=True): SQLite would drop the zone (see storage.types).
    return Column(name, UtcDateTime(), nullable=nullable)


users = Table(
    "users",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("name", String(200), nullable=False, unique=True),
    Column("role", String(32), nullable=False, default="owner"),
    _ts("created_at", nullable=False),
    # Web console login (issue 11): an argon2 hash (NULL: no password, API tokens only) and
    # the permissions granted on top of the role's (a JSON list of names).
    Column("password_hash", String(255)),
    _ts("password_changed_at"),
    Column("permissions", JSON, nullable=False, default=list),
)

api_tokens = Table(
    "api_tokens",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("user_id", Id, ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
    Column("token_hash", String(64), nullable=False, unique=True),
    _ts("created_at", nullable=False),
    _ts("last_used_at"),
    _ts("expires_at"),  # NULL: never expires
)

enrolment_tokens = Table(
    "enrolment_tokens",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("token_hash", String(64), nullable=False, unique=True),
    _ts("created_at", nullable=False),
    _ts("expires_at", nullable=False),
    _ts("used_at"),
    Column("host_id", String(36)),
)

hosts = Table(
    "hosts",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("hostname", String(255), nullable=False),
    Column("machine_id", String(64), nullable=False, default=""),
    Column("secret_hash", String(64), nullable=False),
    Column("agent_version", String(32), nullable=False, default=""),
    _ts("enrolled_at", nullable=False),
    _ts("last_seen_at"),
    _ts("last_inventory_at"),
    Column("os", JSON, nullable=False, default=dict),
    Column("kernel", JSON, nullable=False, default=dict),
    Column("collector_errors", JSON, nullable=False, default=list),
    Column("packages", Integer, nullable=False, default=0),
    # The latest inventory's remediation facts (issue 10; 0004): NULL when its agent sent none.
    Column("remediation", JSON),
)

inventories = Table(
    "inventories",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("host_id", String(36), ForeignKey("hosts.id", ondelete="CASCADE"), nullable=False),
    Column("report_id", String(64), nullable=False),
    Column("digest", String(64), nullable=False),
    _ts("received_at", nullable=False),
    Column("body", LargeBinary, nullable=False),
    UniqueConstraint("host_id", "report_id", name="uq_inventories_host_report"),
)

records = Table(
    "records",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("host_id", String(36), ForeignKey("hosts.id", ondelete="CASCADE"), nullable=False),
    Column("vuln_id", String(200), nullable=False),
    Column("affected_key", String(400), nullable=False),
    Column("type", String(16), nullable=False),
    Column("package", String(255), nullable=False, default=""),
    Column("source_package", String(255), nullable=False, default=""),
    Column("installed_version", String(255), nullable=False, default=""),
    Column("fixed_version", String(255)),
    Column("cves", JSON, nullable=False, default=list),
    Column("advisories", JSON, nullable=False, default=list),
    Column("summary", Text, nullable=False, default=""),
    Column("severity", String(16), nullable=False),
    # Who rated the finding, its CVSS vector, title and reference URLs (issue 8; 0003); the
    # last three are NULL in records made before, until their host is scanned again.
    Column(
        "severity_source", String(32), nullable=False, default="unrated", server_default="unrated"
    ),
    Column("cvss_vector", Text),  # NULL in records made before 0003: read as ""
    Column("title", Text),
    Column("references", JSON),
    Column("cvss", Float),
    Column("exploitable", Boolean, nullable=False, default=False),
    Column("epss", Float),
    Column("method", String(32), nullable=False),
    Column("confidence", String(16), nullable=False),
    Column("restart_required", Boolean, nullable=False, default=False),
    Column("reason", Text, nullable=False, default=""),
    Column("status", String(32), nullable=False),
    Column("urgency", Float, nullable=False, default=0.0),
    Column("bucket", String(16), nullable=False, default="can_wait"),
    Column("occurrence", Integer, nullable=False, default=1),
    Column("state_before", String(32)),
    Column("ignored_reason", Text),
    Column("ignored_by", String(200)),
    _ts("first_seen", nullable=False),
    _ts("last_seen", nullable=False),
    _ts("undetected_since"),
    _ts("offline_since"),
    _ts("status_changed_at", nullable=False),
    # An application record's process instance and component (issue 12; 0006): NULL for
    # every other type.
    Column("process", JSON),
    Column("component", JSON),
    UniqueConstraint("host_id", "vuln_id", "affected_key", name="uq_records_identity"),
)
Index("ix_records_status_severity", records.c.status, records.c.severity)
Index("ix_records_host_status", records.c.host_id, records.c.status)
Index("ix_records_urgency", records.c.urgency.desc(), records.c.id)
# Covers the web console overview's open counts by type, bucket and exploitability.
Index(
    "ix_records_status_type_bucket",
    records.c.status,
    records.c.type,
    records.c.bucket,
    records.c.exploitable,
)

record_events = Table(
    "record_events",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("record_id", Id, ForeignKey("records.id", ondelete="CASCADE"), nullable=False),
    _ts("at", nullable=False),
    Column("actor", String(200), nullable=False),
    Column("trigger", String(40), nullable=False),
    Column("from_state", String(32)),
    Column("to_state", String(32), nullable=False),
    Column("reason", Text, nullable=False, default=""),
)
Index("ix_record_events_record", record_events.c.record_id, record_events.c.at)
# The audit log lists moves newest first; the overview's trend sums the last days' moves from
# this index alone (it covers the states).
Index(
    "ix_record_events_at", record_events.c.at, record_events.c.from_state, record_events.c.to_state
)

jobs = Table(
    "jobs",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("host_id", String(36), ForeignKey("hosts.id", ondelete="CASCADE"), nullable=False),
    Column("kind", String(16), nullable=False),
    Column("params", JSON, nullable=False, default=dict),
    Column("status", String(16), nullable=False, default="queued"),
    Column("requested_by", String(200), nullable=False, default="system"),
    _ts("created_at", nullable=False),
    _ts("claimed_at"),
    _ts("finished_at"),
    Column("result", JSON),
    Column("error", Text),
    # Claims so far: a job whose agent dies on it every time must end as failed, not loop.
    Column("attempts", Integer, nullable=False, default=0, server_default="0"),
)
Index("ix_jobs_host_status", jobs.c.host_id, jobs.c.status, jobs.c.id)
# requeue_stale scans claimed jobs by claim time; the table keeps every finished job.
Index("ix_jobs_status_claimed", jobs.c.status, jobs.c.claimed_at)

# Snapshots agents took before fixes (R-F6; 0004), as their fix results reported them.
snapshots = Table(
    "snapshots",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("host_id", String(36), ForeignKey("hosts.id", ondelete="CASCADE"), nullable=False),
    Column("snapshot_id", String(64), nullable=False),
    Column("provider", String(16), nullable=False),
    Column("size_bytes", BigInteger, nullable=False, default=0),
    _ts("created_at", nullable=False),
    _ts("expires_at", nullable=False),
    Column("owner", String(200), nullable=False, default=""),
    Column("job_id", Id),  # the fix job (no foreign key: jobs are pruned on their own terms)
    Column("record_ids", JSON, nullable=False, default=list),
    Column("expired", Boolean, nullable=False, default=False),
    _ts("deleted_at"),
    UniqueConstraint("host_id", "snapshot_id", name="uq_snapshots_host_snapshot"),
)

# Remediation batches (R-F3; 0004): one row per request, one item per record in list order.
action_batches = Table(
    "action_batches",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("action", String(16), nullable=False),
    Column("requested_by", String(200), nullable=False),
    _ts("created_at", nullable=False),
)

action_batch_items = Table(
    "action_batch_items",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("batch_id", Id, ForeignKey("action_batches.id", ondelete="CASCADE"), nullable=False),
    Column("position", Integer, nullable=False),
    # The record as the request named it: refused items may name records that do not exist.
    Column("record_id", Id, nullable=False),
    Column("host_id", String(36)),
    Column("job_id", Id),
    Column("code", String(32)),
    Column("reason", Text, nullable=False, default=""),
)
Index("ix_action_batch_items_batch", action_batch_items.c.batch_id, action_batch_items.c.position)

settings = Table(
    "settings",
    metadata,
    Column("key", String(100), primary_key=True),
    Column("value", JSON, nullable=False),
)

leases = Table(
    "leases",
    metadata,
    Column("name", String(100), primary_key=True),
    Column("holder", String(100), nullable=False),
    _ts("expires_at", nullable=False),
)
