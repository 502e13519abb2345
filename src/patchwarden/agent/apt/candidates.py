"""Which installed packages have a newer version in a security suite, and what apt would install.

Offline (any root): for each installed deb, the highest version of the same name offered by a
security suite for a matching architecture (`all` matches any) that is newer than the installed
version by dpkg ordering. Live: apt's own candidate (`apt-cache policy`) then decides what gets
reported, because pinning, holds and newer point-release versions are apt's business.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Dict, Iterable, List, Mapping, Optional, Sequence, Tuple

from patchwarden.agent.apt.lists import AvailablePackage
from patchwarden.agent.apt.policy import Policy
from patchwarden.agent.collectors.base import CollectorFailed
from patchwarden.core.errors import InvalidVersion
from patchwarden.core.inventory import Package
from patchwarden.core.versions import dpkg


@dataclass(frozen=True)
class SecurityCandidate:
    """An installed package and the security-suite version that supersedes it."""

    installed: Package
    offered: AvailablePackage
    """The highest security-suite version newer than the installed one."""
    candidate_version: str
    """What would be installed: apt's candidate on a live root, else `offered.version`."""
    note: str = ""


def arch_matches(installed_arch: str, offered_arch: str) -> bool:
    """Same architecture, or either side is `all` (a package may move between any and all)."""
    return installed_arch == offered_arch or "all" in (installed_arch, offered_arch)


def find_candidates(
    installed: Iterable[Package], offered: Iterable[AvailablePackage]
) -> List[SecurityCandidate]:
    """Installed debs with a newer security-suite version, sorted by package name and arch."""
    by_name: Dict[str, List[AvailablePackage]] = {}
    for item in offered:
        by_name.setdefault(item.name, []).append(item)
    found = []
    for package in installed:
        if package.format != "deb" or package.name not in by_name:
            continue
        newer = []
        for item in by_name[package.name]:
            if not arch_matches(package.arch, item.arch):
                continue
            try:
                # dpkg keys are int tuples that compare like `dpkg --compare-versions`.
                if dpkg.key(item.version) > dpkg.key(package.version):
                    newer.append(item)
            except InvalidVersion as exc:
                raise CollectorFailed(
                    f"cannot compare {package.name} {package.version!r} with {item.version!r} "
                    f"from {item.dist}: {exc}"
                ) from exc
        if newer:
            best = max(newer, key=lambda a: dpkg.key(a.version))
            found.append(SecurityCandidate(package, best, best.version))
    return sorted(found, key=lambda c: (c.installed.name, c.installed.arch))


def policy_query_name(package: Package) -> str:
    """The name to ask apt-cache about: `pkg:arch` pins the architecture (multiarch)."""
    return package.name if package.arch in ("", "all") else f"{package.name}:{package.arch}"


def lookup_policy(
    policies: Mapping[Tuple[str, Optional[str]], Policy], package: Package
) -> Optional[Policy]:
    """apt's block for `package`: `name:arch:` for a foreign arch, else the plain `name:`."""
    return policies.get((package.name, package.arch)) or policies.get((package.name, None))


def apply_policy(
    candidates: Sequence[SecurityCandidate],
    policies: Mapping[Tuple[str, Optional[str]], Policy],
) -> List[SecurityCandidate]:
    """Take apt's candidate as what would be installed; explain when it is not the security one."""
    result = []
    for cand in candidates:
        policy = lookup_policy(policies, cand.installed)
        if policy is None or policy.candidate is None:
            result.append(
                replace(cand, note="apt reports no install candidate (held, pinned or unknown)")
            )
            continue
        apt_key, offered_key = dpkg.key(policy.candidate), dpkg.key(cand.offered.version)
        if apt_key == offered_key:
            result.append(replace(cand, candidate_version=policy.candidate))
        elif apt_key > offered_key:
            # A later point release (or backport) already contains the security fix.
            result.append(
                replace(
                    cand,
                    candidate_version=policy.candidate,
                    note=f"apt installs {policy.candidate}, newer than the security "
                    f"version {cand.offered.version}",
                )
            )
        else:
            result.append(
                replace(
                    cand,
                    note=f"apt's candidate is {policy.candidate} (pinned or held): the security "
                    f"version {cand.offered.version} would not be installed by an upgrade",
                )
            )
    return result
