"""Property test of the inventory endpoint (issue #3): no input yields a 500 or a partial write.

Three kinds of input against the in-process console on SQLite: random bytes (gzip-labelled or
not), random JSON documents, and valid agent envelopes with a few random mutations deep
inside (a value replaced by another JSON type, a key dropped). Whatever comes in, the answer
is below 500 and the inventories / records / record_events rows change only on a 2xx.
"""

from __future__ import annotations

import copy
import uuid
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tests.integration.server.conftest import InProcessConsole, envelope, gz

WATCHED = ("inventories", "records", "record_events")

FUZZ = settings(
    max_examples=120,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    derandomize=False,
)

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**63), 2**63)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4)
    ),
    max_leaves=12,
)


def paths(doc: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Every key / index path inside a JSON document (lists sampled: first three items)."""
    out: list[tuple[Any, ...]] = []
    if isinstance(doc, dict):
        for k, v in doc.items():
            out.append((*prefix, k))
            out += paths(v, (*prefix, k))
    elif isinstance(doc, list):
        for i, v in enumerate(doc[:3]):
            out.append((*prefix, i))
            out += paths(v, (*prefix, i))
    return out


def mutate(doc: Any, path: tuple[Any, ...], new: Any, drop: bool) -> None:
    """Replace (or drop) the value at `path` in place."""
    parent = doc
    for step in path[:-1]:
        parent = parent[step]
    if drop:
        del parent[path[-1]]
    else:
        parent[path[-1]] = new


def check(console: InProcessConsole, body: bytes, gzipped: bool) -> None:
    """The property: < 500, and the watched tables change only on a 2xx."""
    before = console.counts()
    reply = console.upload(body, console.agent_headers(gzip_body=gzipped))
    assert reply.status_code < 500, reply.text
    assert isinstance(reply.json()["detail" if reply.status_code >= 400 else "inventory_id"],
                      (str, int, list))  # fmt: skip
    if not 200 <= reply.status_code < 300:
        after = console.counts()
        assert {t: after[t] for t in WATCHED} == {t: before[t] for t in WATCHED}, reply.text


@pytest.fixture
def db_backend() -> str:
    """SQLite only: the property is about the endpoint, the backends are covered elsewhere."""
    return "sqlite"


def test_random_bytes(console: InProcessConsole) -> None:
    @FUZZ
    @given(body=st.binary(max_size=4096), gzipped=st.booleans(), magic=st.booleans())
    def run(body: bytes, gzipped: bool, magic: bool) -> None:
        check(console, (b"\x1f\x8b\x08\x00" if magic else b"") + body, gzipped)

    run()


def test_random_json(console: InProcessConsole) -> None:
    @FUZZ
    @given(doc=json_values | st.fixed_dictionaries({"schema": st.just(1)}, optional={
        "report_id": json_values, "job_id": json_values, "inventory": json_values,
    }))  # fmt: skip
    def run(doc: Any) -> None:
        check(console, gz(doc), True)

    run()


def test_mutated_envelopes(console: InProcessConsole, debian_inventory: dict[str, Any]) -> None:
    # A copy: the inventory is a session fixture other tests read whole.
    base = envelope(copy.deepcopy(debian_inventory))
    base["inventory"]["packages"] = base["inventory"]["packages"][:3]
    all_paths = paths(base)

    @FUZZ
    @given(
        mutations=st.lists(
            st.tuples(st.sampled_from(all_paths), json_values, st.booleans()),
            min_size=1,
            max_size=3,
        )
    )
    def run(mutations: list[tuple[tuple[Any, ...], Any, bool]]) -> None:
        doc = copy.deepcopy(base)
        doc["report_id"] = uuid.uuid4().hex  # a fresh report: replays would hide bugs
        for path, new, drop in mutations:
            try:
                mutate(doc, path, new, drop)
            except (KeyError, IndexError, TypeError):
                continue  # an earlier mutation removed or replaced the parent
        check(console, gz(doc), True)

    run()
