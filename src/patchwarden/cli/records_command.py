"""`patchwarden records`: a console's records through its REST API."""

from __future__ import annotations

import json

import click

from patchwarden.cli.common import fail
from patchwarden.cli.output import stdout_console
from patchwarden.core.errors import PatchwardenError


@click.command()
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
@click.option("--type", "vuln_type", help="linux, windows, cms, app, emergency (comma list).")
@click.option("--severity", help="critical, high, medium, low, unknown (comma list).")
@click.option("--status", help="States (comma list) or `all`; default the open ones.")
@click.option("--host", help="Host id or hostname.")
@click.option("--exploitable", is_flag=True, help="Only known-exploited (CISA KEV).")
@click.option("--bucket", help="asap, later, can_wait (comma list).")
@click.option(
    "--method",
    help="distro-advisory, running-kernel, newest-kernel, repository-update (comma list).",
)
@click.option("--confidence", help="confirmed, high, medium, low (comma list).")
@click.option("--limit", type=click.IntRange(1, 100_000), default=50, show_default=True)
@click.option(
    "--page-size",
    type=click.IntRange(1, 500),
    default=500,
    show_default=True,
    help="Records per API request.",
)
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table")
def records(
    server: str,
    token: str,
    vuln_type: str | None,
    severity: str | None,
    status: str | None,
    host: str | None,
    exploitable: bool,
    bucket: str | None,
    method: str | None,
    confidence: str | None,
    limit: int,
    page_size: int,
    fmt: str,
) -> None:
    """A console's records, most urgent first (the REST API's filters)."""
    from patchwarden.cli.client import ConsoleClient
    from patchwarden.cli.records import print_records
    from patchwarden.services.views import filter_values

    enumerated = {
        "type": vuln_type,
        "severity": severity,
        "status": status,
        "bucket": bucket,
        "method": method,
        "confidence": confidence,
    }
    filters: dict[str, str] = {}
    try:
        # The console's own check, before any request: a misspelt value is exit 2 here
        # rather than an empty list.
        for name, value in enumerated.items():
            if value:
                filters[name] = ",".join(filter_values(name, value, f"--{name}"))
    except PatchwardenError as exc:
        fail(str(exc))
    if host:
        filters["host"] = host
    if exploitable:
        filters["exploitable"] = "true"
    try:
        with ConsoleClient(server, token) as client:
            items, total = client.records(filters, limit, page_size)
    except PatchwardenError as exc:
        fail(str(exc))
    if fmt == "json":
        click.echo(json.dumps({"items": items, "total": total}, indent=2))
    else:
        print_records(stdout_console(), items, total)
