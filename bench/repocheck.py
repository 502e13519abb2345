"""Wall time of the apt repository check on this machine, phase by phase.

    .venv/bin/python bench/repocheck.py [--no-changelogs] [--workers N]

Phases: read + parse the security-suite indices (lz4 through apt-helper), compare with the
installed packages, ask apt (`apt-cache policy`), fetch and parse the changelogs (changelog
server probe, then `apt-get download` of one .deb per source upload).
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from patchwarden.agent.apt.candidates import apply_policy, find_candidates, policy_query_name
from patchwarden.agent.apt.lists import LISTS_DIR, find_list_files, load_security_packages
from patchwarden.agent.apt.policy import query_policy
from patchwarden.agent.collectors.apt_updates import AptUpdatesCollector
from patchwarden.agent.collectors.base import Context
from patchwarden.agent.collectors.dpkg import DpkgCollector
from patchwarden.agent.collectors.os_release import OsReleaseCollector


def main() -> None:
    """Print per-phase and total wall times."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--no-changelogs", action="store_true")
    parser.add_argument("--workers", type=int, default=4)
    args = parser.parse_args()

    ctx = Context(root=Path("/"))
    ctx.os = OsReleaseCollector().collect(ctx).os
    ctx.packages = DpkgCollector().collect(ctx).packages

    start = time.perf_counter()
    lists = find_list_files(ctx.path(LISTS_DIR))
    offered = load_security_packages(ctx.root, ctx.runner, lists)
    t_lists = time.perf_counter()
    candidates = find_candidates(ctx.packages, offered)
    t_compare = time.perf_counter()
    names = sorted({policy_query_name(c.installed) for c in candidates})
    candidates = apply_policy(candidates, query_policy(ctx.runner, names))
    t_policy = time.perf_counter()
    sources = {(c.offered.source, c.offered.source_version) for c in candidates}
    print(f"security indices: {sum(f.security for f in lists)} files, {len(offered)} stanzas")
    print(f"lists read+parse   {1000 * (t_lists - start):8.1f} ms")
    print(
        f"compare installed  {1000 * (t_compare - t_lists):8.1f} ms "
        f"({len(ctx.packages)} installed, {len(candidates)} pending)"
    )
    print(f"apt-cache policy   {1000 * (t_policy - t_compare):8.1f} ms ({len(names)} names)")

    collector = AptUpdatesCollector(fetch_changelogs=not args.no_changelogs, workers=args.workers)
    t0 = time.perf_counter()
    part = collector.collect(ctx)
    total = time.perf_counter() - t0
    with_cves = sum(1 for u in part.pending_updates if u.cves)
    print(
        f"full collector     {total:8.1f} s  ({len(sources)} source uploads, "
        f"{with_cves}/{len(part.pending_updates)} updates with CVE ids, "
        f"workers={args.workers}, changelogs={'off' if args.no_changelogs else 'on'})"
    )


if __name__ == "__main__":
    main()
