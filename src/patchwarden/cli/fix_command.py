"""`patchwarden fix`: fix records through a console's REST API (its agents run the package
manager), or show with `--dry-run` the commands they would run."""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Any

import click

from patchwarden.cli.common import EXIT_FINDINGS, fail
from patchwarden.core.errors import PatchwardenError

FINAL = ("succeeded", "failed", "refused")
"""Outcomes of a batch item that no longer change."""


def fix_commands(item: dict[str, Any]) -> list[str]:
    """The package-manager commands an agent runs for a planned fix item (the agent's own
    builders; [] when the item names no package manager the agent drives)."""
    from patchwarden.agent.actions import PACKAGE_MANAGERS
    from patchwarden.agent.actions.base import Wanted, make_target

    pm = PACKAGE_MANAGERS.get(str(item.get("package_manager") or ""))
    packages = item.get("packages") or []
    if pm is None or not packages:
        return []
    # The builders need no root: the agent runs them on its own (or, with --exec chroot,
    # inside the root it manages).
    target = make_target(Path("/"), "direct")
    wanted = [Wanted(str(p["name"]), str(p["target_version"])) for p in packages]
    refresh = pm.refresh(target)
    commands = [refresh] if refresh is not None else []
    commands.append(pm.install(target, wanted))
    return [c.shown() for c in commands]


def _where(item: dict[str, Any]) -> str:
    host = item.get("host_id") or "?"
    return f"record {item['record_id']} (host {host})"


def print_dry_run(answer: dict[str, Any]) -> None:
    """What a dry run would do, record by record."""
    for item in answer["items"]:
        commands = fix_commands(item)
        if item["status"] == "refused":
            click.echo(f"{_where(item)}: refused ({item['code']}): {item['reason']}")
            if commands:
                click.echo("  once possible, its agent would run:")
        else:
            inside = " (inside its chroot)" if item.get("exec_mode") == "chroot" else ""
            click.echo(f"{_where(item)}: its agent would run{inside}:")
        for command in commands:
            click.echo(f"  {command}")


def print_queued(answer: dict[str, Any]) -> None:
    """The request's answer: each record queued or refused."""
    click.echo(
        f"batch {answer['batch_id']}: {answer['queued']} queued, {answer['refused']} refused"
    )
    for item in answer["items"]:
        if item["status"] == "refused":
            click.echo(f"{_where(item)}: refused ({item['code']}): {item['reason']}")
        else:
            packages = ", ".join(
                f"{p['name']} {p['target_version']}" for p in item.get("packages") or []
            )
            click.echo(f"{_where(item)}: queued as job {item['job_id']} ({packages})")


def print_outcomes(batch: dict[str, Any]) -> None:
    """Each record's outcome in a batch."""
    for item in batch["items"]:
        line = f"{_where(item)}: {item['outcome']}"
        if item.get("record_status"):
            line += f", record {item['record_status']}"
        if item.get("error_code"):
            line += f" ({item['error_code']})"
        if item.get("message"):
            line += f": {item['message']}"
        click.echo(line)


@click.command()
@click.argument("record_ids", nargs=-1, required=True, type=click.IntRange(1))
@click.option(
    "--server",
    envvar="PATCHWARDEN_SERVER",
    default="http://127.0.0.1:8080",
    show_default=True,
    help="Console URL (or $PATCHWARDEN_SERVER).",
)
@click.option(
    "--token", envvar="PATCHWARDEN_TOKEN", required=True, help="API token (or $PATCHWARDEN_TOKEN)."
)
@click.option(
    "--without-snapshot", is_flag=True, help="Fix without taking a snapshot for a rollback first."
)
@click.option(
    "--dry-run", is_flag=True, help="Show the commands the agents would run; queue nothing."
)
@click.option("--wait", is_flag=True, help="Wait until every record's fix has finished.")
@click.option(
    "--timeout",
    type=click.FloatRange(1),
    default=3600,
    show_default=True,
    help="Seconds --wait waits at most.",
)
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text")
def fix(
    record_ids: tuple[int, ...],
    server: str,
    token: str,
    without_snapshot: bool,
    dry_run: bool,
    wait: bool,
    timeout: float,
    fmt: str,
) -> None:
    """Fix RECORD_IDS (in this order, one package-manager transaction at a time per host)
    through the console: each host's agent installs the fixed versions at its next poll.

    Exit status 1 when a record is refused (or, with --wait, its fix failed).
    """
    from patchwarden.cli.client import ConsoleClient

    body = {
        "action": "fix",
        "record_ids": list(record_ids),
        "without_snapshot": without_snapshot,
        "dry_run": dry_run,
    }
    try:
        with ConsoleClient(server, token) as client:
            answer = client.post("/api/v1/actions", body)
            batch = _wait(client, answer, timeout) if wait and not dry_run else None
    except PatchwardenError as exc:
        fail(str(exc))
    if fmt == "json":
        click.echo(json.dumps(batch or answer, indent=2))
    elif dry_run:
        print_dry_run(answer)
    else:
        print_queued(answer)
        if batch is not None:
            print_outcomes(batch)
    items = (batch or answer)["items"]
    bad = [i for i in items if i.get("status", i.get("outcome")) in ("refused", "failed")]
    if bad or (batch is not None and not batch["done"]):
        sys.exit(EXIT_FINDINGS)


def _wait(client: Any, answer: dict[str, Any], timeout: float) -> dict[str, Any]:
    """Poll the batch until every item is final or `timeout` seconds have passed."""
    deadline = time.monotonic() + timeout
    while True:
        batch: dict[str, Any] = client.get(f"/api/v1/actions/{answer['batch_id']}", "a batch")
        if batch["done"] or time.monotonic() >= deadline:
            return batch
        time.sleep(2)
