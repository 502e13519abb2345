"""The web console's overview: open records by type and urgency bucket, exploitable ones,
hosts online / offline / past end of life, the trend of open records, the feeds' freshness.

The trend is derived from the record events (every move into or out of an open state, summed
per UTC day by the database over the shown days only) and the open records now: no table to
keep in step, and a range scan of the recent events (measured in bench/console_pages.py).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from typing import Optional

from patchwarden.core.clock import Clock
from patchwarden.core.priority import Bucket
from patchwarden.core.vocabulary import VulnType
from patchwarden.services.freshness import freshness
from patchwarden.services.ports import FeedInfo, UnitOfWork
from patchwarden.services.records import OPEN_STATES

TREND_DAYS = 30


@dataclass(frozen=True)
class TrendPoint:
    """Open records at the end of a UTC day."""

    day: str
    open: int


@dataclass(frozen=True)
class Overview:
    """What the overview page shows."""

    by_type: dict[str, dict[str, int]]
    """type -> bucket -> open records (every type and bucket present, zeros included)."""
    type_totals: dict[str, int]
    bucket_totals: dict[str, int]
    open_records: int
    exploitable: int
    hosts: int
    online: int
    offline: int
    eol: int
    trend: list[TrendPoint]
    feeds: int
    last_feed_import: Optional[str]
    feed_summary: str
    feed_warnings: list[str]


def window_start(today: date, days: int = TREND_DAYS) -> datetime:
    """Midnight UTC of the first day the trend shows."""
    first = today - timedelta(days=days - 1)
    return datetime(first.year, first.month, first.day, tzinfo=timezone.utc)


def trend_of(
    moves: dict[str, int], open_now: int, today: date, days: int = TREND_DAYS
) -> list[TrendPoint]:
    """Open records at the end of each of the last `days` days, from the moves of those days
    and the open records now (the level before the window is what the moves do not explain:
    only the window's events are read)."""
    start = window_start(today, days).date()
    level = open_now - sum(n for d, n in moves.items() if d >= start.isoformat())
    points = []
    for i in range(days):
        day = (start + timedelta(days=i)).isoformat()
        level += moves.get(day, 0)
        points.append(TrendPoint(day, max(level, 0)))
    return points


def overview(uow: UnitOfWork, clock: Clock, feeds: Sequence[FeedInfo]) -> Overview:
    """The overview at `clock.now()`; `feeds` are the advisory store's imported feeds."""
    now = clock.now()
    with uow.read():
        counts = uow.console.open_counts(OPEN_STATES)
        moves = uow.console.daily_moves(OPEN_STATES, window_start(now.date()))
        settings = uow.settings.get()
        hosts = uow.hosts.list()
    by_type = {t.value: {b.value: 0 for b in Bucket} for t in VulnType}
    exploitable = 0
    for c in counts:
        row = by_type.setdefault(c.type, {b.value: 0 for b in Bucket})
        row[c.bucket] = row.get(c.bucket, 0) + c.records
        exploitable += c.records if c.exploitable else 0
    buckets = {b.value: sum(row.get(b.value, 0) for row in by_type.values()) for b in Bucket}
    online = sum(settings.agent_online(h.last_seen_at, now) for h in hosts)
    fresh = freshness(feeds, now)
    return Overview(
        by_type=by_type,
        type_totals={t: sum(row.values()) for t, row in by_type.items()},
        bucket_totals=buckets,
        open_records=sum(c.records for c in counts),
        exploitable=exploitable,
        hosts=len(hosts),
        online=online,
        offline=len(hosts) - online,
        eol=sum(bool(h.os and h.os.eol) for h in hosts),
        trend=trend_of(moves, sum(c.records for c in counts), now.date()),
        feeds=len(feeds),
        last_feed_import=max((f.imported_at for f in feeds), default=None),
        feed_summary=fresh.summary,
        feed_warnings=list(fresh.warnings),
    )
