"""In-memory implementations of `services.ports` (STYLE T5: fakes are classes, not mocks).

`FakeUnitOfWork` keeps every table in dicts and gives services the same contract the SQL
unit of work does: `with uow:` writes are kept only when `uow.commit()` is called, and
`with uow.read():` keeps nothing. Orderings follow the SQL repositories (hosts by hostname,
records most urgent first, events oldest first, jobs oldest first), so one service test can
run against this fake and against SQLite and PostgreSQL alike.
"""

from __future__ import annotations

import copy
import hashlib
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta, timezone
from typing import Any, Optional

from patchwarden.core.advisory import Severity
from patchwarden.core.records import Record, RecordEvent, State
from patchwarden.core.vocabulary import VulnType
from patchwarden.services.index import MemoryIndex
from patchwarden.services.ports import (
    Advisories,
    ApiToken,
    AuditEntry,
    Batch,
    BatchItem,
    Host,
    HostFacts,
    Job,
    JobStateError,
    JobStatus,
    ListedRecord,
    NewRecord,
    NewSnapshot,
    OpenCount,
    Permission,
    RecordDetail,
    RecordFilter,
    Role,
    Settings,
    Snapshot,
    StoredEvent,
    StoredRecord,
    TokenOwner,
    User,
    VulnerabilityGroup,
)


@dataclass
class _Token:
    id: int
    user_id: int
    created_at: datetime
    last_used_at: Optional[datetime]
    expires_at: Optional[datetime]


@dataclass
class _Tables:
    hosts: dict[str, tuple[Host, str]] = field(default_factory=dict)
    """host id -> (host, secret digest)."""
    users: dict[int, User] = field(default_factory=dict)
    passwords: dict[int, str] = field(default_factory=dict)
    """user id -> password hash."""
    tokens: dict[str, _Token] = field(default_factory=dict)
    """token digest -> token."""
    enrolment: dict[str, dict[str, Any]] = field(default_factory=dict)
    records: dict[int, StoredRecord] = field(default_factory=dict)
    events: list[tuple[int, int, RecordEvent]] = field(default_factory=list)
    """(event id, record id, event)."""
    jobs: dict[int, Job] = field(default_factory=dict)
    inventories: dict[tuple[str, str], tuple[int, str, bytes, datetime]] = field(
        default_factory=dict
    )
    settings: Optional[Settings] = None
    leases: dict[str, tuple[str, datetime]] = field(default_factory=dict)
    snapshots: dict[int, Snapshot] = field(default_factory=dict)
    batches: dict[int, Batch] = field(default_factory=dict)
    next_id: dict[str, int] = field(default_factory=dict)

    def new_id(self, table: str) -> int:
        self.next_id[table] = self.next_id.get(table, 0) + 1
        return self.next_id[table]


class _Repo:
    def __init__(self, tables: _Tables) -> None:
        self.t = tables


class FakeHosts(_Repo):
    """`HostRepository` in memory."""

    def add(
        self,
        host_id: str,
        hostname: str,
        machine_id: str,
        secret_hash: str,
        agent_version: str,
        now: datetime,
    ) -> None:
        host = Host(host_id, hostname, machine_id, agent_version, now, now, None, None, None, (), 0)
        self.t.hosts[host_id] = (host, secret_hash)

    def reenrol(
        self,
        machine_id: str,
        hostname: str,
        secret_hash: str,
        agent_version: str,
        now: datetime,
    ) -> Optional[str]:
        known = [h for h, _ in self.t.hosts.values() if h.machine_id == machine_id]
        if not known:
            return None
        host = min(known, key=lambda h: (h.enrolled_at, h.id))
        host = replace(host, hostname=hostname, agent_version=agent_version, last_seen_at=now)
        self.t.hosts[host.id] = (host, secret_hash)
        return host.id

    def get(self, host_id: str) -> Optional[Host]:
        found = self.t.hosts.get(host_id)
        return found[0] if found else None

    def list(self) -> list[Host]:
        return sorted((h for h, _ in self.t.hosts.values()), key=lambda h: (h.hostname, h.id))

    def secret_hash(self, host_id: str) -> Optional[str]:
        found = self.t.hosts.get(host_id)
        return found[1] if found else None

    def touch(self, host_id: str, now: datetime) -> None:
        if host_id in self.t.hosts:
            host, secret = self.t.hosts[host_id]
            self.t.hosts[host_id] = (replace(host, last_seen_at=now), secret)

    def lock(self, host_id: str) -> None:
        """One writer at a time already: nothing to lock."""

    def update_facts(self, host_id: str, facts: HostFacts) -> None:
        host, secret = self.t.hosts[host_id]
        host = replace(
            host,
            os=facts.os,
            kernel=facts.kernel,
            collector_errors=facts.collector_errors,
            packages=facts.packages,
            last_inventory_at=facts.at,
            last_seen_at=facts.at,
            remediation=facts.remediation,
        )
        self.t.hosts[host_id] = (host, secret)

    def last_seen(self) -> dict[str, Optional[datetime]]:
        return {h.id: h.last_seen_at for h, _ in self.t.hosts.values()}


