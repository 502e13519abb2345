"""Probes of the security review (issue 9, part A) against the in-process console, SQLite and
PostgreSQL: each answers a 4xx naming the problem (never a 5xx) and stores nothing.

Deep nesting, integers past 2^63-1, lone surrogates and NUL, bodies over their limits
(chunked or gzip), `"schema": true`, and the headers every response carries.
"""

from __future__ import annotations

import gzip
import json
import re
import zlib
from collections.abc import Iterator
from typing import Any

import pytest
from tests.integration.server.conftest import InProcessConsole, envelope, gz
from tests.integration.server.test_api_errors import refused

from patchwarden.protocol import v1

BIG = 2**63
"""One past the largest integer both databases hold."""
DEEP = b"[" * 1000 + b"]" * 1000
"""The review's nesting probe (json.loads alone raises RecursionError on it)."""


def raw_json(text: str) -> bytes:
    """A body spelt out as JSON text (to send escapes json.dumps would never write)."""
    return text.encode()


def first_job(console: InProcessConsole) -> int:
    """Queue a scan of the console's agent and claim it; the job id."""
    reply = console.api("POST", "/api/v1/actions", json={"action": "scan", "host_ids": "all"})
    assert reply.status_code == 200, reply.text
    jobs = console.client.get(v1.JOBS, headers=console.agent_headers(gzip_body=False))
    [job] = jobs.json()["jobs"]
    return int(job["job_id"])


def agent_post(console: InProcessConsole, path: str, body: Any, gzipped: bool = False) -> Any:
    """POST a raw body as the console's agent."""
    return console.client.post(path, content=body, headers=console.agent_headers(gzipped))


# -- 1. nesting -------------------------------------------------------------------------------


def test_deeply_nested_json_is_refused_on_every_json_endpoint(console: InProcessConsole) -> None:
    job = first_job(console)
    before = console.counts()
    for label, reply in (
        ("enrol", console.client.post(v1.ENROL, content=DEEP)),
        ("inventory", agent_post(console, v1.INVENTORY, DEEP)),
        ("inventory gzip", agent_post(console, v1.INVENTORY, gzip.compress(DEEP), True)),
        ("result", agent_post(console, v1.JOB_RESULT.format(job_id=job), DEEP)),
        ("actions", console.api("POST", "/api/v1/actions", content=DEEP)),
        ("settings", console.api("PUT", "/api/v1/settings", content=DEEP)),
    ):
        body = refused(console, reply, 400, "nested deeper than 32 levels")
        assert body["detail"], label
    # Just over the limit, inside a valid envelope: the walk, not the parser, refuses it.
    nested: Any = "x"
    for _ in range(v1.MAX_JSON_DEPTH):
        nested = [nested]
    reply = agent_post(console, v1.INVENTORY, json.dumps({**envelope({}), "x": nested}).encode())
    refused(console, reply, 400, "nested deeper than 32")
    assert console.counts() == before


# -- 2. integers past what the databases hold -------------------------------------------------


@pytest.mark.parametrize(
    ("path", "field"),
    [
        ("/api/v1/records?page=9223372036854775807", "page"),
        ("/api/v1/vulnerabilities?page=9223372036854775807", "page"),
        ("/api/v1/catalogue?page=9223372036854775807", "page"),
        (f"/api/v1/records?page={v1.MAX_ID // 500 + 1}", "page"),
        (f"/api/v1/records/{BIG}", "record_id"),
        ("/api/v1/records/0", "record_id"),
        (f"/api/v1/jobs/{BIG}", "job_id"),
        (f"/api/v1/jobs/{10**30}", "job_id"),
    ],
)
def test_ids_and_pages_past_int64_are_refused_naming_the_parameter(
    console: InProcessConsole, path: str, field: str
) -> None:
    body = refused(console, console.api("GET", path), 422)
    assert [e["loc"][-1] for e in body["detail"]] == [field]


