"""Is the advisory store fit to scan with? The warnings `patchwarden scan` prints (and a
console logs when it starts) when it is empty, holds only the offline snapshot shipped with
patchwarden, or was last fed long ago — like Trivy's stale-database warning (issue 8)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Optional

from patchwarden.paths import bundled_data_dir
from patchwarden.services.ports import FeedInfo

STALE_AFTER_DAYS = 7.0
"""A store whose newest import is older than this is stale (Trivy's DB is updated daily;
NVD's modified feed covers 8 days)."""
SNAPSHOT_FILE = "snapshot.json"
"""Beside the offline snapshot's folders: `{"date": "YYYY-MM-DD", "sources": [...]}`."""


def offline_root() -> Path:
    """The folder of the offline snapshot shipped in the package."""
    return bundled_data_dir() / "offline"


def snapshot_date(root: Optional[Path] = None) -> str:
    """The date of the shipped offline snapshot's data (`snapshot.json`), "" if unknown."""
    try:
        doc = json.loads(((root or offline_root()) / SNAPSHOT_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return ""
    date = doc.get("date") if isinstance(doc, dict) else None
    return date if isinstance(date, str) else ""


def is_bundled(feed: FeedInfo, root: Optional[Path] = None) -> bool:
    """Whether `feed` was imported from the offline snapshot shipped in the package."""
    base = str((root or offline_root()).resolve())
    return feed.location == base or feed.location.startswith(base + "/")


@dataclass(frozen=True)
class Freshness:
    """What the store holds, in a line, and what is wrong with it."""

    summary: str
    """For a scan's header: how many feeds, the newest import, the snapshot's date."""
    warnings: tuple[str, ...]
    empty: bool = False
    """No feed was imported at all."""


def freshness(
    feeds: Sequence[FeedInfo],
    now: datetime,
    stale_after_days: float = STALE_AFTER_DAYS,
    root: Optional[Path] = None,
) -> Freshness:
    """Judge an advisory store by its imported feeds (`AdvisoryStore.feeds()`) at `now`."""
    if not feeds:
        return Freshness(
            "advisory data: none imported",
            (
                "the advisory store is empty: findings come from the repository check only"
                " and nothing rates them; import feeds with `patchwarden feeds import"
                " --bundled` (offline) or `patchwarden feeds sync`",
            ),
            empty=True,
        )
    bundled = [f for f in feeds if is_bundled(f, root)]
    own = [f for f in feeds if f not in bundled]
    parts = [f"advisory data: {len(feeds)} feeds"]
    warnings: list[str] = []
    date = ""
    if bundled:
        # The date recorded at import (feeds import --bundled), else the shipped file's.
        date = max((f.last_modified or "" for f in bundled), default="") or snapshot_date(root)
        parts.append(f"offline snapshot of {date or 'unknown date'}")
    if own:
        newest = max(own, key=lambda f: f.imported_at)
        parts.append(f"newest import {newest.imported_at}")
        age = _age_days(newest.imported_at, now)
        if age is not None and age > stale_after_days:
            warnings.append(
                f"the newest feed import is {age:.0f} days old ({newest.imported_at}):"
                " advisories published since are missing; run `patchwarden feeds sync`"
            )
    else:
        warnings.append(
            "the advisory store holds only the offline snapshot shipped with patchwarden"
            f" (data of {date or 'unknown date'}): advisories and ratings published since"
            " are missing; run `patchwarden feeds sync` (or import current feed files) for"
            " current data"
        )
    return Freshness("; ".join(parts), tuple(warnings))


def _age_days(stamp: str, now: datetime) -> Optional[float]:
    try:
        at = datetime.fromisoformat(stamp)
    except ValueError:
        return None
    if at.tzinfo is None:
        at = at.replace(tzinfo=timezone.utc)
    return (now - at).total_seconds() / 86400
