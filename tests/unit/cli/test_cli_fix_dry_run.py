"""`patchwarden fix --dry-run` shows the command each package manager's builder (the agent's
own) makes from a planned fix: exactly the fixed versions, never a full upgrade."""

from __future__ import annotations

from typing import Any

import pytest

from patchwarden.cli.fix_command import fix_commands


def planned(pm: str, *packages: tuple[str, str]) -> dict[str, Any]:
    return {
        "record_id": 7,
        "status": "planned",
        "package_manager": pm,
        "packages": [{"name": n, "target_version": v} for n, v in packages],
    }


def test_apt_refreshes_then_installs_exactly_the_fixed_version() -> None:
    refresh, install = fix_commands(planned("apt", ("libssl3", "3.0.17-1~deb12u2")))
    assert refresh.endswith("apt-get -q update")
    assert "DEBIAN_FRONTEND=noninteractive" in install
    assert "apt-get install -q -y --only-upgrade --no-install-recommends" in install
    assert "-o Dpkg::Options::=--force-confold" in install
    assert install.endswith("'libssl3=3.0.17-1~deb12u2'")  # quoted as a shell would need
    assert "dist-upgrade" not in install and "full-upgrade" not in install


@pytest.mark.parametrize(
    ("pm", "expected"),
    [
        ("dnf", "dnf -y upgrade openssl-libs-1:3.0.7-27.el9"),
        ("yum", "yum -y update openssl-libs-1:3.0.7-27.el9"),
    ],
)
def test_rpm_managers_name_the_exact_build(pm: str, expected: str) -> None:
    commands = fix_commands(planned(pm, ("openssl-libs", "1:3.0.7-27.el9")))
    assert commands and commands[-1].endswith(expected)


def test_apk_pins_the_version() -> None:
    commands = fix_commands(planned("apk", ("libcrypto3", "3.1.4-r5")))
    assert "apk" in commands[-1] and "libcrypto3=3.1.4-r5" in commands[-1]


def test_nothing_to_show_without_a_package_manager_or_packages() -> None:
    assert fix_commands(planned("", ("curl", "1.0-1"))) == []
    assert fix_commands(planned("apt")) == []
