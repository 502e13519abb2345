"""`feeds sync` tries every source and says what became of each (issue 8).

Real sources on loopback: an HTTP server with the KEV file, a path it answers 404 for, a
port bound by nobody's listener (connection refused), a listener that never answers
(timeout), a name that cannot resolve (DNS) and a file that is no feed (import).
"""

from __future__ import annotations

import functools
import http.server
import socket
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from tests.paths import CORPUS, PATCHWARDEN

from patchwarden.core.clock import Clock
from patchwarden.services.feeds import SyncFailure, SyncResult, http_client, sync_sources
from patchwarden.storage.advisory_store import AdvisoryStore

KEV = CORPUS / "advisories" / "cisa-kev" / "known_exploited_vulnerabilities.json"


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture()
def site(tmp_path: Path) -> Iterator[str]:
    """A real HTTP server on loopback serving kev.json (and 404 for anything else)."""
    root = tmp_path / "site"
    root.mkdir()
    (root / "kev.json").write_bytes(KEV.read_bytes())
    (root / "garbage.json").write_text("this is no feed")
    server = http.server.ThreadingHTTPServer(
        ("127.0.0.1", 0), functools.partial(_Quiet, directory=str(root))
    )
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    server.server_close()


@pytest.fixture()
def refusing_port() -> Iterator[int]:
    """A loopback port held bound but never listened on: connections are refused."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        yield s.getsockname()[1]


@pytest.fixture()
def silent_port() -> Iterator[int]:
    """A loopback port that accepts connections (the kernel's backlog) and never answers."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen(8)
        yield s.getsockname()[1]


def sync(data: Path, *sources: tuple[str, str], timeout: float = 10) -> subprocess.CompletedProcess:
    args = [PATCHWARDEN, "feeds", "sync", "--data-dir", str(data), "--timeout", str(timeout)]
    for name, url in sources:
        args += ["--source", name, "--url", f"{name}={url}"]
    return subprocess.run(args, capture_output=True, text=True, timeout=120)


def rows(stdout: str) -> dict[str, tuple[str, str]]:
    """source -> (result, detail) of the printed table."""
    lines = stdout.splitlines()
    assert lines[0].split() == ["source", "result", "detail"], stdout
    result_at = lines[0].index("result")
    detail_at = lines[0].index("detail")
    return {
        line[:result_at].strip(): (line[result_at:detail_at].strip(), line[detail_at:])
        for line in lines[1:]
    }


def test_every_source_is_tried_and_a_failure_is_exit_1(tmp_path, site, refusing_port):
    data = tmp_path / "data"
    # The failing sources come first: the one that works must still be synced after them.
    proc = sync(
        data,
        ("osv-debian", f"http://127.0.0.1:{refusing_port}/all.zip"),
        ("debian-tracker", f"{site}/missing.json"),
        ("kev", f"{site}/kev.json"),
    )
    assert proc.returncode == 1, proc.stderr
    table = rows(proc.stdout)
    assert list(table) == ["osv-debian", "debian-tracker", "kev"]
    assert table["osv-debian"] == (
        "failed",
        f"connection refused by 127.0.0.1:{refusing_port} "
        f"(http://127.0.0.1:{refusing_port}/all.zip)",
    )
    assert table["debian-tracker"] == ("failed", f"HTTP 404 File not found ({site}/missing.json)")
    assert table["kev"][0] == "ok" and table["kev"][1].startswith("1404 records imported")
    assert "2 of 3 sources failed; the others are synced." in proc.stderr
    assert "patchwarden feeds import [KIND:]PATH" in proc.stderr
    status = subprocess.run(
        [PATCHWARDEN, "feeds", "status", "--data-dir", str(data)], capture_output=True, text=True
    )
    assert f"{site}/kev.json" in status.stdout and "1404 kev" in status.stdout

    again = sync(data, ("kev", f"{site}/kev.json"))
    assert again.returncode == 0, again.stderr
    assert rows(again.stdout)["kev"][0] == "not modified"
    assert "failed" not in again.stderr


def test_an_unreadable_file_is_an_import_failure_without_the_offline_hint(tmp_path, site):
    proc = sync(tmp_path / "data", ("kev", f"{site}/garbage.json"))
    assert proc.returncode == 1
    result, detail = rows(proc.stdout)["kev"]
    assert result == "failed" and detail.startswith("import: ")
    assert "1 of 1 sources failed." in proc.stderr
    assert "feeds import" not in proc.stderr


def test_unknown_source_is_bad_input_and_syncs_nothing(tmp_path, site):
    proc = sync(tmp_path / "data", ("kev", f"{site}/kev.json"), ("nosuch", f"{site}/x"))
    assert proc.returncode == 2 and "unknown feed source(s) nosuch" in proc.stderr
    assert proc.stdout == ""


def test_outcomes_are_typed_by_cause(tmp_path, site, refusing_port, silent_port):
    urls = {
        "kev": f"{site}/kev.json",
        "debian-tracker": f"{site}/missing.json",
        "osv-debian": f"http://127.0.0.1:{refusing_port}/all.zip",
        "osv-ubuntu": f"http://127.0.0.1:{silent_port}/all.zip",
        "osv-alpine": "http://no-such-host.invalid/all.zip",
    }
    with AdvisoryStore.in_dir(tmp_path) as store, http_client(timeout=1.0) as client:
        outcomes = sync_sources(store, client, tmp_path / "feeds", list(urls), urls, Clock())
    got = {o.name: (o.result, o.failure) for o in outcomes}
    assert got == {
        "kev": (SyncResult.OK, None),
        "debian-tracker": (SyncResult.FAILED, SyncFailure.HTTP),
        "osv-debian": (SyncResult.FAILED, SyncFailure.REFUSED),
        "osv-ubuntu": (SyncResult.FAILED, SyncFailure.TIMEOUT),
        "osv-alpine": (SyncResult.FAILED, SyncFailure.DNS),
    }
    by_name = {o.name: o for o in outcomes}
    assert by_name["kev"].records == 1404 and by_name["kev"].size == KEV.stat().st_size
    assert by_name["osv-ubuntu"].detail.startswith("timeout: no answer from 127.0.0.1 within 1 s")
    assert by_name["osv-alpine"].detail.startswith("DNS: cannot resolve no-such-host.invalid")
    assert str(by_name["debian-tracker"]).startswith("debian-tracker: failed: HTTP 404")
    assert [o.failure.unreachable for o in outcomes if o.failure] == [False, True, True, True]
