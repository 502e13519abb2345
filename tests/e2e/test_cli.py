"""`patchwarden` CLI contract: exit codes, JSON shape, bad input, feeds import/sync."""

from __future__ import annotations

import functools
import http.server
import json
import shutil
import subprocess
import threading
import zipfile
from pathlib import Path

import click
import pytest
from click.testing import CliRunner
from tests.paths import CORPUS, PATCHWARDEN

from patchwarden.cli.main import main

ALMA9 = CORPUS / "advisories" / "almalinux-osv" / "almalinux9"
KEV = CORPUS / "advisories" / "cisa-kev" / "known_exploited_vulnerabilities.json"


def pw(*args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    return subprocess.run([PATCHWARDEN, *args], capture_output=True, text=True, timeout=timeout)


def rpm_root(tmp_path: Path) -> Path:
    """An AlmaLinux 9 root with a real rpmdb (from the corpus) and its os-release."""
    root = tmp_path / "alma"
    (root / "etc").mkdir(parents=True)
    (root / "etc/os-release").write_text(
        'NAME="AlmaLinux"\nVERSION="9.3 (Shamrock Pampas Cat)"\nID="almalinux"\n'
        'ID_LIKE="rhel centos fedora"\nVERSION_ID="9.3"\nPRETTY_NAME="AlmaLinux 9.3"\n'
    )
    (root / "var/lib/rpm").mkdir(parents=True)
    shutil.copy(
        CORPUS / "hosts/rpmdb/go-rpmdb/cbl-mariner-2.0/rpmdb.sqlite",
        root / "var/lib/rpm/rpmdb.sqlite",
    )
    return root


def test_missing_root_is_exit_2_with_the_path(tmp_path):
    proc = pw("scan", "--root", str(tmp_path / "nope"), "--data-dir", str(tmp_path))
    assert proc.returncode == 2
    assert "nope" in proc.stderr and "no such directory" in proc.stderr


def test_file_as_root_is_exit_2(tmp_path):
    f = tmp_path / "file"
    f.write_text("x")
    proc = pw("scan", "--root", str(f), "--data-dir", str(tmp_path))
    assert proc.returncode == 2 and "not a directory" in proc.stderr


def test_unknown_feed_kind_and_missing_feed_are_exit_2(tmp_path):
    proc = pw("feeds", "import", "nosuchkind:/etc/hostname", "--data-dir", str(tmp_path))
    assert proc.returncode == 2 and "/etc/hostname" in proc.stderr
    proc = pw("feeds", "import", f"osv:{tmp_path}/missing.zip", "--data-dir", str(tmp_path))
    assert proc.returncode == 2 and "missing.zip" in proc.stderr


def test_truncated_archive_import_changes_nothing(tmp_path):
    data = tmp_path / "data"
    good = pw("feeds", "import", f"kev:{KEV}", "--data-dir", str(data))
    assert good.returncode == 0, good.stderr
    before = pw("feeds", "status", "--data-dir", str(data)).stdout
    archive = tmp_path / "osv.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        for f in sorted(ALMA9.glob("ALSA-2023*.json"))[:50]:
            zf.write(f, f.name)
    truncated = tmp_path / "truncated.zip"
    truncated.write_bytes(archive.read_bytes()[: archive.stat().st_size // 2])
    proc = pw("feeds", "import", f"osv:{truncated}", "--data-dir", str(data))
    assert proc.returncode == 2 and "truncated.zip" in proc.stderr
    assert pw("feeds", "status", "--data-dir", str(data)).stdout == before


def test_scan_json_shape_exit_codes_and_fail_on(tmp_path):
    data = tmp_path / "data"
    root = rpm_root(tmp_path)
    feed = tmp_path / "feed"
    feed.mkdir()
    # A crafted advisory against a package that really is in the rpmdb (sad path: it is
    # below the fix), graded low so --fail-on high stays clean.
    (feed / "TEST-1.json").write_text(
        json.dumps(
            {
                "id": "TEST-2024-1",
                "aliases": ["CVE-2021-44228"],
                "summary": "Low: test",
                "modified": "2024-01-01T00:00:00Z",
                "database_specific": {"severity": "low"},
                "affected": [
                    {
                        "package": {"ecosystem": "AlmaLinux:9", "name": "bash"},
                        "ranges": [
                            {
                                "type": "ECOSYSTEM",
                                "events": [{"introduced": "0"}, {"fixed": "99:1-1"}],
                            }
                        ],
                    }
                ],
            }
        )
    )
    assert pw("feeds", "import", f"kev:{KEV}", "--data-dir", str(data)).returncode == 0
    proc = pw(
        "scan",
        "--root",
        str(root),
        "--feed",
        f"osv:{feed}",
        "--format",
        "json",
        "--data-dir",
        str(data),
    )
    assert proc.returncode == 1, proc.stderr
    doc = json.loads(proc.stdout)
    assert set(doc) >= {"schema", "host", "findings", "errors"}
    assert doc["host"]["os"]["id"] == "almalinux" and doc["host"]["packages"] == 129
    (finding,) = doc["findings"]
    assert set(finding) >= {
        "id",
        "cves",
        "type",
        "package",
        "source_package",
        "installed_version",
        "fixed_version",
        "severity",
        "cvss",
        "exploitable",
        "method",
        "confidence",
        "restart_required",
        "reason",
    }
    assert finding["package"] == "bash" and finding["fixed_version"] == "99:1-1"
    assert finding["exploitable"] is True  # CVE-2021-44228 is in KEV (R-D10)
    out = tmp_path / "out.json"
    proc = pw(
        "scan",
        "--root",
        str(root),
        "--feed",
        f"osv:{feed}",
        "--format",
        "json",
        "-o",
        str(out),
        "--fail-on",
        "high",
        "--data-dir",
        str(data),
    )
    assert proc.returncode == 0 and json.loads(out.read_text())["findings"]
    table = pw("scan", "--root", str(root), "--feed", f"osv:{feed}", "--data-dir", str(data))
    assert table.returncode == 1 and "bash" in table.stdout and "1 findings" in table.stdout


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


@pytest.fixture()
def feed_server(tmp_path):
    """A real HTTP server on loopback serving feed files (conditional GETs included)."""
    site = tmp_path / "site"
    site.mkdir()
    handler = functools.partial(_Quiet, directory=str(site))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield site, f"http://127.0.0.1:{server.server_port}"
    server.shutdown()


def test_feeds_sync_downloads_imports_and_then_is_not_modified(tmp_path, feed_server):
    site, base = feed_server
    shutil.copy(KEV, site / "kev.json")
    with zipfile.ZipFile(site / "all.zip", "w") as zf:
        for f in sorted(ALMA9.glob("ALSA-2024*.json"))[:200]:
            zf.write(f, f.name)
    data = tmp_path / "data"
    args = [
        "feeds",
        "sync",
        "--data-dir",
        str(data),
        "--source",
        "kev",
        "--source",
        "osv-almalinux",
        "--url",
        f"kev={base}/kev.json",
        "--url",
        f"osv-almalinux={base}/all.zip",
    ]
    first = pw(*args)
    assert first.returncode == 0, first.stderr
    assert "\nkev            ok            1404 records imported" in first.stdout
    assert "\nosv-almalinux  ok            200 records imported" in first.stdout
    second = pw(*args)
    assert second.returncode == 0, second.stderr
    assert second.stdout.count("not modified") == 2
    status = pw("feeds", "status", "--data-dir", str(data)).stdout
    assert f"{base}/kev.json" in status and "1404 kev" in status


def test_feeds_sync_http_error_is_clear(tmp_path, feed_server):
    _, base = feed_server
    proc = pw(
        "feeds",
        "sync",
        "--data-dir",
        str(tmp_path),
        "--source",
        "kev",
        "--url",
        f"kev={base}/missing.json",
    )
    assert proc.returncode == 1 and "HTTP 404" in proc.stdout


def test_records_from_a_server_that_is_no_console_is_a_clear_error(feed_server):
    site, base = feed_server
    (site / "api/v1").mkdir(parents=True)
    (site / "api/v1/records").write_text("<html>a web server</html>")
    proc = pw("records", "--server", base, "--token", "pwa_x")
    assert proc.returncode == 2
    assert "did not answer with records" in proc.stderr and "patchwarden console" in proc.stderr


def _command_paths(group=main, prefix=()):
    """Every command and group of `patchwarden`, as argv prefixes."""
    yield prefix
    for name, command in group.commands.items():
        if isinstance(command, click.Group):
            yield from _command_paths(command, (*prefix, name))
        else:
            yield (*prefix, name)


def test_dash_h_is_help_on_every_command():
    paths = list(_command_paths())
    assert ("scan",) in paths and ("records",) in paths and len(paths) > 8
    runner = CliRunner()
    for path in paths:  # in-process: one interpreter start per command would take 30 s
        short = runner.invoke(main, [*path, "-h"], prog_name="patchwarden")
        assert short.exit_code == 0, (path, short.output)
        assert short.output.startswith("Usage: patchwarden"), (path, short.output[:200])
        assert (
            short.output == runner.invoke(main, [*path, "--help"], prog_name="patchwarden").output
        )
    # And through the installed entry point, on a group and on nested commands.
    for path in ((), ("scan",), ("feeds", "import")):
        proc = pw(*path, "-h")
        assert proc.returncode == 0 and proc.stdout.startswith("Usage: patchwarden"), proc.stderr


@pytest.mark.parametrize(
    ("option", "value", "allowed"),
    [
        pytest.param("--severity", "hgh", "critical, high, medium, low", id="severity"),
        pytest.param("--status", "opn", "unfixed, fixing", id="status"),
        pytest.param("--bucket", "soon", "asap, later, can_wait", id="bucket"),
        pytest.param("--type", "vm", "linux, windows, cms", id="type"),
        pytest.param("--method", "guess", "distro-advisory, running-kernel", id="method"),
        pytest.param("--confidence", "sure", "confirmed, high, medium, low", id="confidence"),
    ],
)
def test_records_filters_are_checked_before_any_request(option, value, allowed):
    # Nothing listens on port 9 (discard): a request would fail with "cannot reach".
    proc = pw("records", "--server", "http://127.0.0.1:9", "--token", "pwa_x", option, value)
    assert proc.returncode == 2, proc.stderr
    assert f"invalid {option} '{value}'" in proc.stderr and allowed in proc.stderr
    assert "cannot reach" not in proc.stderr


def test_root_without_os_release_or_package_database_is_exit_2(tmp_path):
    empty = tmp_path / "mnt"
    (empty / "home").mkdir(parents=True)
    proc = pw("scan", "--root", str(empty), "--data-dir", str(tmp_path / "data"))
    assert proc.returncode == 2, proc.stdout
    assert f"no os-release and no package database under {empty}" in proc.stderr
    assert "is it a mounted filesystem?" in proc.stderr
    assert "0 findings" not in proc.stdout


def test_root_with_os_release_alone_is_scanned(tmp_path):
    root = tmp_path / "root"
    (root / "etc").mkdir(parents=True)
    (root / "etc/os-release").write_text('ID=alpine\nVERSION_ID=3.19.1\nPRETTY_NAME="Alpine"\n')
    proc = pw("scan", "--root", str(root), "--data-dir", str(tmp_path / "data"))
    assert proc.returncode == 0, proc.stderr
    assert "0 findings" in proc.stdout
