"""GET /api/v1/records: a misspelt filter value is a 422 naming the filter and what it accepts
(`?severity=hgh` used to answer 200 with no records); `method` and `confidence` filter.
SQLite and PostgreSQL, through the in-process console."""

from __future__ import annotations

import re
from typing import Any

import pytest
from tests.integration.server.conftest import InProcessConsole, envelope, gz

from patchwarden.services.views import RECORD_FILTERS


@pytest.mark.parametrize(
    ("query", "needles"),
    [
        pytest.param(
            "severity=hgh", ("severity", "'hgh'", "critical, high, medium"), id="severity"
        ),
        pytest.param("status=opn", ("status", "'opn'", "unfixed", "all"), id="status"),
        pytest.param("bucket=soon", ("bucket", "'soon'", "asap, later, can_wait"), id="bucket"),
        pytest.param("type=vm", ("type", "'vm'", "linux, windows"), id="type"),
        pytest.param("method=guess", ("method", "'guess'", "distro-advisory"), id="method"),
        pytest.param("confidence=sure", ("confidence", "'sure'", "confirmed"), id="confidence"),
    ],
)
def test_misspelt_filter_is_422_naming_field_and_allowed_values(
    console: InProcessConsole, query: str, needles: tuple[str, ...]
) -> None:
    before = console.counts()
    reply = console.api("GET", f"/api/v1/records?{query}")
    assert reply.status_code == 422, reply.text
    detail = reply.json()["detail"]
    assert isinstance(detail, str)
    for needle in needles:
        assert needle in detail, (needle, detail)
    assert console.counts() == before


def test_method_and_confidence_pass_through(
    console: InProcessConsole, debian_inventory: dict[str, Any]
) -> None:
    assert console.upload(gz(envelope(debian_inventory))).status_code == 200

    def total(query: str) -> int:
        reply = console.api("GET", f"/api/v1/records?{query}")
        assert reply.status_code == 200, reply.text
        return int(reply.json()["total"])

    everything = total("")
    assert everything == 2  # the Debian 10 root's two DSA findings
    assert total("method=distro-advisory") == everything
    assert total("method=repository-update") == 0
    assert total("confidence=high,confirmed") == everything
    assert total("confidence=low") == 0


def test_the_api_documents_every_detection_method(console: InProcessConsole) -> None:
    """The OpenAPI description of `method` names what the filter accepts, app methods too."""
    document = console.api("GET", "/api/openapi.json").json()
    parameters = document["paths"]["/api/v1/records"]["get"]["parameters"]
    [param] = [p for p in parameters if p["name"] == "method"]
    assert param["description"].split(",") == list(RECORD_FILTERS["method"])


def test_the_api_documentation_cites_no_requirement_ids(console: InProcessConsole) -> None:
    """/api/docs shows the OpenAPI descriptions to users: words, never "R-D11"."""
    text = console.api("GET", "/api/openapi.json").text
    assert not re.findall(r"\bR-[A-Z]{1,2}\d+\b.{0,40}", text)
