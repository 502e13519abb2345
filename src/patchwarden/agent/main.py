"""`patchwarden-agent`: enrol, then collect → upload → poll typed actions → run → report.

Standard library only (DESIGN §3). Every console request after enrolment is authenticated
with the per-agent secret; uploads go through an on-disk outbox so nothing is lost when the
agent or the console dies half-way (the console deduplicates by report id).

Actions: `scan` and `verify` re-collect and upload; `fix`, `rollback`, `restart` and
`snapshot_delete` remediate (`agent.actions`) and, except the restart, upload a fresh
inventory afterwards. `--root DIR --exec chroot` runs every package-manager command inside
`chroot DIR`. `patchwarden-agent fix --dry-run` shows what a fix would run, without a console.
"""

from __future__ import annotations

import argparse
import gzip
import json
import logging
import os
import re
import socket
import sys
import time
import uuid
from dataclasses import replace
from pathlib import Path
from typing import Any, Dict, FrozenSet, List, Mapping, Optional, Sequence

from patchwarden.agent import console_cap, memcap
from patchwarden.agent import state as st
from patchwarden.agent.actions.base import DEFAULT_TIMEOUT, EXEC_MODES, make_target
from patchwarden.agent.actions.context import ActionContext
from patchwarden.agent.actions.fix import FixRequest, run_fix
from patchwarden.agent.actions.restart import run_restart
from patchwarden.agent.actions.rollback import run_rollback, run_snapshot_delete
from patchwarden.agent.client import ConsoleClient, ConsoleError, Polled
from patchwarden.agent.collectors.base import Collector
from patchwarden.agent.collectors.registry import COLLECTORS
from patchwarden.agent.inventory import collect_inventory
from patchwarden.agent.runner import Runner
from patchwarden.agent.snapshots import cleanup_expired
from patchwarden.agent.snapshots.base import SNAPSHOTS, SnapshotStore
from patchwarden.core.errors import InventoryError
from patchwarden.core.inventory import Inventory
from patchwarden.protocol import v1

AGENT_VERSION = "0.1.0"
DEFAULT_CONFIG = Path("/etc/patchwarden/agent.json")
CONFIG_KEYS = {
    "server": str,
    "token": str,
    "state_dir": str,
    "root": str,
    "interval": (int, float),
    "poll_wait": int,
    "offline": bool,
    "ca_file": str,
    "exec": str,
    "proxy": str,
    "fix_timeout": (int, float),
    "min_free_bytes": int,
    "memory_cap_mb": int,
}
"""Settings `/etc/patchwarden/agent.json` may hold; command-line flags win over them.

`exec`: how package-manager commands reach the root ("direct" or "chroot"); `proxy`: an
http(s) proxy for the package manager's downloads; `fix_timeout`: seconds a package-manager
transaction may take; `min_free_bytes`: least free space a fix needs on each filesystem the
package manager writes (default 3 GiB); `memory_cap_mb`: memory a scan may use (it runs in
a child process killed beyond that; 0: no cap, the scan runs in the agent itself). Without it
the agent uses the cap the console's settings send (200 MB until it has heard one)."""
PROXY_PATTERN = r"^https?://(?:[A-Za-z0-9._~%!$&'()*+,;=:-]+@)?[A-Za-z0-9.-]+(?::[0-9]{1,5})?/?$"
"""What a proxy setting looks like (it becomes one argv element, never shell text)."""
log = logging.getLogger("patchwarden.agent")


