"""Real console and agent processes for the fleet end-to-end tests (issue #3).

Everything here drives real things: `patchwarden server` as a subprocess on a free loopback
port, `patchwarden-agent` subprocesses scanning roots built from the shared corpus, the
`patchwarden` CLI for tokens and feed imports. Time is moved through the console's offset
file (`PATCHWARDEN_CLOCK_OFFSET_FILE`), never by touching the system clock.

Three hosts, each with real findings against real feeds:

* `deb`: Debian 10 (claircore os-release) with a dpkg status of real buster stanzas from the
  corpus, including apt 1.8.2 (fixed by DSA-4685-1 and DSA-4808-1);
* `ubu`: Ubuntu 18.04 (claircore os-release, trivy's `ubuntu:18.04` base status), matched
  against the Ubuntu CVE Tracker files that name one of its source packages on bionic;
* `alma`: AlmaLinux 9 os-release over go-rpmdb's real SQLite rpmdb, against AlmaLinux 9 OSV
  (four of its findings are in CISA KEV: the exploitable ones).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import tarfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Optional

import httpx
from tests.paths import BIN, CORPUS, PATCHWARDEN
from tests.pg import free_port

AGENT = str(BIN / "patchwarden-agent")
ADVISORIES = CORPUS / "advisories"
KEV = ADVISORIES / "cisa-kev" / "known_exploited_vulnerabilities.json"
ALMA9 = ADVISORIES / "almalinux-osv" / "almalinux9"
DSA = ADVISORIES / "debian-security-tracker" / "DSA.list"
UCT = ADVISORIES / "ubuntu-cve-tracker" / "uct-20200618.tar.xz"
UBUNTU_STATUS = CORPUS / "hosts" / "dpkg" / "trivy" / "ubuntu-18.04-base.status"
ALMA9_OS_RELEASE = (
    'NAME="AlmaLinux"\nVERSION="9.3 (Shamrock Pampas Cat)"\nID="almalinux"\n'
    'ID_LIKE="rhel centos fedora"\nVERSION_ID="9.3"\nPRETTY_NAME="AlmaLinux 9.3"\n'
)
DEBIAN_STANZAS = (
    "hosts/dpkg/claircore/debian-only.status",
    "hosts/dpkg/claircore/postgresql.status",
    "hosts/dpkg/syft-status.d/multiple",
    "hosts/dpkg/syft-status.d/single",
)
"""Real Debian 10 (buster) dpkg stanzas: keyring, PostgreSQL 11, tzdata, util-linux, apt."""

HOSTNAMES = {"deb": "deb-buster", "ubu": "ubuntu-bionic", "alma": "alma-9"}
DAY = 86400.0
ENV_KEYS = ("PATCHWARDEN_DATABASE_URL", "PATCHWARDEN_CLOCK_OFFSET_FILE", "PATCHWARDEN_DATA_DIR")


# -- corpus roots and feeds ---------------------------------------------------------------------


def stanzas(text: str) -> list[str]:
    """The paragraphs of a dpkg status file."""
    return [s.strip("\n") for s in re.split(r"\n[ \t]*\n", text) if s.strip()]


def debian_status() -> str:
    """A Debian 10 status of the corpus' real buster stanzas (those with a version).

    syft's fixture renamed apt's source to `apt-dev` to test `Source:` parsing; the real apt
    1.8.2 is built from source `apt`, so that one line goes (Debian Policy §5.6.1: a binary
    without `Source:` is its own source).
    """
    kept = [
        re.sub(r"^Source: apt-dev\n", "", stanza, flags=re.MULTILINE)
        for rel in DEBIAN_STANZAS
        for stanza in stanzas((CORPUS / rel).read_text())
        if re.search(r"^Version:", stanza, re.MULTILINE)
    ]
    return "\n\n".join(kept) + "\n"


def build_roots(base: Path) -> dict[str, Path]:
    """The three host roots under `base` (fresh copies a test may change)."""
    roots = {name: base / name for name in HOSTNAMES}
    for name, root in roots.items():
        (root / "etc").mkdir(parents=True)
        (root / "etc" / "hostname").write_text(HOSTNAMES[name] + "\n")
        (root / "etc" / "machine-id").write_text(f"{name:0<32}"[:32] + "\n")
    deb, ubu, alma = roots["deb"], roots["ubu"], roots["alma"]
    shutil.copy(CORPUS / "hosts/os-release/claircore/debian/10/etc/os-release", deb / "etc")
    (deb / "var/lib/dpkg").mkdir(parents=True)
    (deb / "var/lib/dpkg/status").write_text(debian_status())
    for f in (CORPUS / "hosts/os-release/claircore/ubuntu/18.04/etc").iterdir():
        shutil.copy(f, ubu / "etc")
    (ubu / "var/lib/dpkg").mkdir(parents=True)
    shutil.copy(UBUNTU_STATUS, ubu / "var/lib/dpkg/status")
    (alma / "etc/os-release").write_text(ALMA9_OS_RELEASE)
    (alma / "var/lib/rpm").mkdir(parents=True)
    shutil.copy(
        CORPUS / "hosts/rpmdb/go-rpmdb/cbl-mariner-2.0/rpmdb.sqlite",
        alma / "var/lib/rpm/rpmdb.sqlite",
    )
    return roots


def uct_subset(dest: Path, status: Path = UBUNTU_STATUS) -> Path:
    """The tracker's CVE files with a bionic line for a source package of `status`.

    Importing all 33,126 files takes ~40 s; the ~200 that can match the Ubuntu root give the
    same findings for it (the tracker is one file per CVE, MANIFEST §1.7).
    """
    sources = set()
    for stanza in stanzas(status.read_text()):
        for field in ("Package", "Source"):
            m = re.search(rf"^{field}:\s*(\S+)", stanza, re.MULTILINE)
            if m:
                sources.add(m.group(1))
    bionic = re.compile(rb"^bionic_([^:\s]+):", re.MULTILINE)
    with tarfile.open(UCT) as tar:
        for member in tar:
            if not member.isfile():
                continue
            data = tar.extractfile(member).read()  # type: ignore[union-attr]
            if any(s.decode() in sources for s in bionic.findall(data)):
                out = dest / member.name
                out.parent.mkdir(parents=True, exist_ok=True)
                out.write_bytes(data)
    return dest


def feed_specs(uct_dir: Path) -> dict[str, list[str]]:
    """`[KIND:]PATH` specs of the feeds each root is matched against (KEV for all)."""
    kev = f"kev:{KEV}"
    return {
        "deb": [f"debian-tracker:{DSA}", kev],
        "ubu": [f"ubuntu-uct:{uct_dir}", kev],
        "alma": [f"osv:{ALMA9}", kev],
    }


def clean_env(**extra: str) -> dict[str, str]:
    """This process' environment without patchwarden settings, plus `extra`."""
    env = {k: v for k, v in os.environ.items() if k not in ENV_KEYS}
    env.update(extra)
    return env