class FakeUsers(_Repo):
    """`UserRepository` in memory."""

    def get(self, name: str) -> Optional[User]:
        return next((u for u in self.t.users.values() if u.name == name), None)

    def add(self, name: str, role: Role, now: datetime) -> User:
        user = User(self.t.new_id("users"), name, role)
        self.t.users[user.id] = user
        return user

    def all(self) -> list[User]:
        return sorted(self.t.users.values(), key=lambda u: u.name)

    def owners(self) -> list[User]:
        return sorted(
            (u for u in self.t.users.values() if u.role is Role.OWNER), key=lambda u: u.id
        )

    def set_role(self, user_id: int, role: Role) -> None:
        self.t.users[user_id] = replace(self.t.users[user_id], role=role)

    def remove(self, user_id: int) -> None:
        del self.t.users[user_id]
        self.t.passwords.pop(user_id, None)
        for digest in [d for d, t in self.t.tokens.items() if t.user_id == user_id]:
            del self.t.tokens[digest]

    def add_api_token(
        self, user_id: int, token_hash: str, now: datetime, expires_at: Optional[datetime]
    ) -> int:
        token = _Token(self.t.new_id("tokens"), user_id, now, None, expires_at)
        self.t.tokens[token_hash] = token
        return token.id

    def _listed(self, t: _Token) -> ApiToken:
        return ApiToken(
            t.id, self.t.users[t.user_id].name, t.created_at, t.last_used_at, t.expires_at
        )

    def tokens(self) -> list[ApiToken]:
        return [self._listed(t) for t in sorted(self.t.tokens.values(), key=lambda t: t.id)]

    def revoke_token(self, token_id: int) -> Optional[ApiToken]:
        for digest, t in self.t.tokens.items():
            if t.id == token_id:
                del self.t.tokens[digest]
                return self._listed(t)
        return None

    def by_token(self, token_hash: str) -> Optional[TokenOwner]:
        t = self.t.tokens.get(token_hash)
        if t is None:
            return None
        return TokenOwner(self.t.users[t.user_id], t.id, t.last_used_at, t.expires_at)

    def mark_token_used(self, token_id: int, now: datetime) -> None:
        for t in self.t.tokens.values():
            if t.id == token_id:
                t.last_used_at = now

    def set_permissions(self, user_id: int, permissions: frozenset[Permission]) -> None:
        self.t.users[user_id] = replace(self.t.users[user_id], permissions=permissions)

    def set_password(self, user_id: int, password_hash: str, now: datetime) -> None:
        self.t.passwords[user_id] = password_hash

    def password_hash(self, name: str) -> Optional[tuple[User, str]]:
        user = self.get(name)
        if user is None or user.id not in self.t.passwords:
            return None
        return user, self.t.passwords[user.id]


