"""Accepting an agent's inventory: validate, store, detect, update records — one transaction.

Nothing is half-stored: a malformed inventory or a crash leaves the database as it was. A
replayed upload (same report id) is acknowledged again without being applied twice.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Optional

from patchwarden.core.clock import Clock
from patchwarden.core.errors import InventoryError
from patchwarden.core.inventory import Inventory
from patchwarden.protocol import v1
from patchwarden.services import admission
from patchwarden.services.agents import authenticate
from patchwarden.services.detection import detect
from patchwarden.services.errors import InvalidRequest, NotFound
from patchwarden.services.ports import FEATURE_NAMES, Feature, HostFacts, Settings, UnitOfWork
from patchwarden.services.records import ApplyStats, app_detection, apply_detection
from patchwarden.services.remediation import host_restarted, record_restart
from patchwarden.services.snapshots import forget_deleted_on_agent


def decode_json(body: bytes, content_encoding: str = "") -> dict[str, Any]:
    """The JSON object of an inventory upload body, inflated first when gzip-encoded, within
    the protocol's limits (`admission.INVENTORY`: TooLarge, MalformedRequest, InvalidRequest)."""
    read = admission.read_body(body, admission.INVENTORY, content_encoding)
    return admission.parse_object(read.data, admission.INVENTORY)


@dataclass(frozen=True)
class Upload:
    """An upload read and parsed: the envelope, and the body as sent (what is stored)."""

    envelope: dict[str, Any]
    body: bytes


@dataclass(frozen=True)
class RecordChanges:
    """What one inventory did to its host's records."""

    created: int
    updated: int
    unchanged: int
    not_detected: int
    cleared: int
    skipped_level: int
    verified: dict[str, str]
    """record id -> verify outcome, for the records a verify job asked about."""


@dataclass(frozen=True)
class UploadOutcome:
    """How an upload was taken; a duplicate carries only the id it had the first time."""

    inventory_id: int
    duplicate: bool
    findings: Optional[int] = None
    records: Optional[RecordChanges] = None
    errors: Optional[list[str]] = None
    """What could not be evaluated (first 50)."""


def accept_inventory(
    uow: UnitOfWork,
    clock: Clock,
    authorization: Optional[str],
    body: bytes,
    content_encoding: str,
) -> UploadOutcome:
    """Authenticate the agent, store its inventory and fold the findings into its records.

    `body` as sent (gzip when `content_encoding` says so); the server reads and parses it as
    it streams in and calls `accept_upload` instead.
    """
    envelope = decode_json(body, content_encoding)
    return accept_upload(uow, clock, authorization, Upload(envelope, body))


def accept_upload(
    uow: UnitOfWork, clock: Clock, authorization: Optional[str], upload: Upload
) -> UploadOutcome:
    """`accept_inventory` for a body the server has already read and parsed."""
    with uow:
        now = clock.now()
        host_id = authenticate(uow, authorization, now)
        outcome = _accept(uow, host_id, upload.envelope, upload.body, now)
        uow.commit()
    return outcome


def _accept(
    uow: UnitOfWork, host_id: str, envelope: dict[str, Any], body: bytes, now: datetime
) -> UploadOutcome:
    schema = envelope.get("schema")
    # `type() is int`: true == 1 in Python, and `"schema": true` is no schema number.
    if type(schema) is not int or schema != v1.ENVELOPE_SCHEMA:
        raise InvalidRequest(
            f"unsupported upload schema {_brief(schema)} (this console reads {v1.ENVELOPE_SCHEMA})"
        )
    try:
        report_id = v1.check_report_id(envelope.get("report_id"))
    except v1.ProtocolError as exc:
        raise InvalidRequest(str(exc)) from None
    # A retry racing its first try, or two reports of one host at once: the second waits
    # here, then finds the report (a duplicate) or the records the first one wrote.
    uow.hosts.lock(host_id)
    previous = uow.inventories.find(host_id, report_id)
    if previous is not None:
        return UploadOutcome(previous, True)
    try:
        inv = Inventory.from_dict(envelope.get("inventory"))  # type: ignore[arg-type]
    except InventoryError as exc:
        raise InvalidRequest(str(exc)) from None
    verify_ids = _verify_ids(uow, host_id, envelope.get("job_id"))
    inventory_id = uow.inventories.add(host_id, report_id, body, now)
    before = uow.hosts.get(host_id)
    if before is not None and host_restarted(before.remediation, inv.remediation):
        record_restart(uow, host_id, now, inv.kernel)
    facts = HostFacts(
        inv.os, inv.kernel, inv.collector_errors, len(inv.packages), now, inv.remediation
    )
    uow.hosts.update_facts(host_id, facts)
    if inv.remediation is not None:
        forget_deleted_on_agent(uow, host_id, inv.remediation, now)
    settings = uow.settings.get()
    apps = app_detection(settings)
    found = detect(inv, uow.advisories, apps=apps)
    if not apps:
        found.errors[:0] = _apps_not_in_plan(inv, settings)
    knows_restarts = inv.remediation is not None and bool(inv.remediation.boot_id)
    stats = apply_detection(
        uow, host_id, inv, found.matches, now, settings, verify_ids, knows_restarts
    )
    return UploadOutcome(
        inventory_id, False, len(found.matches), _changes(stats), found.errors[:50]
    )


def _apps_not_in_plan(inv: Inventory, settings: Settings) -> list[str]:
    """Why the components of running processes were not matched (the plan lacks it)."""
    held = sum(1 for p in inv.processes if any(c.loaded for c in p.components))
    if not held:
        return []
    feature = FEATURE_NAMES[Feature.APP_DETECTION]
    return [
        f"{feature} is not part of the {settings.plan.value} plan: the components of {held}"
        " running processes were not matched"
    ]


def _changes(stats: ApplyStats) -> RecordChanges:
    return RecordChanges(
        stats.created,
        stats.updated,
        stats.unchanged,
        stats.not_detected,
        stats.cleared,
        stats.skipped_level,
        stats.verified,
    )


def _verify_ids(uow: UnitOfWork, host_id: str, job_id: Any) -> frozenset[int]:
    """Record ids a verify job of this host asks about (none for scans / no job)."""
    if job_id is None:
        return frozenset()
    if type(job_id) is not int or not 1 <= job_id <= v1.MAX_ID:
        raise InvalidRequest(f"job_id must be an integer within 1..{v1.MAX_ID} or null")
    job = uow.jobs.get(job_id)
    if job is None or job.host_id != host_id:
        raise NotFound(f"unknown job {job_id}")
    if job.kind != "verify":
        return frozenset()
    return frozenset(int(i) for i in job.params.get("record_ids", []))


def _brief(value: Any) -> str:
    """`repr(value)` cut short: a message echoes a wrong value, not a whole document."""
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."