def pw(*args: str, env: dict[str, str], timeout: float = 300) -> str:
    """Run the `patchwarden` CLI; its stdout (AssertionError with stderr on failure)."""
    proc = subprocess.run(
        [PATCHWARDEN, *args], capture_output=True, text=True, env=env, timeout=timeout
    )
    assert proc.returncode == 0, f"patchwarden {' '.join(args)}: {proc.stderr}"
    return proc.stdout


def expected_findings(root: Path, specs: list[str], work: Path) -> set[tuple[str, str]]:
    """(vuln id, package) of `patchwarden scan --root` with the same feeds, not stored.

    Same engine as the console, but another path through it: the feeds parsed in memory,
    the inventory collected in-process, no database.
    """
    args = ["scan", "--root", str(root), "--data-dir", str(work), "--offline"]
    args += [a for spec in specs for a in ("--feed", spec)] + ["--format", "json"]
    proc = subprocess.run(
        [PATCHWARDEN, *args], capture_output=True, text=True, env=clean_env(), timeout=300
    )
    assert proc.returncode in (0, 1), proc.stderr
    return {(f["id"], f["package"]) for f in json.loads(proc.stdout)["findings"]}


# -- processes -------------------------------------------------------------------------------


class OffsetFile:
    """The console's clock offset: seconds ahead of the wall clock (read on every call)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.set(0)

    def set(self, seconds: float) -> None:
        """Move the console's time to wall clock + `seconds`."""
        tmp = self.path.with_suffix(".tmp")
        tmp.write_text(f"{seconds}\n")
        os.replace(tmp, self.path)  # atomic: the server never reads a half-written number