class Agent:
    """One enrolled agent: its state dir, console client and scanned root."""

    def __init__(
        self,
        state_dir: Path,
        client: ConsoleClient,
        root: Path = Path("/"),
        online: bool = True,
        exec_mode: str = "direct",
        proxy: str = "",
        fix_timeout: float = DEFAULT_TIMEOUT,
        min_free_bytes: int = v1.MIN_FREE_BYTES,
        host_runner: Optional[Runner] = None,
        memory_cap_mb: Optional[int] = None,
        proc: Optional[Path] = None,
    ) -> None:
        self.state_dir = state_dir
        self.local_cap_mb = memory_cap_mb
        """The cap the agent's config or command line sets; it wins over the console's
        (None: use the console's)."""
        self.console_cap_mb = console_cap.load(state_dir)
        """The cap the console's settings sent last (None: none heard yet)."""
        self.proc = proc
        """The proc tree processes are read from (None: /proc of a live root)."""
        self.client = client
        self.root = root
        self.online = online
        self.actions = ActionContext(
            make_target(root, exec_mode, proxy, fix_timeout, host_runner),
            SnapshotStore(state_dir / SNAPSHOTS),
            min_free_bytes,
        )
        """Where remediation acts (`host_runner` replaces the real one in tests)."""

    @property
    def memory_cap_mb(self) -> int:
        """The cap the next scan runs under: the local one, else the console's, else 200 MB."""
        for cap in (self.local_cap_mb, self.console_cap_mb):
            if cap is not None:
                return cap
        return memcap.DEFAULT_CAP_MB

    def take_console_cap(self, polled: Polled) -> None:
        """Keep the memory cap a jobs poll brought for the next scans (a bad one is logged
        and ignored: the agent keeps the cap it has)."""
        if polled.problem:
            log.error(
                "console sent an invalid memory cap, keeping %d MB: %s",
                self.memory_cap_mb,
                polled.problem,
            )
            return
        cap = polled.memory_cap_mb
        if cap is None or cap == self.console_cap_mb:
            return
        console_cap.save(self.state_dir, cap)
        self.console_cap_mb = cap
        if self.local_cap_mb is None:
            log.info("scans now run under the console's memory cap: %d MB (0: none)", cap)
        else:
            log.info(
                "console's memory cap %d MB ignored: the local one (%d MB) wins",
                cap,
                self.local_cap_mb,
            )

    def collect(self) -> Inventory:
        """Inventory of the scanned root, with the remediation facts.

        Collected in a child process under the memory cap (`memcap.collect_capped`): a scan
        killed there is retried without the process collectors and reported as a
        `memory_cap_exceeded` event. When even that dies, the event is kept for the next
        upload and CapExceeded raised. Kept events go out with this inventory.
        """
        agent = frozenset({os.getpid()})

        def run(skip: FrozenSet[str]) -> Inventory:
            return collect_inventory(
                self.root,
                runner=self.actions.target.runner,
                online=self.online,
                collectors=scan_collectors(skip),
                cache_dir=self.state_dir / "cache",
                remediation=self.actions.setup(),
                proc=self.proc,
                ignore_pids=agent,
            )

        cap_mb = self.memory_cap_mb
        try:
            inv = run(frozenset()) if cap_mb <= 0 else memcap.collect_capped(run, cap_mb)
        except memcap.CapExceeded as exc:
            memcap.save_pending(self.state_dir, exc.event)
            raise
        pending = memcap.pending_events(self.state_dir)
        if pending:
            inv = replace(inv, scan_events=pending + inv.scan_events)
        return inv

    def upload(self, inv: Inventory, job_id: Optional[int] = None) -> int:
        """Send one inventory through the outbox; returns the console's inventory id."""
        report_id = uuid.uuid4().hex
        envelope = {
            "schema": v1.ENVELOPE_SCHEMA,
            "report_id": report_id,
            "job_id": job_id,
            "inventory": inv.to_dict(),
        }
        body = gzip.compress(json.dumps(envelope, separators=(",", ":")).encode())
        if len(body) > v1.MAX_INVENTORY_GZIP:
            raise InventoryError(
                f"inventory of {len(body)} compressed bytes exceeds the protocol cap "
                f"{v1.MAX_INVENTORY_GZIP}; not uploaded"
            )
        path = st.outbox_put(self.state_dir, report_id, body)
        if inv.scan_events:
            memcap.clear_pending(self.state_dir)  # the outbox delivers them now
        reply = self.client.upload_inventory(body)
        path.unlink()
        return int(reply.get("inventory_id") or 0)

    def flush_outbox(self) -> None:
        """Resend uploads a previous run could not get acknowledged."""
        for path in st.outbox_pending(self.state_dir):
            try:
                self.client.upload_inventory(path.read_bytes())
            except ConsoleError as exc:
                # Kept for later when the fault is the network, the console or our
                # credentials; dropped only when the console refuses the report itself.
                if exc.retryable or exc.unauthorised:
                    raise
                log.error("console refused pending upload %s: %s; dropping it", path.name, exc)
            path.unlink()

    def run_action(self, action: v1.Action) -> v1.ActionResult:
        """Run one typed action; scan and verify re-collect and upload, remediation acts and
        (except a restart) uploads a fresh inventory afterwards."""
        if action.kind in v1.REMEDIATION_KINDS:
            return self.remediate(action)
        report_id = uuid.uuid4().hex
        try:
            inv = self.collect()
            inventory_id = self.upload(inv, job_id=action.job_id)
        except (InventoryError, OSError) as exc:
            return v1.ActionResult(action.job_id, False, report_id, error=str(exc))
        details: Dict[str, Any] = {"packages": len(inv.packages)}
        if inv.collector_errors:
            details["collector_errors"] = [e.message for e in inv.collector_errors]
        return v1.ActionResult(
            action.job_id, True, report_id, inventory_id=inventory_id, details=details
        )

    def remediate(self, action: v1.Action) -> v1.ActionResult:
        """Run a fix, rollback, restart or snapshot deletion; report its typed details."""
        params = action.params
        details: Any
        if action.kind == "fix":
            details = run_fix(self.actions, FixRequest.from_params(params))
        elif action.kind == "rollback":
            details = run_rollback(self.actions, params["snapshot_id"])
        elif action.kind == "restart":
            details = run_restart(self.actions, params["delay_seconds"], params["reason"])
        else:
            details = run_snapshot_delete(self.actions, params["snapshot_id"])
        inventory_id = 0
        if action.kind != "restart":
            # The console learns the new versions (and facts) from the next inventory.
            try:
                inventory_id = self.upload(self.collect(), job_id=action.job_id)
            except (InventoryError, OSError) as exc:
                log.error(
                    "%s job %d: inventory after the action failed: %s",
                    action.kind,
                    action.job_id,
                    exc,
                )
        error = details.error
        return v1.ActionResult(
            action.job_id,
            error is None,
            uuid.uuid4().hex,
            inventory_id=inventory_id,
            error="" if error is None else error.message,
            details=fit_details(details.to_dict()),
        )

    def cleanup_snapshots(self) -> None:
        """Delete expired snapshots (logged; a failure is retried next time)."""
        deleted, problems = cleanup_expired(
            self.actions.target, self.actions.store, self.actions.clock()
        )
        for snapshot_id in deleted:
            log.info("deleted expired snapshot %s", snapshot_id)
        for problem in problems:
            log.error("expired snapshot not deleted: %s", problem)

    def process_jobs(self, wait: int = 0) -> int:
        """Poll once (long-poll up to `wait` s) and run what arrived; returns how many."""
        polled = self.client.poll(wait=wait)
        self.take_console_cap(polled)
        actions, rejected = polled.actions, polled.rejected
        for bad in rejected:
            # Answered, so the console does not wait for a job no agent can run.
            log.error("job %d (%s) rejected: %s", bad.job_id, bad.kind, bad.message)
            error = v1.ActionError("invalid_request", bad.message)
            details = {"error": error.to_dict()}
            self.client.send_result(
                v1.ActionResult(
                    bad.job_id, False, uuid.uuid4().hex, error=bad.message, details=details
                )
            )
        for action in actions:
            log.info("running %s job %d", action.kind, action.job_id)
            self.client.send_result(self.run_action(action))
        return len(actions) + len(rejected)

    def run_once(self) -> None:
        """Flush the outbox, collect, upload, run pending actions, return."""
        self.flush_outbox()
        self.cleanup_snapshots()
        try:
            self.upload(self.collect())
        except memcap.CapExceeded:
            # Poll all the same: the console may send a cap the next scan can live with.
            while self.process_jobs(wait=0):
                pass
            raise
        while self.process_jobs(wait=0):
            pass

    def run_forever(self, interval: float, poll_wait: int) -> None:
        """Upload at start and every `interval` seconds; long-poll for actions in between."""
        next_scan = 0.0
        backoff = 1.0
        while True:
            try:
                self.flush_outbox()
                if time.monotonic() >= next_scan:
                    self.cleanup_snapshots()
                    try:
                        self.upload(self.collect())
                    except InventoryError as exc:
                        # A scan killed at the memory cap (its event waits for the next
                        # upload) or a root gone unreadable: try again next interval.
                        log.error("scan failed: %s", exc)
                    next_scan = time.monotonic() + interval
                self.client.heartbeat()
                self.process_jobs(wait=poll_wait)
                backoff = 1.0
            except ConsoleError as exc:
                if not exc.retryable:
                    raise
                log.warning("%s; retrying in %.0fs", exc, backoff)
                time.sleep(backoff)
                backoff = min(backoff * 2, 300.0)


