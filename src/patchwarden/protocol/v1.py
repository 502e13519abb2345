"""Wire protocol v1 between agent and console: paths, headers, limits and typed actions.

Bodies are JSON; inventories travel gzip-compressed. The agent authenticates every request
after enrolment with `Authorization: Agent <host_id>:<secret>`; the console stores only a
SHA-256 of the secret. Actions are a closed set of typed kinds with validated parameters —
never shell text (SPEC §7).

Actions (`Action.kind`, parameters checked by `validate_params`, defaults filled in):

* `scan` `{"types"}` and `verify` `{"types", "vulns", "record_ids"}`: collect and upload an
  inventory (the upload names the job).
* `fix` — install exactly the fixed versions with the host's package manager::

      {"packages": [{"name": "libssl3", "target_version": "3.0.22-1~deb12u2"}, ...],
       "format": "deb" | "rpm" | "apk" | "",   # optional: names/versions checked per format
       "record_ids": [int, ...],               # the console's records (echoed, not used)
       "snapshot": true,                       # take a snapshot first (false: without one)
       "snapshot_provider": "packages" | "lvm" | "btrfs",
       "snapshot_expiry_days": 7,              # 1..365
       "snapshot_allowed": true,               # false: the requester may not take snapshots
       "requested_by": "alice"}                # owner of the snapshot

  A snapshot that cannot be taken (provider unsupported here, `snapshot_allowed` false) stops
  the fix before anything changes, unless `snapshot` is false. Result: `FixDetails`.
* `rollback` `{"snapshot_id", "record_ids"}`: restore a snapshot. Result: `RollbackDetails`.
* `restart` `{"delay_seconds": 0..3600, "reason": printable text, "record_ids"}`: schedule a
  reboot. Result: `RestartDetails`.
* `snapshot_delete` `{"snapshot_id"}`: delete a snapshot. Result: `SnapshotDeleteDetails`.

Every remediation result carries `error: ActionError | null` with a stable `code` from
`ERROR_CODES`; `ActionResult.ok` is true exactly when `error` is null, and `ActionResult.error`
repeats the error's message. After a fix, rollback or snapshot deletion the agent uploads a
fresh inventory whose envelope names the job (`ActionResult.inventory_id`); a restart uploads
nothing (the next start does). A job whose parameters break this protocol is answered at
once with a failed result, code `invalid_request` (`parse_jobs`). The inventory part
`Inventory.remediation` (core.inventory.RemediationFacts) gives the console the agent's latest
precheck facts, so it can refuse at queue time with the same codes
(`RemediationFacts.blockers`: eol, disk_space, pm_locked, permission, not_supported).

A jobs poll answer is `{"jobs": [...], "memory_cap_mb": N}`: N is the scan memory cap the
console's settings give every agent (MB, 0: none; `memory_cap_from_response`). Agents that
predate it read `jobs` only; an agent whose own config sets a cap keeps its own.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field
from typing import Any, Callable, Dict, List, Mapping, Optional, Tuple, TypeVar

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
MIN_MEMORY_CAP_MB = 16
MAX_MEMORY_CAP_MB = 65536
"""Bounds of the scan memory cap the console sends with every jobs poll
(`{"jobs": [...], "memory_cap_mb": N}`; 0: no cap). An older console sends none."""

ACTION_KINDS = ("scan", "verify", "fix", "rollback", "restart", "snapshot_delete")
"""Actions an agent executes."""
REMEDIATION_KINDS = ("fix", "rollback", "restart", "snapshot_delete")
"""Action kinds whose result `details` are typed (`details_from_dict`)."""

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
    extra = set(params) - _PARAMS[kind]
    if extra:
        raise ProtocolError(f"{kind}: unexpected parameters {sorted(extra)}")
    if kind in REMEDIATION_KINDS:
        return _REMEDIATION_VALIDATORS[kind](params)
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
    """The inventory uploaded by the action (scan, verify, and fix/rollback afterwards)."""
    error: str = ""
    """Human message of what went wrong ("" when ok); remediation results also carry it typed
    as `details["error"]` (`ActionError`)."""
    details: Dict[str, Any] = field(default_factory=dict)
    """Free-form for scan/verify; for remediation kinds the `to_dict()` of the kind's details
    class (`details_from_dict`)."""

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


def memory_cap_from_response(data: Mapping[str, Any]) -> Optional[int]:
    """The scan memory cap (MB, 0: none) a jobs poll response carries; None when it carries
    none (an older console). ProtocolError when the value is not 0 or within the bounds."""
    if "memory_cap_mb" not in data:
        return None
    value = data["memory_cap_mb"]
    if (
        not isinstance(value, int)
        or isinstance(value, bool)
        or not (value == 0 or MIN_MEMORY_CAP_MB <= value <= MAX_MEMORY_CAP_MB)
    ):
        raise ProtocolError(
            f"memory_cap_mb must be 0 or {MIN_MEMORY_CAP_MB}..{MAX_MEMORY_CAP_MB}, "
            f"not {_brief(value)}"
        )
    return value


def jobs_from_response(data: Mapping[str, Any]) -> List[Action]:
    """Actions of a jobs poll response (ProtocolError on the first invalid one)."""
    return [Action.from_dict(item) for item in data.get("jobs") or ()]


@dataclass(frozen=True)
class RejectedAction:
    """A job the agent cannot run because it does not follow protocol v1."""

    job_id: int
    kind: str
    message: str


def parse_jobs(data: Mapping[str, Any]) -> Tuple[List[Action], List[RejectedAction]]:
    """(valid actions, rejected ones) of a jobs poll response.

    One malformed job must not stop the others: the agent reports each rejected job back as a
    failed result (`invalid_request`) so the console does not wait for it forever. A job
    without a usable id cannot be answered and is left out of both lists.
    """
    actions: List[Action] = []
    rejected: List[RejectedAction] = []
    for item in data.get("jobs") or ():
        try:
            actions.append(Action.from_dict(item))
        except ProtocolError as exc:
            job_id = item.get("job_id") if isinstance(item, Mapping) else None
            if isinstance(job_id, int) and not isinstance(job_id, bool) and job_id > 0:
                rejected.append(RejectedAction(job_id, str(item.get("kind")), str(exc)))
    return actions, rejected


# --- remediation: parameters ------------------------------------------------------------------

PACKAGE_FORMATS = ("deb", "rpm", "apk")
"""Package formats a fix can name (`Package.format` of the inventory)."""
SNAPSHOT_PROVIDERS = ("packages", "lvm", "btrfs")
"""How a snapshot is taken: the replaced package files (any host), or a volume snapshot when
the root filesystem is on LVM or btrfs."""
MAX_FIX_PACKAGES = 100
"""Most packages one fix installs (one package-manager transaction)."""
MAX_RECORD_IDS = 1000
"""Most console record ids one action names."""
MAX_NAME = 128
"""Longest package name (characters)."""
MAX_VERSION = 128
"""Longest package version (characters)."""
MAX_REASON = 200
"""Longest restart reason (characters; shown to logged-in users by `shutdown`)."""
MAX_REQUESTER = 64
"""Longest `requested_by` user name (characters)."""
MAX_RESTART_DELAY = 3600
"""Longest restart delay (seconds)."""
DEFAULT_SNAPSHOT_EXPIRY_DAYS = 7
MAX_SNAPSHOT_EXPIRY_DAYS = 365
MIN_FREE_BYTES = 3 * 1024**3
"""Least free space on each filesystem the package manager writes before a fix (SPEC R-F2:
3 GB on Linux); agents report their own threshold in `RemediationFacts.min_free_bytes`."""

# Package names and versions become single argv elements of a package-manager command; the
# patterns keep them to what each format allows and rule out anything an option parser or a
# shell would read (a leading '-', blanks, quotes, `;|&$<>*?`, '=' that apt reads as "version").
NAME_PATTERNS: Dict[str, str] = {
    # Debian Policy §5.6.1: lower-case letters, digits, '+', '-', '.'; two or more characters,
    # starting with an alphanumeric character.
    "deb": r"^[a-z0-9][a-z0-9+.-]{1,127}$",
    # rpm: letters, digits and `._+-` (perl-Net-SSLeay, libstdc++, python3.11).
    "rpm": r"^[A-Za-z0-9_+][A-Za-z0-9._+-]{0,127}$",
    # apk: letters, digits and `._+-` (py3-cryptography, libstdc++).
    "apk": r"^[A-Za-z0-9_][A-Za-z0-9._+-]{0,127}$",
    # Any format (the fix names none): the union of the above.
    "": r"^[A-Za-z0-9_+][A-Za-z0-9._+-]{0,127}$",
}
VERSION_PATTERNS: Dict[str, str] = {
    # dpkg: [epoch:]upstream[-revision] (deb-version(7)).
    "deb": r"^(?:[0-9]{1,9}:)?[A-Za-z0-9][A-Za-z0-9.+~:-]{0,127}$",
    # rpm: [epoch:]version-release, both parts required (a fixed build names its release).
    "rpm": r"^(?:[0-9]{1,9}:)?[A-Za-z0-9._+~^]{1,64}-[A-Za-z0-9._+~^]{1,63}$",
    # apk: version[-rN] (apk-package(5)): 3.1.4-r6, 1.2.3_rc1-r0, 2.4_p1-r2.
    "apk": r"^[0-9][A-Za-z0-9._]{0,120}(?:-r[0-9]{1,6})?$",
    "": r"^(?:[0-9]{1,9}:)?[A-Za-z0-9][A-Za-z0-9.+~:^_-]{0,127}$",
}
_NAME_RES = {fmt: re.compile(p) for fmt, p in NAME_PATTERNS.items()}
_VERSION_RES = {fmt: re.compile(p) for fmt, p in VERSION_PATTERNS.items()}
SNAPSHOT_ID_PATTERN = r"^[a-z0-9][a-z0-9-]{7,63}$"
"""What a snapshot id looks like (`packages-20260601T120000Z-1a2b3c`)."""
_SNAPSHOT_ID = re.compile(SNAPSHOT_ID_PATTERN)

_PARAMS = {
    "scan": {"types"},
    "verify": {"types", "vulns", "record_ids"},
    "fix": {
        "packages",
        "format",
        "record_ids",
        "snapshot",
        "snapshot_provider",
        "snapshot_expiry_days",
        "snapshot_allowed",
        "requested_by",
    },
    "rollback": {"snapshot_id", "record_ids"},
    "restart": {"delay_seconds", "reason", "record_ids"},
    "snapshot_delete": {"snapshot_id"},
}


def check_package(fmt: str, name: Any, version: Any, where: str = "package") -> Tuple[str, str]:
    """(name, version) when both fit `fmt`'s patterns ("" = any format); ProtocolError names
    what is wrong otherwise."""
    if fmt not in _NAME_RES:
        raise ProtocolError(f"{where}: unknown package format {fmt!r} (one of {PACKAGE_FORMATS})")
    label = f"a {fmt} package" if fmt else "a package"
    if not isinstance(name, str) or not _NAME_RES[fmt].fullmatch(name):
        raise ProtocolError(
            f"{where}: name {_brief(name)} is not {label} name"
            f" (pattern {NAME_PATTERNS[fmt]}: no blanks, no shell characters, no leading '-')"
        )
    if not isinstance(version, str) or not _VERSION_RES[fmt].fullmatch(version):
        raise ProtocolError(
            f"{where}: target_version {_brief(version)} is not {label} version"
            f" (pattern {VERSION_PATTERNS[fmt]})"
        )
    return name, version


def check_snapshot_id(value: Any, where: str = "snapshot_id") -> str:
    """A snapshot id as the agent makes them; ProtocolError otherwise."""
    if not isinstance(value, str) or not _SNAPSHOT_ID.fullmatch(value):
        raise ProtocolError(f"{where} must match {SNAPSHOT_ID_PATTERN}, got {_brief(value)}")
    return value


def printable_problem(value: str) -> Optional[str]:
    """Why `value` is no single line of printable text (control or format characters)."""
    for ch in value:
        if unicodedata.category(ch) in ("Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"):
            return f"contains the non-printable character U+{ord(ch):04X}"
    return None


def _brief(value: Any) -> str:
    """`repr(value)`, cut short: a message echoes a wrong value, not a whole document."""
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _bool(params: Mapping[str, Any], key: str, default: bool, kind: str) -> bool:
    value = params.get(key, default)
    if not isinstance(value, bool):
        raise ProtocolError(f"{kind}: {key} must be true or false, got {_brief(value)}")
    return value


def _int(params: Mapping[str, Any], key: str, default: int, low: int, high: int, kind: str) -> int:
    value = params.get(key, default)
    if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
        raise ProtocolError(f"{kind}: {key} must be an integer within {low}..{high}")
    return value


def _text(params: Mapping[str, Any], key: str, limit: int, kind: str) -> str:
    value = params.get(key, "")
    if not isinstance(value, str) or len(value) > limit:
        raise ProtocolError(f"{kind}: {key} must be text of at most {limit} characters")
    problem = printable_problem(value)
    if problem:
        raise ProtocolError(f"{kind}: {key} {problem}")
    return value


def _record_ids(params: Mapping[str, Any], kind: str) -> List[int]:
    ids = params.get("record_ids", [])
    if (
        not isinstance(ids, list)
        or len(ids) > MAX_RECORD_IDS
        or not all(isinstance(i, int) and not isinstance(i, bool) and 1 <= i <= MAX_ID for i in ids)
    ):
        raise ProtocolError(
            f"{kind}: record_ids must be a list of at most {MAX_RECORD_IDS} integers"
            f" within 1..{MAX_ID}"
        )
    return list(ids)


def _fix_params(params: Mapping[str, Any]) -> Dict[str, Any]:
    fmt = params.get("format", "")
    if fmt not in ("",) + PACKAGE_FORMATS:
        raise ProtocolError(
            f"fix: format must be one of {list(PACKAGE_FORMATS)}, got {_brief(fmt)}"
        )
    packages = params.get("packages")
    if not isinstance(packages, list) or not 1 <= len(packages) <= MAX_FIX_PACKAGES:
        raise ProtocolError(f"fix: packages must be a list of 1..{MAX_FIX_PACKAGES} packages")
    out_packages: List[Dict[str, str]] = []
    seen = set()
    for i, item in enumerate(packages):
        where = f"fix: packages[{i}]"
        if not isinstance(item, dict) or set(item) != {"name", "target_version"}:
            raise ProtocolError(f"{where} must be an object with exactly name and target_version")
        name, version = check_package(fmt, item["name"], item["target_version"], where)
        if name in seen:
            raise ProtocolError(f"{where}: {name} is named twice")
        seen.add(name)
        out_packages.append({"name": name, "target_version": version})
    provider = params.get("snapshot_provider", "packages")
    if provider not in SNAPSHOT_PROVIDERS:
        raise ProtocolError(
            f"fix: snapshot_provider must be one of {list(SNAPSHOT_PROVIDERS)},"
            f" got {_brief(provider)}"
        )
    return {
        "packages": out_packages,
        "format": fmt,
        "record_ids": _record_ids(params, "fix"),
        "snapshot": _bool(params, "snapshot", True, "fix"),
        "snapshot_provider": provider,
        "snapshot_expiry_days": _int(
            params,
            "snapshot_expiry_days",
            DEFAULT_SNAPSHOT_EXPIRY_DAYS,
            1,
            MAX_SNAPSHOT_EXPIRY_DAYS,
            "fix",
        ),
        "snapshot_allowed": _bool(params, "snapshot_allowed", True, "fix"),
        "requested_by": _text(params, "requested_by", MAX_REQUESTER, "fix"),
    }


def _rollback_params(params: Mapping[str, Any]) -> Dict[str, Any]:
    return {
        "snapshot_id": check_snapshot_id(params.get("snapshot_id"), "rollback: snapshot_id"),
        "record_ids": _record_ids(params, "rollback"),
    }


def _restart_params(params: Mapping[str, Any]) -> Dict[str, Any]:
    return {
        "delay_seconds": _int(params, "delay_seconds", 0, 0, MAX_RESTART_DELAY, "restart"),
        "reason": _text(params, "reason", MAX_REASON, "restart"),
        "record_ids": _record_ids(params, "restart"),
    }


def _snapshot_delete_params(params: Mapping[str, Any]) -> Dict[str, Any]:
    return {
        "snapshot_id": check_snapshot_id(params.get("snapshot_id"), "snapshot_delete: snapshot_id")
    }


_REMEDIATION_VALIDATORS: Dict[str, Callable[[Mapping[str, Any]], Dict[str, Any]]] = {
    "fix": _fix_params,
    "rollback": _rollback_params,
    "restart": _restart_params,
    "snapshot_delete": _snapshot_delete_params,
}


# --- remediation: error codes -----------------------------------------------------------------

ERROR_CODES: Dict[str, str] = {
    # Package-manager output classification (SPEC R-F7).
    "permission": "permission denied",
    "mirror_unreachable": "package mirror unreachable",
    "no_update": "no update available",
    "pm_locked": "package manager busy (lock held)",
    "disk_full": "disk full",
    "dependency_conflict": "dependency conflict",
    "timeout": "timed out",
    "unknown": "unclassified failure",
    # Prechecks before anything changes (SPEC R-F2); pm_locked, permission and no_update too.
    "eol": "operating system end of life",
    "disk_space": "not enough free disk space",
    # Snapshots and the action itself.
    "snapshot_failed": "snapshot could not be taken",
    "snapshot_forbidden": "snapshot not allowed for the requester",
    "no_snapshot": "snapshot not found",
    "snapshot_expired": "snapshot expired",
    "not_supported": "not possible on this host",
    "invalid_request": "invalid request",
}
"""Stable machine-readable codes of `ActionError.code` -> a short title. The console shows the
error's own `message` and `hint`; the codes never change meaning."""
CLASSIFICATION_CODES = (
    "permission",
    "mirror_unreachable",
    "no_update",
    "pm_locked",
    "disk_full",
    "dependency_conflict",
    "timeout",
    "unknown",
)
"""Codes a failed package-manager command is classified into."""
PRECHECK_CODES = ("eol", "disk_space", "pm_locked", "permission", "no_update")
"""Codes of the prechecks (the console uses them as refusal codes too)."""
MAX_TAIL = 2000
"""Most characters of raw output an error keeps (`ActionError.tail`)."""
MAX_PROCESSES = 50
"""Most processes a result lists as needing a restart."""
MAX_COMMANDS = 20
"""Most commands a result lists as run."""


