"""Read side of the console: hosts, records with their history, vulnerabilities.

Each view is a frozen dataclass in the shape the REST API answers with (the routes use them
as response models); times are ISO 8601 strings, as the API has always written them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any, Optional

from patchwarden.core.advisory import Severity
from patchwarden.core.app_instances import AppComponent, AppProcess
from patchwarden.core.clock import Clock
from patchwarden.core.errors import InventoryError
from patchwarden.core.inventory import Evidence, Inventory, ListeningPort, ProcessInstance
from patchwarden.core.inventory import Host as InventoryHost
from patchwarden.core.matching import Confidence, Method
from patchwarden.core.priority import Bucket
from patchwarden.core.records import State
from patchwarden.core.vocabulary import VulnType
from patchwarden.services.admission import stored_inventory
from patchwarden.services.availability import RecordActions, record_actions
from patchwarden.services.errors import InvalidRequest, NotFound
from patchwarden.services.ports import (
    Host,
    ListedRecord,
    RecordFilter,
    Settings,
    StoredEvent,
    UnitOfWork,
    User,
)
from patchwarden.services.records import OPEN_STATES

MAX_PER_PAGE = 500
_OPEN = tuple(s.value for s in OPEN_STATES)


def _iso(value: Optional[datetime]) -> Optional[str]:
    return value.isoformat() if value is not None else None


def check_page(page: int, per_page: int) -> None:
    """InvalidRequest unless `page` >= 1 and `per_page` within 1..MAX_PER_PAGE."""
    if page < 1 or not 1 <= per_page <= MAX_PER_PAGE:
        raise InvalidRequest(f"page must be >= 1 and per_page within 1..{MAX_PER_PAGE}")


@dataclass(frozen=True)
class HostView:
    """A host: online flag, OS and end-of-life, kernel facts (R-D7), last scan."""

    id: str
    hostname: str
    machine_id: str
    online: bool
    last_seen_at: Optional[str]
    last_scan_at: Optional[str]
    enrolled_at: Optional[str]
    agent_version: str
    os: dict[str, Any]
    """The OS release as the agent reported it ({} before the first inventory)."""
    eol: bool
    kernel: dict[str, Any]
    packages: int
    collector_errors: list[dict[str, Any]]
    open_records: int


@dataclass(frozen=True)
class HostList:
    """Every host."""

    items: list[HostView]
    total: int


def host_view(host: Host, now: datetime, settings: Settings, open_records: int) -> HostView:
    """The public form of a host."""
    return HostView(
        id=host.id,
        hostname=host.hostname,
        machine_id=host.machine_id,
        online=settings.agent_online(host.last_seen_at, now),
        last_seen_at=_iso(host.last_seen_at),
        last_scan_at=_iso(host.last_inventory_at),
        enrolled_at=_iso(host.enrolled_at),
        agent_version=host.agent_version,
        os=asdict(host.os) if host.os else {},
        eol=bool(host.os and host.os.eol),
        kernel=asdict(host.kernel) if host.kernel else {},
        packages=host.packages,
        collector_errors=[asdict(e) for e in host.collector_errors],
        open_records=open_records,
    )


def list_hosts(uow: UnitOfWork, clock: Clock) -> HostList:
    """Every host with its open record count."""
    with uow.read():
        settings = uow.settings.get()
        counts = uow.records.counts_by_host(OPEN_STATES)
        hosts = uow.hosts.list()
    now = clock.now()
    items = [host_view(h, now, settings, counts.get(h.id, 0)) for h in hosts]
    return HostList(items, len(items))


def get_host(uow: UnitOfWork, clock: Clock, host_id: str) -> HostDetailView:
    """One host, with the running processes and scan events of its latest inventory."""
    with uow.read():
        settings = uow.settings.get()
        host = uow.hosts.get(host_id)
        if host is None:
            raise NotFound(f"unknown host {host_id}")
        count = uow.records.counts_by_host(OPEN_STATES).get(host_id, 0)
        latest = uow.inventories.latest(host_id)
    running = _running(latest)
    return HostDetailView(
        **vars(host_view(host, clock.now(), settings, count)),
        processes=[_host_process_view(p) for p in running.processes],
        processes_complete=Evidence.RUNNING_PROCESSES.value in running.covered,
        scan_events=[ScanEventView(e.code, e.message, e.at) for e in running.scan_events],
    )


@dataclass(frozen=True)
class RestartView:
    """Why a process runs outdated code and needs a restart."""

    reason: str
    """exe-deleted, exe-replaced, library-deleted, library-replaced, jar-deleted, jar-replaced
    or jar-changed."""
    path: str


@dataclass(frozen=True)
class HostProcessView:
    """A running process of a host, as its latest inventory saw it."""

    pid: int
    start_time: str
    exe: str
    exe_deleted: bool
    name: str
    cmdline: list[str]
    user: str
    ports: list[PortView]
    exposed: bool
    """It listens on an address other hosts can reach."""
    container: str
    package: str
    """Distro package owning the executable ("" when none does)."""
    runtime: str
    """java, python or node when its components were read; "" otherwise."""
    components: int
    """Components it holds (JARs, distributions, packages), loaded or not."""
    loaded_components: int
    restart: list[RestartView]
    """Why it needs a restart; empty when it runs current code."""


@dataclass(frozen=True)
class ScanEventView:
    """Something that happened to a collection run ("scan exceeded memory cap 200 MB")."""

    code: str
    message: str
    at: str


@dataclass(frozen=True)
class HostDetailView(HostView):
    """A host with what its latest inventory says about running processes (R-D1, R-D7)."""

    processes: list[HostProcessView]
    processes_complete: bool
    """The latest inventory listed every running process (a failed collector did not)."""
    scan_events: list[ScanEventView]
    """Events of the latest inventory and of failed runs before it."""


_NO_PROCESSES = Inventory(host=InventoryHost(hostname=""))


def _running(body: Optional[bytes]) -> Inventory:
    """The processes, scan events and coverage of a stored upload (only those decoded); an
    empty inventory when there is none or it cannot be read."""
    data = stored_inventory(body)
    if data is None:
        return _NO_PROCESSES
    wanted = ("host", "processes", "scan_events", "covered")
    try:
        return Inventory.from_dict({k: data[k] for k in wanted if k in data})
    except InventoryError:
        return _NO_PROCESSES


def _host_process_view(p: ProcessInstance) -> HostProcessView:
    return HostProcessView(
        pid=p.pid,
        start_time=p.start_time,
        exe=p.exe,
        exe_deleted=p.exe_deleted,
        name=p.name,
        cmdline=list(p.cmdline),
        user=p.user,
        ports=_ports(p.ports),
        exposed=p.exposed,
        container=p.container,
        package=p.package,
        runtime=p.runtime,
        components=len(p.components),
        loaded_components=sum(1 for c in p.components if c.loaded),
        restart=[RestartView(r.reason, r.path) for r in p.restart],
    )


@dataclass(frozen=True)
class PortView:
    """A socket a process listens on."""

    proto: str
    """tcp or udp."""
    address: str
    """Bind address (0.0.0.0, ::, 127.0.0.1, …)."""
    port: int


@dataclass(frozen=True)
class ProcessView:
    """The running process instance of an application record (R-D1)."""

    pid: int
    exe: str
    cmdline: list[str]
    ports: list[PortView]
    start_time: str
    user: str
    container: str
    """Container id or name; "" for a process of the host itself."""
    exposed: bool
    """It listens on an address other hosts can reach (raises the urgency, R-D11)."""


@dataclass(frozen=True)
class ComponentView:
    """The component of an application record: the file and what it was identified as."""

    path: str
    """The file as the process sees it; a nested JAR is `outer.jar!/BOOT-INF/lib/x.jar`."""
    ecosystem: str
    name: str
    """Maven `group:artifact`, PyPI or npm name."""
    version: str
    method: str
    """How the agent identified it: pom.properties, manifest, file-name, fingerprint, …"""
    evidence: str


def _ports(ports: Sequence[ListeningPort]) -> list[PortView]:
    return [PortView(p.proto, p.address, p.port) for p in ports]


def process_view(p: AppProcess) -> ProcessView:
    """The public form of an application record's process."""
    return ProcessView(
        pid=p.pid,
        exe=p.exe,
        cmdline=list(p.cmdline),
        ports=_ports(p.ports),
        start_time=p.start_time,
        user=p.user,
        container=p.container,
        exposed=p.exposed,
    )


