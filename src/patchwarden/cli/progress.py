"""Rich progress for feed imports and downloads (`services.feeds.FeedProgress`)."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import Optional

from rich.console import Console
from rich.progress import (
    BarColumn,
    DownloadColumn,
    Progress,
    SpinnerColumn,
    TextColumn,
    TimeElapsedColumn,
    TransferSpeedColumn,
)

from patchwarden.core.advisory import FeedItem
from patchwarden.feeds.download import Progress as DownloadProgress


class RichFeedProgress:
    """Spinners with record counts while importing, byte bars while downloading."""

    def __init__(self, console: Console) -> None:
        self.console = console

    def counting(self, label: str, items: Iterable[FeedItem]) -> Iterator[FeedItem]:
        """`items`, counted on a transient spinner line."""
        with Progress(
            SpinnerColumn(),
            TextColumn("{task.description}"),
            TextColumn("{task.completed} records"),
            TimeElapsedColumn(),
            console=self.console,
            transient=True,
        ) as progress:
            task = progress.add_task(label, total=None)
            for item in items:
                progress.advance(task)
                yield item

    @contextmanager
    def downloading(self, name: str) -> Iterator[Optional[DownloadProgress]]:
        """A transient download bar for one source."""
        with Progress(
            TextColumn(name),
            BarColumn(),
            DownloadColumn(),
            TransferSpeedColumn(),
            console=self.console,
            transient=True,
        ) as progress:
            task = progress.add_task(name, total=None)

            def update(done: int, total: Optional[int]) -> None:
                progress.update(task, completed=done, total=total)

            yield update