# --- remediation: typed result details --------------------------------------------------------

_T = TypeVar("_T")


class _Reader:
    """Reads one JSON object field by field; every problem is a ProtocolError naming the path."""

    def __init__(self, data: Any, where: str, known: Tuple[str, ...]) -> None:
        if not isinstance(data, Mapping):
            raise ProtocolError(f"{where} must be an object")
        unknown = sorted(set(data) - set(known))
        if unknown:
            raise ProtocolError(f"{where} has unknown fields {unknown}")
        self.data = data
        self.where = where

    def _get(self, key: str, default: Any) -> Any:
        return self.data.get(key, default)

    def text(self, key: str, default: str = "") -> str:
        value = self._get(key, default)
        if not isinstance(value, str):
            raise ProtocolError(f"{self.where}.{key} must be a string")
        return value

    def number(self, key: str, default: int = 0) -> int:
        value = self._get(key, default)
        if not isinstance(value, int) or isinstance(value, bool):
            raise ProtocolError(f"{self.where}.{key} must be an integer")
        return value

    def flag(self, key: str, default: bool = False) -> bool:
        value = self._get(key, default)
        if not isinstance(value, bool):
            raise ProtocolError(f"{self.where}.{key} must be true or false")
        return value

    def strs(self, key: str) -> Tuple[str, ...]:
        value = self._get(key, [])
        if not isinstance(value, (list, tuple)) or not all(isinstance(v, str) for v in value):
            raise ProtocolError(f"{self.where}.{key} must be a list of strings")
        return tuple(value)

    def each(self, key: str, decode: Callable[[Any, str], _T]) -> Tuple[_T, ...]:
        value = self._get(key, [])
        if not isinstance(value, (list, tuple)):
            raise ProtocolError(f"{self.where}.{key} must be a list")
        return tuple(decode(item, f"{self.where}.{key}[{i}]") for i, item in enumerate(value))

    def optional(self, key: str, decode: Callable[[Any, str], _T]) -> Optional[_T]:
        value = self._get(key, None)
        return None if value is None else decode(value, f"{self.where}.{key}")


