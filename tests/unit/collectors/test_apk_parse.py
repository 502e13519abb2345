"""apk installed-database parsing (pure)."""

from __future__ import annotations

import pytest

from patchwarden.agent.collectors.apk import parse_installed
from patchwarden.agent.collectors.base import CollectorFailed

INSTALLED = """\
C:Q1abc=
P:libcrypto3
V:3.1.4-r5
A:x86_64
o:openssl
m:Someone <someone@example.org>
F:lib
R:libcrypto.so.3

P:musl
V:1.2.4-r2
A:x86_64
o:musl
"""


def test_happy_path_name_version_arch_origin() -> None:
    packages, problems = parse_installed(INSTALLED)
    assert [(p.name, p.version, p.arch, p.source, p.format) for p in packages] == [
        ("libcrypto3", "3.1.4-r5", "x86_64", "openssl", "apk"),
        ("musl", "1.2.4-r2", "x86_64", "musl", "apk"),
    ]
    assert packages[1].source_name == ""  # origin equal to the name adds nothing
    assert problems == ()


def test_sad_path_package_without_version_is_reported() -> None:
    packages, problems = parse_installed(INSTALLED + "\nP:broken\nA:x86_64\n")
    assert len(packages) == 2
    assert problems == ("line 15: package 'broken' has no V (version) field",)


def test_sad_path_not_an_apk_database() -> None:
    with pytest.raises(CollectorFailed, match=r"^lib/apk/db/installed: no usable apk package"):
        parse_installed("Package: dpkg-style\nVersion: 1\n")