class FakeEnrolment(_Repo):
    """`EnrolmentRepository` in memory."""

    def add(self, token_hash: str, now: datetime, ttl: timedelta) -> None:
        self.t.enrolment[token_hash] = {"expires_at": now + ttl, "used_at": None}

    def use(self, token_hash: str, host_id: str, now: datetime) -> str:
        row = self.t.enrolment.get(token_hash)
        if row is None:
            return "unknown enrolment token"
        if row["used_at"] is not None:
            return "enrolment token already used"
        if row["expires_at"] <= now:
            return "enrolment token expired"
        row.update(used_at=now, host_id=host_id)
        return ""


_RANK = {"critical": 4, "high": 3, "medium": 2, "low": 1}


class FakeRecords(_Repo):
    """`RecordRepository` in memory."""

    def of_host(self, host_id: str, vuln_type: VulnType) -> list[StoredRecord]:
        return [
            s
            for s in self.t.records.values()
            if s.host_id == host_id and s.record.vuln_type is vuln_type
        ]

    def by_ids(self, ids: Sequence[int]) -> list[StoredRecord]:
        return [self.t.records[i] for i in ids if i in self.t.records]

    def add(self, new: Sequence[NewRecord]) -> list[int]:
        ids = []
        for n in new:
            key = (n.host_id, n.vuln_id, n.affected_key)
            if any((s.host_id, s.vuln_id, s.affected_key) == key for s in self.t.records.values()):
                raise ValueError(f"duplicate record {key}")  # the unique constraint
            rid = self.t.new_id("records")
            self.t.records[rid] = StoredRecord(
                rid, n.host_id, n.vuln_id, n.affected_key, n.record, n.detail
            )
            ids.append(rid)
        return ids

    def update(
        self, changes: Sequence[tuple[StoredRecord, Record, Optional[RecordDetail]]]
    ) -> None:
        for stored, rec, detail in changes:
            current = self.t.records[stored.id]
            self.t.records[stored.id] = replace(
                current, record=rec, detail=detail if detail is not None else current.detail
            )

    def _hostname(self, host_id: str) -> str:
        return self.t.hosts[host_id][0].hostname

    def _matches(self, s: StoredRecord, f: RecordFilter) -> bool:
        rec, d = s.record, s.detail
        return (
            (not f.types or rec.vuln_type.value in f.types)
            and (not f.severities or rec.severity.value in f.severities)
            and (not f.statuses or rec.state.value in f.statuses)
            and (not f.host or f.host in (s.host_id, self._hostname(s.host_id)))
            and (f.exploitable is None or d.exploitable is f.exploitable)
            and (not f.buckets or d.bucket in f.buckets)
            and (not f.vuln_id or s.vuln_id == f.vuln_id)
            and (not f.methods or d.method in f.methods)
            and (not f.confidences or d.confidence in f.confidences)
        )

    def query(
        self, where: RecordFilter, page: int, per_page: int
    ) -> tuple[list[ListedRecord], int]:
        hits = sorted(
            (s for s in self.t.records.values() if self._matches(s, where)),
            key=lambda s: (-s.detail.urgency, s.id),
        )
        start = (page - 1) * per_page
        page_of = hits[start : start + per_page]
        return [ListedRecord(s, self._hostname(s.host_id)) for s in page_of], len(hits)

    def get(self, record_id: int) -> Optional[ListedRecord]:
        s = self.t.records.get(record_id)
        return ListedRecord(s, self._hostname(s.host_id)) if s else None

    def vulnerabilities(
        self, statuses: Sequence[State], page: int, per_page: int
    ) -> tuple[list[VulnerabilityGroup], int]:
        groups: dict[tuple[str, str], list[StoredRecord]] = {}
        for s in self.t.records.values():
            if s.record.state in statuses:
                groups.setdefault((s.vuln_id, s.record.vuln_type.value), []).append(s)
        return _grouped(groups, page, per_page)

    def counts_by_host(self, statuses: Sequence[State]) -> dict[str, int]:
        counts: dict[str, int] = {}
        for s in self.t.records.values():
            if s.record.state in statuses:
                counts[s.host_id] = counts.get(s.host_id, 0) + 1
        return counts