@dataclass(frozen=True)
class ActionError:
    """Why a remediation action did not do its job: a stable code and words for a person."""

    code: str
    """One of `ERROR_CODES`."""
    message: str
    """What happened ("dpkg lock held by process 812 (apt-get)")."""
    hint: str = ""
    """What to do next ("wait for the other package operation to finish, then retry")."""
    tail: str = ""
    """The last lines of the package manager's output (at most `MAX_TAIL` characters), kept
    raw so an `unknown` failure can still be read."""

    def to_dict(self) -> Dict[str, Any]:
        """JSON form."""
        return {"code": self.code, "message": self.message, "hint": self.hint, "tail": self.tail}

    @classmethod
    def from_dict(cls, data: Any, where: str = "error") -> ActionError:
        """Decode; ProtocolError when malformed or the code is unknown."""
        r = _Reader(data, where, ("code", "message", "hint", "tail"))
        code = r.text("code")
        if code not in ERROR_CODES:
            raise ProtocolError(f"{where}.code {code!r} is not one of {sorted(ERROR_CODES)}")
        return cls(code, r.text("message"), r.text("hint"), r.text("tail"))


@dataclass(frozen=True)
class PackageOutcome:
    """One package of a fix or rollback: the version before and after, and whether it worked."""

    name: str
    from_version: str
    """Installed version before the action ("" when it was not installed)."""
    to_version: str
    """Installed version after the action ("" when it is not installed)."""
    ok: bool
    """True when `to_version` is the version asked for (`target_version`)."""
    target_version: str = ""
    """The version the action asked for (fix: the fixed version; rollback: the saved one)."""

    def to_dict(self) -> Dict[str, Any]:
        """JSON form."""
        return {
            "name": self.name,
            "from_version": self.from_version,
            "to_version": self.to_version,
            "ok": self.ok,
            "target_version": self.target_version,
        }

    @classmethod
    def from_dict(cls, data: Any, where: str = "package") -> PackageOutcome:
        """Decode; ProtocolError when malformed."""
        r = _Reader(data, where, ("name", "from_version", "to_version", "ok", "target_version"))
        return cls(
            r.text("name"),
            r.text("from_version"),
            r.text("to_version"),
            r.flag("ok"),
            r.text("target_version"),
        )