_RESULT_ROOM = v1.MAX_SMALL_BODY - 2048
"""Bytes the details of a result may take (the rest of the body needs a little)."""


def fit_details(details: Dict[str, Any]) -> Dict[str, Any]:
    """`details`, trimmed until its JSON fits a job-result body (a fix of many packages).

    What goes first says least: older commands, most of the raw output, the list of processes,
    finally the saved-file list of the snapshot (the agent keeps it with the snapshot).
    """

    def too_big() -> bool:
        return len(json.dumps(details)) > _RESULT_ROOM  # as the client sends it

    if too_big() and details.get("commands"):
        details["commands"] = details["commands"][-3:]
    if too_big() and details.get("error"):
        details["error"]["tail"] = details["error"]["tail"][-500:]
    if too_big() and details.get("restart_processes"):
        details["restart_processes"] = details["restart_processes"][:5]
    if too_big() and details.get("snapshot"):
        details["snapshot"]["packages"] = []
    return details


def host_identity(root: Path) -> Dict[str, str]:
    """Hostname and machine-id of the scanned root (the running host for `/`)."""

    def read(rel: str) -> str:
        try:
            return (root / rel).read_text().strip()
        except OSError:
            return ""

    hostname = read("etc/hostname")
    if not hostname and root.resolve() == Path("/"):
        hostname = socket.gethostname()
    return {"hostname": hostname or "unknown", "machine_id": read("etc/machine-id")}


