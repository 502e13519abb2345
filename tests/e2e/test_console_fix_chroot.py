"""One-click fix end to end: a real `patchwarden server`, the real agent
(`patchwarden-agent run --once --root DIR --exec chroot`) and real apt in a real Debian 12
chroot (tests/chroot.py).

The chroot has libssl3 at the version `bookworm` offers; the console's advisory (an OSV record
imported with `patchwarden feeds import`) says openssl is fixed by the version
`bookworm-security` offers. Both versions are picked at test time from `apt-cache policy`.
Through the REST API: the record offers the fix, `POST /api/v1/actions {"action": "fix"}`,
two `run --once` (one executes, one reports the rescan), the package is upgraded and the record
`fixed`; a rollback brings the old version back; the dpkg lock held by a real process is
`pm_locked`, at queue time (from the agent's facts) and as the job's error code; a viewer gets
a 403 and an operator (no snapshot permission) the snapshot refusal.
"""

from __future__ import annotations

import json
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from tests.chroot import DebianChroot, bookworm_chroot, dpkg_lock_held
from tests.e2e.fleet import Console, clean_env, pw
from tests.paths import BIN, PATCHWARDEN

pytestmark = pytest.mark.slow
AGENT = str(BIN / "patchwarden-agent")
PACKAGE, SOURCE = "libssl3", "openssl"
VULN = "CVE-2024-0727"


@dataclass
class Stage:
    """The chroot, the versions, the console and the agent's state directory."""

    chroot: DebianChroot
    old: str
    fixed: str
    console: Console
    state: Path
    enrolment: str
    env: dict[str, str]

    def run_once(self) -> None:
        """One `patchwarden-agent run --once` against the chroot."""
        done = subprocess.run(
            [AGENT, "run", "--once", "--offline", "--root", str(self.chroot.root),
             "--exec", "chroot", "--state-dir", str(self.state),
             "--server", self.console.url, "--token", self.enrolment],
            capture_output=True, text=True, timeout=600,
        )  # fmt: skip
        assert done.returncode == 0, done.stderr

    def token(self, user: str, role: str) -> str:
        """An API token of a new user with `role`."""
        data = str(self.console.data_dir)
        pw("users", "add", user, "--role", role, "--data-dir", data, env=self.env)
        return pw("api-token", "create", "--user", user, "--data-dir", data, env=self.env).strip()

    def record(self) -> dict[str, Any]:
        [found] = self.console.records(vuln_id=VULN, status="all")
        return found

    def detail(self, token: str = "") -> dict[str, Any]:
        record_id = self.record()["id"]
        headers = {"Authorization": f"Bearer {token or self.console.api_token}"}
        reply = self.console.http.get(
            f"{self.console.url}/api/v1/records/{record_id}", headers=headers
        )
        assert reply.status_code == 200, reply.text
        found: dict[str, Any] = reply.json()
        return found

    def act(self, body: dict[str, Any], token: str = "") -> Any:
        headers = {"Authorization": f"Bearer {token or self.console.api_token}"}
        return self.console.http.post(
            f"{self.console.url}/api/v1/actions", json=body, headers=headers
        )


def osv_advisory(fixed: str) -> dict[str, Any]:
    """A Debian 12 OSV record: openssl fixed in `fixed` (the bookworm-security version)."""
    return {
        "schema_version": "1.6.0",
        "id": VULN,
        "modified": "2026-01-01T00:00:00Z",
        "summary": f"test advisory: openssl fixed by bookworm-security {fixed}",
        "affected": [
            {
                "package": {"ecosystem": "Debian:12", "name": SOURCE},
                "ranges": [
                    {"type": "ECOSYSTEM", "events": [{"introduced": "0"}, {"fixed": fixed}]}
                ],
            }
        ],
    }


@pytest.fixture(scope="module")
def stage(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stage]:
    base = tmp_path_factory.mktemp("remediation-e2e")
    with bookworm_chroot(base / "chroot") as chroot:
        policy = chroot.policy(PACKAGE)
        old, fixed = policy.from_suite("bookworm"), policy.from_suite("bookworm-security")
        if not old or not fixed:
            pytest.fail(f"apt-cache policy {PACKAGE}: need versions from bookworm and"
                        f" bookworm-security, got {policy.versions}", pytrace=False)  # fmt: skip
        chroot.install(PACKAGE, old[0])
        data = base / "data"
        data.mkdir()
        feed = base / "osv"
        feed.mkdir()
        (feed / f"{VULN}.json").write_text(json.dumps(osv_advisory(fixed[0])))
        env = clean_env()
        pw("feeds", "import", f"osv:{feed}", "--data-dir", str(data), env=env)
        token = pw(
            "api-token", "create", "--user", "alice", "--data-dir", str(data), "--init", env=env
        ).strip()
        enrolment = pw("enrolment-token", "create", "--data-dir", str(data), env=env).strip()
        console = Console(data, env, token).start()
        try:
            yield Stage(chroot, old[0], fixed[0], console, base / "state", enrolment, env)
        finally:
            console.stop()


