"""Changelog fetches report "changelogs n/N" through `Context.progress` (a cold repository
check fetches one changelog after the other for a minute or more); without a watcher nothing
is reported and nothing changes."""

from __future__ import annotations

import threading
from pathlib import Path

from test_apt_updates_collector import CHANGELOG, FakeMirror, binaries

from patchwarden.agent.apt.lists import AvailablePackage
from patchwarden.agent.collectors.apt_updates import CHANGELOGS, AptUpdatesCollector
from patchwarden.agent.collectors.base import Context


class Watcher:
    """Records every report (they come from the fetcher's worker threads)."""

    def __init__(self) -> None:
        self.reports: list[tuple[str, int, int]] = []
        self._lock = threading.Lock()

    def __call__(self, what: str, done: int, total: int) -> None:
        with self._lock:
            self.reports.append((what, done, total))


def fetch(ctx: Context, sources: int) -> dict:
    """The collector's changelog step for `sources` source uploads, one binary each."""
    keys = {(f"src{i}", "1.0-1+deb12u1") for i in range(sources)}
    offered = [
        AvailablePackage(f"bin-{src}", ver, "all", src, ver, 1, "", "bookworm-security")
        for src, ver in sorted(keys)
    ]
    # `_fetch` is the step that talks to the network; the rest of `collect` reads this
    # machine's apt lists, which a unit test must not depend on.
    return AptUpdatesCollector(workers=3)._fetch(ctx, keys, offered, [])


def test_each_changelog_fetch_is_reported_once() -> None:
    watcher = Watcher()
    mirror = FakeMirror({}, changelog_server=CHANGELOG)
    ctx = Context(root=Path("/"), runner=mirror, progress=watcher)
    assert ctx.live
    results = fetch(ctx, 7)
    assert len(results) == 7 and all(r.text == CHANGELOG for r in results.values())
    assert watcher.reports[0] == (CHANGELOGS, 0, 7)
    assert sorted(done for _, done, _ in watcher.reports) == list(range(8))
    assert {(what, total) for what, _, total in watcher.reports} == {(CHANGELOGS, 7)}
    assert watcher.reports[-1] == (CHANGELOGS, 7, 7)


def test_failed_and_budget_spent_fetches_count_too() -> None:
    watcher = Watcher()
    ctx = Context(root=Path("/"), runner=FakeMirror({}), progress=watcher)
    collector = AptUpdatesCollector(budget_seconds=0)
    keys = {("foo", "1.0-1+deb12u1"), ("bar", "1.0-1+deb12u1")}
    results = collector._fetch(ctx, keys, list(binaries(("foo", 1))), [])
    assert all(r.text is None for r in results.values())
    assert watcher.reports[-1] == (CHANGELOGS, 2, 2) and len(watcher.reports) == 3


def test_without_a_watcher_nothing_is_reported() -> None:
    ctx = Context(root=Path("/"), runner=FakeMirror({}, changelog_server=CHANGELOG))
    assert ctx.progress is None
    ctx.report(CHANGELOGS, 1, 2)  # no-op
    assert len(fetch(ctx, 2)) == 2


def test_not_live_roots_fetch_and_report_nothing(tmp_path: Path) -> None:
    watcher = Watcher()
    ctx = Context(root=tmp_path, runner=FakeMirror({}), progress=watcher)
    assert fetch(ctx, 3) and watcher.reports == []
