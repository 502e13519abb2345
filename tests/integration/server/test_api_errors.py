"""Bad input and faults of issue #3 at the HTTP boundary: a clear 4xx JSON error, never a 500,
and nothing stored half-way (row counts before == after). SQLite and PostgreSQL.
"""

from __future__ import annotations

import gzip
import json
import zlib
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from typing import Any

import pytest
from tests.integration.server.conftest import InProcessConsole, envelope, gz

from patchwarden.protocol import v1


def refused(console: InProcessConsole, response: Any, status: int, *needles: str) -> dict[str, Any]:
    """Assert a JSON error with `status` whose detail contains every needle."""
    assert response.status_code == status, (response.status_code, response.text)
    body = response.json()
    detail = json.dumps(body["detail"]) if not isinstance(body["detail"], str) else body["detail"]
    for needle in needles:
        assert needle in detail, (needle, detail)
    return body


# -- inventory uploads --------------------------------------------------------------------------


def _bomb() -> bytes:
    """~64 KB of gzip that inflates past the 64 MiB JSON cap."""
    z = zlib.compressobj(9, zlib.DEFLATED, 31)
    chunk = b" " * (1 << 20)
    out = [z.compress(b'{"schema": 1, "pad": "')]
    out += [z.compress(chunk) for _ in range(v1.MAX_INVENTORY_JSON // len(chunk) + 1)]
    out.append(z.compress(b'"}') + z.flush())
    return b"".join(out)


BAD_UPLOADS = [
    pytest.param(
        lambda inv: b"\x1f\x8b" + b"\0" * (v1.MAX_INVENTORY_GZIP + 1), True, 413,
        ("exceeds", str(v1.MAX_INVENTORY_GZIP)), id="over the gzip cap",
    ),
    pytest.param(lambda inv: _bomb(), True, 413, ("once decompressed",), id="gzip bomb"),
    pytest.param(lambda inv: b"not gzip at all", True, 400, ("not valid gzip",), id="not gzip"),
    pytest.param(
        lambda inv: gz(envelope(inv))[:-20], True, 400, ("truncated",), id="truncated gzip"
    ),
    pytest.param(lambda inv: gzip.compress(b"{nope"), True, 400, ("not JSON",), id="not JSON"),
    pytest.param(
        lambda inv: gzip.compress(b"\xff\xfe\x00"), True, 400, ("not JSON",), id="not UTF-8"
    ),
    pytest.param(lambda inv: gz([1, 2]), True, 422, ("JSON object",), id="JSON array"),
    pytest.param(
        lambda inv: gz({**envelope(inv), "schema": 2}), True, 422,
        ("unsupported upload schema 2",), id="unknown envelope schema",
    ),
    pytest.param(
        lambda inv: gz({**envelope(inv), "inventory": {**inv, "schema": 99}}), True, 422,
        ("unsupported inventory schema 99",), id="unknown inventory schema",
    ),
    pytest.param(
        lambda inv: gz({**envelope(inv), "report_id": "x"}), True, 422, ("report_id",),
        id="bad report id",
    ),
    pytest.param(
        lambda inv: gz({**envelope(inv), "inventory": {k: v for k, v in inv.items()
                                                        if k != "host"}}),
        True, 422, ("malformed inventory",), id="inventory without host",
    ),
    pytest.param(
        lambda inv: gz({**envelope(inv), "inventory": {**inv, "os": {**inv["os"], "family": []}}}),
        True, 422, ("inventory.os.family must be str, got list",), id="list as os family",
    ),
    pytest.param(
        lambda inv: gz({**envelope(inv), "inventory": {**inv, "packages": [{"name": 1}]}}),
        True, 422, ("inventory.packages[0]",), id="package without version",
    ),
    pytest.param(
        lambda inv: gz({**envelope(inv), "inventory": {**inv, "collectors": "dpkg@1"}}),
        True, 422, ("inventory.collectors must be a list",), id="collectors not a list",
    ),
    pytest.param(
        lambda inv: gz({**envelope(inv), "job_id": "seven"}), True, 422, ("job_id",),
        id="job id not an integer",
    ),
    pytest.param(
        lambda inv: gz({**envelope(inv), "job_id": 424242}), True, 404, ("unknown job",),
        id="unknown job id",
    ),
    pytest.param(
        lambda inv: json.dumps(envelope(inv)).encode(), False, 200, (), id="plain JSON is fine",
    ),
]  # fmt: skip


@pytest.mark.parametrize(("make", "gzipped", "status", "needles"), BAD_UPLOADS)
def test_bad_inventory_uploads_are_refused_and_store_nothing(
    console: InProcessConsole,
    debian_inventory: dict[str, Any],
    make: Any,
    gzipped: bool,
    status: int,
    needles: tuple[str, ...],
) -> None:
    before = console.counts()
    reply = console.upload(make(debian_inventory), console.agent_headers(gzip_body=gzipped))
    if status == 200:
        assert reply.status_code == 200, reply.text
        assert console.counts()["inventories"] == before["inventories"] + 1
        return
    refused(console, reply, status, *needles)
    assert console.counts() == before


@pytest.mark.parametrize(
    "authorization",
    [
        pytest.param(None, id="no credentials"),
        pytest.param("Bearer abc", id="wrong scheme"),
        pytest.param("Agent nocolon", id="malformed"),
        pytest.param("wrong secret", id="wrong secret"),
        pytest.param("unknown host", id="unknown host"),
    ],
)
def test_agent_credentials_are_checked(
    console: InProcessConsole, debian_inventory: dict[str, Any], authorization: str | None
) -> None:
    headers = {"Content-Encoding": "gzip"}
    if authorization == "wrong secret":
        authorization = v1.auth_header(console.host_id, "not-the-secret")
    elif authorization == "unknown host":
        authorization = v1.auth_header("00000000-0000-0000-0000-000000000000", console.secret)
    if authorization:
        headers["Authorization"] = authorization
    before = console.counts()
    reply = console.upload(gz(envelope(debian_inventory)), headers)
    refused(console, reply, 401)
    for path in (v1.HEARTBEAT, v1.JOBS):
        method = "POST" if path == v1.HEARTBEAT else "GET"
        refused(console, console.client.request(method, path, headers=headers), 401)
    assert console.counts() == before


def test_a_replayed_report_is_acknowledged_once_and_applied_once(
    console: InProcessConsole, debian_inventory: dict[str, Any]
) -> None:
    body = gz(envelope(debian_inventory, report_id="report-0001"))
    first = console.upload(body)
    assert first.status_code == 200, first.text
    assert first.json()["records"]["created"] == 2  # apt: DSA-4685-1, DSA-4808-1
    after_first = console.counts()
    # The same report again, and again with another body under the same id.
    again = console.upload(body)
    other = console.upload(gz(envelope({**debian_inventory, "packages": []}, "report-0001")))
    for reply in (again, other):
        assert reply.status_code == 200
        assert reply.json() == {"inventory_id": first.json()["inventory_id"], "duplicate": True}
    assert console.counts() == after_first


def test_racing_uploads_of_one_host_are_serialised_not_500(
    console: InProcessConsole, debian_inventory: dict[str, Any]
) -> None:
    """The agent retrying a report while the first try is still being applied, and two
    different reports of one host at once: every reply is 200, the report is applied once,
    and the records are neither doubled nor lost (the host row lock orders them)."""
    same = gz(envelope(debian_inventory, report_id="report-race"))
    others = [gz(envelope(debian_inventory)) for _ in range(3)]
    with ThreadPoolExecutor(max_workers=6) as pool:
        replies = list(pool.map(console.upload, [same] * 5 + others))
    assert [r.status_code for r in replies] == [200] * 8, [r.text for r in replies]
    same_replies = [r.json() for r in replies[:5]]
    assert sorted(r["duplicate"] for r in same_replies) == [False] + [True] * 4
    assert len({r["inventory_id"] for r in same_replies}) == 1
    assert not any(r.json()["duplicate"] for r in replies[5:])
    counts = console.counts()
    assert counts["inventories"] == 4
    assert counts["records"] == 2  # apt: DSA-4685-1, DSA-4808-1 — once each


# -- enrolment, jobs, results ---------------------------------------------------------------


def test_enrolment_errors(console: InProcessConsole) -> None:
    before = console.counts()
    post = console.client.post
    refused(console, post(v1.ENROL, content=b"{nope"), 400, "not JSON")
    refused(console, post(v1.ENROL, json={"hostname": "h"}), 422, "token and a hostname")
    refused(console, post(v1.ENROL, json={"token": "t", "hostname": " "}), 422, "hostname")
    refused(console, post(v1.ENROL, json={"token": "pwe_x", "hostname": "h"}), 401, "unknown")
    refused(console, post(v1.ENROL, content=b"{" + b" " * 70_000 + b"}"), 413, "exceeds")
    assert console.counts() == before


def test_job_polls_and_results_are_validated(console: InProcessConsole) -> None:
    headers = console.agent_headers(gzip_body=False)
    get, post = console.client.get, console.client.post
    for wait in ("-1", str(v1.MAX_POLL_WAIT + 1), "soon"):
        refused(console, get(v1.JOBS, params={"wait": wait}, headers=headers), 422)
    scan = console.api("POST", "/api/v1/actions", json={"action": "scan", "host_ids": "all"})
    [item] = scan.json()["items"]
    [job] = get(v1.JOBS, headers=headers).json()["jobs"]
    assert job["job_id"] == item["job_id"]
    url = v1.JOB_RESULT.format(job_id=job["job_id"])
    before = console.counts()
    refused(console, post(url, json={"job_id": 1 + job["job_id"]}, headers=headers), 422,
            "does not match")  # fmt: skip
    refused(console, post(url, json={"job_id": job["job_id"]}, headers=headers), 422, "malformed")
    bad_id = {"job_id": job["job_id"], "ok": True, "report_id": "!"}
    refused(console, post(url, json=bad_id, headers=headers), 422, "malformed")
    unknown = v1.JOB_RESULT.format(job_id=99_999)
    body = {"job_id": 99_999, "ok": True, "report_id": "result-0001"}
    refused(console, post(unknown, json=body, headers=headers), 404, "unknown job")
    assert console.counts() == before
    result = {"job_id": job["job_id"], "ok": True, "report_id": "result-0001"}
    assert post(url, json=result, headers=headers).json()["duplicate"] is False
    assert post(url, json=result, headers=headers).json()["duplicate"] is True


# -- REST API ---------------------------------------------------------------------------------


def _records(console: InProcessConsole, inventory: dict[str, Any]) -> list[int]:
    reply = console.upload(gz(envelope(inventory)))
    assert reply.status_code == 200, reply.text
    items = console.api("GET", "/api/v1/records").json()["items"]
    return [r["id"] for r in items]


def test_actions_refuse_per_item_and_store_nothing_for_refused_items(
    console: InProcessConsole, debian_inventory: dict[str, Any]
) -> None:
    first, second = _records(console, debian_inventory)
    before = console.counts()
    reply = console.api(
        "POST", "/api/v1/actions", json={"action": "unignore", "record_ids": [first, 123456]}
    )
    assert reply.status_code == 200
    body = reply.json()
    assert (body["ok"], body["refused"]) == (0, 2)
    assert body["items"][0]["reason"] == "record is not ignored"
    assert body["items"][1]["reason"] == "unknown record id"
    assert console.counts() == before

    # R-L1: three days offline, the sweep expires both; verify and ignore are refused.
    console.clock.advance(timedelta(days=3, minutes=1))
    tick = console.api("POST", "/api/v1/maintenance/tick").json()
    assert tick["ran"] and tick["expired"] == 2
    before = console.counts()
    for action in ("verify", "ignore"):
        reply = console.api(
            "POST", "/api/v1/actions",
            json={"action": action, "record_ids": [first, second], "reason": "r"},
        )  # fmt: skip
        items = reply.json()["items"]
        assert [i["ok"] for i in items] == [False, False]
        assert all("record expired: agent offline since" in i["reason"] for i in items)
        assert all("record expired" in i["reason"] for i in items)
    assert console.counts() == before


@pytest.mark.parametrize(
    ("body", "status", "needle"),
    [
        pytest.param({"action": "upgrade", "record_ids": [1]}, 422, "action", id="unknown action"),
        pytest.param({"action": "verify"}, 422, "needs record_ids", id="no records"),
        pytest.param({"action": "verify", "record_ids": ["a"]}, 422, "record_ids", id="not ids"),
        pytest.param({"action": "scan", "host_ids": []}, 422, "host_ids", id="scan nothing"),
        pytest.param({"action": "scan", "host_ids": ["nope"]}, 404, "unknown hosts", id="host"),
        pytest.param(
            {"action": "ignore", "record_ids": list(range(10_001))}, 422, "record_ids",
            id="batch too big",
        ),
    ],
)  # fmt: skip
def test_bad_action_requests(
    console: InProcessConsole, body: dict[str, Any], status: int, needle: str
) -> None:
    before = console.counts()
    refused(console, console.api("POST", "/api/v1/actions", json=body), status, needle)
    assert console.counts() == before


@pytest.mark.parametrize(
    ("patch", "needle"),
    [
        pytest.param({"scan_levels": ["urgent"]}, "invalid setting scan_levels", id="level"),
        pytest.param({"offline_ttl_days": {"linux": -1}}, "offline_ttl_days", id="negative ttl"),
        pytest.param({"offline_ttl_days": {"desktop": 3}}, "offline_ttl_days", id="unknown type"),
        pytest.param({"clear_after_days": "soon"}, "clear_after_days", id="not a number"),
        pytest.param({"colour": "blue"}, "unknown settings ['colour']", id="unknown key"),
        pytest.param([1, 2], "", id="not an object"),
    ],
)
def test_bad_settings_are_refused_naming_the_field(
    console: InProcessConsole, patch: Any, needle: str
) -> None:
    current = console.api("GET", "/api/v1/settings").json()
    refused(console, console.api("PUT", "/api/v1/settings", json=patch), 422, needle)
    assert console.api("GET", "/api/v1/settings").json() == current
    ok = console.api("PUT", "/api/v1/settings", json={"scan_levels": ["critical", "high"]})
    assert ok.status_code == 200 and ok.json()["scan_levels"] == ["critical", "high"]


@pytest.mark.parametrize(
    "params",
    [
        {"per_page": "0"},
        {"per_page": "501"},
        {"page": "0"},
        {"page": "-3"},
        {"page": "two"},
        {"exploitable": "maybe"},
    ],
    ids=lambda p: "&".join(f"{k}={v}" for k, v in p.items()),
)
def test_record_list_bounds(console: InProcessConsole, params: dict[str, str]) -> None:
    for path in ("/api/v1/records", "/api/v1/vulnerabilities"):
        if path.endswith("vulnerabilities") and "exploitable" in params:
            continue
        refused(console, console.api("GET", path, params=params), 422)


def test_pages_past_the_end_and_unknown_ids(
    console: InProcessConsole, debian_inventory: dict[str, Any]
) -> None:
    ids = _records(console, debian_inventory)
    page = console.api("GET", "/api/v1/records", params={"page": 99, "per_page": 500}).json()
    assert (page["items"], page["total"]) == ([], len(ids))
    refused(console, console.api("GET", "/api/v1/records/987654"), 404, "unknown record")
    refused(console, console.api("GET", "/api/v1/records/abc"), 422)
    refused(console, console.api("GET", "/api/v1/jobs/987654"), 404, "unknown job")
    refused(console, console.api("GET", "/api/v1/hosts/nope"), 404, "unknown host")


@pytest.mark.parametrize("token", [None, "Bearer", "Bearer pwa_wrong", "Basic abc"])
def test_rest_api_needs_a_valid_token(console: InProcessConsole, token: str | None) -> None:
    headers = {"Authorization": token} if token else {}
    for method, path in (
        ("GET", "/api/v1/records"),
        ("GET", "/api/v1/hosts"),
        ("POST", "/api/v1/actions"),
        ("PUT", "/api/v1/settings"),
        ("POST", "/api/v1/maintenance/tick"),
    ):
        reply = console.client.request(method, path, headers=headers, json={"action": "scan"})
        assert reply.status_code == 401, (method, path, reply.status_code, reply.text)