class FakeEvents(_Repo):
    """`EventRepository` in memory."""

    def add(self, events: Sequence[tuple[int, RecordEvent]]) -> None:
        for record_id, event in events:
            self.t.events.append((self.t.new_id("events"), record_id, event))

    def of_record(self, record_id: int) -> list[StoredEvent]:
        mine = [(e.at, eid, e) for eid, rid, e in self.t.events if rid == record_id]
        return [StoredEvent(eid, e) for _, eid, e in sorted(mine, key=lambda x: (x[0], x[1]))]


class FakeJobs(_Repo):
    """`JobRepository` in memory."""

    def enqueue(
        self, host_id: str, kind: str, params: dict[str, Any], requested_by: str, now: datetime
    ) -> int:
        job_id = self.t.new_id("jobs")
        self.t.jobs[job_id] = Job(
            job_id, host_id, kind, params, JobStatus.QUEUED, requested_by, now,
            None, None, None, None, 0,
        )  # fmt: skip
        return job_id

    def claim(self, host_id: str, now: datetime, limit: int = 10) -> list[Job]:
        queued = [
            j for j in sorted(self.t.jobs.values(), key=lambda j: j.id)
            if j.host_id == host_id and j.status is JobStatus.QUEUED
        ][:limit]  # fmt: skip
        claimed = []
        for j in queued:
            j = replace(j, status=JobStatus.CLAIMED, claimed_at=now, attempts=j.attempts + 1)
            self.t.jobs[j.id] = j
            claimed.append(j)
        return claimed

    def finish(
        self,
        job_id: int,
        ok: bool,
        now: datetime,
        result: Optional[Any] = None,
        error: Optional[str] = None,
    ) -> Job:
        job = self.t.jobs.get(job_id)
        if job is None or job.status not in (JobStatus.CLAIMED, JobStatus.QUEUED):
            raise self._state_error(job_id, "finish")
        status = JobStatus.DONE if ok else JobStatus.FAILED
        job = replace(job, status=status, finished_at=now, result=result, error=error)
        self.t.jobs[job_id] = job
        return job

    def cancel(self, job_id: int, now: datetime) -> Job:
        job = self.t.jobs.get(job_id)
        if job is None or job.status is not JobStatus.QUEUED:
            raise self._state_error(job_id, "cancel")
        job = replace(job, status=JobStatus.CANCELLED, finished_at=now)
        self.t.jobs[job_id] = job
        return job

    def requeue_stale(
        self, older_than: timedelta, now: datetime, max_attempts: int = 3
    ) -> tuple[int, int]:
        requeued = failed = 0
        for job in list(self.t.jobs.values()):
            if job.status is not JobStatus.CLAIMED or job.claimed_at is None:
                continue
            if job.claimed_at >= now - older_than:
                continue
            if job.attempts >= max_attempts:
                error = f"no result after {max_attempts} claims (agent lost mid-action)"
                self.t.jobs[job.id] = replace(
                    job, status=JobStatus.FAILED, finished_at=now, error=error
                )
                failed += 1
            else:
                self.t.jobs[job.id] = replace(job, status=JobStatus.QUEUED, claimed_at=None)
                requeued += 1
        return requeued, failed

    def pending_for(self, host_id: str) -> list[Job]:
        return [
            j for j in sorted(self.t.jobs.values(), key=lambda j: j.id)
            if j.host_id == host_id and j.status in (JobStatus.QUEUED, JobStatus.CLAIMED)
        ]  # fmt: skip

    def get(self, job_id: int) -> Optional[Job]:
        return self.t.jobs.get(job_id)

    def unfinished(self, kinds: Sequence[str]) -> list[Job]:
        return [
            j for j in sorted(self.t.jobs.values(), key=lambda j: j.id)
            if j.kind in kinds and j.status in (JobStatus.QUEUED, JobStatus.CLAIMED)
        ]  # fmt: skip

    def _state_error(self, job_id: int, verb: str) -> JobStateError:
        job = self.t.jobs.get(job_id)
        if job is None:
            return JobStateError(f"cannot {verb} job {job_id}: no such job")
        return JobStateError(f"cannot {verb} job {job_id}: it is {job.status.value}")


