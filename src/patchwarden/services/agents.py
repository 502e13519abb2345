"""Agent use cases: enrolment, authentication, heartbeats, job polling and results."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection

from patchwarden.protocol import v1
from patchwarden.services import tokens
from patchwarden.services.errors import AuthError, Refused
from patchwarden.services.records import abort_verify
from patchwarden.storage import jobs
from patchwarden.storage import repositories as repo

ENROLMENT_TTL = timedelta(days=7)


def create_enrolment_token(conn: Connection, now: datetime, ttl: timedelta = ENROLMENT_TTL) -> str:
    """A new one-time enrolment token (printed once, stored hashed)."""
    token = tokens.new_secret(tokens.ENROLMENT_PREFIX)
    repo.add_enrolment_token(conn, tokens.digest(token), now, ttl)
    return token


def enrol(conn: Connection, body: dict[str, Any], now: datetime) -> dict[str, str]:
    """Consume an enrolment token; create the host and its per-agent secret."""
    token = body.get("token")
    hostname = body.get("hostname")
    if not isinstance(token, str) or not isinstance(hostname, str) or not hostname.strip():
        raise Refused("enrolment needs a token and a hostname", 422)
    host_id = str(uuid.uuid4())
    why = repo.use_enrolment_token(conn, tokens.digest(token), host_id, now)
    if why:
        raise AuthError(why)
    secret = tokens.new_secret()
    repo.add_host(
        conn,
        host_id,
        hostname.strip()[:255],
        str(body.get("machine_id") or "")[:64],
        tokens.digest(secret),
        str(body.get("agent_version") or "")[:32],
        now,
    )
    return {"host_id": host_id, "secret": secret}


def authenticate(conn: Connection, header: str | None, now: datetime) -> str:
    """The host id of a request's `Authorization: Agent id:secret`, or AuthError."""
    if not header:
        raise AuthError("missing agent credentials")
    try:
        host_id, secret = v1.parse_auth_header(header)
    except v1.ProtocolError as exc:
        raise AuthError(str(exc)) from None
    stored = repo.host_secret_hash(conn, host_id)
    if stored is None or not tokens.matches(secret, stored):
        raise AuthError("wrong agent credentials")
    repo.touch_host(conn, host_id, now)
    return host_id


def claim_jobs(conn: Connection, host_id: str, now: datetime) -> list[dict[str, Any]]:
    """Hand the agent its queued actions (each exactly once, SKIP LOCKED on PostgreSQL)."""
    return [
        v1.Action(job_id=j.id, kind=j.kind, params=j.params).to_dict()
        for j in jobs.claim(conn, host_id, now=now)
    ]


def pending_jobs(conn: Connection, host_id: str) -> int:
    """How many actions wait for this agent."""
    return len([j for j in jobs.pending_for(conn, host_id) if j.status.value == "queued"])


def report_result(
    conn: Connection, host_id: str, body: dict[str, Any], now: datetime
) -> dict[str, Any]:
    """Apply an agent's action result once (a replay is acknowledged, not re-applied)."""
    try:
        job_id = int(body["job_id"])
        ok = bool(body["ok"])
        v1.check_report_id(body.get("report_id"))
    except (KeyError, TypeError, ValueError) as exc:
        raise Refused(f"malformed action result: {exc}", 422) from None
    job = jobs.get(conn, job_id)
    if job is None or job.host_id != host_id:
        raise Refused(f"unknown job {job_id}", 404)
    if job.status.value in ("done", "failed", "cancelled"):
        return {"job_id": job_id, "status": job.status.value, "duplicate": True}
    error = str(body.get("error") or "")[:4000]
    details = body.get("details") if isinstance(body.get("details"), dict) else {}
    try:
        finished = jobs.finish(conn, job_id, ok, result=details, error=error or None, now=now)
    except jobs.JobStateError:
        # The same result raced in twice: the other request finished the job.
        return {"job_id": job_id, "status": "finished", "duplicate": True}
    if job.kind == "verify":
        # Records the verify scan did not settle (agent failed, collector failed, or the
        # inventory never came) go back to where they were (R-L3).
        why = f"verify could not run: {error}" if not ok else "verify scan did not cover it"
        abort_verify(conn, [int(i) for i in job.params.get("record_ids", [])], now, why)
    return {"job_id": job_id, "status": finished.status.value, "duplicate": False}