def batch(stage: Stage, batch_id: int) -> dict[str, Any]:
    found: dict[str, Any] = stage.console.ok("GET", f"/api/v1/actions/{batch_id}")
    return found


def test_fix_then_rollback_through_the_console(stage: Stage) -> None:
    stage.run_once()
    detail = stage.detail()
    assert (detail["package"], detail["installed_version"]) == (PACKAGE, stage.old)
    assert detail["fixed_version"] == stage.fixed and detail["status"] == "unfixed"
    assert detail["actions"]["fix"] == {"allowed": True, "reason": None, "code": None}
    # Who may not: a viewer (403), an operator without the snapshot permission.
    viewer = stage.token("vera", "viewer")
    assert stage.detail(viewer)["actions"]["fix"]["code"] == "forbidden"
    reply = stage.act({"action": "fix", "record_ids": [detail["id"]]}, viewer)
    assert reply.status_code == 403, reply.text
    operator = stage.token("otto", "operator")
    [item] = stage.act({"action": "fix", "record_ids": [detail["id"]]}, operator).json()["items"]
    assert (item["status"], item["code"]) == ("refused", "snapshot_forbidden")
    assert "without_snapshot" in item["reason"]
    # The command line's dry run shows the agent's command and queues nothing.
    cli = [PATCHWARDEN, "fix", str(detail["id"]), "--server", stage.console.url,
           "--token", stage.console.api_token]  # fmt: skip
    dry = subprocess.run([*cli, "--dry-run"], capture_output=True, text=True, timeout=60)
    assert dry.returncode == 0, dry.stderr
    assert "its agent would run (inside its chroot):" in dry.stdout
    assert "--only-upgrade --no-install-recommends" in dry.stdout
    assert f"{PACKAGE}={stage.fixed}" in dry.stdout
    assert stage.record()["status"] == "unfixed"
    dpkg_before = stage.chroot.dpkg_list()
    # The fix, through `patchwarden fix --wait` while the agent runs.
    waiting = subprocess.Popen(
        [*cli, "--wait", "--timeout", "300"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        text=True,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 30
        while stage.record()["status"] != "fixing" and time.monotonic() < deadline:
            time.sleep(0.2)
        assert stage.record()["status"] == "fixing"
        stage.run_once()  # executes the fix
        out, err = waiting.communicate(timeout=60)
    finally:
        waiting.kill()
    assert waiting.returncode == 0, err
    assert stage.chroot.version(PACKAGE) == stage.fixed
    assert f"record {detail['id']} (host {detail['host_id']}): succeeded, record fixed" in out
    assert f"{PACKAGE} {stage.old} -> {stage.fixed}" in out
    stage.run_once()  # the rescan
    assert stage.record()["status"] == "fixed"
    again = subprocess.run(cli, capture_output=True, text=True, timeout=60)
    assert again.returncode == 1, again.stderr  # refused: exit status 1, and why
    assert "refused (state)" in again.stdout and "0 queued, 1 refused" in again.stdout
    host_id = detail["host_id"]
    [snap] = stage.console.ok("GET", f"/api/v1/hosts/{host_id}/snapshots")["items"]
    assert (snap["provider"], snap["owner"], snap["status"]) == ("packages", "alice", "valid")
    assert snap["record_ids"] == [detail["id"]] and snap["size_bytes"] > 0
    assert stage.detail()["actions"]["rollback"]["allowed"] is True
    # The rollback.
    reply = stage.act({"action": "rollback", "record_ids": [detail["id"]]})
    rollback = reply.json()
    assert rollback["items"][0]["snapshot_id"] == snap["snapshot_id"], reply.text
    stage.run_once()
    assert stage.chroot.version(PACKAGE) == stage.old
    assert stage.chroot.dpkg_list() == dpkg_before
    [outcome] = batch(stage, rollback["batch_id"])["items"]
    assert (outcome["outcome"], outcome["record_status"]) == ("succeeded", "rolled_back")
    stage.run_once()
    assert stage.record()["status"] == "rolled_back"


def test_the_dpkg_lock_held_by_a_real_process_is_pm_locked(stage: Stage) -> None:
    with dpkg_lock_held(stage.chroot.root) as holder:
        # Queued before the agent saw the lock: the agent's precheck refuses the job.
        record_id = stage.record()["id"]
        queued = stage.act({"action": "fix", "record_ids": [record_id]}).json()
        assert queued["items"][0]["status"] == "queued", queued
        stage.run_once()
        [outcome] = batch(stage, queued["batch_id"])["items"]
        assert (outcome["outcome"], outcome["error_code"], outcome["record_status"]) == (
            "failed", "pm_locked", "fix_failed",
        )  # fmt: skip
        assert f"process {holder.pid}" in outcome["message"]
        # Now the console knows it from the agent's facts: refused at once.
        got = stage.detail()["actions"]["fix"]
        assert got["code"] == "pm_locked" and "lock-frontend" in got["reason"]
        [item] = stage.act({"action": "fix", "record_ids": [record_id]}).json()["items"]
        assert (item["status"], item["code"]) == ("refused", "pm_locked")
    assert stage.chroot.version(PACKAGE) == stage.old
