"""Package-manager failures classified (R-F7): real apt and dnf outputs, yum and apk from their
documentation (tests/data/remediation/README.md says which is which)."""

from __future__ import annotations

import json

import pytest
from tests.paths import REPO

from patchwarden.agent.actions.classify import classify, explain, tail
from patchwarden.agent.runner import TIMEOUT_RC
from patchwarden.protocol import v1

DATA = REPO / "tests" / "data" / "remediation"


def recorded(rel: str) -> tuple[str, int]:
    """(combined output, return code) of one recorded command."""
    path = DATA / rel
    if path.suffix == ".txt":
        return path.read_text(), 1
    doc = json.loads(path.read_text())
    return doc["stdout"] + doc["stderr"], int(doc["returncode"])


@pytest.mark.parametrize(
    ("case", "code"),
    [
        # apt (real)
        ("apt/install-locked.json", "pm_locked"),
        ("apt/install-permission.json", "permission"),
        ("apt/update-permission.json", "permission"),
        ("apt/install-disk-full.json", "disk_full"),
        ("apt/install-proxy-closed.json", "mirror_unreachable"),
        ("apt/update-mirror-closed.json", "mirror_unreachable"),
        ("apt/update-dns.json", "mirror_unreachable"),
        ("apt/plan-dependency-conflict.json", "dependency_conflict"),
        ("apt/plan-downgrade.json", "dependency_conflict"),
        ("apt/plan-version-not-found.json", "no_update"),
        ("apt/plan-already-newest.json", "no_update"),
        # dnf (real)
        ("dnf/mirror-closed-port.json", "mirror_unreachable"),
        ("dnf/mirror-dns.json", "mirror_unreachable"),
        ("dnf/plan-no-match.json", "no_update"),
        ("dnf/plan-nothing-to-do.json", "no_update"),
        # yum (from its documentation)
        ("yum/locked.txt", "pm_locked"),
        ("yum/permission.txt", "permission"),
        ("yum/disk-full.txt", "disk_full"),
        ("yum/mirror-dns.txt", "mirror_unreachable"),
        ("yum/mirror-refused.txt", "mirror_unreachable"),
        ("yum/dependency.txt", "dependency_conflict"),
        ("yum/no-update.txt", "no_update"),
        ("yum/no-package.txt", "no_update"),
        # apk (from its documentation and issue threads)
        ("apk/locked.txt", "pm_locked"),
        ("apk/permission.txt", "permission"),
        ("apk/disk-full.txt", "disk_full"),
        ("apk/update-offline.txt", "mirror_unreachable"),
        ("apk/update-dns.txt", "mirror_unreachable"),
        ("apk/conflict.txt", "dependency_conflict"),
        ("apk/version-unavailable.txt", "no_update"),
        ("apk/no-such-package.txt", "no_update"),
    ],
    ids=lambda v: str(v),
)
def test_recorded_outputs_are_classified(case: str, code: str) -> None:
    output, rc = recorded(case)
    error = classify(output, rc)
    assert error.code == code, error
    assert error.code in v1.CLASSIFICATION_CODES
    assert error.hint and error.message
    assert error.tail == tail(output)


def lines() -> list[tuple[str, str]]:
    """(code, output) rows of classify-lines.tsv."""
    rows = []
    for line in (DATA / "classify-lines.tsv").read_text().splitlines():
        if line and not line.startswith("#"):
            code, _, text = line.partition("\t")
            rows.append((code, text.replace("\\n", "\n")))
    return rows


@pytest.mark.parametrize(("code", "output"), lines(), ids=lambda v: v[:50])
def test_message_table(code: str, output: str) -> None:
    assert classify(output, 100).code == code


def test_mirror_errors_name_the_host_and_the_kind_of_trouble() -> None:
    refused = classify(*recorded("apt/install-proxy-closed.json"))
    assert refused.message.startswith(
        "package mirror unreachable: no connection to 127.0.0.1 port "
    )
    assert "curl -sI http://127.0.0.1:" in refused.hint
    dns = classify(*recorded("apt/update-dns.json"))
    assert dns.message == "package mirror unreachable: the name mirror.invalid does not resolve"
    assert "getent hosts mirror.invalid" in dns.hint
    dnf_dns = classify(*recorded("dnf/mirror-dns.json"))
    assert dnf_dns.message.endswith("the name mirror.invalid does not resolve")
    dnf_refused = classify(*recorded("dnf/mirror-closed-port.json"))
    assert dnf_refused.message.endswith("no connection to 127.0.0.1 port 9")
    yum_dns = classify(*recorded("yum/mirror-dns.txt"))
    assert yum_dns.message.endswith("the name mirrorlist.centos.org does not resolve")
    yum_refused = classify(*recorded("yum/mirror-refused.txt"))
    assert yum_refused.message.endswith("no connection to mirror.example.com port 8080")
    apk_dns = classify(*recorded("apk/update-dns.txt"))
    assert apk_dns.message.endswith("the name mirror.invalid does not resolve")
    apk_offline = classify(*recorded("apk/update-offline.txt"))
    assert "dl-cdn.alpinelinux.org" in apk_offline.message


def test_the_deciding_line_is_quoted_and_the_tail_kept() -> None:
    error = classify(*recorded("apt/install-locked.json"))
    assert error.message.endswith("It is held by process") is False
    assert "E: Could not get lock /var/lib/dpkg/lock-frontend" in error.message
    assert error.tail.endswith("is another process using it?")


def test_unknown_keeps_the_raw_tail_bounded() -> None:
    output = "\n".join(f"line {i}: something odd" for i in range(1000))
    error = classify(output, 2)
    assert error.code == "unknown" and error.message.endswith("(exit status 2)")
    assert len(error.tail) <= v1.MAX_TAIL and error.tail.endswith("line 999: something odd")
    assert error.tail.startswith("line ")  # cut at a line start


def test_a_killed_transaction_is_a_timeout() -> None:
    error = classify("Unpacking libssl3 ...\ntimed out after 1800s", TIMEOUT_RC, 1800)
    assert error.code == "timeout" and "within 1800 s" in error.message
    assert "dpkg --configure -a" in error.hint


def test_explain_uses_the_standard_words() -> None:
    error = explain("no_update", "libssl3 3.9 is not offered")
    assert error.message == "no update available: libssl3 3.9 is not offered"
    assert error.hint.startswith("the repositories this host uses offer no such version yet")