def component_view(c: AppComponent) -> ComponentView:
    """The public form of an application record's component."""
    return ComponentView(c.path, c.ecosystem, c.name, c.version, c.method, c.evidence)


@dataclass(frozen=True)
class RecordView:
    """A record as the list shows it."""

    id: int
    host_id: str
    hostname: str
    vuln_id: str
    cves: list[str]
    type: str
    package: str
    source_package: str
    installed_version: str
    fixed_version: Optional[str]
    status: str
    severity: str
    severity_source: str
    """Who rated it: ubuntu, debian, almalinux, rocky, redhat, alpine, nvd, ghsa, the
    advisory's own source, or `unrated`."""
    cvss: Optional[float]
    cvss_vector: str
    urgency: float
    bucket: str
    exploitable: bool
    epss: Optional[float]
    method: str
    confidence: str
    restart_required: bool
    reason: str
    advisories: list[str]
    occurrence: int
    first_seen: Optional[str]
    last_seen: Optional[str]
    status_changed_at: Optional[str]
    undetected_since: Optional[str]
    ignored_reason: Optional[str]
    ignored_by: Optional[str]
    title: str
    references: list[str]
    """URLs about the vulnerability."""
    process: Optional[ProcessView]
    """The running process instance of an application record (type `app`); null otherwise."""
    component: Optional[ComponentView]
    """The component of an application record; null otherwise."""


