"""The supported-vulnerability catalogue (R-T7): counts per type and a searchable list."""

from __future__ import annotations

import json
import shutil
import sqlite3
from pathlib import Path

from tests.integration.server.conftest import InProcessConsole
from tests.paths import CORPUS

from patchwarden.core.clock import Clock
from patchwarden.services.feeds import import_spec
from patchwarden.storage.advisory_store import AdvisoryStore

GHSA = CORPUS / "advisories/ghsa-osv/github-reviewed"


def _store(console: InProcessConsole) -> AdvisoryStore:
    store: AdvisoryStore = console.client.app.state.store  # type: ignore[attr-defined]
    return store


def test_counts_per_type_and_search(console: InProcessConsole, tmp_path: Path) -> None:
    store = _store(console)
    before = console.api("GET", "/api/v1/catalogue").json()["counts"]
    assert before["app"] == 0 and before["linux"] > 5000
    import_spec(store, f"osv:{GHSA}", Clock())  # the counts kept from the call above are stale now
    # The same records again from another place: a vulnerability counts once.
    shutil.copytree(GHSA, tmp_path / "mirror")
    import_spec(store, f"osv:{tmp_path / 'mirror'}", Clock())
    ghsa = {json.loads(p.read_text())["id"] for p in GHSA.rglob("*.json")}
    with sqlite3.connect(store.path) as db:  # what the DSA list stored, asked directly
        (dsa,) = db.execute(
            "SELECT COUNT(DISTINCT a.id) FROM advisories a JOIN affected f"
            " ON f.advisory_pk = a.pk WHERE f.ecosystem LIKE 'Debian:%'"
        ).fetchone()
    reply = console.api("GET", "/api/v1/catalogue", params={"per_page": 5})
    assert reply.status_code == 200, reply.text
    body = reply.json()
    assert body["counts"] == {"linux": dsa, "windows": 0, "cms": 0, "app": len(ghsa),
                              "emergency": 0}  # fmt: skip
    assert dsa > 5000 and len(body["items"]) == 5

    found = console.api("GET", "/api/v1/catalogue", params={"q": "DSA-4685-1"}).json()
    assert [i["id"] for i in found["items"]] == ["DSA-4685-1"] and found["total"] == 1
    assert found["items"][0]["types"] == ["linux"] and found["items"][0]["cves"]
    one = sorted(ghsa)[0]
    found = console.api("GET", "/api/v1/catalogue", params={"q": one}).json()
    # Two feeds hold it: listed once.
    assert [i["id"] for i in found["items"]] == [one] and found["total"] == 1
    assert found["items"][0]["type"] == "app" and found["items"][0]["types"] == ["app"]


def test_bad_paging_is_a_422(console: InProcessConsole) -> None:
    for params in ({"page": 0}, {"per_page": 0}, {"per_page": 501}):
        reply = console.api("GET", "/api/v1/catalogue", params=params)
        assert reply.status_code == 422, (params, reply.text)