def enrol(
    state_dir: Path, server: str, token: str, root: Path, ca_file: Optional[str] = None
) -> st.AgentState:
    """Trade the enrolment token for credentials and save them."""
    ident = host_identity(root)
    client = ConsoleClient(server, cafile=ca_file)
    reply = client.enrol(token, ident["hostname"], ident["machine_id"], AGENT_VERSION)
    try:
        state = st.AgentState(server=server, host_id=str(reply["host_id"]), secret=reply["secret"])
    except KeyError as exc:
        raise ConsoleError(f"enrolment reply lacks {exc}", 502) from None
    st.save(state_dir, state)
    return state


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="patchwarden-agent", description=__doc__.splitlines()[0])
    p.add_argument("-v", "--verbose", action="store_true")
    sub = p.add_subparsers(dest="command", required=True)

    def common(sp: argparse.ArgumentParser) -> None:
        sp.add_argument("--config", type=Path, default=DEFAULT_CONFIG, help="JSON settings file")
        sp.add_argument("--state-dir", type=Path, default=st.DEFAULT_STATE_DIR)
        sp.add_argument("--root", type=Path, default=Path("/"), help="root to inventory")
        sp.add_argument("--ca-file", help="CA bundle to trust for an https console")

    def acting(sp: argparse.ArgumentParser) -> None:
        sp.add_argument(
            "--exec",
            choices=EXEC_MODES,
            default="direct",
            help="run package-manager commands directly, or inside `chroot ROOT`",
        )
        sp.add_argument("--proxy", default="", help="http(s) proxy for package downloads")
        sp.add_argument(
            "--fix-timeout",
            type=float,
            default=DEFAULT_TIMEOUT,
            help="seconds a package-manager transaction may take",
        )
        sp.add_argument(
            "--min-free-bytes",
            type=int,
            default=v1.MIN_FREE_BYTES,
            help="least free space a fix needs on each filesystem the package manager writes",
        )

    def scanning(sp: argparse.ArgumentParser) -> None:
        sp.add_argument(
            "--memory-cap-mb",
            type=int,
            default=None,
            help="memory a scan may use; it runs in a child process (0: no cap). Set here or "
            f"in the config it wins over the console's setting (default {memcap.DEFAULT_CAP_MB}"
            " until the console sends one)",
        )
        sp.add_argument(
            "--proc", type=Path, help="proc filesystem to read processes from (default /proc)"
        )

    e = sub.add_parser("enrol", help="enrol with a console using a one-time token")
    common(e)
    e.add_argument("--server")
    e.add_argument("--token")

    r = sub.add_parser("run", help="report to the console and run its actions")
    common(r)
    r.add_argument("--once", action="store_true", help="one cycle, then exit")
    r.add_argument("--server", help="enrol first if needed (with --token)")
    r.add_argument("--token")
    r.add_argument("--interval", type=float, default=6 * 3600, help="seconds between uploads")
    r.add_argument("--poll-wait", type=int, default=30, help="long-poll seconds")
    r.add_argument("--offline", action="store_true", help="no network besides the console")
    acting(r)
    scanning(r)

    i = sub.add_parser("inventory", help="print the inventory as JSON and exit")
    common(i)
    i.add_argument("--offline", action="store_true")
    acting(i)
    scanning(i)

    f = sub.add_parser("fix", help="fix packages here, without a console (prints the result)")
    common(f)
    acting(f)
    f.add_argument("packages", nargs="+", metavar="NAME=VERSION", help="fixed versions")
    f.add_argument("--dry-run", action="store_true", help="show the commands; change nothing")
    f.add_argument("--no-snapshot", action="store_true", help="fix without a snapshot")
    f.add_argument("--snapshot-provider", choices=v1.SNAPSHOT_PROVIDERS, default="packages")
    f.add_argument(
        "--expiry-days", type=int, default=v1.DEFAULT_SNAPSHOT_EXPIRY_DAYS, help="snapshot expiry"
    )
    f.add_argument("--requested-by", default="", help="owner of the snapshot")

    b = sub.add_parser("rollback", help="restore a snapshot here, without a console")
    common(b)
    acting(b)
    b.add_argument("snapshot_id")

    n = sub.add_parser("snapshots", help="list the snapshots the agent keeps (JSON)")
    common(n)
    return p


