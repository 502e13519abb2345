"""agent.apt.policy: parsing recorded `apt-cache policy` output."""

from __future__ import annotations

from pathlib import Path

import pytest

from patchwarden.agent.apt.policy import parse_policy, query_policy
from patchwarden.agent.collectors.base import CollectorFailed
from patchwarden.agent.runner import FakeRunner

DATA = Path(__file__).resolve().parents[2] / "data" / "repocheck" / "apt"


def test_debian_policy_recorded_on_bookworm() -> None:
    policies = parse_policy((DATA / "apt-cache-policy.txt").read_text())
    assert set(policies) == {
        ("jq", None),
        ("ca-certificates", None),
        ("openssh-client", None),
        ("krb5-locales", None),
    }
    jq = policies[("jq", None)]
    assert (jq.installed, jq.candidate) == ("1.6-2.1+deb12u1", "1.6-2.1+deb12u3")
    assert jq.origins["1.6-2.1+deb12u3"] == [
        "http://deb.debian.org/debian-security bookworm-security/main amd64 Packages"
    ]
    krb5 = policies[("krb5-locales", None)]
    assert len(krb5.origins["1.20.1-2+deb12u5"]) == 2  # in the point release and in security


def test_ubuntu_phased_pinned_foreign_and_none() -> None:
    policies = parse_policy((DATA / "apt-cache-policy-ubuntu.txt").read_text())
    assert policies[("libc6", None)].candidate == "2.35-0ubuntu3.8"
    foreign = policies[("libc6", "i386")]
    assert (foreign.installed, foreign.candidate) == ("2.35-0ubuntu3.6", "2.35-0ubuntu3.6")
    assert policies[("nginx", None)].candidate is None


@pytest.mark.parametrize(
    "text",
    ["  Installed: 1.0\n", "jq:\n  Installed: 1\n  Candidate: 2\n  something odd\n"],
    ids=["sad path no header", "sad path unknown line"],
)
def test_unexpected_output_is_an_error(text: str) -> None:
    with pytest.raises(CollectorFailed):
        parse_policy(text)


def test_query_runs_batches_and_reports_failure() -> None:
    runner = FakeRunner()
    runner.add(["apt-cache", "policy", "jq:amd64"], (DATA / "apt-cache-policy.txt").read_text())
    assert ("jq", None) in query_policy(runner, ["jq:amd64"])
    runner.add(["apt-cache", "policy", "x"], "", 100, "E: cache is broken")
    with pytest.raises(CollectorFailed, match="cache is broken"):
        query_policy(runner, ["x"])
