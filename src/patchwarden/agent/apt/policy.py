"""`apt-cache policy PKG…` output: the candidate apt itself would install (pinning included).

On a live root this is apt's own answer to "which version would `apt-get upgrade` pick", so
the repository check trusts it over its own version comparison (apt-cache(8), apt_preferences(5)).
Output shape, one block per package found (unknown names are left out, with a warning on stderr):

    jq:                                  <- "name:" (native/all arch) or "name:arch:" (foreign)
      Installed: 1.6-2.1+deb12u1         <- "(none)" when not installed
      Candidate: 1.6-2.1+deb12u3         <- "(none)" when nothing installable
      Version table:
         1.6-2.1+deb12u3 500
            500 http://deb.debian.org/debian-security bookworm-security/main amd64 Packages
     *** 1.6-2.1+deb12u1 100
            100 /var/lib/dpkg/status
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Dict, List, Optional, Sequence, Tuple

from patchwarden.agent.collectors.base import CollectorFailed
from patchwarden.agent.runner import CommandNotFound, Runner

_HEADER = re.compile(r"^(?P<name>[^\s:]+)(?::(?P<arch>[^\s:]+))?:$")
# Ubuntu's phased updates append "(phased 10%)" to the version row (apt >= 2.1.16).
_VERSION_ROW = re.compile(r"^ (?:\*\*\*| {3}) (?P<version>\S+) (?P<priority>-?\d+)(?: \(.*\))?$")
_ORIGIN_ROW = re.compile(r"^ {8}(?P<priority>-?\d+) (?P<origin>.+)$")

APT_CACHE_BATCH = 200
"""Package names per `apt-cache policy` call (keeps argv far below ARG_MAX)."""


@dataclass
class Policy:
    """apt's view of one package."""

    name: str
    arch: Optional[str]
    """Only set for foreign-architecture packages (the header spells `name:arch:`)."""
    installed: Optional[str] = None
    candidate: Optional[str] = None
    origins: Dict[str, List[str]] = field(default_factory=dict)
    """version -> its origin lines ("http://… bookworm-security/main amd64 Packages")."""


PolicyMap = Dict[Tuple[str, Optional[str]], Policy]
"""{(name, foreign arch or None): Policy}."""


def parse_policy(text: str, source: str = "apt-cache policy") -> PolicyMap:
    """Parse `apt-cache policy` output into {(name, foreign arch or None): Policy}."""
    result: PolicyMap = {}
    current: Optional[Policy] = None
    version: Optional[str] = None
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue  # apt prints no blank lines, but a trailing one is harmless
        header = _HEADER.match(line)
        if header:
            current = Policy(name=header["name"], arch=header["arch"])
            result[(current.name, current.arch)] = current
            version = None
            continue
        if current is None:
            raise CollectorFailed(f"line {number}: output does not start with a package", source)
        stripped = line.strip()
        if stripped.startswith("Installed:") or stripped.startswith("Candidate:"):
            key, _, value = stripped.partition(":")
            value = value.strip()
            setattr(current, key.lower(), None if value == "(none)" else value)
            continue
        if stripped in ("Version table:",) or stripped.startswith("Package pin:"):
            continue  # headings; the rows below them carry the data
        row = _VERSION_ROW.match(line)
        if row:
            version = row["version"]
            current.origins.setdefault(version, [])
            continue
        origin = _ORIGIN_ROW.match(line)
        if origin and version is not None:
            current.origins[version].append(origin["origin"])
            continue
        raise CollectorFailed(f"line {number}: unexpected line {line!r}", source)
    return result


def query_policy(runner: Runner, names: Sequence[str], timeout: float = 60.0) -> PolicyMap:
    """Run `apt-cache policy` for `names` (`pkg` or `pkg:arch`) in batches and parse it."""
    result: PolicyMap = {}
    for start in range(0, len(names), APT_CACHE_BATCH):
        argv = ["apt-cache", "policy", *names[start : start + APT_CACHE_BATCH]]
        try:
            completed = runner.run(argv, timeout=timeout)
        except CommandNotFound as exc:
            raise CollectorFailed("apt-cache not found on a live Debian-family root") from exc
        if not completed.ok:
            raise CollectorFailed(
                f"apt-cache policy failed (exit {completed.returncode}): "
                f"{completed.stderr.strip()[:300]}"
            )
        result.update(parse_policy(completed.stdout))
    return result
