"""Revision 0003 (issue 8): records made before it read as unrated, without vector, title or
references, and take them at their next write — on both backends."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timezone

from sqlalchemy import MetaData, Table, insert

from patchwarden.core.vocabulary import VulnType
from patchwarden.services.index import MemoryIndex
from patchwarden.storage.db import make_engine, transaction
from patchwarden.storage.migrate import upgrade
from patchwarden.storage.uow import SqlUnitOfWork

NOW = datetime(2026, 11, 30, tzinfo=timezone.utc)


def test_records_of_0002_read_as_unrated_and_take_the_new_detail(db_url: str) -> None:
    upgrade(db_url, "0002")
    engine = make_engine(db_url)
    try:
        meta = MetaData()
        # The tables as 0002 left them (reflected: tables.py describes the head).
        hosts = Table("hosts", meta, autoload_with=engine)
        records = Table("records", meta, autoload_with=engine)
        assert "severity_source" not in records.c
        with transaction(engine) as conn:
            conn.execute(
                insert(hosts).values(
                    id="h1", hostname="h", machine_id="", secret_hash="x" * 64,
                    agent_version="", enrolled_at=NOW, os={}, kernel={},
                    collector_errors=[], packages=0,
                )
            )  # fmt: skip
            conn.execute(
                insert(records).values(
                    host_id="h1", vuln_id="CVE-1", affected_key="expat", type="linux",
                    package="expat", source_package="expat", installed_version="1",
                    cves=["CVE-1"], advisories=[], summary="", severity="unknown",
                    exploitable=False, method="repository-update", confidence="high",
                    restart_required=False, reason="", status="unfixed", urgency=5.5,
                    bucket="can_wait", occurrence=1, first_seen=NOW, last_seen=NOW,
                    status_changed_at=NOW,
                )
            )  # fmt: skip
    finally:
        engine.dispose()
    upgrade(db_url)
    engine = make_engine(db_url)
    try:
        uow = SqlUnitOfWork(engine, MemoryIndex())
        with uow.read():
            (stored,) = uow.records.of_host("h1", VulnType.LINUX)
        d = stored.detail
        assert (d.severity_source, d.cvss_vector, d.title, d.references) == ("unrated", "", "", ())
        rated = replace(
            d,
            severity_source="nvd",
            cvss_vector="CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:N/I:N/A:H",
            title="expat: crash",
            references=("https://nvd.nist.gov/vuln/detail/CVE-1",),
        )
        with uow:
            uow.records.update([(stored, stored.record, rated)])
            uow.commit()
        with uow.read():
            (again,) = uow.records.of_host("h1", VulnType.LINUX)
        assert again.detail == rated
    finally:
        engine.dispose()
