"""Agent memory: RSS of a real `patchwarden-agent` process while it uploads and while idle.

A real console (`patchwarden server`, SQLite, no scheduler) and a real agent scanning the
corpus' Debian 12 root (843 installed packages, offline). Figures from the kernel:
* `run --once`: VmHWM (peak RSS) of the enrol + collect + gzip + upload cycle;
* long-running `run`: VmRSS sampled every 10 ms from start through the first upload, then
  VmRSS and VmHWM while it waits in the jobs long-poll (idle), read from /proc/PID/status.

Prints figures; asserts nothing.
Run: .venv/bin/python bench/agent_rss.py
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))  # for tests.pg

import httpx  # noqa: E402
from _common import BIN, CORPUS  # noqa: E402
from tests.pg import free_port  # noqa: E402

AGENT = str(BIN / "patchwarden-agent")
PATCHWARDEN = str(BIN / "patchwarden")
DEBIAN12 = CORPUS / "hosts/dpkg/local-debian12"


def proc_status(pid: int) -> dict[str, int]:
    """VmRSS / VmHWM of a process in KiB."""
    out = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, value = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            out[key] = int(value.split()[0])
    return out


def inventories(db: Path) -> int:
    """Inventories the console has stored."""
    with sqlite3.connect(db) as conn:
        return int(conn.execute("SELECT count(*) FROM inventories").fetchone()[0])


def main() -> None:
    """Start a console, measure `run --once`, then a long-running agent."""
    with tempfile.TemporaryDirectory(prefix="pw-bench-agent-") as tmp:
        base = Path(tmp)
        data = base / "data"
        root = base / "root"
        (root / "etc").mkdir(parents=True)
        (root / "var/lib/dpkg").mkdir(parents=True)
        shutil.copy(DEBIAN12 / "os-release", root / "etc/os-release")
        shutil.copy(DEBIAN12 / "status", root / "var/lib/dpkg/status")
        env = {k: v for k, v in os.environ.items() if not k.startswith("PATCHWARDEN_")}

        def token() -> str:
            return subprocess.run(
                [PATCHWARDEN, "enrolment-token", "create", "--data-dir", str(data), "--init"],
                capture_output=True, text=True, env=env, check=True,
            ).stdout.strip()  # fmt: skip

        enrol_tokens = [token(), token()]
        port = free_port()
        url = f"http://127.0.0.1:{port}"
        server = subprocess.Popen(
            [PATCHWARDEN, "server", "--data-dir", str(data), "--port", str(port),
             "--no-scheduler"],
            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        try:
            for _ in range(300):
                try:
                    httpx.get(url + "/healthz", timeout=1)
                    break
                except httpx.TransportError:
                    time.sleep(0.1)
            # /proc, not wait4's ru_maxrss: a forked child's maxrss counts the parent's pages
            # before exec, which here is this (larger) bench process.
            sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(1)"])
            time.sleep(0.5)
            baseline = proc_status(sleeper.pid)["VmHWM"]
            sleeper.wait()
            print(f"python interpreter alone: VmHWM {baseline / 1024:.1f} MiB")
            once = subprocess.Popen(
                [AGENT, "run", "--once", "--offline", "--root", str(root),
                 "--state-dir", str(base / "once"), "--server", url, "--token",
                 enrol_tokens[0]],
                env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            )  # fmt: skip
            hwm, start = 0, time.monotonic()
            while once.poll() is None:
                try:
                    hwm = max(hwm, proc_status(once.pid).get("VmHWM", 0))
                except (FileNotFoundError, ProcessLookupError):
                    break
                time.sleep(0.005)
            print(
                f"agent run --once (843 dpkg packages; enrol, collect, upload): VmHWM "
                f"{hwm / 1024:.1f} MiB (last read before exit), {time.monotonic() - start:.2f} s,"
                f" exit {once.wait()}"
            )

            db = data / "patchwarden.db"
            before = inventories(db)
            agent = subprocess.Popen(
                [AGENT, "run", "--offline", "--root", str(root), "--state-dir",
                 str(base / "daemon"), "--server", url, "--token", enrol_tokens[1],
                 "--poll-wait", "30", "--interval", "3600"],
                env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            )  # fmt: skip
            try:
                busy_max = 0
                start = time.monotonic()
                while inventories(db) == before and time.monotonic() - start < 60:
                    busy_max = max(busy_max, proc_status(agent.pid).get("VmRSS", 0))
                    time.sleep(0.01)
                uploaded = time.monotonic() - start
                time.sleep(3)  # heartbeat done; now inside the 30 s jobs long-poll
                idle = []
                for _ in range(50):
                    idle.append(proc_status(agent.pid)["VmRSS"])
                    time.sleep(0.1)
                status = proc_status(agent.pid)
                print(f"agent run (daemon): first upload after {uploaded:.2f} s; "
                      f"VmRSS sampled during enrol/collect/upload max {busy_max / 1024:.1f} MiB; "
                      f"VmHWM {status['VmHWM'] / 1024:.1f} MiB")  # fmt: skip
                low, high = min(idle) / 1024, max(idle) / 1024
                print(f"agent run (daemon) idle in the jobs long-poll: "
                      f"VmRSS {low:.1f}-{high:.1f} MiB over 5 s")  # fmt: skip
            finally:
                agent.terminate()
                agent.wait(10)
        finally:
            server.terminate()
            server.wait(30)


if __name__ == "__main__":
    main()
