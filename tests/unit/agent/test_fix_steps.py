"""The fix, step by step, against a scripted apt (recorded real outputs) on a test root.

Each case stops the fix at a different step and checks what ran before it: prechecks never run
a command, a plan problem never takes a snapshot, a snapshot problem never installs. The real
thing, end to end, runs in tests/integration/agent/test_remediation_chroot.py.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from tests.paths import REPO

from patchwarden.agent.actions.base import Target, Wanted
from patchwarden.agent.actions.context import ActionContext
from patchwarden.agent.actions.fix import FixRequest, run_fix
from patchwarden.agent.runner import Call, Completed, RecordingRunner
from patchwarden.agent.snapshots.base import SnapshotStore
from patchwarden.protocol import v1

APT_DATA = REPO / "tests" / "data" / "remediation" / "apt"
OLD, NEW = "3.0.20-1~deb12u2", "3.0.22-1~deb12u2"


def recorded(name: str) -> Completed:
    doc = json.loads((APT_DATA / f"{name}.json").read_text())
    return Completed(tuple(doc["argv"]), doc["returncode"], doc["stdout"], doc["stderr"])


def query(*rows: tuple[str, str]) -> Completed:
    return Completed((), 0, "".join(f"{n}\t{v}\tamd64\tii \n" for n, v in rows))


@dataclass
class ScriptedApt:
    """Answers apt-get/dpkg-query calls from a script; records what ran."""

    plan: Completed = field(default_factory=lambda: recorded("plan-upgrade"))
    install: Completed = field(default_factory=lambda: recorded("install-upgrade"))
    update: Completed = field(
        default_factory=lambda: Completed((), 0, "Reading package lists...\n")
    )
    before: list[tuple[str, str]] = field(default_factory=lambda: [("libssl3", OLD)])
    after: list[tuple[str, str]] = field(default_factory=lambda: [("libssl3", NEW)])
    installed: bool = False

    def __call__(self, call: Call) -> Completed:
        argv = call.argv
        if argv[:2] == ("dpkg-query", "-W") and len(argv) > 4:
            return query(*(self.after if self.installed else self.before))
        if argv[:2] == ("dpkg-query", "-W"):
            return query(*self.before)
        if argv[:3] == ("apt-get", "-q", "update"):
            return self.update
        if argv[:3] == ("apt-get", "install", "-s"):
            return self.plan
        if argv[:2] == ("apt-get", "install"):
            self.installed = True
            return self.install
        if argv[0] == "lvs":  # /dev/vda1 is a plain partition: no logical volume at all
            return Completed((), 0, "")
        raise AssertionError(f"unexpected command {argv}")


def debian_root(tmp_path: Path, release: str = "12") -> Path:
    root = tmp_path / "root"
    (root / "etc").mkdir(parents=True)
    (root / "etc/os-release").write_text(f"ID=debian\nVERSION_ID={release}\n")
    (root / "usr/bin").mkdir(parents=True)
    (root / "usr/bin/apt-get").write_text("")
    archives = root / "var/cache/apt/archives"
    archives.mkdir(parents=True)
    (archives / f"libssl3_{OLD}_amd64.deb").write_bytes(b"!<arch>\nold libssl3")
    (root / "var/lib/dpkg/info").mkdir(parents=True)
    return root


def context(
    tmp_path: Path, apt: ScriptedApt, root: Path | None = None
) -> tuple[ActionContext, RecordingRunner]:
    runner = RecordingRunner(apt)
    root = root or debian_root(tmp_path)
    proc = tmp_path / "proc"  # no processes, no locks, no mounts
    (proc / "self").mkdir(parents=True)
    (proc / "self/mounts").write_text("/dev/vda1 / ext4 rw 0 0\n")
    ctx = ActionContext(
        Target(root, runner, runner, "chroot"), SnapshotStore(tmp_path / "snap"), 0, proc
    )
    return ctx, runner


def fix(
    ctx: ActionContext, version: str = NEW, name: str = "libssl3", **kw: object
) -> v1.FixDetails:
    return run_fix(ctx, FixRequest((Wanted(name, version),), **kw))  # type: ignore[arg-type]


def ran(runner: RecordingRunner) -> list[str]:
    return [" ".join(c.argv[:3]) for c in runner.calls if c.argv[0] == "apt-get"]


def test_happy_path_every_step_in_order(tmp_path: Path) -> None:
    ctx, runner = context(tmp_path, ScriptedApt())
    done = fix(ctx, requested_by="bob")
    assert done.error is None
    assert ran(runner) == ["apt-get -q update", "apt-get install -s", "apt-get install -q"]
    assert done.packages == (v1.PackageOutcome("libssl3", OLD, NEW, True, NEW),)
    assert done.snapshot is not None and done.snapshot.owner == "bob"
    assert done.snapshot.packages[0].file == f"libssl3_{OLD}_amd64.deb"  # from apt's cache
    install = next(c for c in runner.calls if c.argv[:3] == ("apt-get", "install", "-q"))
    assert install.env["DEBIAN_FRONTEND"] == "noninteractive"


@pytest.mark.parametrize(
    ("setup", "code", "message"),
    [
        ({"release": "7"}, "eol", "reached its end of life on 2018-05-31"),
        ({"release": "10"}, "eol", "fixes on this release need an operating system upgrade"),
        (
            {"format": "rpm"},
            "invalid_request",
            "the fix names rpm packages, but this host uses apt",
        ),
        ({"name": "LibSSL3"}, "invalid_request", "is not a deb package name"),
        ({"exec_mode": "direct"}, "not_supported", "is not the running system"),
        ({"min_free_bytes": 2**62}, "disk_space", "a fix needs at least"),
    ],
)
def test_sad_path_refused_before_any_command(
    tmp_path: Path, setup: dict[str, object], code: str, message: str
) -> None:
    apt = ScriptedApt()
    root = debian_root(tmp_path, str(setup.get("release", "12")))
    ctx, runner = context(tmp_path, apt, root)
    if "exec_mode" in setup:
        ctx = ActionContext(Target(root, runner, runner, "direct"), ctx.store, 0, ctx.proc)
    if "min_free_bytes" in setup:
        ctx = ActionContext(ctx.target, ctx.store, 2**62, ctx.proc)
    kw = {"format": setup["format"]} if "format" in setup else {}
    done = fix(ctx, name=str(setup.get("name", "libssl3")), **kw)
    assert done.error is not None and done.error.code == code and message in done.error.message
    assert ran(runner) == []


@pytest.mark.parametrize(
    ("apt", "code", "message"),
    [
        (
            ScriptedApt(plan=recorded("plan-already-newest")),
            "no_update",
            "libssl3 3.0.22-1~deb12u2 is not offered",
        ),
        (
            ScriptedApt(plan=recorded("plan-version-not-found")),
            "no_update",
            "is not offered by the repositories",
        ),
        (
            ScriptedApt(
                update=recorded("update-mirror-closed"), plan=recorded("plan-after-mirror-closed")
            ),
            "mirror_unreachable",
            "no connection to 127.0.0.1 port",
        ),
        (
            ScriptedApt(plan=recorded("plan-dependency-conflict")),
            "dependency_conflict",
            "unmet dependencies",
        ),
        (ScriptedApt(plan=recorded("install-locked")), "pm_locked", "Could not get lock"),
        (
            ScriptedApt(
                plan=Completed(
                    (),
                    0,
                    f"Inst libssl3 [{OLD}] ({NEW} Debian-Security:12 [amd64])\n"
                    f"Remv openssl [{OLD}]\n",
                )
            ),
            "dependency_conflict",
            "the fix would remove openssl",
        ),
        (
            ScriptedApt(update=recorded("update-permission")),
            "permission",
            "failed to obtain permission",
        ),
    ],
)
def test_sad_path_plan_problems_never_snapshot_or_install(
    tmp_path: Path, apt: ScriptedApt, code: str, message: str
) -> None:
    ctx, runner = context(tmp_path, apt)
    done = fix(ctx)
    assert done.error is not None and done.error.code == code, done.error
    assert message in done.error.message
    assert done.snapshot is None and ctx.store.list() == []
    assert "apt-get install -q" not in ran(runner)


def test_already_fixed_needs_nothing(tmp_path: Path) -> None:
    ctx, runner = context(tmp_path, ScriptedApt(before=[("libssl3", NEW)]))
    done = fix(ctx)
    assert done.error is not None and done.error.code == "no_update"
    assert done.error.message == f"no update available: already at the fixed version: libssl3 {NEW}"
    assert ran(runner) == []


def test_a_fix_older_than_what_is_installed_is_no_update(tmp_path: Path) -> None:
    apt = ScriptedApt(plan=recorded("plan-downgrade"), before=[("libssl3", NEW)])
    ctx, runner = context(tmp_path, apt)
    done = fix(ctx, version=OLD)
    assert done.error is not None and done.error.code == "no_update"
    assert f"libssl3 {NEW} is already newer than {OLD}" in done.error.message
    assert "apt-get install -q" not in ran(runner)


def test_a_failed_dry_run_for_another_reason_keeps_its_own_error(tmp_path: Path) -> None:
    interrupted = Completed(
        (),
        100,
        "",
        "E: dpkg was interrupted, you must manually run 'dpkg --configure -a' to correct the"
        " problem.\n",
    )
    ctx, _ = context(tmp_path, ScriptedApt(plan=interrupted))
    done = fix(ctx)
    assert done.error is not None and done.error.code == "unknown"
    assert "dpkg --configure -a" in done.error.tail


def test_not_installed_is_no_update(tmp_path: Path) -> None:
    ctx, _ = context(tmp_path, ScriptedApt(before=[]))
    done = fix(ctx)
    assert done.error is not None and done.error.code == "no_update"
    assert "libssl3 not installed on this host" in done.error.message


@pytest.mark.parametrize(
    ("kw", "code", "message"),
    [
        ({"snapshot_allowed": False}, "snapshot_forbidden", "may not take snapshots"),
        (
            {"snapshot_provider": "lvm"},
            "snapshot_failed",
            "snapshot provider lvm does not work on this host",
        ),
        ({"snapshot_provider": "btrfs"}, "snapshot_failed", "not btrfs"),
    ],
)
def test_sad_path_snapshot_problems_stop_before_the_install(
    tmp_path: Path, kw: dict[str, object], code: str, message: str
) -> None:
    ctx, runner = context(tmp_path, ScriptedApt())
    done = fix(ctx, **kw)
    assert done.error is not None and done.error.code == code and message in done.error.message
    assert "without a snapshot" in done.error.hint
    assert "apt-get install -q" not in ran(runner)
    assert ctx.store.list() == [] and not list(ctx.store.directory.glob("*"))


def test_without_a_snapshot_the_same_problem_is_no_problem(tmp_path: Path) -> None:
    ctx, _ = context(tmp_path, ScriptedApt())
    done = fix(ctx, snapshot=False, snapshot_allowed=False)
    assert done.error is None and done.snapshot is None


def test_a_snapshot_that_cannot_download_the_old_version_stops_the_fix(tmp_path: Path) -> None:
    root = debian_root(tmp_path)
    for deb in (root / "var/cache/apt/archives").glob("*.deb"):
        deb.unlink()
    apt = ScriptedApt()
    ctx, runner = context(tmp_path, apt, root)

    def answer(call: Call) -> Completed:
        if call.argv[:3] == ("apt-get", "-q", "download"):
            return recorded("install-proxy-closed")  # what apt says when it cannot fetch
        return apt(call)

    runner.answer = answer
    done = fix(ctx)
    assert done.error is not None and done.error.code == "snapshot_failed"
    assert "could not be downloaded again (package mirror unreachable" in done.error.message
    assert any(" download " in c for c in done.commands)
    assert "apt-get install -q" not in ran(runner) and ctx.store.list() == []


def test_a_failed_install_is_classified_and_keeps_the_snapshot(tmp_path: Path) -> None:
    ctx, _ = context(
        tmp_path, ScriptedApt(install=recorded("install-disk-full"), after=[("libssl3", OLD)])
    )
    done = fix(ctx)
    assert done.error is not None and done.error.code == "disk_full"
    assert done.packages == (v1.PackageOutcome("libssl3", OLD, OLD, False, NEW),)
    assert done.snapshot is not None and [s.id for s in ctx.store.list()] == [done.snapshot.id]


def test_a_kernel_fix_needs_a_restart(tmp_path: Path) -> None:
    old, new = "6.1.76-1", "6.1.85-1"
    name = "linux-image-6.1.0-18-amd64"
    plan = Completed((), 0, f"Inst {name} [{old}] ({new} Debian-Security:12 [amd64])\n")
    ctx, _ = context(tmp_path, ScriptedApt(plan=plan, before=[(name, old)], after=[(name, new)]))
    root = ctx.target.root
    (root / f"var/cache/apt/archives/{name}_{old}_amd64.deb").write_bytes(b"!<arch>\n")
    done = fix(ctx, version=new, name=name)
    assert done.error is None and done.restart_required


def test_dry_run_shows_every_command_and_runs_only_the_plan(tmp_path: Path) -> None:
    ctx, runner = context(tmp_path, ScriptedApt())
    done = run_fix(ctx, FixRequest((Wanted("libssl3", NEW),)), dry_run=True)
    assert done.error is None and done.dry_run and done.snapshot is None
    assert ran(runner) == ["apt-get install -s"]
    shown = [c.split(" ", 2)[2] for c in done.commands]
    assert shown[0].endswith("apt-get -q update") and " install -s " in shown[1]
    assert shown[2].endswith(f"'libssl3={NEW}'") and " -s " not in shown[2]
