"""`make demo-host` (scripts/demo-host) end to end, the way a user runs it next to `make run`.

A real `patchwarden server`, the script as root: it unpacks the tests' Debian 12 chroot
(tests/chroot.py's cached tarball) into the data dir, installs libssl3 one security update
behind, enrols and runs the real agent with `--exec chroot`. Through the REST API the demo host
shows a libssl3 record that names CVEs and may be fixed; `patchwarden fix --wait` upgrades
libssl3 inside the chroot; Ctrl-C (SIGINT to the process group) stops it and unmounts proc; a
second run is the same host; `--clean` deletes it. Without a console, or without root, it
says what to do and touches nothing.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from tests.chroot import DebianChroot, stop_and_unmount
from tests.e2e.fleet import Console, clean_env, pw
from tests.paths import PATCHWARDEN, REPO
from tests.pg import free_port
from tests.tools import require

pytestmark = pytest.mark.slow
SCRIPT = str(REPO / "scripts" / "demo-host")
HOSTNAME = "patchwarden-demo-host"


class DemoHost:
    """scripts/demo-host running in its own process group, its output in a file."""

    def __init__(self, env: dict[str, str], log: Path) -> None:
        self.log = log
        with log.open("ab") as out:
            self.proc = subprocess.Popen(
                [SCRIPT], env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
            )

    def output(self) -> str:
        return self.log.read_text()

    def interrupt(self) -> int:
        """Ctrl-C in its terminal: SIGINT to the script and the agent alike."""
        os.killpg(self.proc.pid, signal.SIGINT)
        return self.proc.wait(timeout=60)

    def kill(self) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()


@pytest.fixture
def console(tmp_path: Path) -> Iterator[Console]:
    """A console like `make run`'s: the admin's API token in the data dir."""
    data = tmp_path / "data"
    data.mkdir()
    env = clean_env()
    token = pw("api-token", "create", "--user", "admin", "--data-dir", str(data), "--init", env=env)
    (data / "admin-api-token").write_text(token)
    server = Console(data, env, token.strip()).start()
    try:
        yield server
    finally:
        server.stop()
        root = data / "demo-host" / "root"
        if root.exists():  # never leave proc mounted, whatever failed
            stop_and_unmount(DebianChroot(root))


def demo_env(console: Console) -> dict[str, str]:
    return clean_env(PORT=str(console.port), PATCHWARDEN_DATA_DIR=str(console.data_dir))


def wait_for(what: str, probe: Any, demo: DemoHost, timeout: float = 600) -> Any:
    """`probe()` once it is truthy; fails with the script's output when it stopped or timed out."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = probe()
        if found:
            return found
        assert demo.proc.poll() is None, (
            f"demo-host exited {demo.proc.returncode}:\n{demo.output()}"
        )
        time.sleep(0.5)
    raise AssertionError(f"no {what} within {timeout} s:\n{demo.output()}")


def demo_hosts(console: Console) -> list[dict[str, Any]]:
    hosts = console.ok("GET", "/api/v1/hosts")["items"]
    return [h for h in hosts if h["hostname"] == HOSTNAME]


def fixable_libssl3(console: Console) -> dict[str, Any] | None:
    """The demo host's first open libssl3 record, in detail, once its fix is allowed."""
    for record in console.records():  # the open ones
        if record["hostname"] == HOSTNAME and record["package"] == "libssl3":
            detail: dict[str, Any] = console.ok("GET", f"/api/v1/records/{record['id']}")
            return detail if detail["actions"]["fix"]["allowed"] else None
    return None


def test_the_demo_host_is_fixed_in_its_chroot_and_comes_back(console: Console) -> None:
    require("mount", "mount")
    root = console.data_dir / "demo-host" / "root"
    log = console.data_dir / "demo-host.log"
    demo = DemoHost(demo_env(console), log)
    try:
        record = wait_for("fixable libssl3 record", lambda: fixable_libssl3(console), demo)
        chroot = DebianChroot(root)
        assert record["installed_version"] == chroot.version("libssl3")
        assert record["fixed_version"] == chroot.policy("libssl3").candidate
        assert record["installed_version"] != record["fixed_version"]
        # The changelog the script read names the CVEs the update fixes.
        assert record["cves"] and record["vuln_id"].startswith("CVE-"), record
        assert [str(root / "proc")] == chroot.mounts()
        fix = subprocess.run(
            [PATCHWARDEN, "fix", str(record["id"]), "--wait", "--timeout", "300",
             "--server", console.url, "--token", console.api_token],
            capture_output=True, text=True, timeout=400,
        )  # fmt: skip
        assert fix.returncode == 0, fix.stdout + fix.stderr + demo.output()
        assert "succeeded, record fixed" in fix.stdout
        assert chroot.version("libssl3") == record["fixed_version"]
        assert console.ok("GET", f"/api/v1/records/{record['id']}")["status"] == "fixed"
        assert "Fix libssl3 in the demo host" in demo.output()
        assert demo.interrupt() == 0, demo.output()
        assert "unmounted" in demo.output() and chroot.mounts() == []
        [host] = demo_hosts(console)
        # A second run: the same root (libssl3 stays fixed) and the same host.
        first_scan = host["last_scan_at"]
        demo = DemoHost(demo_env(console), log)
        wait_for(
            "second report",
            lambda: [h for h in demo_hosts(console) if h["last_scan_at"] != first_scan],
            demo,
        )
        assert [h["id"] for h in demo_hosts(console)] == [host["id"]]
        assert chroot.version("libssl3") == record["fixed_version"]
        assert "libssl3 is fixed already" in demo.output()
        assert "enrolled already" in demo.output()
        assert demo.interrupt() == 0, demo.output()
        assert chroot.mounts() == []
    finally:
        demo.kill()
    clean = subprocess.run(
        [SCRIPT, "--clean"], env=demo_env(console), capture_output=True, text=True, timeout=120
    )
    assert clean.returncode == 0, clean.stderr
    assert not (console.data_dir / "demo-host").exists()


def test_without_a_console_it_says_to_start_make_run(tmp_path: Path) -> None:
    env = clean_env(PORT=str(free_port()), PATCHWARDEN_DATA_DIR=str(tmp_path))
    done = subprocess.run([SCRIPT], env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 1
    assert f"no patchwarden console answers on http://127.0.0.1:{env['PORT']}" in done.stderr
    assert "start `make run` first" in done.stderr
    assert list(tmp_path.iterdir()) == []


def test_without_root_it_says_so(tmp_path: Path) -> None:
    setpriv = require("setpriv", "util-linux")
    done = subprocess.run(
        [setpriv, "--reuid=65534", "--regid=65534", "--clear-groups", SCRIPT],
        env=clean_env(PATCHWARDEN_DATA_DIR=str(tmp_path)),
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert done.returncode == 1
    assert "make demo-host needs root" in done.stderr
    assert list(tmp_path.iterdir()) == []