@dataclass(frozen=True)
class SavedPackage:
    """A package file a `packages` snapshot holds: the exact build that was installed."""

    name: str
    version: str
    arch: str = ""
    file: str = ""
    """File name inside the snapshot (`libssl3_3.0.20-1~deb12u2_amd64.deb`)."""
    sha256: str = ""
    size_bytes: int = 0

    def to_dict(self) -> Dict[str, Any]:
        """JSON form."""
        return {
            "name": self.name,
            "version": self.version,
            "arch": self.arch,
            "file": self.file,
            "sha256": self.sha256,
            "size_bytes": self.size_bytes,
        }

    @classmethod
    def from_dict(cls, data: Any, where: str = "saved package") -> SavedPackage:
        """Decode; ProtocolError when malformed."""
        r = _Reader(data, where, ("name", "version", "arch", "file", "sha256", "size_bytes"))
        return cls(
            r.text("name"),
            r.text("version"),
            r.text("arch"),
            r.text("file"),
            r.text("sha256"),
            r.number("size_bytes"),
        )


@dataclass(frozen=True)
class SnapshotInfo:
    """A snapshot the agent took before a fix (kept until `expires_at` or deleted)."""

    id: str
    provider: str
    """One of `SNAPSHOT_PROVIDERS`."""
    size_bytes: int
    created_at: str
    """ISO 8601 UTC."""
    expires_at: str
    """ISO 8601 UTC; the agent deletes the snapshot after this time."""
    owner: str = ""
    """The user who asked for the fix (`requested_by`)."""
    packages: Tuple[SavedPackage, ...] = ()
    """Package files saved (`packages` provider); empty for volume snapshots."""
    location: str = ""
    """Where it lives: a directory of the agent, an LV (`vg/lv`) or a btrfs subvolume path."""

    def to_dict(self) -> Dict[str, Any]:
        """JSON form."""
        return {
            "id": self.id,
            "provider": self.provider,
            "size_bytes": self.size_bytes,
            "created_at": self.created_at,
            "expires_at": self.expires_at,
            "owner": self.owner,
            "packages": [p.to_dict() for p in self.packages],
            "location": self.location,
        }

    @classmethod
    def from_dict(cls, data: Any, where: str = "snapshot") -> SnapshotInfo:
        """Decode; ProtocolError when malformed."""
        r = _Reader(
            data,
            where,
            (
                "id",
                "provider",
                "size_bytes",
                "created_at",
                "expires_at",
                "owner",
                "packages",
                "location",
            ),
        )
        return cls(
            check_snapshot_id(r.text("id"), f"{where}.id"),
            r.text("provider"),
            r.number("size_bytes"),
            r.text("created_at"),
            r.text("expires_at"),
            r.text("owner"),
            r.each("packages", SavedPackage.from_dict),
            r.text("location"),
        )


