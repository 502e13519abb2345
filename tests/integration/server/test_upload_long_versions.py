"""Uploads whose versions no scheme can order: a recorded skip in the answer, never a 500
(issue 9, security review: a 5,000-digit version went past Python's int() limit).

Both sides are covered: an installed version that long, and an advisory in the console's
store whose fixed version is that long. The AlmaLinux advisories go through the rpm scheme,
the Debian host through dpkg. On each database backend (in-process console fixture).
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
from tests.e2e.fleet import build_roots
from tests.integration.server.conftest import InProcessConsole, envelope, gz

from patchwarden.agent.inventory import collect_inventory
from patchwarden.core.clock import Clock
from patchwarden.services.feeds import import_spec

LONG = "1" * 5000
ALMA_OS = {
    "id": "almalinux",
    "family": "rhel",
    "name": "AlmaLinux",
    "release": "9",
    "version_id": "9.3",
}


def _osv(tmp_path: Path, rid: str, name: str, fixed: str) -> str:
    record = {
        "id": rid,
        "modified": "2024-01-01T00:00:00Z",
        "summary": "Important: test update",
        "affected": [
            {
                "package": {"ecosystem": "AlmaLinux:9", "name": name},
                "ranges": [
                    {"type": "ECOSYSTEM", "events": [{"introduced": "0"}, {"fixed": fixed}]}
                ],
            }
        ],
    }
    path = tmp_path / f"{rid}.json"
    path.write_text(json.dumps(record))
    return f"osv:{path}"


def _alma_inventory(debian: dict[str, Any], version: str) -> dict[str, Any]:
    inventory = copy.deepcopy(debian)
    inventory["os"] = {**inventory["os"], **ALMA_OS}
    package = {**inventory["packages"][0], "name": "bash", "version": version, "format": "rpm"}
    package.update(source_name="", source_version="", arch="x86_64")
    inventory["packages"] = [package]
    return inventory


def _import(console: InProcessConsole, spec: str) -> None:
    store = console.client.app.state.store  # type: ignore[attr-defined]
    import_spec(store, spec, Clock())


def test_advisory_with_a_fixed_version_too_long_is_skipped_not_a_500(
    console: InProcessConsole, debian_inventory: dict[str, Any], tmp_path: Path
) -> None:
    _import(console, _osv(tmp_path, "PW-LONG-0001", "bash", LONG))
    _import(console, _osv(tmp_path, "PW-SHORT-0001", "bash", "5.1.8-9.el9"))
    reply = console.upload(gz(envelope(_alma_inventory(debian_inventory, "5.1.8-6.el9"))))
    assert reply.status_code == 200, reply.text
    body = reply.json()
    assert body["findings"] == 1  # the other advisory still matched
    (error,) = body["errors"]
    assert error.startswith("PW-LONG-0001 AlmaLinux:9/bash: invalid rpm version '1111")
    assert error.endswith("(5000 characters): digit run too long")


def test_installed_version_too_long_is_skipped_not_a_500(
    console: InProcessConsole, debian_inventory: dict[str, Any], tmp_path: Path
) -> None:
    _import(console, _osv(tmp_path, "PW-SHORT-0002", "bash", "5.1.8-9.el9"))
    reply = console.upload(gz(envelope(_alma_inventory(debian_inventory, f"{LONG}-1.el9"))))
    assert reply.status_code == 200, reply.text
    body = reply.json()
    assert body["findings"] == 0
    assert any(
        e.startswith("PW-SHORT-0002 AlmaLinux:9/bash: invalid rpm version") for e in body["errors"]
    ), body["errors"]


@pytest.fixture(scope="module")
def own_debian_inventory(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """The Debian 10 root's inventory, collected here: the session-wide `debian_inventory`
    can come with its packages cut to three by another module's test."""
    roots = build_roots(tmp_path_factory.mktemp("roots"))
    return collect_inventory(roots["deb"], online=False).to_dict()


def test_debian_installed_version_too_long_is_skipped_not_a_500(
    console: InProcessConsole, own_debian_inventory: dict[str, Any]
) -> None:
    inventory = copy.deepcopy(own_debian_inventory)
    apt = next(p for p in inventory["packages"] if p["name"] == "apt")
    apt["version"] = f"1.{LONG}"
    reply = console.upload(gz(envelope(inventory)))
    assert reply.status_code == 200, reply.text
    errors = reply.json()["errors"]
    assert errors and all("invalid dpkg version" in e for e in errors), errors
    assert all("digit run too long" in e and len(e) < 250 for e in errors), errors
