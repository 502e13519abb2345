"""The agent as shipped: a zipapp run by the oldest Python it supports (3.9, DESIGN §3)."""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from tests.paths import CORPUS, PATCHWARDEN, REPO

OLDEST = "3.9"


def python39() -> str:
    """A Python 3.9 interpreter: pyenv's when present, else `python3.9` on PATH."""
    candidates = [f"python{OLDEST}"]
    if shutil.which("pyenv"):
        root = subprocess.run(["pyenv", "root"], capture_output=True, text=True).stdout.strip()
        versions = sorted(Path(root, "versions").glob(f"{OLDEST}.*"), reverse=True)
        candidates[:0] = [str(v / "bin" / f"python{OLDEST}") for v in versions]
    for exe in candidates:
        probe = subprocess.run(
            [exe, "-c", "import sys; print(sys.version_info[:2])"], capture_output=True, text=True
        )
        if probe.returncode == 0 and probe.stdout.strip() == "(3, 9)":
            return exe
    pytest.fail(
        f"no Python {OLDEST} interpreter found: the agent must be tested on it "
        f"(install one, e.g. `pyenv install {OLDEST}`)"
    )


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture()
def console(tmp_path):
    data = tmp_path / "console"
    port = free_port()
    proc = subprocess.Popen(
        [PATCHWARDEN, "server", "--data-dir", str(data), "--port", str(port), "--no-scheduler"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    url = f"http://127.0.0.1:{port}"
    for _ in range(150):
        try:
            urllib.request.urlopen(url + "/healthz", timeout=1)
            break
        except OSError:
            if proc.poll() is not None:
                pytest.fail(proc.stderr.read().decode())
            time.sleep(0.1)
    yield url, data
    proc.terminate()
    proc.wait(timeout=10)


def debian_root(tmp_path: Path) -> Path:
    root = tmp_path / "debian"
    (root / "etc").mkdir(parents=True)
    (root / "var/lib/dpkg").mkdir(parents=True)
    src = CORPUS / "hosts/dpkg/local-debian12"
    shutil.copy(src / "os-release", root / "etc/os-release")
    shutil.copy(src / "status", root / "var/lib/dpkg/status")
    (root / "etc/hostname").write_text("zipapp-host\n")
    return root


def test_zipapp_agent_on_python39_enrols_and_reports(tmp_path, console):
    url, data = console
    exe = python39()
    pyz = tmp_path / "patchwarden-agent.pyz"
    subprocess.run(
        [sys.executable, str(REPO / "scripts/build-agent-pyz"), str(pyz)],
        check=True,
        capture_output=True,
    )
    token = subprocess.run(
        [PATCHWARDEN, "enrolment-token", "create", "--data-dir", str(data)],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    api = subprocess.run(
        [PATCHWARDEN, "api-token", "create", "--user", "t", "--data-dir", str(data)],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    run = subprocess.run(
        [
            exe,
            str(pyz),
            "run",
            "--once",
            "--offline",
            "--root",
            str(debian_root(tmp_path)),
            "--server",
            url,
            "--token",
            token,
            "--state-dir",
            str(tmp_path / "state"),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert run.returncode == 0, run.stderr
    req = urllib.request.Request(url + "/api/v1/hosts", headers={"Authorization": f"Bearer {api}"})
    hosts = json.load(urllib.request.urlopen(req))["items"]
    assert [(h["hostname"], h["packages"], h["os"]["release"]) for h in hosts] == [
        ("zipapp-host", 843, "12")
    ]
    # The zipapp holds the agent only: no console dependency can have slipped in.
    listing = subprocess.run(
        [sys.executable, "-m", "zipfile", "-l", str(pyz)], capture_output=True, text=True
    ).stdout
    assert "patchwarden/agent/main.py" in listing
    # Of the version schemes, only the stdlib dpkg ordering the repository check imports.
    assert "patchwarden/core/versions/dpkg.py" in listing
    for scheme in ("maven", "semver", "pep440", "rpm", "rpm_el", "apk"):
        assert f"patchwarden/core/versions/{scheme}.py" not in listing
    assert "matching" not in listing
    assert "server" not in listing and "storage" not in listing
