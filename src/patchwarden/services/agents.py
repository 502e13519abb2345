"""Agent use cases: enrolment, authentication, heartbeats, job polling and results (a
remediation result moves its records: `services.remediation.apply_result`)."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from patchwarden.core.clock import Clock
from patchwarden.protocol import v1
from patchwarden.services import tokens
from patchwarden.services.errors import AuthError, InvalidRequest, NotFound
from patchwarden.services.ports import (
    DEFAULT_AGENT_MEMORY_CAP_MB,
    FINISHED_JOBS,
    JobStateError,
    JobStatus,
    UnitOfWork,
)
from patchwarden.services.records import abort_verify
from patchwarden.services.remediation import apply_result

ENROLMENT_TTL = timedelta(days=7)

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Enrolment:
    """What an agent gets for its enrolment token: its host id and secret (shown once)."""

    host_id: str
    secret: str
    reenrolled: bool = False
    """True when the machine was known (same machine id): the host kept its id and records,
    and the credentials it had before no longer work."""


@dataclass(frozen=True)
class Heartbeat:
    """The console's answer to a heartbeat."""

    host_id: str
    time: str
    pending_jobs: int


@dataclass(frozen=True)
class PolledJobs:
    """The actions handed to an agent by one poll, and the console's scan memory cap."""

    jobs: list[v1.Action]
    memory_cap_mb: int = DEFAULT_AGENT_MEMORY_CAP_MB
    """MB a scan may use from now on (0: no cap) unless the agent's own config sets a cap
    (R-D3); every poll carries it, so a changed setting reaches the agent within a poll."""


@dataclass(frozen=True)
class JobResultAck:
    """How an agent's action result was taken (a replay is acknowledged, not re-applied)."""

    job_id: int
    status: str
    duplicate: bool


def create_enrolment_token(uow: UnitOfWork, clock: Clock, ttl: timedelta = ENROLMENT_TTL) -> str:
    """A new one-time enrolment token (printed once, stored hashed)."""
    token = tokens.new_secret(tokens.ENROLMENT_PREFIX)
    with uow:
        uow.enrolment.add(tokens.digest(token), clock.now(), ttl)
        uow.commit()
    return token


def enrol(uow: UnitOfWork, clock: Clock, body: Mapping[str, Any]) -> Enrolment:
    """Consume an enrolment token; create the host and its per-agent secret, or give a known
    machine (same non-empty machine id) new credentials under its existing host."""
    token = body.get("token")
    hostname = body.get("hostname")
    if not isinstance(token, str) or not isinstance(hostname, str) or not hostname.strip():
        raise InvalidRequest("enrolment needs a token and a hostname")
    name = hostname.strip()[:255]
    machine_id = str(body.get("machine_id") or "").strip()[:64]
    agent_version = str(body.get("agent_version") or "")[:32]
    secret = tokens.new_secret()
    with uow:
        now = clock.now()
        # A machine enrolled again (a reinstalled agent, a lost state dir, `make run` twice)
        # stays one host: same id, same records, new credentials. The machine id is only the
        # agent's word, so whoever enrols with it takes that host over: its previous agent is
        # locked out and the newcomer reports for it (and so moves its records). That is
        # acceptable because enrolling at all takes a one-time token an admin issued for a
        # machine they trust; the reply says so and the console logs it. A refused token
        # rolls this back with the rest of the transaction.
        known = (
            uow.hosts.reenrol(machine_id, name, tokens.digest(secret), agent_version, now)
            if machine_id
            else None
        )
        host_id = known or str(uuid.uuid4())
        why = uow.enrolment.use(tokens.digest(token), host_id, now)
        if why:
            raise AuthError(why)
        if known is None:
            uow.hosts.add(host_id, name, machine_id, tokens.digest(secret), agent_version, now)
        uow.commit()
    if known is not None:
        log.warning("host %s (%s) enrolled again: its agent has new credentials", known, name)
    return Enrolment(host_id, secret, reenrolled=known is not None)


def authenticate(uow: UnitOfWork, authorization: str | None, now: datetime) -> str:
    """The host id of `Authorization: Agent id:secret` (AuthError otherwise); records the
    contact. Runs inside the caller's write transaction."""
    if not authorization:
        raise AuthError("missing agent credentials")
    try:
        host_id, secret = v1.parse_auth_header(authorization)
    except v1.ProtocolError as exc:
        raise AuthError(str(exc)) from None
    stored = uow.hosts.secret_hash(host_id)
    if stored is None or not tokens.matches(secret, stored):
        raise AuthError("wrong agent credentials")
    uow.hosts.touch(host_id, now)
    return host_id


def heartbeat(uow: UnitOfWork, clock: Clock, authorization: str | None) -> Heartbeat:
    """The agent is alive: record it; tell it how many actions wait."""
    with uow:
        now = clock.now()
        host_id = authenticate(uow, authorization, now)
        pending = [j for j in uow.jobs.pending_for(host_id) if j.status is JobStatus.QUEUED]
        uow.commit()
    return Heartbeat(host_id, now.isoformat(), len(pending))


def claim_jobs(uow: UnitOfWork, clock: Clock, authorization: str | None) -> PolledJobs:
    """Hand the agent its queued actions, each exactly once (SKIP LOCKED on PostgreSQL)."""
    with uow:
        now = clock.now()
        host_id = authenticate(uow, authorization, now)
        claimed = uow.jobs.claim(host_id, now)
        cap = uow.settings.get().agent_memory_cap_mb
        uow.commit()
    actions = [v1.Action(job_id=j.id, kind=j.kind, params=j.params) for j in claimed]
    return PolledJobs(actions, memory_cap_mb=cap)


def record_job_result(
    uow: UnitOfWork,
    clock: Clock,
    authorization: str | None,
    job_id: int,
    body: Mapping[str, Any],
) -> JobResultAck:
    """Apply an agent's result for job `job_id` once; a replay is acknowledged again."""
    if body.get("job_id") != job_id:
        raise InvalidRequest("job_id in the body does not match the URL")
    with uow:
        now = clock.now()
        host_id = authenticate(uow, authorization, now)
        ack = _apply_result(uow, host_id, job_id, body, now)
        uow.commit()
    return ack


def _apply_result(
    uow: UnitOfWork, host_id: str, job_id: int, body: Mapping[str, Any], now: datetime
) -> JobResultAck:
    try:
        ok = bool(body["ok"])
        v1.check_report_id(body.get("report_id"))
    except (KeyError, TypeError, ValueError) as exc:
        raise InvalidRequest(f"malformed action result: {exc}") from None
    job = uow.jobs.get(job_id)
    if job is None or job.host_id != host_id:
        raise NotFound(f"unknown job {job_id}")
    if job.status in FINISHED_JOBS:
        return JobResultAck(job_id, job.status.value, True)
    error = str(body.get("error") or "")[:4000]
    raw = body.get("details")
    details: dict[str, Any] = raw if isinstance(raw, dict) else {}
    try:
        finished = uow.jobs.finish(job_id, ok, now, result=details, error=error or None)
    except JobStateError:
        # The same result raced in twice: the other request finished the job.
        return JobResultAck(job_id, "finished", True)
    if job.kind == "verify":
        # Records the verify scan did not settle (agent failed, collector failed, or the
        # inventory never came) go back to where they were (R-L3).
        why = f"verify could not run: {error}" if not ok else "verify scan did not cover it"
        abort_verify(uow, [int(i) for i in job.params.get("record_ids", [])], now, why)
    elif job.kind in v1.REMEDIATION_KINDS:
        apply_result(uow, finished, ok, details, error, now)
    return JobResultAck(job_id, finished.status.value, False)
