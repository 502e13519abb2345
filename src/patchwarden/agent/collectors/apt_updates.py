"""Repository check, apt side: security updates the host's own apt sources already offer.

Works without any external feed (issue item 5): installed debs (from the dpkg collector, which
runs earlier) against the `*-security` suites in `var/lib/apt/lists`; on a live root apt's own
candidate (`apt-cache policy`) decides what an upgrade would install. The CVE ids come from the
candidate's Debian changelog, entries newer than the installed source version, fetched once per
(source, version) on live, online roots. A pending security update stands even without a
changelog: the update itself is the fact, and `note` says why its CVE list is empty.
"""

from __future__ import annotations

import threading
from typing import Dict, List, Sequence, Set, Tuple

from patchwarden.agent.apt import changelog as changelog_mod
from patchwarden.agent.apt.candidates import (
    SecurityCandidate,
    apply_policy,
    find_candidates,
    policy_query_name,
)
from patchwarden.agent.apt.changelog_cache import ChangelogCache
from patchwarden.agent.apt.fetch import ChangelogFetcher, FetchRequest, FetchResult, SourceKey
from patchwarden.agent.apt.lists import (
    LISTS_DIR,
    AvailablePackage,
    find_list_files,
    load_security_packages,
)
from patchwarden.agent.apt.policy import query_policy
from patchwarden.agent.collectors.base import (
    Collector,
    CollectorFailed,
    Context,
    InventoryPart,
    Requires,
)
from patchwarden.agent.runner import Runner
from patchwarden.core.inventory import Evidence, Package, PendingUpdate

NAME = "apt-updates"
CHANGELOGS = "changelogs"
"""What `Context.report` counts while changelogs are fetched ("changelogs 12/41")."""


class AptUpdatesCollector(Collector):
    """Pending security updates from apt's lists (+ apt's policy and changelogs when live)."""

    name = NAME
    version = 1
    covers = frozenset({Evidence.PENDING_UPDATES})
    requires = Requires(families=frozenset({"debian", "ubuntu"}))

    def __init__(
        self,
        fetch_changelogs: bool = True,
        workers: int = 4,
        budget_seconds: float = 300.0,
    ) -> None:
        self.fetch_changelogs = fetch_changelogs
        self.workers = workers
        self.budget_seconds = budget_seconds

    def applies(self, ctx: Context) -> bool:
        """Debian-family roots with installed debs, and apt lists unless scanning `/`.

        A mounted image without `var/lib/apt/lists` has no repository state to check: the
        check does not apply there. On the running system missing lists are an error.
        When the dpkg collector failed, its own error already says so.
        """
        if not super().applies(ctx) or not any(p.format == "deb" for p in ctx.packages):
            return False
        return ctx.live or ctx.path(LISTS_DIR).is_dir()

    def collect(self, ctx: Context) -> InventoryPart:
        """Find pending security updates; raise CollectorFailed when the lists cannot be read."""
        installed = [p for p in ctx.packages if p.format == "deb"]
        if not installed:
            # Without the installed set every answer would read "nothing pending" (STYLE E3).
            raise CollectorFailed(
                "no installed deb packages known (the dpkg collector must run first)",
                "var/lib/dpkg/status",
            )
        lists = find_list_files(ctx.path(LISTS_DIR))
        if not any(item.security for item in lists):
            raise CollectorFailed(
                "no security suite among the apt lists: the repository check cannot tell "
                "which updates are security updates",
                LISTS_DIR,
            )
        offered = load_security_packages(ctx.root, ctx.runner, lists)
        candidates = find_candidates(installed, offered)
        if ctx.live and candidates:
            names = sorted({policy_query_name(c.installed) for c in candidates})
            candidates = apply_policy(candidates, query_policy(ctx.runner, names))
        fetched = self._changelogs(ctx, candidates, offered, installed)
        # Parse each source changelog once, however many binaries of that source are pending.
        parsed = {
            key: changelog_mod.parse_changelog(result.text)
            for key, result in fetched.items()
            if result.text is not None
        }
        updates = tuple(_to_update(c, fetched, parsed) for c in candidates)
        return InventoryPart(pending_updates=updates)

    def _changelogs(
        self,
        ctx: Context,
        candidates: Sequence[SecurityCandidate],
        offered: Sequence[AvailablePackage],
        installed: Sequence[Package],
    ) -> Dict[SourceKey, FetchResult]:
        """One changelog per (source, version), or a result that says why there is none."""
        keys = {_source_key(c) for c in candidates}
        cache = ChangelogCache(ctx.cache_dir / "changelogs") if ctx.cache_dir else None
        cached: Dict[SourceKey, FetchResult] = {}
        if cache is not None:
            cache.prune(keys)
            cached = {k: hit for k in keys for hit in [cache.get(k)] if hit is not None}
            keys -= set(cached)
        fetched = self._fetch(ctx, keys, offered, installed)
        if cache is not None:
            for key, result in fetched.items():
                cache.put(key, result)
        return {**fetched, **cached}

    def _fetch(
        self,
        ctx: Context,
        keys: Set[SourceKey],
        offered: Sequence[AvailablePackage],
        installed: Sequence[Package],
    ) -> Dict[SourceKey, FetchResult]:
        if not keys:
            return {}
        if not ctx.live:
            return {k: FetchResult(None, "changelog not fetched (not a live root)") for k in keys}
        if not ctx.online:
            return {k: FetchResult(None, "changelog not fetched (offline)") for k in keys}
        if not self.fetch_changelogs:
            return {k: FetchResult(None, "changelog not fetched (disabled)") for k in keys}
        arches: Set[str] = {p.arch for p in installed} | {"all"}
        binaries: Dict[SourceKey, List[AvailablePackage]] = {}
        for item in offered:
            key = (item.source, item.source_version)
            if key in keys and item.arch in arches:
                binaries.setdefault(key, []).append(item)
        requests = [
            FetchRequest(k[0], k[1], tuple(sorted(binaries.get(k, []), key=lambda b: b.size)))
            for k in sorted(keys)
        ]
        fetcher = CountingFetcher(ctx, len(requests), ctx.runner, self.workers, self.budget_seconds)
        ctx.report(CHANGELOGS, 0, len(requests))
        return fetcher.fetch_all(requests)