@dataclass(frozen=True)
class EventView:
    """One move in a record's history: who, when, why."""

    id: int
    at: Optional[str]
    actor: str
    trigger: str
    from_state: Optional[str]
    to_state: str
    reason: str


@dataclass(frozen=True)
class RecordDetailView(RecordView):
    """A record with the advisory summary and its full history."""

    summary: str
    history: list[EventView]
    actions: RecordActions
    """Each action (fix, verify, restart, rollback, ignore) as the requesting user may take
    it now: `allowed`, and when refused a `code` and the `reason`."""


@dataclass(frozen=True)
class RecordPage:
    """One page of records."""

    items: list[RecordView]
    total: int
    page: int
    per_page: int


def _record_fields(listed: ListedRecord) -> dict[str, Any]:
    s, rec, d = listed.stored, listed.stored.record, listed.stored.detail
    return {
        "id": s.id,
        "host_id": s.host_id,
        "hostname": listed.hostname,
        "vuln_id": s.vuln_id,
        "cves": list(d.cves),
        "type": rec.vuln_type.value,
        "package": d.package,
        "source_package": d.source_package,
        "installed_version": d.installed_version,
        "fixed_version": d.fixed_version,
        "status": rec.state.value,
        "severity": rec.severity.value,
        "severity_source": d.severity_source,
        "cvss": d.cvss,
        "cvss_vector": d.cvss_vector,
        "urgency": d.urgency,
        "bucket": d.bucket,
        "exploitable": d.exploitable,
        "epss": d.epss,
        "method": d.method,
        "confidence": d.confidence,
        "restart_required": d.restart_required,
        "reason": d.reason,
        "advisories": list(d.advisories),
        "occurrence": rec.occurrence,
        "first_seen": _iso(rec.first_seen),
        "last_seen": _iso(rec.last_seen),
        "status_changed_at": _iso(rec.changed_at),
        "undetected_since": _iso(rec.undetected_since),
        "ignored_reason": rec.ignored_reason,
        "ignored_by": rec.ignored_by,
        "title": d.title,
        "references": list(d.references),
        "process": process_view(d.process) if d.process else None,
        "component": component_view(d.component) if d.component else None,
    }


def record_view(listed: ListedRecord) -> RecordView:
    """The public form of a record."""
    return RecordView(**_record_fields(listed))


def _event_view(e: StoredEvent) -> EventView:
    ev = e.event
    return EventView(
        id=e.id,
        at=_iso(ev.at),
        actor=ev.actor,
        trigger=ev.trigger.value,
        from_state=ev.from_state.value if ev.from_state else None,
        to_state=ev.to_state.value,
        reason=ev.reason,
    )


RECORD_FILTERS: dict[str, tuple[str, ...]] = {
    "type": tuple(t.value for t in VulnType),
    "severity": tuple(s.value for s in Severity),
    "status": (*(s.value for s in State), "all"),
    "bucket": tuple(b.value for b in Bucket),
    "method": tuple(m.value for m in Method),
    "confidence": tuple(c.value for c in Confidence),
}
"""Enumerated filters of the record list -> the values each accepts (`status`: or `all`)."""


def _csv(value: Optional[str]) -> tuple[str, ...]:
    return tuple(v.strip() for v in (value or "").split(",") if v.strip())