class FakeInventories(_Repo):
    """`InventoryRepository` in memory."""

    def find(self, host_id: str, report_id: str) -> Optional[int]:
        found = self.t.inventories.get((host_id, report_id))
        return found[0] if found else None

    def add(self, host_id: str, report_id: str, body: bytes, received_at: datetime) -> int:
        inventory_id = self.t.new_id("inventories")
        digest = hashlib.sha256(body).hexdigest()
        self.t.inventories[(host_id, report_id)] = (inventory_id, digest, body, received_at)
        return inventory_id

    def latest(self, host_id: str) -> Optional[bytes]:
        mine = [(i, body) for (h, _), (i, _, body, _) in self.t.inventories.items() if h == host_id]
        return max(mine)[1] if mine else None


class FakeSnapshots(_Repo):
    """`SnapshotRepository` in memory."""

    def add(self, new: NewSnapshot) -> int:
        for s in self.t.snapshots.values():
            if (s.host_id, s.snapshot_id) == (new.host_id, new.snapshot_id):
                return s.id
        sid = self.t.new_id("snapshots")
        self.t.snapshots[sid] = Snapshot(
            sid, new.host_id, new.snapshot_id, new.provider, new.size_bytes, new.created_at,
            new.expires_at, new.owner, new.job_id, tuple(new.record_ids), False, None,
        )  # fmt: skip
        return sid

    def get(self, snapshot_id: int) -> Optional[Snapshot]:
        return self.t.snapshots.get(snapshot_id)

    def of_host(self, host_id: str) -> list[Snapshot]:
        mine = [s for s in self.t.snapshots.values() if s.host_id == host_id]
        return sorted(mine, key=lambda s: (s.created_at, s.id), reverse=True)

    def mark_deleted(self, ids: Sequence[int], now: datetime) -> None:
        for i in ids:
            s = self.t.snapshots.get(i)
            if s is not None and s.deleted_at is None:
                self.t.snapshots[i] = replace(s, deleted_at=now)

    def expire(self, now: datetime) -> int:
        n = 0
        for s in list(self.t.snapshots.values()):
            if not s.expired and s.deleted_at is None and s.expires_at <= now:
                self.t.snapshots[s.id] = replace(s, expired=True)
                n += 1
        return n


class FakeBatches(_Repo):
    """`BatchRepository` in memory."""

    def add(self, action: str, requested_by: str, now: datetime, items: Sequence[BatchItem]) -> int:
        batch_id = self.t.new_id("batches")
        self.t.batches[batch_id] = Batch(batch_id, action, requested_by, now, tuple(items))
        return batch_id

    def get(self, batch_id: int) -> Optional[Batch]:
        return self.t.batches.get(batch_id)


class FakeSettings(_Repo):
    """`SettingsRepository` in memory."""

    def get(self) -> Settings:
        return self.t.settings if self.t.settings is not None else Settings()

    def put(self, settings: Settings) -> None:
        self.t.settings = settings


class FakeLeases(_Repo):
    """`LeaseRepository` in memory."""

    def acquire(self, name: str, holder: str, ttl: timedelta, now: datetime) -> bool:
        current = self.t.leases.get(name)
        if current is not None and current[0] != holder and current[1] > now:
            return False
        self.t.leases[name] = (holder, now + ttl)
        return True