def _defaults(parser: argparse.ArgumentParser, command: str) -> Dict[str, Any]:
    """Every option's default of `command` (positional arguments need no parse)."""
    sub = next(
        a
        for a in parser._actions
        if isinstance(a, argparse._SubParsersAction)  # noqa: SLF001
    )
    return {a.dest: a.default for a in sub.choices[command]._actions}  # noqa: SLF001


def load_config(path: Path) -> Dict[str, Any]:
    """Settings from the agent's JSON config file ({} when it does not exist)."""
    if not path.exists():
        return {}
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise st.StateError(f"{path}: unreadable agent config: {exc}") from None
    if not isinstance(data, dict):
        raise st.StateError(f"{path}: agent config must be a JSON object")
    for key, value in data.items():
        if key not in CONFIG_KEYS:
            raise st.StateError(f"{path}: unknown setting {key!r} (known: {sorted(CONFIG_KEYS)})")
        expected = CONFIG_KEYS[key]
        # bool is an int subclass: `true` is no number of seconds.
        wrong_type = not isinstance(value, expected)  # type: ignore[arg-type]
        if wrong_type or (isinstance(value, bool) and expected is not bool):
            raise st.StateError(f"{path}: setting {key!r} has the wrong type")
    problem = _setting_problem(data)
    if problem:
        raise st.StateError(f"{path}: {problem}")
    return data


def _setting_problem(data: Dict[str, Any]) -> Optional[str]:
    """What is wrong with the remediation settings, or None."""
    if "exec" in data and data["exec"] not in EXEC_MODES:
        return f"setting 'exec' must be one of {list(EXEC_MODES)}"
    if data.get("proxy") and not re.fullmatch(PROXY_PATTERN, data["proxy"]):
        return "setting 'proxy' must be an http:// or https:// URL (host and port)"
    if "fix_timeout" in data and not 0 < data["fix_timeout"] <= 86400:
        return "setting 'fix_timeout' must be within 1..86400 seconds"
    if "min_free_bytes" in data and data["min_free_bytes"] < 0:
        return "setting 'min_free_bytes' must not be negative"
    if "memory_cap_mb" in data and not 0 <= data["memory_cap_mb"] <= 1 << 20:
        return "setting 'memory_cap_mb' must be within 0..1048576 (0: no cap)"
    return None


