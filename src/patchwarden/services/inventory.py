"""Accepting an agent's inventory: validate, store, detect, update records — one transaction.

Nothing is half-stored: a malformed inventory or a crash leaves the database as it was. A
replayed upload (same report id) is acknowledged again without being applied twice.
"""

from __future__ import annotations

import json
import zlib
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Optional

from patchwarden.core.clock import Clock
from patchwarden.core.errors import InventoryError
from patchwarden.core.inventory import Inventory
from patchwarden.protocol import v1
from patchwarden.services.agents import authenticate
from patchwarden.services.detection import detect
from patchwarden.services.errors import InvalidRequest, MalformedRequest, NotFound, TooLarge
from patchwarden.services.ports import HostFacts, UnitOfWork
from patchwarden.services.records import ApplyStats, apply_detection


def check_upload_size(size: int) -> None:
    """TooLarge when a compressed upload of `size` bytes is over the protocol's cap."""
    if size > v1.MAX_INVENTORY_GZIP:
        raise TooLarge(f"inventory upload of {size} bytes exceeds {v1.MAX_INVENTORY_GZIP}")


def decode_json(body: bytes, content_encoding: str = "") -> dict[str, Any]:
    """The JSON object of a request body, inflated first when gzip-encoded (bounded: a small
    gzip bomb must not exhaust memory)."""
    raw = body
    if content_encoding.lower() == "gzip":
        inflater = zlib.decompressobj(wbits=31)
        try:
            raw = inflater.decompress(body, v1.MAX_INVENTORY_JSON + 1)
        except zlib.error as exc:
            raise MalformedRequest(f"inventory is not valid gzip: {exc}") from None
        if len(raw) > v1.MAX_INVENTORY_JSON or inflater.unconsumed_tail:
            raise TooLarge(f"inventory exceeds {v1.MAX_INVENTORY_JSON} bytes once decompressed")
        if not inflater.eof:
            raise MalformedRequest("inventory gzip stream is truncated")
    try:
        data = json.loads(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        raise MalformedRequest(f"inventory is not JSON: {exc}") from None
    if not isinstance(data, dict):
        raise InvalidRequest("inventory upload must be a JSON object")
    return data


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
    """Authenticate the agent, store its inventory and fold the findings into its records."""
    check_upload_size(len(body))
    envelope = decode_json(body, content_encoding)
    with uow:
        now = clock.now()
        host_id = authenticate(uow, authorization, now)
        outcome = _accept(uow, host_id, envelope, body, now)
        uow.commit()
    return outcome


def _accept(
    uow: UnitOfWork, host_id: str, envelope: dict[str, Any], body: bytes, now: datetime
) -> UploadOutcome:
    if envelope.get("schema") != v1.ENVELOPE_SCHEMA:
        raise InvalidRequest(
            f"unsupported upload schema {envelope.get('schema')!r} "
            f"(this console reads {v1.ENVELOPE_SCHEMA})"
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
    facts = HostFacts(inv.os, inv.kernel, inv.collector_errors, len(inv.packages), now)
    uow.hosts.update_facts(host_id, facts)
    settings = uow.settings.get()
    found = detect(inv, uow.advisories)
    stats = apply_detection(uow, host_id, inv, found.matches, now, settings, verify_ids)
    return UploadOutcome(
        inventory_id, False, len(found.matches), _changes(stats), found.errors[:50]
    )


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
    if not isinstance(job_id, int):
        raise InvalidRequest("job_id must be an integer")
    job = uow.jobs.get(job_id)
    if job is None or job.host_id != host_id:
        raise NotFound(f"unknown job {job_id}")
    if job.kind != "verify":
        return frozenset()
    return frozenset(int(i) for i in job.params.get("record_ids", []))
