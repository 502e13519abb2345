"""`feeds import` of an advisory whose fixed version is 5,000 digits long, then `scan --root`
of a host with that package: the scan reports a skip and goes on (issue 9, security review).

Before, the import succeeded and every later scan of such a host died on Python's int()
limit with exit code 1, which also means "findings". Real processes, AlmaLinux 9 corpus root
(rpm version scheme).
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest
from tests.e2e.fleet import build_roots, clean_env, pw
from tests.paths import PATCHWARDEN

from patchwarden.agent.inventory import collect_inventory

LONG = "1" * 5000


def _record(rid: str, name: str, fixed: str) -> dict[str, Any]:
    return {
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


@pytest.mark.parametrize("with_finding", [False, True], ids=["skip only", "skip and finding"])
def test_scan_reports_the_skip_and_exits_by_its_findings(
    tmp_path: Path, with_finding: bool
) -> None:
    root = build_roots(tmp_path / "roots")["alma"]
    first, second = collect_inventory(root, online=False).packages[:2]
    records = [_record("PW-LONG-0001", first.name, LONG)]
    if with_finding:
        records.append(_record("PW-NEXT-0001", second.name, f"99:{second.version}"))
    feed = tmp_path / "records.json"
    feed.write_text(json.dumps(records))
    data = tmp_path / "data"
    out = pw("feeds", "import", "--data-dir", str(data), f"osv:{feed}", env=clean_env())
    assert f"{len(records)} records stored" in out and "0 skipped" in out

    argv = [PATCHWARDEN, "scan", "--root", str(root), "--data-dir", str(data), "--offline"]
    proc = subprocess.run(
        [*argv, "--format", "json"], capture_output=True, text=True, env=clean_env(), timeout=300
    )
    assert proc.returncode == (1 if with_finding else 0), proc.stderr
    doc = json.loads(proc.stdout)
    assert [f["id"] for f in doc["findings"]] == (["PW-NEXT-0001"] if with_finding else [])
    (error,) = doc["errors"]
    assert error.startswith(f"PW-LONG-0001 AlmaLinux:9/{first.name}: invalid rpm version '111")
    assert error.endswith("(5000 characters): digit run too long")

    table = subprocess.run(argv, capture_output=True, text=True, env=clean_env(), timeout=300)
    assert table.returncode == proc.returncode
    assert "Traceback" not in table.stderr
    assert "PW-LONG-0001" in table.stdout + table.stderr