class FakeConsoleReads(_Repo):
    """`ConsoleReadRepository` in memory."""

    def open_counts(self, statuses: Sequence[State]) -> list[OpenCount]:
        counts: dict[tuple[str, str, bool], int] = {}
        for s in self.t.records.values():
            if s.record.state in statuses:
                key = (s.record.vuln_type.value, s.detail.bucket, s.detail.exploitable)
                counts[key] = counts.get(key, 0) + 1
        return [OpenCount(t, b, e, n) for (t, b, e), n in counts.items()]

    def daily_moves(self, states: Sequence[State], since: datetime) -> dict[str, int]:
        days: dict[str, int] = {}
        for _, _, e in self.t.events:
            if e.at < since:
                continue
            before = e.from_state is not None and e.from_state in states
            after = e.to_state in states
            if before != after:
                day = e.at.astimezone(timezone.utc).date().isoformat()
                days[day] = days.get(day, 0) + (1 if after else -1)
        return {d: n for d, n in days.items() if n}

    def audit(
        self, page: int, per_page: int, actor: str = "", record_id: Optional[int] = None
    ) -> tuple[list[AuditEntry], int]:
        hits = [
            (eid, rid, e)
            for eid, rid, e in self.t.events
            if (not actor or e.actor == actor) and (record_id is None or rid == record_id)
        ]
        hits.sort(key=lambda x: (x[2].at, x[0]), reverse=True)
        start = (page - 1) * per_page
        entries = []
        for eid, rid, e in hits[start : start + per_page]:
            s = self.t.records[rid]
            hostname = self.t.hosts[s.host_id][0].hostname
            entries.append(AuditEntry(eid, rid, s.vuln_id, s.host_id, hostname, e))
        return entries, len(hits)

    def vulnerability_groups(
        self, where: RecordFilter, page: int, per_page: int
    ) -> tuple[list[VulnerabilityGroup], int]:
        records = FakeRecords(self.t)
        groups: dict[tuple[str, str], list[StoredRecord]] = {}
        for s in self.t.records.values():
            if records._matches(s, where):
                groups.setdefault((s.vuln_id, s.record.vuln_type.value), []).append(s)
        return _grouped(groups, page, per_page)


class FakeUnitOfWork:
    """`services.ports.UnitOfWork` in memory; `committed` counts the commits."""

    def __init__(self, advisories: Optional[Advisories] = None) -> None:
        self.advisories: Advisories = advisories if advisories is not None else MemoryIndex()
        self.tables = _Tables()
        self.committed = 0
        self._before: Optional[_Tables] = None
        self._open = False
        self._bind()

    def _bind(self) -> None:
        t = self.tables
        self.hosts = FakeHosts(t)
        self.users = FakeUsers(t)
        self.enrolment = FakeEnrolment(t)
        self.records = FakeRecords(t)
        self.events = FakeEvents(t)
        self.jobs = FakeJobs(t)
        self.inventories = FakeInventories(t)
        self.settings = FakeSettings(t)
        self.leases = FakeLeases(t)
        self.snapshots = FakeSnapshots(t)
        self.batches = FakeBatches(t)
        self.console = FakeConsoleReads(t)

    def _begin(self) -> None:
        if self._open:
            raise RuntimeError("the unit of work is already in a transaction (nested block)")
        self._open = True
        self._before = copy.deepcopy(self.tables)

    def _end(self) -> None:
        # Whatever was not committed is undone, as a database rollback would.
        if self._before is not None:
            self.tables = self._before
            self._bind()
        self._before = None
        self._open = False

    def __enter__(self) -> FakeUnitOfWork:
        self._begin()
        return self

    def __exit__(self, *exc: object) -> None:
        self._end()

    @contextmanager
    def read(self) -> Iterator[FakeUnitOfWork]:
        """A read "transaction": anything written in it is undone at the end."""
        self._begin()
        try:
            yield self
        finally:
            self._end()

    def commit(self) -> None:
        if not self._open:
            raise RuntimeError("commit outside of `with uow:`")
        self.committed += 1
        self._before = copy.deepcopy(self.tables)


def _grouped(
    groups: dict[tuple[str, str], list[StoredRecord]], page: int, per_page: int
) -> tuple[list[VulnerabilityGroup], int]:
    """A page of records grouped by (vulnerability, type), most urgent first, and the total."""
    rows = []
    for (vuln_id, vtype), members in groups.items():
        rank = max(_RANK.get(m.record.severity.value, 0) for m in members)
        rows.append(
            VulnerabilityGroup(
                vuln_id=vuln_id,
                type=vtype,
                hosts=len({m.host_id for m in members}),
                records=len(members),
                severity=next(
                    (Severity(k) for k, v in _RANK.items() if v == rank), Severity.UNKNOWN
                ),
                urgency=max(m.detail.urgency for m in members),
                exploitable=any(m.detail.exploitable for m in members),
            )
        )
    rows.sort(key=lambda g: (-g.urgency, g.vuln_id))
    start = (page - 1) * per_page
    return rows[start : start + per_page], len(rows)