def test_the_largest_id_and_page_are_looked_up(console: InProcessConsole) -> None:
    refused(console, console.api("GET", f"/api/v1/records/{v1.MAX_ID}"), 404, "unknown record")
    refused(console, console.api("GET", f"/api/v1/jobs/{v1.MAX_ID}"), 404, "unknown job")
    page = console.api("GET", "/api/v1/records", params={"page": v1.MAX_ID // 500})
    assert page.status_code == 200 and page.json()["items"] == [], page.text


def test_integers_past_int64_in_bodies_are_refused_naming_the_field(
    console: InProcessConsole, debian_inventory: dict[str, Any]
) -> None:
    job = first_job(console)
    before = console.counts()
    reply = console.api("POST", "/api/v1/actions", json={"action": "ignore", "record_ids": [BIG]})
    refused(console, reply, 422, "record_ids[0] is 9223372036854775808, out of range")
    for record_id in (0, -1):
        reply = console.api(
            "POST", "/api/v1/actions", json={"action": "ignore", "record_ids": [record_id]}
        )
        assert refused(console, reply, 422)["detail"][0]["loc"] == ["body", "record_ids", 0]
    result = {"job_id": BIG, "ok": True, "report_id": "result-0001"}
    for url in (v1.JOB_RESULT.format(job_id=BIG), v1.JOB_RESULT.format(job_id=job)):
        reply = agent_post(console, url, json.dumps(result).encode())
        refused(console, reply, 422, "job_id")
    for job_id in (BIG, -BIG - 1, 10**400):
        reply = console.upload(gz(envelope(debian_inventory, job_id=job_id)))
        refused(console, reply, 422, "job_id")
    for job_id in (0, -1, True):
        reply = console.upload(gz(envelope(debian_inventory, job_id=job_id)))
        refused(console, reply, 422, f"job_id must be an integer within 1..{v1.MAX_ID}")
    for number in ("1e400", "-1e400", "NaN", "Infinity"):
        text = json.dumps(envelope(debian_inventory)).replace('"job_id": null', f'"x": {number}')
        refused(console, console.upload(gzip.compress(text.encode())), 422, "x is", "out of range")
    assert console.counts() == before


# -- 3. lone surrogates and NUL ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "needle"),
    [
        pytest.param('{"token": "\\ud800", "hostname": "h"}', "token contains a lone surrogate",
                     id="surrogate token"),
        pytest.param('{"token": "t", "hostname": "h\\u0000"}', "hostname contains a NUL",
                     id="NUL hostname"),
        pytest.param('{"token": "t", "hostname": "h", "machine_id": "\\udfff"}', "machine_id",
                     id="surrogate machine id"),
        pytest.param('{"token": "t", "hostname": "h", "\\ud800": 1}', "a key of the body",
                     id="surrogate key"),
    ],
)  # fmt: skip
def test_unstorable_strings_in_enrolment_are_refused(
    console: InProcessConsole, text: str, needle: str
) -> None:
    before = console.counts()
    refused(console, console.client.post(v1.ENROL, content=raw_json(text)), 422, needle)
    assert console.counts() == before


@pytest.mark.parametrize(
    ("where", "value", "needle"),
    [
        pytest.param(("os", "name"), "Deb\\udfff", "inventory.os.name contains a lone surrogate",
                     id="os name"),
        pytest.param(("host", "hostname"), "h\\u0000", "inventory.host.hostname contains a NUL",
                     id="hostname"),
        pytest.param(("packages", 0, "name"), "\\ud83d", "inventory.packages[0].name",
                     id="package name"),
        pytest.param(("collectors", 0), "dpkg\\u0000", "inventory.collectors[0]", id="collector"),
    ],
)  # fmt: skip
def test_unstorable_strings_in_inventories_are_refused_and_hosts_stay_readable(
    console: InProcessConsole,
    debian_inventory: dict[str, Any],
    where: tuple[Any, ...],
    value: str,
    needle: str,
) -> None:
    doc = envelope(json.loads(json.dumps(debian_inventory)))
    parent = doc["inventory"]
    for step in where[:-1]:
        parent = parent[step]
    parent[where[-1]] = "@@MARK@@"
    text = json.dumps(doc).replace("@@MARK@@", value)
    before = console.counts()
    refused(console, console.upload(gzip.compress(text.encode())), 422, needle)
    assert console.counts() == before
    hosts = console.api("GET", "/api/v1/hosts")
    assert hosts.status_code == 200, hosts.text


def test_surrogate_pairs_are_text_and_are_stored(
    console: InProcessConsole, debian_inventory: dict[str, Any]
) -> None:
    """An escaped pair (`\\ud83d\\ude00`) is one character: it is not refused."""
    doc = envelope({**debian_inventory, "os": {**debian_inventory["os"], "name": "@@MARK@@"}})
    text = json.dumps(doc).replace("@@MARK@@", "Debian \\ud83d\\ude00")
    reply = console.upload(gzip.compress(text.encode()))
    assert reply.status_code == 200, reply.text
    [host] = console.api("GET", "/api/v1/hosts").json()["items"]
    assert host["os"]["name"] == "Debian \U0001f600"


def test_invalid_utf8_and_encoded_surrogates_are_not_json(console: InProcessConsole) -> None:
    before = console.counts()
    # A UTF-8-encoded surrogate: json.loads(bytes) would decode it with surrogatepass.
    body = b'{"token": "\xed\xa0\x80", "hostname": "h"}'
    refused(console, console.client.post(v1.ENROL, content=body), 400, "not valid UTF-8")
    refused(console, console.client.post(v1.ENROL, content=b'{"token": "\xff"}'), 400, "UTF-8")
    assert console.counts() == before


def test_unstorable_strings_in_rest_bodies_and_urls_are_refused(console: InProcessConsole) -> None:
    before = console.counts()
    reply = console.api(
        "POST", "/api/v1/actions", content=raw_json('{"action": "scan", "host_ids": ["\\u0000"]}')
    )
    refused(console, reply, 422, "host_ids[0] contains a NUL")
    reply = console.api(
        "PUT", "/api/v1/settings", content=raw_json('{"feed_sources": ["\\udc80"]}')
    )
    refused(console, reply, 422, "feed_sources[0] contains a lone surrogate")
    for path in (
        "/api/v1/hosts/%00",
        "/api/v1/records?host=%00",
        "/api/v1/records?vuln_id=CVE%00",
        "/api/v1/catalogue?q=%00",
    ):
        refused(console, console.api("GET", path), 400, "NUL")
    assert console.counts() == before


# -- 4. bodies over their limits ----------------------------------------------------------------


def chunks(data: bytes, size: int, taken: list[int]) -> Iterator[bytes]:
    """`data` in chunks of `size` (sent chunked: no Content-Length); counts what was taken."""
    for start in range(0, len(data), size):
        taken.append(1)
        yield data[start : start + size]


def bomb(inflated: int) -> bytes:
    """gzip of about `inflated` bytes of `[{},{},…]`."""
    z = zlib.compressobj(9, zlib.DEFLATED, 31)
    piece = b"{}," * (1 << 18)
    parts = [z.compress(b"[")]
    parts += [z.compress(piece) for _ in range(inflated // len(piece) + 1)]
    return b"".join([*parts, z.compress(b"{}]"), z.flush()])


def test_bodies_are_not_read_before_the_credentials_are_checked(
    console: InProcessConsole,
) -> None:
    before = console.counts()
    for path, headers in (
        (v1.INVENTORY, {"Content-Encoding": "gzip"}),
        (v1.INVENTORY, {"Content-Encoding": "gzip", "Authorization": "Agent x:y"}),
        (v1.JOB_RESULT.format(job_id=1), {"Authorization": "Bearer nope"}),
        ("/api/v1/actions", {"Authorization": "Agent x:y"}),
        ("/api/v1/settings", {}),
    ):
        taken: list[int] = []
        method = "PUT" if path.endswith("settings") else "POST"
        body = chunks(bomb(60 << 20), 64 << 10, taken)
        reply = console.client.request(method, path, content=body, headers=headers)
        refused(console, reply, 401)
        assert taken == [], f"{path}: the body was read before the 401"
    assert console.counts() == before


def test_gzip_bombs_stop_at_the_inflated_limit(console: InProcessConsole) -> None:
    before = console.counts()
    reply = console.upload(bomb(60 << 20))
    refused(console, reply, 413, f"exceeds {v1.MAX_INVENTORY_JSON} bytes once decompressed")
    small = gzip.compress(b'{"token": "' + b"a" * 100_000 + b'", "hostname": "h"}')
    headers = {"Content-Encoding": "gzip"}
    reply = console.client.post(v1.ENROL, content=small, headers=headers)
    refused(console, reply, 413, f"enrolment exceeds {v1.MAX_SMALL_BODY} bytes once decompressed")
    assert console.counts() == before


@pytest.mark.parametrize(
    ("path", "limit"),
    [
        (v1.INVENTORY, v1.MAX_INVENTORY_GZIP),
        (v1.ENROL, v1.MAX_SMALL_BODY),
        (v1.JOB_RESULT.format(job_id=1), v1.MAX_SMALL_BODY),
        ("/api/v1/actions", 1024 * 1024),
    ],
)
def test_chunked_bodies_are_refused_at_the_limit(
    console: InProcessConsole, path: str, limit: int
) -> None:
    headers = console.agent_headers(gzip_body=False)
    if path.startswith("/api/v1"):
        headers = {"Authorization": f"Bearer {console.api_token}"}
    before = console.counts()
    taken: list[int] = []
    body = chunks(b"[" + b"0," * limit + b"0]", 64 << 10, taken)
    reply = console.client.post(path, content=body, headers=headers)
    refused(console, reply, 413, f"exceeds {limit} bytes")
    assert console.counts() == before


@pytest.mark.parametrize(
    ("body", "headers", "status", "needle"),
    [
        pytest.param(gzip.compress(b"{}") + b"junk", {"Content-Encoding": "gzip"}, 400,
                     "data after the end of the gzip stream", id="trailing data"),
        pytest.param(gzip.compress(b"{}") * 2, {"Content-Encoding": "gzip"}, 400,
                     "data after the end", id="two gzip members"),
        pytest.param(b"{}", {"Content-Encoding": "br"}, 400, "unsupported Content-Encoding 'br'",
                     id="brotli"),
        pytest.param(b"", {}, 400, "is empty", id="empty"),
        pytest.param(b"[" * 100 + b"]" * 100, {}, 400, "nested deeper", id="100 deep"),
        pytest.param(b"[" + b"{}," * 200_001 + b"{}]", {}, 413,
                     f"more than {v1.MAX_JSON_CONTAINERS} JSON arrays and objects",
                     id="too many objects"),
        pytest.param(b"[" + b"0," * v1.MAX_JSON_VALUES + b"0]", {}, 413,
                     f"more than {v1.MAX_JSON_VALUES} JSON values", id="too many values"),
        pytest.param(b'{"a": 1}\n{"b": 2}', {}, 400, "not JSON: Extra data", id="two documents"),
        pytest.param(b"\xef\xbb\xbf{}", {}, 400, "not JSON", id="byte order mark"),
    ],
)  # fmt: skip
def test_malformed_upload_bodies(
    console: InProcessConsole, body: bytes, headers: dict[str, str], status: int, needle: str
) -> None:
    before = console.counts()
    reply = console.upload(body, {**console.agent_headers(gzip_body=False), **headers})
    refused(console, reply, status, needle)
    assert console.counts() == before


# -- 5. the envelope schema --------------------------------------------------------------------


@pytest.mark.parametrize("schema", [True, 1.0, "1", [1], None])
def test_only_the_integer_1_is_envelope_schema_1(
    console: InProcessConsole, debian_inventory: dict[str, Any], schema: Any
) -> None:
    before = console.counts()
    reply = console.upload(gz({**envelope(debian_inventory), "schema": schema}))
    refused(console, reply, 422, "unsupported upload schema")
    assert console.counts() == before


def test_report_ids_end_where_they_end(
    console: InProcessConsole, debian_inventory: dict[str, Any]
) -> None:
    reply = console.upload(gz(envelope(debian_inventory, report_id="report-0001\n")))
    refused(console, reply, 422, "report_id")


# -- 6. HTTP headers, challenges, documentation -------------------------------------------------


def test_every_answer_carries_the_security_headers(console: InProcessConsole) -> None:
    for reply in (
        console.api("GET", "/api/v1/hosts"),
        console.api("GET", "/api/v1/records/abc"),
        console.client.get("/api/v1/hosts"),
        console.client.get("/healthz"),
        console.client.get("/api/openapi.json"),
        console.client.get("/api/v1/hosts/%00"),
        console.client.post(v1.ENROL, content=DEEP),
    ):
        h = reply.headers
        assert h["x-content-type-options"] == "nosniff", reply.url
        assert h["x-frame-options"] == "DENY"
        assert "frame-ancestors 'none'" in h["content-security-policy"]
        assert h["referrer-policy"] == "no-referrer"
        assert h["cache-control"] == "no-store"
        assert "server" not in h


def test_401_names_the_scheme_to_use(console: InProcessConsole) -> None:
    rest = console.client.get("/api/v1/hosts")
    assert rest.status_code == 401
    assert rest.headers["www-authenticate"] == 'Bearer realm="patchwarden"'
    agent = console.client.post(v1.HEARTBEAT, headers={"Authorization": "Bearer x"})
    assert agent.status_code == 401
    assert agent.headers["www-authenticate"] == 'Agent realm="patchwarden agents"'
    ok = console.api("GET", "/api/v1/hosts")
    assert "www-authenticate" not in ok.headers


def test_openapi_declares_both_credentials_and_exact_bounds(console: InProcessConsole) -> None:
    doc = console.client.get("/api/openapi.json").json()
    schemes = doc["components"]["securitySchemes"]
    assert schemes["bearer"] == {
        "type": "http",
        "scheme": "bearer",
        "bearerFormat": "pwa_…",
        "description": schemes["bearer"]["description"],
    }
    assert schemes["agent"]["type"] == "apiKey" and schemes["agent"]["name"] == "Authorization"
    paths = doc["paths"]
    assert paths["/api/v1/records"]["get"]["security"] == [{"bearer": []}]
    assert paths["/api/agent/v1/inventory"]["post"]["security"] == [{"agent": []}]
    [record_id] = paths["/api/v1/records/{record_id}"]["get"]["parameters"]
    assert (record_id["schema"]["minimum"], record_id["schema"]["maximum"]) == (1, v1.MAX_ID)
    for path, method in (("/api/v1/actions", "post"), (v1.INVENTORY, "post"), (v1.ENROL, "post")):
        operation = paths[path][method]
        assert operation["requestBody"]["required"] is True
        assert "$ref" not in json.dumps(operation["requestBody"])
        assert {"400", "401", "413", "422"} <= set(operation["responses"])


def test_docs_page_loads_only_the_consoles_own_assets(console: InProcessConsole) -> None:
    page = console.client.get("/api/docs")
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    urls = re.findall(r'(?:src|href)="([^"]*)"', page.text) + re.findall(
        r"url: '([^']*)'", page.text
    )
    assert sorted(urls) == [
        "/api/docs/assets/favicon.png",
        "/api/docs/assets/swagger-ui-bundle.js",
        "/api/docs/assets/swagger-ui.css",
        "/api/openapi.json",
    ]
    assert "//" not in " ".join(urls) and "validatorUrl" in page.text
    policy = page.headers["content-security-policy"]
    assert "default-src 'none'" in policy and "script-src 'self' 'sha256-" in policy
    for url, kind in (
        ("/api/docs/assets/swagger-ui-bundle.js", "text/javascript"),
        ("/api/docs/assets/swagger-ui.css", "text/css"),
        ("/api/docs/assets/favicon.png", "image/png"),
    ):
        asset = console.client.get(url)
        assert asset.status_code == 200 and asset.headers["content-type"].startswith(kind)
        assert len(asset.content) > 1000
    assert b"SwaggerUIBundle" in console.client.get("/api/docs/assets/swagger-ui-bundle.js").content
    refused(console, console.client.get("/api/docs/assets/redoc.standalone.js"), 404, "no docs")
    refused(console, console.client.get("/api/docs/assets/..%2Fcore.py"), 404)
