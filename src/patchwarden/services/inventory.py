"""Accepting an agent's inventory: validate, store, detect, update records — one transaction.

Nothing is half-stored: the route runs this inside one database transaction, so a
malformed inventory (4xx) or a crash leaves the database as it was. A replayed upload (same
report id) is acknowledged again without being applied twice.
"""

from __future__ import annotations

import hashlib
import json
import zlib
from dataclasses import asdict
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, insert, select

from patchwarden.core.errors import InventoryError
from patchwarden.core.inventory import Inventory
from patchwarden.protocol import v1
from patchwarden.services.console_settings import ConsoleSettings
from patchwarden.services.detection import detect
from patchwarden.services.errors import Refused
from patchwarden.services.ports import AdvisoryIndex
from patchwarden.services.records import apply_detection
from patchwarden.storage import jobs
from patchwarden.storage import repositories as repo
from patchwarden.storage.tables import inventories


def decode_upload(body: bytes, content_encoding: str) -> dict[str, Any]:
    """The JSON envelope of an upload; 413 when too big, 400/422 when not an envelope."""
    if len(body) > v1.MAX_INVENTORY_GZIP:
        raise Refused(f"inventory upload of {len(body)} bytes exceeds {v1.MAX_INVENTORY_GZIP}", 413)
    raw = body
    if content_encoding.lower() == "gzip":
        # Bounded decompression: a small gzip bomb must not exhaust memory.
        inflater = zlib.decompressobj(wbits=31)
        try:
            raw = inflater.decompress(body, v1.MAX_INVENTORY_JSON + 1)
        except zlib.error as exc:
            raise Refused(f"inventory is not valid gzip: {exc}", 400) from None
        if len(raw) > v1.MAX_INVENTORY_JSON or inflater.unconsumed_tail:
            raise Refused(f"inventory exceeds {v1.MAX_INVENTORY_JSON} bytes once decompressed", 413)
        if not inflater.eof:
            raise Refused("inventory gzip stream is truncated", 400)
    try:
        data = json.loads(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        raise Refused(f"inventory is not JSON: {exc}", 400) from None
    if not isinstance(data, dict):
        raise Refused("inventory upload must be a JSON object", 422)
    return data


def accept_inventory(
    conn: Connection,
    host_id: str,
    envelope: dict[str, Any],
    body: bytes,
    now: datetime,
    index: AdvisoryIndex,
    settings: ConsoleSettings,
) -> dict[str, Any]:
    """Store one inventory and fold its findings into the host's records."""
    if envelope.get("schema") != v1.ENVELOPE_SCHEMA:
        raise Refused(
            f"unsupported upload schema {envelope.get('schema')!r} "
            f"(this console reads {v1.ENVELOPE_SCHEMA})",
            422,
        )
    try:
        report_id = v1.check_report_id(envelope.get("report_id"))
    except v1.ProtocolError as exc:
        raise Refused(str(exc), 422) from None
    # A retry racing its first try, or two reports of one host at once: the second waits
    # here, then finds the report (a duplicate) or the records the first one wrote.
    repo.lock_host(conn, host_id)
    previous = conn.execute(
        select(inventories.c.id).where(
            inventories.c.host_id == host_id, inventories.c.report_id == report_id
        )
    ).scalar()
    if previous is not None:
        return {"inventory_id": previous, "duplicate": True}
    try:
        inv = Inventory.from_dict(envelope.get("inventory"))  # type: ignore[arg-type]
    except InventoryError as exc:
        raise Refused(str(exc), 422) from None
    verify_ids = _verify_ids(conn, host_id, envelope.get("job_id"))
    inventory_id = int(
        conn.execute(
            insert(inventories).values(
                host_id=host_id,
                report_id=report_id,
                digest=hashlib.sha256(body).hexdigest(),
                received_at=now,
                body=body,
            )
        ).inserted_primary_key[0]
    )
    repo.update_host_facts(
        conn,
        host_id,
        {
            "os": asdict(inv.os),
            "kernel": asdict(inv.kernel),
            "collector_errors": [asdict(e) for e in inv.collector_errors],
            "packages": len(inv.packages),
            "last_inventory_at": now,
            "last_seen_at": now,
        },
    )
    found = detect(inv, index)
    stats = apply_detection(conn, host_id, inv, found.matches, now, settings, verify_ids)
    return {
        "inventory_id": inventory_id,
        "duplicate": False,
        "findings": len(found.matches),
        "records": stats.as_dict(),
        "errors": found.errors[:50],
    }


def _verify_ids(conn: Connection, host_id: str, job_id: Any) -> list[int]:
    """Record ids a verify job of this host asks about (none for scans / no job)."""
    if job_id is None:
        return []
    if not isinstance(job_id, int):
        raise Refused("job_id must be an integer", 422)
    job = jobs.get(conn, job_id)
    if job is None or job.host_id != host_id:
        raise Refused(f"unknown job {job_id}", 404)
    if job.kind != "verify":
        return []
    return [int(i) for i in job.params.get("record_ids", [])]