def filter_values(field: str, value: Optional[str], name: str = "") -> tuple[str, ...]:
    """The comma list `value` of the enumerated filter `field`, lower-cased and checked.

    InvalidRequest names the filter (as `name`, by default `field`) and the values it
    accepts: a misspelt value would otherwise match nothing and read as "no records".
    """
    allowed = RECORD_FILTERS[field]
    items = tuple(v.lower() for v in _csv(value))
    wrong = [v for v in items if v not in allowed]
    if wrong:
        quoted = ", ".join(repr(v) for v in wrong)
        raise InvalidRequest(
            f"invalid {name or field} {quoted}: expected one or more (comma list) of "
            + ", ".join(allowed)
        )
    if "all" in items and len(items) > 1:
        raise InvalidRequest(f"invalid {name or field}: 'all' cannot be combined with states")
    return items


def list_records(
    uow: UnitOfWork,
    *,
    type: Optional[str] = None,
    severity: Optional[str] = None,
    status: Optional[str] = None,
    host: Optional[str] = None,
    exploitable: Optional[bool] = None,
    bucket: Optional[str] = None,
    vuln_id: Optional[str] = None,
    method: Optional[str] = None,
    confidence: Optional[str] = None,
    page: int = 1,
    per_page: int = 50,
) -> RecordPage:
    """Filtered, most-urgent-first page of records (R-D10 exploitable filter, R-D11 sort).

    Comma lists select several values; every value of an enumerated filter is checked
    (`RECORD_FILTERS`, InvalidRequest otherwise). `status` defaults to the open list (not
    fixed, not ignored: R-L5); `status=all` lifts it.
    """
    check_page(page, per_page)
    statuses = filter_values("status", status)
    if not statuses:
        statuses = _OPEN
    elif statuses == ("all",):
        statuses = ()
    where = RecordFilter(
        types=filter_values("type", type),
        severities=filter_values("severity", severity),
        statuses=statuses,
        host=host or "",
        exploitable=exploitable,
        buckets=filter_values("bucket", bucket),
        vuln_id=vuln_id or "",
        methods=filter_values("method", method),
        confidences=filter_values("confidence", confidence),
    )
    with uow.read():
        rows, total = uow.records.query(where, page, per_page)
    return RecordPage([record_view(r) for r in rows], total, page, per_page)


def record_detail(uow: UnitOfWork, clock: Clock, user: User, record_id: int) -> RecordDetailView:
    """One record with its history and the actions `user` may take on it now."""
    with uow.read():
        listed = uow.records.get(record_id)
        if listed is None:
            raise NotFound(f"unknown record {record_id}")
        history = uow.events.of_record(record_id)
        host_id = listed.stored.host_id
        host = uow.hosts.get(host_id)
        settings = uow.settings.get()
        snapshots = uow.snapshots.of_host(host_id)
    actions = record_actions(listed.stored, host, settings, user, clock.now(), snapshots)
    return RecordDetailView(
        **_record_fields(listed),
        summary=listed.stored.detail.summary,
        history=[_event_view(e) for e in history],
        actions=actions,
    )


@dataclass(frozen=True)
class VulnerabilityView:
    """One vulnerability's open records: affected hosts and records, the worst of them."""

    vuln_id: str
    type: str
    hosts: int
    records: int
    severity: str
    urgency: float
    exploitable: bool


@dataclass(frozen=True)
class VulnerabilityPage:
    """One page of vulnerabilities."""

    items: list[VulnerabilityView]
    total: int
    page: int
    per_page: int


def vulnerabilities(uow: UnitOfWork, page: int = 1, per_page: int = 50) -> VulnerabilityPage:
    """Open records grouped by vulnerability with affected-host counts, most urgent first."""
    check_page(page, per_page)
    with uow.read():
        groups, total = uow.records.vulnerabilities(OPEN_STATES, page, per_page)
    items = [
        VulnerabilityView(
            g.vuln_id, g.type, g.hosts, g.records, g.severity.value, g.urgency, g.exploitable
        )
        for g in groups
    ]
    return VulnerabilityPage(items, total, page, per_page)


@dataclass(frozen=True)
class JobView:
    """An agent job (scan, verify …) and its outcome."""

    id: int
    host_id: str
    kind: str
    params: dict[str, Any]
    status: str
    requested_by: str
    created_at: Optional[str]
    finished_at: Optional[str]
    result: Optional[Any]
    error: Optional[str]


def job(uow: UnitOfWork, job_id: int) -> JobView:
    """One job by id."""
    with uow.read():
        found = uow.jobs.get(job_id)
    if found is None:
        raise NotFound(f"unknown job {job_id}")
    return JobView(
        id=found.id,
        host_id=found.host_id,
        kind=found.kind,
        params=found.params,
        status=found.status.value,
        requested_by=found.requested_by,
        created_at=_iso(found.created_at),
        finished_at=_iso(found.finished_at),
        result=found.result,
        error=found.error,
    )
