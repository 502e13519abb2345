"""agent.apt.candidates: installed debs vs security-suite versions, and apt's own candidate."""

from __future__ import annotations

from pathlib import Path

from patchwarden.agent.apt.candidates import apply_policy, find_candidates, policy_query_name
from patchwarden.agent.apt.lists import AvailablePackage
from patchwarden.agent.apt.policy import parse_policy
from patchwarden.core.inventory import Package

DATA = Path(__file__).resolve().parents[2] / "data" / "repocheck" / "apt"


def offer(name: str, version: str, arch: str = "amd64", source: str = "") -> AvailablePackage:
    return AvailablePackage(name, version, arch, source or name, version, 100, "", "x-security")


def deb(name: str, version: str, arch: str = "amd64") -> Package:
    return Package(name=name, version=version, format="deb", arch=arch)


def test_highest_newer_security_version_wins() -> None:
    found = find_candidates(
        [deb("jq", "1.6-2.1+deb12u1")],
        [offer("jq", "1.6-2.1+deb12u2"), offer("jq", "1.6-2.1+deb12u3"), offer("jq", "1.6-2.1")],
    )
    assert [(c.installed.name, c.candidate_version) for c in found] == [("jq", "1.6-2.1+deb12u3")]


def test_not_newer_foreign_arch_and_rpm_are_skipped() -> None:
    installed = [
        deb("zlib1g", "1:1.2.13.dfsg-1"),  # offered version is older (no epoch)
        deb("libc6", "2.36-9", "i386"),  # only amd64 offered
        Package(name="openssl", version="1:3.0.7-1.el9", format="rpm", arch="x86_64"),
        deb("ca-certificates", "20230311+deb12u1", "all"),
    ]
    offered = [
        offer("zlib1g", "1.2.13.dfsg-1+deb12u1"),
        offer("libc6", "2.36-9+deb12u9"),
        offer("openssl", "3.0.22-1~deb12u2"),
        offer("ca-certificates", "20250419~deb12u2", "all"),
    ]
    found = find_candidates(installed, offered)
    assert [c.installed.name for c in found] == ["ca-certificates"]


def test_arch_all_matches_a_concrete_arch() -> None:
    found = find_candidates(
        [deb("tzdata", "2025b-0+deb12u2", "all")], [offer("tzdata", "2026f-0+deb12u1")]
    )
    assert len(found) == 1


def test_policy_query_names_pin_the_arch() -> None:
    assert policy_query_name(deb("jq", "1")) == "jq:amd64"
    assert policy_query_name(deb("tzdata", "1", "all")) == "tzdata"


def test_apt_candidate_decides_on_live_roots() -> None:
    policies = parse_policy((DATA / "apt-cache-policy.txt").read_text())
    policies.update(parse_policy((DATA / "apt-cache-policy-ubuntu.txt").read_text()))
    candidates = find_candidates(
        [
            deb("jq", "1.6-2.1+deb12u1"),
            deb("openssh-client", "1:9.2p1-2+deb12u6"),
            deb("libc6", "2.35-0ubuntu3.6", "i386"),
            deb("nginx", "1.18.0-6ubuntu14.4"),
        ],
        [
            offer("jq", "1.6-2.1+deb12u3"),
            offer("openssh-client", "1:9.2p1-2+deb12u9"),
            offer("libc6", "2.35-0ubuntu3.8", "i386"),
            offer("nginx", "1.18.0-6ubuntu14.5"),
        ],
    )
    by_name = {c.installed.name: c for c in apply_policy(candidates, policies)}
    assert (by_name["jq"].candidate_version, by_name["jq"].note) == ("1.6-2.1+deb12u3", "")
    ssh = by_name["openssh-client"]
    assert ssh.candidate_version == "1:9.2p1-2+deb12u10"  # point release newer than security
    assert "newer than the security version" in ssh.note
    pinned = by_name["libc6"]  # libc6:i386 is pinned at the installed version
    assert pinned.candidate_version == "2.35-0ubuntu3.8" and "pinned or held" in pinned.note
    assert "no install candidate" in by_name["nginx"].note
