"""`patchwarden-agent`: enrol, then collect → upload → poll typed actions → run → report.

Standard library only (DESIGN §3). Every console request after enrolment is authenticated
with the per-agent secret; uploads go through an on-disk outbox so nothing is lost when the
agent or the console dies half-way (the console deduplicates by report id).
"""

from __future__ import annotations

import argparse
import gzip
import json
import logging
import socket
import sys
import time
import uuid
from pathlib import Path
from typing import Any, Dict, Optional, Sequence

from patchwarden.agent import state as st
from patchwarden.agent.client import ConsoleClient, ConsoleError
from patchwarden.agent.inventory import collect_inventory
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
}
"""Settings `/etc/patchwarden/agent.json` may hold; command-line flags win over them."""
log = logging.getLogger("patchwarden.agent")


class Agent:
    """One enrolled agent: its state dir, console client and scanned root."""

    def __init__(
        self,
        state_dir: Path,
        client: ConsoleClient,
        root: Path = Path("/"),
        online: bool = True,
    ) -> None:
        self.state_dir = state_dir
        self.client = client
        self.root = root
        self.online = online

    def collect(self) -> Inventory:
        """Inventory of the scanned root."""
        return collect_inventory(self.root, online=self.online, cache_dir=self.state_dir / "cache")

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
        """Run one typed action; scan and verify both re-collect and upload."""
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

    def process_jobs(self, wait: int = 0) -> int:
        """Poll once (long-poll up to `wait` s) and run what arrived; returns how many."""
        actions = self.client.poll_jobs(wait=wait)
        for action in actions:
            log.info("running %s job %d", action.kind, action.job_id)
            self.client.send_result(self.run_action(action))
        return len(actions)

    def run_once(self) -> None:
        """Flush the outbox, collect, upload, run pending actions, return."""
        self.flush_outbox()
        self.upload(self.collect())
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
                    self.upload(self.collect())
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

    i = sub.add_parser("inventory", help="print the inventory as JSON and exit")
    i.add_argument("--root", type=Path, default=Path("/"))
    i.add_argument("--offline", action="store_true")
    return p


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
        if not isinstance(value, CONFIG_KEYS[key]):  # type: ignore[arg-type]
            raise st.StateError(f"{path}: setting {key!r} has the wrong type")
    return data


def apply_config(args: argparse.Namespace, defaults: Dict[str, Any]) -> None:
    """Fill every flag left at its default from the config file (flags win)."""
    for key, value in load_config(args.config).items():
        if hasattr(args, key) and getattr(args, key) == defaults.get(key):
            setattr(args, key, Path(value) if key in ("state_dir", "root") else value)


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Entry point; exit 0 on success, 1 when the console fails us, 2 on bad input."""
    parser = _parser()
    args = parser.parse_args(argv)
    defaults = vars(parser.parse_args([args.command]))
    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.WARNING,
        format="%(asctime)s %(levelname)s %(message)s",
    )
    try:
        if args.command == "inventory":
            inv = collect_inventory(args.root, online=not args.offline)
            json.dump(inv.to_dict(), sys.stdout, indent=2)
            print()
            return 0
        apply_config(args, defaults)
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
        agent = Agent(args.state_dir, client, root=args.root, online=not args.offline)
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


def run_cli() -> None:
    """Console-script wrapper."""
    sys.exit(main())


if __name__ == "__main__":
    run_cli()
