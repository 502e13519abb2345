"""What every `patchwarden` command shares: the data-dir option, exit codes, error output."""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, NoReturn, TypeVar

import click
from rich.console import Console

from patchwarden.paths import ENV_DATA_DIR, default_data_dir

F = TypeVar("F", bound=Callable[..., Any])

EXIT_CLEAN, EXIT_FINDINGS, EXIT_INPUT = 0, 1, 2

err_console = Console(stderr=True)


def data_dir_option(fn: F) -> F:
    """`--data-dir D` on every command (default `$PATCHWARDEN_DATA_DIR`, else platform dir)."""
    return click.option(
        "--data-dir",
        type=click.Path(file_okay=False, path_type=Path),
        default=None,
        help=f"Data directory (default ${ENV_DATA_DIR}, else {default_data_dir()}).",
    )(fn)


def resolve_data_dir(value: Path | None) -> Path:
    """The data dir the user gave, else the default."""
    return value if value is not None else default_data_dir()


def fail(message: str) -> NoReturn:
    """Print an input error and exit 2."""
    err_console.print(f"[bold red]error:[/] {message}", soft_wrap=True, markup=True)
    sys.exit(EXIT_INPUT)