@dataclass(frozen=True)
class RestartProcess:
    """A running process still using files a fix replaced (it needs a restart to use the fix)."""

    pid: int
    name: str
    files: Tuple[str, ...] = ()
    """Some of the replaced files it maps (at most four), as paths inside the root."""

    def to_dict(self) -> Dict[str, Any]:
        """JSON form."""
        return {"pid": self.pid, "name": self.name, "files": list(self.files)}

    @classmethod
    def from_dict(cls, data: Any, where: str = "process") -> RestartProcess:
        """Decode; ProtocolError when malformed."""
        r = _Reader(data, where, ("pid", "name", "files"))
        return cls(r.number("pid"), r.text("name"), r.strs("files"))


@dataclass(frozen=True)
class FixDetails:
    """`details` of a `fix` result."""

    packages: Tuple[PackageOutcome, ...] = ()
    """Each package the transaction changed (asked for, or pulled in as a dependency)."""
    snapshot: Optional[SnapshotInfo] = None
    """The snapshot taken before the change (None: none was asked for, or none was taken)."""
    error: Optional[ActionError] = None
    prechecks: Tuple[ActionError, ...] = ()
    """Every precheck that refused the fix (the first one is `error`)."""
    restart_required: bool = False
    """True when the host must reboot to run the fix (a kernel was fixed, or the distro says
    so: /var/run/reboot-required)."""
    restart_processes: Tuple[RestartProcess, ...] = ()
    """Processes that still use replaced files: restart them (or the host)."""
    commands: Tuple[str, ...] = ()
    """The commands run (or, for a dry run, that would run), for the record's history."""
    dry_run: bool = False

    def to_dict(self) -> Dict[str, Any]:
        """JSON form."""
        return {
            "packages": [p.to_dict() for p in self.packages],
            "snapshot": None if self.snapshot is None else self.snapshot.to_dict(),
            "error": None if self.error is None else self.error.to_dict(),
            "prechecks": [e.to_dict() for e in self.prechecks],
            "restart_required": self.restart_required,
            "restart_processes": [p.to_dict() for p in self.restart_processes],
            "commands": list(self.commands),
            "dry_run": self.dry_run,
        }

    @classmethod
    def from_dict(cls, data: Any, where: str = "details") -> FixDetails:
        """Decode; ProtocolError when malformed."""
        r = _Reader(
            data,
            where,
            (
                "packages",
                "snapshot",
                "error",
                "prechecks",
                "restart_required",
                "restart_processes",
                "commands",
                "dry_run",
            ),
        )
        return cls(
            r.each("packages", PackageOutcome.from_dict),
            r.optional("snapshot", SnapshotInfo.from_dict),
            r.optional("error", ActionError.from_dict),
            r.each("prechecks", ActionError.from_dict),
            r.flag("restart_required"),
            r.each("restart_processes", RestartProcess.from_dict),
            r.strs("commands"),
            r.flag("dry_run"),
        )


