"""Remediation in a real Debian 12 chroot: a one-package fix, its snapshot, the rollback.

    .venv/bin/python bench/remediation.py [--rounds N]

Uses the test chroot (tests/chroot.py: the cached debootstrap tarball, built on first use) and
the agent's own action code with `--exec chroot` semantics. Per round, libssl3 goes from the
bookworm version to the bookworm-security one and back:

* fix: prechecks, apt-get update, plan, `packages` snapshot, install, versions afterwards;
* fix + inventory: what the agent does before it can report the package fixed (the fix, then
  the inventory it uploads);
* snapshot alone, from apt's cache and by re-downloading the installed version;
* fix without a snapshot, and the rollback;
* through the console (`--console-rounds`): a real `patchwarden server`, the real agent
  (`patchwarden-agent run --once --exec chroot`): from `POST /api/v1/actions {"action": "fix"}`
  to the record `fixed` (the agent's run that executes the fix and reports it), then to the
  rescan after it (the second `run --once`), and the rollback the same way.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Callable

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))  # for tests.chroot

from tests.chroot import DebianChroot, bookworm_chroot  # noqa: E402
from tests.e2e.fleet import Console, clean_env, pw  # noqa: E402
from tests.e2e.test_console_fix_chroot import VULN, osv_advisory  # noqa: E402
from tests.paths import BIN  # noqa: E402

from patchwarden.agent.actions import PACKAGE_MANAGERS  # noqa: E402
from patchwarden.agent.actions.base import Change, Installed, Wanted, make_target  # noqa: E402
from patchwarden.agent.actions.context import ActionContext  # noqa: E402
from patchwarden.agent.actions.fix import FixRequest, run_fix  # noqa: E402
from patchwarden.agent.actions.rollback import run_rollback  # noqa: E402
from patchwarden.agent.inventory import collect_inventory  # noqa: E402
from patchwarden.agent.snapshots import PROVIDERS  # noqa: E402
from patchwarden.agent.snapshots.base import SnapshotStore  # noqa: E402

PACKAGE = "libssl3"


def main() -> None:
    """Print the median (and range) of each phase over the rounds."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--console-rounds", type=int, default=3)
    args = parser.parse_args()
    times: dict[str, list[float]] = {}
    sizes: list[int] = []

    def timed(name: str, start: float) -> None:
        times.setdefault(name, []).append(time.perf_counter() - start)

    with tempfile.TemporaryDirectory() as tmp:
        start = time.perf_counter()
        with bookworm_chroot(Path(tmp)) as chroot:
            timed("chroot from the cached tarball + apt-get update", start)
            policy = chroot.policy(PACKAGE)
            old = policy.from_suite("bookworm")[0]
            fixed = policy.from_suite("bookworm-security")[0]
            chroot.install(PACKAGE, old)
            print(f"{PACKAGE} {old} -> {fixed}")
            target = make_target(chroot.root, "chroot")
            ctx = ActionContext(target, SnapshotStore(Path(tmp) / "state" / "snapshots"))
            request = FixRequest((Wanted(PACKAGE, fixed),))
            for _ in range(args.rounds):
                start = time.perf_counter()
                done = run_fix(ctx, request)
                timed("fix (with snapshot)", start)
                assert done.error is None and done.snapshot is not None, done.error
                sizes.append(done.snapshot.size_bytes)
                collect_inventory(chroot.root, runner=target.runner, online=False)
                timed("fix + the inventory the agent uploads", start)
                start = time.perf_counter()
                back = run_rollback(ctx, done.snapshot.id)
                timed("rollback", start)
                assert back.error is None, back.error
                start = time.perf_counter()
                bare = run_fix(ctx, FixRequest((Wanted(PACKAGE, fixed),), snapshot=False))
                timed("fix (without snapshot)", start)
                assert bare.error is None, bare.error
                chroot.install(PACKAGE, old)
                before = {PACKAGE: Installed(PACKAGE, old, "amd64")}
                changes = [Change(PACKAGE, "upgrade", fixed, old, "amd64")]
                for cached in (True, False):
                    if not cached:
                        for deb in (chroot.root / "var/cache/apt/archives").glob(f"{PACKAGE}_*"):
                            deb.unlink()
                    draft = ctx.store.draft("packages", "bench", ctx.clock(), 1)
                    start = time.perf_counter()
                    PROVIDERS["packages"].create(
                        target, PACKAGE_MANAGERS["apt"], changes, before, draft, ctx.mounts
                    )
                    timed(f"snapshot alone ({'cache' if cached else 'download'})", start)
                    ctx.store.remove(draft.id)
            if args.console_rounds:
                through_console(chroot, Path(tmp), old, fixed, args.console_rounds, timed)
    for name, values in times.items():
        low, high = min(values), max(values)
        median = statistics.median(values)
        print(f"{name:50s} median {median:6.2f} s  ({low:.2f}-{high:.2f}, n={len(values)})")
    print(f"{'snapshot size':50s} {statistics.median(sizes) / 1024:8.0f} KiB (one .deb + manifest)")


def through_console(
    chroot: DebianChroot,
    base: Path,
    old: str,
    fixed: str,
    rounds: int,
    timed: Callable[[str, float], None],
) -> None:
    """Fix and roll back through a real console and the real agent, `rounds` times."""
    data, feed = base / "data", base / "osv"
    data.mkdir()
    feed.mkdir()
    (feed / f"{VULN}.json").write_text(json.dumps(osv_advisory(fixed)))
    env = clean_env()
    pw("feeds", "import", f"osv:{feed}", "--data-dir", str(data), env=env)
    token = pw("api-token", "create", "--user", "bench", "--data-dir", str(data), "--init",
               env=env).strip()  # fmt: skip
    enrolment = pw("enrolment-token", "create", "--data-dir", str(data), env=env).strip()
    console = Console(data, env, token).start()
    state = base / "agent-state"

    def run_once() -> None:
        done = subprocess.run(
            [str(BIN / "patchwarden-agent"), "run", "--once", "--offline", "--root",
             str(chroot.root), "--exec", "chroot", "--state-dir", str(state),
             "--server", console.url, "--token", enrolment],
            capture_output=True, text=True, timeout=600,
        )  # fmt: skip
        assert done.returncode == 0, done.stderr

    def status() -> str:
        [record] = console.records(vuln_id=VULN, status="all")
        return str(record["status"])

    def act(action: str) -> Any:
        [record] = console.records(vuln_id=VULN, status="all")
        answer = console.ok("POST", "/api/v1/actions",
                            json={"action": action, "record_ids": [record["id"]]})  # fmt: skip
        assert answer["items"][0]["status"] == "queued", answer
        return answer

    try:
        run_once()
        for _ in range(rounds):
            start = time.perf_counter()
            run_once()
            timed("console: run --once, nothing queued", start)
            start = time.perf_counter()
            act("fix")
            run_once()
            assert status() == "fixed" and chroot.version("libssl3") == fixed
            timed("console: fix request -> record fixed", start)
            run_once()
            assert status() == "fixed"
            timed("console: fix request -> fixed, rescan reported", start)
            start = time.perf_counter()
            act("rollback")
            run_once()
            assert status() == "rolled_back" and chroot.version("libssl3") == old
            timed("console: rollback request -> rolled_back", start)
    finally:
        console.stop()


if __name__ == "__main__":
    main()