class Console:
    """One `patchwarden server` subprocess on a free loopback port."""

    def __init__(
        self,
        data_dir: Path,
        env: dict[str, str],
        api_token: str,
        *,
        scheduler: bool = False,
        tick: float = 30.0,
    ) -> None:
        self.data_dir = data_dir
        self.env = env
        self.api_token = api_token
        self.scheduler = scheduler
        self.tick = tick
        self.port = 0
        self.proc: Optional[subprocess.Popen[bytes]] = None
        self.log = data_dir / f"server-{id(self)}.log"
        self.http = httpx.Client(timeout=60)

    @property
    def url(self) -> str:
        """Base URL agents and API calls use."""
        return f"http://127.0.0.1:{self.port}"

    def start(self, port: int = 0) -> Console:
        """Start the server (on `port`, else a free one) and wait for /healthz."""
        self.port = port or free_port()
        args = [PATCHWARDEN, "server", "--data-dir", str(self.data_dir), "--port", str(self.port)]
        args += ["--tick", str(self.tick)] if self.scheduler else ["--no-scheduler"]
        with self.log.open("ab") as log:
            self.proc = subprocess.Popen(args, env=self.env, stdout=log, stderr=log)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError(f"server exited {self.proc.returncode}:\n{self.logs()}")
            try:
                if self.http.get(self.url + "/healthz", timeout=1).status_code == 200:
                    return self
            except httpx.TransportError:
                pass
            time.sleep(0.1)
        raise AssertionError(f"server did not answer /healthz within 60 s:\n{self.logs()}")

    def stop(self) -> None:
        """Terminate the server and wait for it (killed after 15 s)."""
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.send_signal(signal.SIGCONT)  # a paused server cannot handle SIGTERM
        self.proc.terminate()
        try:
            self.proc.wait(15)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(5)

    def pause(self) -> None:
        """Freeze the server (SIGSTOP): connections are accepted by the kernel, not served."""
        assert self.proc is not None
        self.proc.send_signal(signal.SIGSTOP)

    def resume(self) -> None:
        """Let a paused server run again."""
        assert self.proc is not None
        self.proc.send_signal(signal.SIGCONT)

    def logs(self) -> str:
        """The server's output so far."""
        return self.log.read_text(errors="replace") if self.log.exists() else ""

    def api(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        """A REST API call as the test's console user."""
        headers = {"Authorization": f"Bearer {self.api_token}"}
        return self.http.request(method, self.url + path, headers=headers, **kwargs)

    def ok(self, method: str, path: str, **kwargs: Any) -> Any:
        """A REST API call that must succeed; its JSON."""
        resp = self.api(method, path, **kwargs)
        assert resp.status_code == 200, f"{method} {path}: {resp.status_code} {resp.text}"
        return resp.json()

    def records(self, **params: Any) -> list[dict[str, Any]]:
        """Every record matching `params` (all pages)."""
        items: list[dict[str, Any]] = []
        page = 1
        while True:
            data = self.ok(
                "GET", "/api/v1/records", params={**params, "page": page, "per_page": 500}
            )
            items += data["items"]
            if len(items) >= data["total"]:
                return items
            page += 1

    def record(self, record_id: int) -> dict[str, Any]:
        """One record with its history."""
        return self.ok("GET", f"/api/v1/records/{record_id}")

    def act(self, action: str, record_ids: list[int], reason: str = "") -> list[dict[str, Any]]:
        """POST /actions for records; the per-record outcomes."""
        body = {"action": action, "record_ids": record_ids, "reason": reason}
        return self.ok("POST", "/api/v1/actions", json=body)["items"]

    def tick_now(self) -> dict[str, Any]:
        """Run the scheduler round now."""
        return self.ok("POST", "/api/v1/maintenance/tick")


def run_agent(
    *args: str, env: dict[str, str], timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    """Run `patchwarden-agent`; the finished process."""
    return subprocess.run([AGENT, *args], capture_output=True, text=True, env=env, timeout=timeout)


class FleetAgent:
    """One agent: its own state dir and root, so it looks like its own host."""

    def __init__(self, name: str, root: Path, state_dir: Path, env: dict[str, str]) -> None:
        self.name = name
        self.root = root
        self.state_dir = state_dir
        self.env = env

    @property
    def hostname(self) -> str:
        """The hostname its root reports."""
        return HOSTNAMES[self.name]

    def state(self) -> dict[str, str]:
        """agent.json: server, host id, secret."""
        return json.loads((self.state_dir / "agent.json").read_text())

    @property
    def host_id(self) -> str:
        """The console's id for this host."""
        return self.state()["host_id"]

    def run_once(self, *extra: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        """`patchwarden-agent run --once --offline` on this root."""
        proc = run_agent(
            "run", "--once", "--offline", "--root", str(self.root),
            "--state-dir", str(self.state_dir), *extra, env=self.env,
        )  # fmt: skip
        if check:
            assert proc.returncode == 0, f"agent {self.name}: {proc.returncode} {proc.stderr}"
        return proc

    def enrol_and_run(self, server: str, token: str) -> subprocess.CompletedProcess[str]:
        """First run: enrol with the one-time token, then report."""
        return self.run_once("--server", server, "--token", token)

    def outbox(self) -> list[Path]:
        """Uploads not yet acknowledged by the console."""
        return sorted((self.state_dir / "outbox").glob("*.json.gz"))


def remove_package(root: Path, package: str) -> str:
    """Drop `package`'s stanza from the root's dpkg status; returns the stanza (to put back)."""
    status = root / "var/lib/dpkg/status"
    kept, removed = [], ""
    for stanza in stanzas(status.read_text()):
        if re.search(rf"^Package: {re.escape(package)}$", stanza, re.MULTILINE):
            removed = stanza
        else:
            kept.append(stanza)
    assert removed, f"{package} is not in {status}"
    status.write_text("\n\n".join(kept) + "\n")
    return removed


def add_stanza(root: Path, stanza: str) -> None:
    """Put a stanza back into the root's dpkg status."""
    status = root / "var/lib/dpkg/status"
    status.write_text(status.read_text().rstrip("\n") + "\n\n" + stanza + "\n")


# -- a fleet ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class FleetFeeds:
    """An advisory store with every feed of the fleet, and what each pristine root has."""

    store_dir: Path
    """Data dir holding the imported advisory store (copied into each console's data dir)."""
    specs: dict[str, list[str]]
    expected: dict[str, set[tuple[str, str]]]
    """Root name -> (vuln id, package) of `patchwarden scan` on the pristine root."""


@dataclass
class Fleet:
    """A running console (SQLite unless the env says otherwise) and three agents."""

    console: Console
    agents: dict[str, FleetAgent]
    clock: OffsetFile
    env: dict[str, str]
    data_dir: Path

    def enrolment_token(self) -> str:
        """A new one-time enrolment token from the CLI."""
        return pw(
            "enrolment-token", "create", "--data-dir", str(self.data_dir), env=self.env
        ).strip()

    def enrol_all(self) -> None:
        """Enrol every agent (each with its own token) and let it report once."""
        for agent in self.agents.values():
            agent.enrol_and_run(self.console.url, self.enrolment_token())


def make_fleet(base: Path, feeds: FleetFeeds, database_url: str = "") -> Fleet:
    """Data dir with the fleet's advisory store, offset clock, API token, three agent roots."""
    data_dir = base / "data"
    data_dir.mkdir()
    for f in feeds.store_dir.iterdir():
        if f.name.startswith("advisories.db"):
            shutil.copy(f, data_dir / f.name)
    clock = OffsetFile(base / "clock-offset")
    extra = {"PATCHWARDEN_CLOCK_OFFSET_FILE": str(clock.path)}
    if database_url:
        extra["PATCHWARDEN_DATABASE_URL"] = database_url
    env = clean_env(**extra)
    token = pw(
        "api-token", "create", "--user", "alice", "--data-dir", str(data_dir), "--init", env=env
    ).strip()
    console = Console(data_dir, env, token)
    roots = build_roots(base / "roots")
    agents = {
        name: FleetAgent(name, root, base / f"state-{name}", clean_env())
        for name, root in roots.items()
    }
    return Fleet(console, agents, clock, env, data_dir)
