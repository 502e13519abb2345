"""Property test of the agent upload envelope against the probes of issue 9 (SQLite and
PostgreSQL): a valid envelope with a few structure mutations — values nested past the depth
limit, integers past 2^63-1, non-finite numbers, strings holding lone surrogates or NUL, keys
holding them, a value of the wrong type, a key dropped — is answered 200 or 4xx, never 5xx;
a refusal stores nothing, and whatever was stored can be read back (GET /api/v1/hosts and
the host stay 200: nothing unencodable got in).
"""

from __future__ import annotations

import copy
import gzip
import json
import uuid
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tests.integration.server.conftest import InProcessConsole, envelope
from tests.integration.server.test_inventory_fuzz import mutate, paths

from patchwarden.protocol import v1

WATCHED = ("inventories", "records", "record_events", "hosts")

FUZZ = settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    derandomize=False,
)

unstorable_text = st.builds(
    lambda head, bad, tail: head + bad + tail,
    st.text(max_size=5),
    st.sampled_from(["\x00", "\ud800", "\udfff", "\udc80"])
    | st.characters(min_codepoint=0xD800, max_codepoint=0xDFFF),
    st.text(max_size=5),
)


def nested(depth: int, leaf: Any, as_object: bool) -> Any:
    """`leaf` inside `depth` arrays (or objects)."""
    for _ in range(depth):
        leaf = {"k": leaf} if as_object else [leaf]
    return leaf


scalars = (
    st.none()
    | st.booleans()
    | st.integers(-(2**70), 2**70)
    | st.sampled_from([2**63, -(2**63) - 1, 10**30, 2**63 - 1, -(2**63)])
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=10)
    | unstorable_text
)
values = st.recursive(
    scalars,
    lambda children: (
        st.lists(children, max_size=3)
        | st.dictionaries(st.text(max_size=5) | unstorable_text, children, max_size=3)
    ),
    max_leaves=8,
) | st.builds(nested, st.integers(v1.MAX_JSON_DEPTH - 2, 400), scalars, st.booleans())

mutations = st.lists(
    st.tuples(st.integers(0, 10_000), values, st.booleans()), min_size=1, max_size=3
)


def test_mutated_envelopes_never_fail_the_server(
    console: InProcessConsole, debian_inventory: dict[str, Any]
) -> None:
    base = copy.deepcopy(envelope(debian_inventory))  # the fixture is the session's: keep it
    base["inventory"]["packages"] = base["inventory"]["packages"][:3]
    all_paths = paths(base)
    seen: dict[int, int] = {}

    @FUZZ
    @given(changes=mutations)
    def run(changes: list[tuple[int, Any, bool]]) -> None:
        doc = copy.deepcopy(base)
        doc["report_id"] = uuid.uuid4().hex  # a fresh report: replays would hide bugs
        for index, new, drop in changes:
            try:
                mutate(doc, all_paths[index % len(all_paths)], new, drop)
            except (KeyError, IndexError, TypeError):
                continue  # an earlier mutation removed or replaced the parent
        try:
            text = json.dumps(doc)  # NaN / Infinity spelt as Python writes them
        except RecursionError:
            return
        before = console.counts()
        reply = console.upload(gzip.compress(text.encode()))
        seen[reply.status_code] = seen.get(reply.status_code, 0) + 1
        assert reply.status_code == 200 or 400 <= reply.status_code < 500, reply.text
        assert isinstance(reply.json().get("detail", ""), (str, list))
        after = console.counts()
        if reply.status_code != 200:
            assert {t: after[t] for t in WATCHED} == {t: before[t] for t in WATCHED}, reply.text
        hosts = console.api("GET", "/api/v1/hosts")
        host = console.api("GET", f"/api/v1/hosts/{console.host_id}")
        assert (hosts.status_code, host.status_code) == (200, 200), (hosts.text, host.text)

    run()
    # Both outcomes happened: the mutations reached the refusals and the storing path.
    assert 200 in seen and any(code >= 400 for code in seen), seen
