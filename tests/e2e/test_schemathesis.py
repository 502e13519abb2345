"""Schemathesis over the console's own OpenAPI document, against a real `patchwarden server` on
loopback (SQLite and PostgreSQL; issue 9).

Every operation gets schema-conforming (positive) and schema-breaking (negative) requests,
sent with the credentials it declares (the user's bearer token on the REST API, the enrolled
agent's on the agent API). Each response must not be a server error, and must conform to
the document: a documented status code and content type, a body matching the schema of its
status, the documented headers. The document has no links, so there is no stateful phase.

Examples are bounded (`EXAMPLES` per operation and mode) so a run takes about a minute.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)
from tests.e2e.live_console import LiveConsole, live_console

from patchwarden.protocol import v1

pytestmark = pytest.mark.slow

Counts = dict[int, int]
"""How many answers of each status one operation got."""

EXAMPLES = 25
"""Examples per operation and generation mode."""
REACHED = ("GET /api/v1/hosts", "GET /api/v1/records", "GET /api/agent/v1/jobs", "GET /healthz")
"""Operations some generated requests must have passed (the others need ids that exist)."""
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
    response_headers_conformance,
]


@pytest.fixture
def live(db_url: str, tmp_path: Path) -> Iterator[LiveConsole]:
    """A console process on each backend. Failed authentications are not throttled: the
    negative cases send many, and the lock-out would turn every later answer into a 429."""
    with live_console(tmp_path, db_url, "--auth-failures", "0") as console:
        yield console


def test_every_operation_conforms_and_never_fails(live: LiveConsole) -> None:
    schema = schemathesis.openapi.from_url(live.url + "/api/openapi.json")
    session = requests.Session()
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 16, [op.label for op in operations]
    failures: list[str] = []
    calls: dict[str, Counts] = {}
    for operation in operations:
        seen = calls.setdefault(operation.label, {})
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            try:
                fuzz(live, session, operation, mode, seen)
            except Unsatisfiable:
                assert mode is GenerationMode.NEGATIVE  # nothing to break (no parameters)
            except Exception as exc:  # collect every operation's failure, then report all
                failures.append(f"{operation.label} ({mode.value}): {exc}")
    assert not failures, "\n\n".join(failures)
    # The runs reached the services, not only the validation layer.
    assert all(200 in calls[op] for op in REACHED), calls
    assert all(code < 500 for seen in calls.values() for code in seen), calls


def fuzz(
    live: LiveConsole, session: requests.Session, operation: Any, mode: GenerationMode, seen: Counts
) -> None:
    """`EXAMPLES` cases of `operation` in `mode`, each sent with the operation's credentials
    and its response checked (the first failure, shrunk, is raised)."""
    headers = credentials(live, operation.path)

    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(case=operation.as_strategy(generation_mode=mode))
    def run(case: Any) -> None:
        short_poll(case)
        response = case.call(base_url=live.url, session=session, headers=headers)
        seen[response.status_code] = seen.get(response.status_code, 0) + 1
        case.validate_response(response, checks=CHECKS, headers=headers)

    run()


def short_poll(case: Any) -> None:
    """A job poll waits at most a second: a valid `wait` of up to a minute per example would
    make the run last for hours (the long-poll itself is tested in the fleet tests)."""
    wait = (case.query or {}).get("wait")
    if isinstance(wait, int) and not isinstance(wait, bool) and 1 < wait <= v1.MAX_POLL_WAIT:
        case.query["wait"] = 1


def credentials(live: LiveConsole, path: str) -> dict[str, str]:
    """The credentials an operation declares: the agent's on the agent API (enrolment has
    none), the user's elsewhere."""
    if path == v1.ENROL or path == "/healthz":
        return {}
    return live.agent_headers() if path.startswith(v1.PREFIX) else live.bearer_headers()