def apply_config(args: argparse.Namespace, defaults: Dict[str, Any]) -> None:
    """Fill every flag left at its default from the config file (flags win)."""
    for key, value in load_config(args.config).items():
        if hasattr(args, key) and getattr(args, key) == defaults.get(key):
            setattr(args, key, Path(value) if key in ("state_dir", "root") else value)


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Entry point; exit 0 on success, 1 when the console fails us, 2 on bad input."""
    parser = _parser()
    args = parser.parse_args(argv)
    defaults = _defaults(parser, args.command)
    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.WARNING,
        format="%(asctime)s %(levelname)s %(message)s",
    )
    try:
        apply_config(args, defaults)
        if hasattr(args, "exec"):
            problem = _setting_problem(
                {
                    "exec": args.exec,
                    "proxy": args.proxy,
                    "fix_timeout": args.fix_timeout,
                    "min_free_bytes": args.min_free_bytes,
                    **(
                        {"memory_cap_mb": args.memory_cap_mb}
                        if getattr(args, "memory_cap_mb", None) is not None
                        else {}
                    ),
                }
            )
            if problem:
                print(f"error: {problem.replace('setting ', 'option ')}", file=sys.stderr)
                return 2
        if args.command in ("inventory", "fix", "rollback", "snapshots"):
            return local_command(args)
        if args.command == "enrol":
            if not (args.server and args.token):
                print("enrol needs --server and --token (or them in the config)", file=sys.stderr)
                return 2
            state = enrol(args.state_dir, args.server, args.token, args.root, args.ca_file)
            print(f"enrolled as host {state.host_id}")
            return 0
        state = st.load(args.state_dir)
        if state is None:
            if not (args.server and args.token):
                print(
                    f"not enrolled (no {args.state_dir / st.STATE_FILE}):"
                    " run `patchwarden-agent enrol --server URL --token T` first",
                    file=sys.stderr,
                )
                return 2
            state = enrol(args.state_dir, args.server, args.token, args.root, args.ca_file)
        client = ConsoleClient(state.server, state.host_id, state.secret, cafile=args.ca_file)
        agent = Agent(
            args.state_dir,
            client,
            root=args.root,
            online=not args.offline,
            exec_mode=args.exec,
            proxy=args.proxy,
            fix_timeout=args.fix_timeout,
            min_free_bytes=args.min_free_bytes,
            memory_cap_mb=args.memory_cap_mb,
            proc=args.proc,
        )
        if args.once:
            agent.run_once()
        else:
            agent.run_forever(args.interval, args.poll_wait)
        return 0
    except InventoryError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except (st.StateError, v1.ProtocolError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except ConsoleError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


def _context(args: argparse.Namespace) -> ActionContext:
    """The remediation context of a local command."""
    target = make_target(args.root, args.exec, args.proxy, args.fix_timeout)
    return ActionContext(target, SnapshotStore(args.state_dir / SNAPSHOTS), args.min_free_bytes)


def local_command(args: argparse.Namespace) -> int:
    """`inventory`, `fix`, `rollback`, `snapshots`: act here and print JSON; no console.

    Exit 0 when the action did its job, 1 when it failed (the JSON says why), 2 on bad input.
    """
    if args.command == "snapshots":
        store = SnapshotStore(args.state_dir / SNAPSHOTS)
        json.dump([s.to_dict() for s in store.list()], sys.stdout, indent=2)
        print()
        return 0
    ctx = _context(args)
    if args.command == "inventory":
        agent = frozenset({os.getpid()})

        def run(skip: FrozenSet[str]) -> Inventory:
            return collect_inventory(
                args.root,
                runner=ctx.target.runner,
                online=not args.offline,
                collectors=scan_collectors(skip),
                remediation=ctx.setup(),
                proc=args.proc,
                ignore_pids=agent,
            )

        cap_mb = memcap.DEFAULT_CAP_MB if args.memory_cap_mb is None else args.memory_cap_mb
        try:
            inv = run(frozenset()) if cap_mb <= 0 else memcap.collect_capped(run, cap_mb)
        except memcap.CapExceeded as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 1
        json.dump(inv.to_dict(), sys.stdout, indent=2)
        print()
        return 0
    details: Any
    if args.command == "fix":
        packages: List[Dict[str, str]] = []
        for spec in args.packages:
            name, sep, version = spec.partition("=")
            if not sep:
                print(f"error: {spec!r} is not NAME=VERSION", file=sys.stderr)
                return 2
            packages.append({"name": name, "target_version": version})
        params = {
            "packages": packages,
            "snapshot": not args.no_snapshot,
            "snapshot_provider": args.snapshot_provider,
            "snapshot_expiry_days": args.expiry_days,
            "requested_by": args.requested_by,
        }
        details = run_fix(ctx, FixRequest.from_params(params), dry_run=args.dry_run)
    else:
        v1.check_snapshot_id(args.snapshot_id)
        details = run_rollback(ctx, args.snapshot_id)
    json.dump(details.to_dict(), sys.stdout, indent=2)
    print()
    return 0 if details.error is None else 1


def scan_collectors(skip: FrozenSet[str]) -> Optional[Mapping[str, Collector]]:
    """The registered collectors but `skip` (None: all of them)."""
    if not skip:
        return None
    return {name: c for name, c in COLLECTORS.items() if name not in skip}


def run_cli() -> None:
    """Console-script wrapper."""
    sys.exit(main())


if __name__ == "__main__":
    run_cli()
