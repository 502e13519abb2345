"""`patchwarden`: the command group. Each area's commands live in their own module
(`scan`, `feeds_commands`, `console_commands`, `users_command`, `records_command`) and register
here."""

from __future__ import annotations

import logging

import click

from patchwarden.cli import (
    console_commands,
    feeds_commands,
    fix_command,
    records_command,
    scan,
    users_command,
)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("-v", "--verbose", is_flag=True, help="Log what happens (skipped records, …).")
@click.version_option(package_name="patchwarden")
def main(verbose: bool) -> None:
    """patchwarden: self-hosted vulnerability management."""
    logging.basicConfig(
        level=logging.INFO if verbose else logging.WARNING,
        format="%(levelname)s %(name)s: %(message)s",
    )


for command in (
    scan.scan,
    feeds_commands.feeds,
    console_commands.server,
    console_commands.db,
    console_commands.enrolment_token,
    console_commands.api_token,
    users_command.users,
    records_command.records,
    fix_command.fix,
):
    main.add_command(command)

if __name__ == "__main__":
    main()