@dataclass(frozen=True)
class RollbackDetails:
    """`details` of a `rollback` result."""

    snapshot_id: str
    packages: Tuple[PackageOutcome, ...] = ()
    """Each saved package: `from_version` before the rollback, `to_version` after it,
    `target_version` the saved one."""
    error: Optional[ActionError] = None
    restart_required: bool = False
    """True when the restored state needs a reboot (a kernel, or a volume snapshot that is
    merged at the next boot)."""
    commands: Tuple[str, ...] = ()

    def to_dict(self) -> Dict[str, Any]:
        """JSON form."""
        return {
            "snapshot_id": self.snapshot_id,
            "packages": [p.to_dict() for p in self.packages],
            "error": None if self.error is None else self.error.to_dict(),
            "restart_required": self.restart_required,
            "commands": list(self.commands),
        }

    @classmethod
    def from_dict(cls, data: Any, where: str = "details") -> RollbackDetails:
        """Decode; ProtocolError when malformed."""
        r = _Reader(
            data, where, ("snapshot_id", "packages", "error", "restart_required", "commands")
        )
        return cls(
            r.text("snapshot_id"),
            r.each("packages", PackageOutcome.from_dict),
            r.optional("error", ActionError.from_dict),
            r.flag("restart_required"),
            r.strs("commands"),
        )


