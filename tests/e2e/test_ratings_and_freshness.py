"""Real severities and the age of the advisory data, through the real CLI (issue 8):

* `feeds sync` of the NVD modified feed from a real HTTP server on loopback fills the rating
  index, and a second sync is a conditional request that imports nothing;
* the shipped offline snapshot: real data, only redistributable sources, each with its
  licence, its date recorded at import and shown by `feeds status` and the scan header;
* `scan` warns on stderr when the store is empty, holds only the offline snapshot, or was
  last fed long ago, and rates findings from the index (JSON and table say who rated them).
"""

from __future__ import annotations

import functools
import http.server
import json
import subprocess
import threading
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from tests.e2e.scan_feeds import alma_root
from tests.integration.feeds.nvd_docs import SAMPLE, write
from tests.paths import PATCHWARDEN

from patchwarden.core.advisory import CveRating, Severity
from patchwarden.services.freshness import SNAPSHOT_FILE, offline_root
from patchwarden.storage.advisory_store import AdvisoryStore

REDISTRIBUTABLE = {"CC0-1.0", "MIT", "CC-BY-4.0"}
"""Licences the shipped snapshot may carry (corpus MANIFEST; CC-BY with attribution)."""


def pw(*args: str, ok: tuple[int, ...] = (0,)) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run(
        [PATCHWARDEN, *args], capture_output=True, text=True, timeout=300, env={"COLUMNS": "200"}
    )
    assert proc.returncode in ok, proc.stderr
    return proc


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture()
def nvd_site(tmp_path: Path) -> Iterator[str]:
    """NVD's feed layout on a loopback HTTP server: /feeds/json/cve/2.0/nvdcve-2.0-*.json.gz."""
    root = tmp_path / "site"
    feeds = root / "feeds/json/cve/2.0"
    feeds.mkdir(parents=True)
    write(feeds / "nvdcve-2.0-modified.json.gz", SAMPLE)
    server = http.server.ThreadingHTTPServer(
        ("127.0.0.1", 0), functools.partial(_Quiet, directory=str(root))
    )
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_port}/feeds/json/cve/2.0"
    server.shutdown()
    server.server_close()


def test_sync_nvd_modified_from_a_local_server(tmp_path: Path, nvd_site: str) -> None:
    data = tmp_path / "data"
    url = f"nvd-modified={nvd_site}/nvdcve-2.0-modified.json.gz"
    first = pw("feeds", "sync", "--data-dir", str(data), "--source", "nvd-modified", "--url", url)
    assert "nvd-modified" in first.stdout and "4 records imported" in first.stdout
    with AdvisoryStore.in_dir(data) as store:
        (rating,) = store.ratings(["CVE-2024-0001"])["CVE-2024-0001"]
        assert (rating.source, rating.severity, rating.cvss_score) == (
            "nvd",
            Severity.CRITICAL,
            9.8,
        )
        assert store.counts()["ratings"] == 4
    again = pw("feeds", "sync", "--data-dir", str(data), "--source", "nvd-modified", "--url", url)
    assert "not modified" in again.stdout
    listed = pw("feeds", "sources").stdout
    assert "* nvd-modified" in listed  # synced by default
    assert "  nvd-2024 " in listed and "nvdcve-2.0-2024.json.gz" in listed  # on request


def test_the_offline_snapshot_is_real_redistributable_and_dated(tmp_path: Path) -> None:
    root = offline_root()
    snapshot = json.loads((root / SNAPSHOT_FILE).read_text())
    shipped = sorted(
        str(p.relative_to(root)) for kind in root.iterdir() if kind.is_dir() for p in kind.iterdir()
    )
    assert shipped == sorted(s["path"] for s in snapshot["sources"])
    assert all(s["licence"] in REDISTRIBUTABLE for s in snapshot["sources"])
    assert {s["name"] for s in snapshot["sources"]} >= {
        "CISA Known Exploited Vulnerabilities",
        "AlmaLinux 8 OSV",
        "AlmaLinux 9 OSV",
        "AlmaLinux 10 OSV",
        "GitHub Advisory Database (reviewed)",
    }
    assert all(s["records"] > 0 for s in snapshot["sources"])
    attribution = (root / "ATTRIBUTION.md").read_text()
    assert "CC-BY-4.0" in attribution and "MIT" in attribution and "CC0" in attribution
    assert (root / "LICENSE-almalinux-osv-database.txt").read_text().startswith("MIT License")
    assert "Ubuntu CVE Tracker" in (root / "README.md").read_text()  # left out, and why
    size = sum(p.stat().st_size for p in root.rglob("*") if p.is_file())
    assert size < 4 * 2**20

    data = tmp_path / "data"
    imported = pw("feeds", "import", "--bundled", "--data-dir", str(data)).stdout
    assert imported.count("records stored") == len(snapshot["sources"])
    status = pw("feeds", "status", "--data-dir", str(data))
    assert f"offline snapshot of {snapshot['date']}" in status.stdout
    assert "holds only the offline snapshot" in status.stderr
    with AdvisoryStore.in_dir(data) as store:
        assert {f.last_modified for f in store.feeds()} == {snapshot["date"]}
        assert store.counts()["ratings"] > 10_000


def test_scan_warns_about_empty_sample_and_stale_stores_and_rates_findings(
    tmp_path: Path,
) -> None:
    root = alma_root(tmp_path)
    data = tmp_path / "data"
    base = ("scan", "--root", str(root), "--offline", "--data-dir", str(data))

    empty = pw(*base, ok=(0, 1))
    assert "warning: the advisory store is empty" in empty.stderr
    assert "advisory data: none imported" in empty.stdout

    pw("feeds", "import", "--bundled", "--data-dir", str(data))
    sample = pw(*base, "--format", "json", ok=(1,))
    assert "holds only the offline snapshot shipped with patchwarden" in sample.stderr
    findings = json.loads(sample.stdout)["findings"]
    assert findings and all(
        {"severity_source", "cvss_vector", "title", "references"} <= set(f) for f in findings
    )
    # AlmaLinux 9 advisories rate the AlmaLinux 9 root's findings themselves.
    assert {f["severity_source"] for f in findings} == {"almalinux"}
    assert all(f["title"] and f["references"] for f in findings)
    table = pw(*base, ok=(1,)).stdout
    assert "offline snapshot of" in table and "almalinux" in table

    # A feed of the operator's own, imported 10 days ago: the store is stale.
    with AdvisoryStore.in_dir(data) as store:
        old = datetime.now(timezone.utc) - timedelta(days=10)
        store.import_items("nvd", "own-mirror", [CveRating("CVE-1", "nvd", Severity.LOW)], old)
    stale = pw(*base, ok=(1,))
    assert "warning: the newest feed import is 10 days old" in stale.stderr
    assert "holds only the offline snapshot" not in stale.stderr
    fresh = pw(*base, "--stale-days", "30", ok=(1,))
    assert "warning:" not in fresh.stderr
