"""Wire protocol v1 between agent and console: paths, headers, limits and typed actions.

Bodies are JSON; inventories travel gzip-compressed. The agent authenticates every request
after enrolment with `Authorization: Agent <host_id>:<secret>`; the console stores only a
SHA-256 of the secret. Actions are a closed set of typed kinds with validated parameters —
never shell text (SPEC §7).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Dict, List, Mapping, Tuple

from patchwarden.core.vocabulary import VulnType

PREFIX = "/api/agent/v1"
ENROL = PREFIX + "/enrol"
HEARTBEAT = PREFIX + "/heartbeat"
INVENTORY = PREFIX + "/inventory"
JOBS = PREFIX + "/jobs"
JOB_RESULT = PREFIX + "/jobs/{job_id}/result"

AUTH_SCHEME = "Agent"
ENVELOPE_SCHEMA = 1
"""Schema of the inventory upload envelope {schema, report_id, job_id, inventory}."""
MAX_INVENTORY_GZIP = 8 * 1024 * 1024
"""Largest inventory body on the wire (bytes, compressed or not)."""
MAX_INVENTORY_JSON = 16 * 1024 * 1024
"""Largest inventory once decompressed (bytes): guards against gzip bombs. A host with
10,000 packages uploads about 2 MB of JSON."""
MAX_SMALL_BODY = 64 * 1024
"""Largest enrolment or job-result body (bytes, on the wire and decompressed)."""
MAX_JSON_DEPTH = 32
"""Deepest nesting of arrays and objects in any request body (an inventory has 5 levels)."""
MAX_JSON_CONTAINERS = 200_000
"""Most arrays and objects in one request body (one per package, a few per host)."""
MAX_JSON_VALUES = 500_000
"""Most values (numbers, strings, containers …) in one request body: with the byte caps this
bounds the memory a parsed body takes (an inventory has about 10 per package)."""
MAX_ID = 2**63 - 1
"""Largest row id (record, job, inventory) the databases hold: a signed 64-bit integer."""
MAX_POLL_WAIT = 60
"""Longest long-poll the console holds a jobs request (seconds)."""

ACTION_KINDS = ("scan", "verify")
"""Actions an agent executes (later issues add fix, restart, rollback, cleanup)."""

REPORT_ID_PATTERN = r"^[A-Za-z0-9._-]{8,64}$"
"""What an agent-chosen report id looks like (the idempotency key of uploads and results)."""
_REPORT_ID = re.compile(REPORT_ID_PATTERN)
_VULN_TYPES = tuple(t.value for t in VulnType)


class ProtocolError(ValueError):
    """A message that does not follow protocol v1."""


def auth_header(host_id: str, secret: str) -> str:
    """The Authorization header value of an enrolled agent."""
    return f"{AUTH_SCHEME} {host_id}:{secret}"


def parse_auth_header(value: str) -> Tuple[str, str]:
    """(host_id, secret) from an Authorization header; ProtocolError when malformed."""
    scheme, _, cred = value.partition(" ")
    host_id, sep, secret = cred.strip().partition(":")
    if scheme != AUTH_SCHEME or not sep or not host_id or not secret:
        raise ProtocolError("Authorization must be 'Agent <host_id>:<secret>'")
    return host_id, secret


def check_report_id(value: Any) -> str:
    """Validate the agent-chosen idempotency key of an upload or result."""
    if not isinstance(value, str) or not _REPORT_ID.fullmatch(value):
        raise ProtocolError("report_id must be 8-64 characters of [A-Za-z0-9._-]")
    return value


@dataclass(frozen=True)
class Action:
    """A typed action the console asks an agent to run."""

    job_id: int
    kind: str
    params: Dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> Dict[str, Any]:
        """JSON form."""
        return {"job_id": self.job_id, "kind": self.kind, "params": dict(self.params)}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Action:
        """Parse and validate; unknown kinds or bad parameters raise ProtocolError."""
        try:
            job_id = int(data["job_id"])
            kind = str(data["kind"])
            params = dict(data.get("params") or {})
        except (KeyError, TypeError, ValueError) as exc:
            raise ProtocolError(f"malformed action: {exc}") from exc
        return cls(job_id=job_id, kind=kind, params=validate_params(kind, params))


def validate_params(kind: str, params: Mapping[str, Any]) -> Dict[str, Any]:
    """The validated parameters of an action kind (closed set of keys and value types)."""
    if kind not in ACTION_KINDS:
        raise ProtocolError(f"unknown action kind {kind!r}")
    allowed = {"scan": {"types"}, "verify": {"types", "vulns", "record_ids"}}[kind]
    extra = set(params) - allowed
    if extra:
        raise ProtocolError(f"{kind}: unexpected parameters {sorted(extra)}")
    out: Dict[str, Any] = {}
    types = params.get("types", [VulnType.LINUX.value])
    if not isinstance(types, list) or not all(t in _VULN_TYPES for t in types):
        raise ProtocolError(f"{kind}: types must be a list of {list(_VULN_TYPES)}")
    out["types"] = list(types)
    if kind == "verify":
        vulns = params.get("vulns", [])
        ids = params.get("record_ids", [])
        if not isinstance(vulns, list) or not all(isinstance(v, str) for v in vulns):
            raise ProtocolError("verify: vulns must be a list of strings")
        if not isinstance(ids, list) or not all(isinstance(i, int) for i in ids):
            raise ProtocolError("verify: record_ids must be a list of integers")
        out["vulns"], out["record_ids"] = list(vulns), list(ids)
    return out


@dataclass(frozen=True)
class ActionResult:
    """What an agent reports after running an action."""

    job_id: int
    ok: bool
    report_id: str
    """Idempotency key: a result sent twice is applied once."""
    inventory_id: int = 0
    """The inventory uploaded by a scan/verify action, if any."""
    error: str = ""
    details: Dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> Dict[str, Any]:
        """JSON form."""
        return {
            "job_id": self.job_id,
            "ok": self.ok,
            "report_id": self.report_id,
            "inventory_id": self.inventory_id,
            "error": self.error,
            "details": dict(self.details),
        }


def jobs_from_response(data: Mapping[str, Any]) -> List[Action]:
    """Actions of a jobs poll response."""
    return [Action.from_dict(item) for item in data.get("jobs") or ()]