@dataclass(frozen=True)
class RestartDetails:
    """`details` of a `restart` result: the reboot is scheduled, not yet done."""

    delay_seconds: int = 0
    reason: str = ""
    command: str = ""
    """The command that scheduled the reboot."""
    scheduled_for: str = ""
    """ISO 8601 UTC time the reboot is due."""
    error: Optional[ActionError] = None
    boot_default_pinned: bool = False
    """True when the boot loader's default entry is not the newest installed kernel: the
    reboot will start the old kernel again (SPEC R-F5); `hint` says both remedies."""
    hint: str = ""

    def to_dict(self) -> Dict[str, Any]:
        """JSON form."""
        return {
            "delay_seconds": self.delay_seconds,
            "reason": self.reason,
            "command": self.command,
            "scheduled_for": self.scheduled_for,
            "error": None if self.error is None else self.error.to_dict(),
            "boot_default_pinned": self.boot_default_pinned,
            "hint": self.hint,
        }

    @classmethod
    def from_dict(cls, data: Any, where: str = "details") -> RestartDetails:
        """Decode; ProtocolError when malformed."""
        r = _Reader(
            data,
            where,
            (
                "delay_seconds",
                "reason",
                "command",
                "scheduled_for",
                "error",
                "boot_default_pinned",
                "hint",
            ),
        )
        return cls(
            r.number("delay_seconds"),
            r.text("reason"),
            r.text("command"),
            r.text("scheduled_for"),
            r.optional("error", ActionError.from_dict),
            r.flag("boot_default_pinned"),
            r.text("hint"),
        )


