"""The apt repository check on this machine's real apt lists, against apt's own answer.

Oracle: `apt-get -s dist-upgrade`, whose `Inst pkg [installed] (candidate origins [arch])`
lines name the archive of every candidate. Passes on a machine with no pending security
update too: then it asserts we report none and says so.
"""

from __future__ import annotations

import re
import subprocess
import tempfile
from pathlib import Path
from typing import Dict, Tuple

import pytest
from tests.tools import require

from patchwarden.agent.collectors.apt_updates import AptUpdatesCollector
from patchwarden.agent.collectors.base import Context
from patchwarden.agent.collectors.dpkg import DpkgCollector
from patchwarden.agent.collectors.os_release import OsReleaseCollector

pytestmark = pytest.mark.live


@pytest.fixture(autouse=True)
def apt_oracle() -> None:
    """apt-get and its lists are the oracle: when missing the test fails, never skips."""
    require("apt-get", "apt")  # the Makefile's DEBS installs apt
    if not Path("/var/lib/apt/lists").is_dir():
        pytest.fail(
            "/var/lib/apt/lists is missing: install the Debian package apt (make debs)",
            pytrace=False,
        )


_INST = re.compile(r"^Inst (?P<pkg>\S+) (?:\[(?P<old>\S+)\] )?\((?P<new>\S+) (?P<origins>.+?) \[")


def live_context() -> Context:
    ctx = Context(root=Path("/"))
    ctx.os = OsReleaseCollector().collect(ctx).os
    ctx.packages = DpkgCollector().collect(ctx).packages
    return ctx


def apt_security_upgrades() -> Dict[str, Tuple[str, str]]:
    """{package: (installed, candidate)} for upgrades whose candidate is in a security suite."""
    out = subprocess.run(
        ["apt-get", "-s", "-o", "Debug::NoLocking=1", "dist-upgrade"],
        capture_output=True,
        text=True,
        check=True,
        env={"LC_ALL": "C", "PATH": "/usr/bin:/bin"},
    ).stdout
    found = {}
    for line in out.splitlines():
        match = _INST.match(line)
        if not match or not match["old"]:
            continue
        # "Debian:12.15/oldstable, Debian-Security:12/oldstable-security";
        # Ubuntu: "Ubuntu:22.04/jammy-security"
        if any(o.strip().endswith("-security") for o in match["origins"].split(",")):
            found[match["pkg"].split(":")[0]] = (match["old"], match["new"])
    return found


def test_pending_security_updates_match_apt() -> None:
    ctx = live_context()
    part = AptUpdatesCollector(fetch_changelogs=False).collect(ctx)
    ours = {u.package: u for u in part.pending_updates}
    oracle = apt_security_upgrades()
    if not oracle:
        print("this machine has no pending security update today: checking we report none")
    for name, (installed, candidate) in oracle.items():
        assert name in ours, f"apt upgrades {name} from a security suite; we missed it"
        assert (ours[name].installed_version, ours[name].candidate_version) == (
            installed,
            candidate,
        )
        assert ours[name].repository.endswith("-security") or "/updates" in ours[name].repository
    for name, update in ours.items():
        if name not in oracle:
            # Only explained extras: apt installs a newer point release that contains the fix,
            # or apt would not install it at all (pinned/held).
            assert "newer than the security version" in update.note or "pinned" in update.note, (
                f"{name}: reported but apt does not upgrade it from a security suite"
            )
    print(f"{len(oracle)} security upgrades per apt, {len(ours)} pending updates reported")


@pytest.mark.slow
def test_real_changelog_names_cves() -> None:
    """Fetch real changelogs (changelog server, else `apt-get download`) for a few updates."""
    ctx = live_context()
    pending = AptUpdatesCollector(fetch_changelogs=False).collect(ctx).pending_updates
    if not pending:
        print("no pending security update on this machine: the no-update path returned nothing")
        assert pending == ()
        return
    # Cheapest first: small packages download fast. Try a few until one names CVEs.
    by_name = {p.name: p for p in ctx.packages}
    chosen = sorted(pending, key=lambda u: len(u.package))[:5]
    ctx.packages = tuple(by_name[u.package] for u in chosen)
    fetched = AptUpdatesCollector(budget_seconds=240).collect(ctx).pending_updates
    with_cves = [u for u in fetched if u.cves]
    assert with_cves, f"no CVE found in any of {[(u.package, u.note) for u in fetched]}"
    update = with_cves[0]
    assert all(re.fullmatch(r"CVE-\d{4}-\d{4,}", c) for c in update.cves)
    # Independent check: the CVE ids are in the candidate's changelog as dpkg-deb unpacks it.
    with tempfile.TemporaryDirectory() as tmp:
        subprocess.run(
            ["apt-get", "download", f"{update.package}={update.candidate_version}"],
            cwd=tmp,
            check=True,
            capture_output=True,
        )
        (deb,) = Path(tmp).glob("*.deb")
        subprocess.run(["dpkg-deb", "-x", str(deb), tmp + "/x"], check=True)
        docs = sorted(Path(tmp, "x/usr/share/doc").glob("*/changelog*.gz"))
        text = "".join(
            subprocess.run(["zcat", str(d)], capture_output=True, text=True).stdout for d in docs
        )
    if text:  # doc dir may be a symlink to a sibling package: then the ids were read there
        assert set(update.cves) <= set(re.findall(r"CVE-\d{4}-\d{4,}", text))
    print(
        f"{update.package} {update.candidate_version}: {len(update.cves)} CVEs, {update.severity}"
    )