class CountingFetcher(ChangelogFetcher):
    """A ChangelogFetcher that reports each finished fetch to `Context.report`.

    A cold run fetches changelogs one download at a time for a minute or more: without a
    count a watcher cannot tell progress from a hang. `_fetch_one` is the fetcher's unit of
    work (one source upload, on a worker thread), so counting there counts every request
    once, whichever way it ended (text, note, spent budget).
    """

    def __init__(
        self, ctx: Context, total: int, runner: Runner, workers: int, budget_seconds: float
    ) -> None:
        super().__init__(runner, workers, budget_seconds)
        self._ctx = ctx
        self._total = total
        self._done = 0
        self._count_lock = threading.Lock()

    def _fetch_one(self, request: FetchRequest) -> FetchResult:
        try:
            return super()._fetch_one(request)
        finally:
            with self._count_lock:
                self._done += 1
                done = self._done
            self._ctx.report(CHANGELOGS, done, self._total)


def _source_key(cand: SecurityCandidate) -> SourceKey:
    """The source upload whose changelog describes this candidate."""
    return (cand.offered.source, cand.offered.source_version)


def _to_update(
    cand: SecurityCandidate,
    fetched: Dict[SourceKey, FetchResult],
    parsed: Dict[SourceKey, List[changelog_mod.ChangelogEntry]],
) -> PendingUpdate:
    """Combine the candidate with what its source changelog says since the installed version."""
    key = _source_key(cand)
    result = fetched.get(key) or FetchResult(None, "changelog not fetched")
    notes = [cand.note] if cand.note else []
    cves: Tuple[str, ...] = ()
    advisories: Tuple[str, ...] = ()
    if result.text is None:
        notes.append(result.note or "changelog unavailable")
    else:
        findings = changelog_mod.newer_than(parsed[key], cand.installed.source_ver)
        cves, advisories = findings.cves, findings.advisories
        if findings.urgency:
            # Upload urgency says how soon to install, not how severe the flaw is: it is a
            # note, never the finding's severity.
            notes.append(f"upload urgency {findings.urgency}")
        if not findings.reached_installed:
            notes.append(
                f"installed source version {cand.installed.source_ver} not found in the "
                f"changelog ({result.method}): all its entries were counted"
            )
        if not cves:
            notes.append(
                f"changelog ({result.method}) names no CVE in entries newer than "
                f"{cand.installed.source_ver}"
            )
    return PendingUpdate(
        package=cand.installed.name,
        installed_version=cand.installed.version,
        candidate_version=cand.candidate_version,
        repository=cand.offered.dist,
        source_package=cand.offered.source,
        advisories=advisories,
        cves=cves,
        # Debian changelogs carry no reboot flag; restart needs are the restart detector's job.
        restart_required=False,
        note="; ".join(notes),
    )