@dataclass(frozen=True)
class SnapshotDeleteDetails:
    """`details` of a `snapshot_delete` result."""

    snapshot_id: str
    deleted: bool = False
    error: Optional[ActionError] = None

    def to_dict(self) -> Dict[str, Any]:
        """JSON form."""
        return {
            "snapshot_id": self.snapshot_id,
            "deleted": self.deleted,
            "error": None if self.error is None else self.error.to_dict(),
        }

    @classmethod
    def from_dict(cls, data: Any, where: str = "details") -> SnapshotDeleteDetails:
        """Decode; ProtocolError when malformed."""
        r = _Reader(data, where, ("snapshot_id", "deleted", "error"))
        return cls(
            r.text("snapshot_id"), r.flag("deleted"), r.optional("error", ActionError.from_dict)
        )


Details = Any
"""One of FixDetails, RollbackDetails, RestartDetails, SnapshotDeleteDetails."""
DETAILS_TYPES: Dict[str, Any] = {
    "fix": FixDetails,
    "rollback": RollbackDetails,
    "restart": RestartDetails,
    "snapshot_delete": SnapshotDeleteDetails,
}
"""Action kind -> its typed `details` class."""


def details_from_dict(kind: str, data: Any) -> Details:
    """The typed details of a remediation result (`ActionResult.details`); ProtocolError when
    `kind` has none or the details are malformed."""
    if kind not in DETAILS_TYPES:
        raise ProtocolError(f"action kind {kind!r} has no typed details")
    return DETAILS_TYPES[kind].from_dict(data)
