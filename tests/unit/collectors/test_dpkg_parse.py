"""dpkg status parsing (pure): stanzas, Status words, Source field, problems."""

from __future__ import annotations

import pytest

from patchwarden.agent.collectors.base import CollectorFailed
from patchwarden.agent.collectors.dpkg import parse_status

STATUS = """\
Package: libc6
Status: install ok installed
Architecture: amd64
Multi-Arch: same
Source: glibc
Version: 2.36-9+deb12u4
Description: GNU C Library: Shared libraries
 Contains the standard libraries that are used by nearly all programs on
 the system.

Package: libfoo1
Status: hold ok installed
Architecture: amd64
Source: foo (1.2-3)
Version: 1.2-3+b1
Origin: Example Corp

Package: old-config
Status: deinstall ok config-files
Version: 1.0

Package: going-away
Status: deinstall ok installed
Architecture: all
Version: 2.0
"""


def test_happy_path_fields_and_source_identity() -> None:
    parsed = parse_status(STATUS)
    assert [p.name for p in parsed.packages] == ["libc6", "libfoo1", "going-away"]
    libc, libfoo, going = parsed.packages
    assert (libc.version, libc.arch, libc.source_name, libc.source_version) == (
        "2.36-9+deb12u4",
        "amd64",
        "glibc",
        "",
    )
    # binNMU: the source version differs from the binary's and is kept apart.
    assert (libfoo.source, libfoo.source_ver, libfoo.version) == ("foo", "1.2-3", "1.2-3+b1")
    assert libfoo.origin == "Example Corp"
    assert going.format == "deb"
    assert parsed.problems == ()
    assert parsed.stanzas == 4


def test_source_equal_to_the_binary_name_is_left_empty() -> None:
    parsed = parse_status("Package: a\nStatus: install ok installed\nSource: a\nVersion: 1\n")
    assert parsed.packages[0].source_name == ""


@pytest.mark.parametrize(
    ("stanza", "problem"),
    [
        ("Status: install ok installed\nVersion: 1\n", "line 5: stanza has no Package field"),
        ("Package: b\nStatus: install ok installed\n", "line 5: stanza 'b' has no Version"),
        ("Package: b\nVersion: 1\n", "line 5: stanza 'b' has no Status field"),
        ("Package: b\nStatus: install ok\nVersion: 1\n", "malformed Status 'install ok'"),
        ("Package: b\nnonsense line\nVersion: 1\n", "line 6: not a 'Field: value' line"),
    ],
)
def test_sad_path_bad_stanzas_are_reported_not_skipped(stanza: str, problem: str) -> None:
    text = "Package: good\nStatus: install ok installed\nVersion: 1\n\n" + stanza
    parsed = parse_status(text, "status")
    assert [p.name for p in parsed.packages] == ["good"]
    assert len(parsed.problems) == 1
    assert problem in parsed.problems[0]


def test_distroless_entries_without_status_are_installed() -> None:
    parsed = parse_status("Package: foo\nVersion: 1.2.3\n", default_installed=True)
    assert [p.name for p in parsed.packages] == ["foo"]


def test_sad_path_no_usable_stanza_fails_naming_the_file() -> None:
    with pytest.raises(CollectorFailed, match=r"^var/lib/dpkg/status: no usable dpkg stanza"):
        parse_status("asdf\n\nyolo\n", "var/lib/dpkg/status")


def test_sad_path_vcpkg_status_is_refused() -> None:
    text = "Package: zlib\nVersion: 1.2.11-6\nArchitecture: x64-windows\nAbi: 00aa\n"
    text += "Type: Port\nStatus: install ok installed\n"
    with pytest.raises(CollectorFailed, match="vcpkg"):
        parse_status(text, "status")


def test_empty_file_is_zero_packages_without_problems() -> None:
    parsed = parse_status("")
    assert (parsed.packages, parsed.problems, parsed.stanzas) == ((), (), 0)


def test_crlf_and_trailing_blank_lines() -> None:
    parsed = parse_status("Package: a\r\nStatus: install ok installed\r\nVersion: 1\r\n\r\n\r\n")
    assert [(p.name, p.version) for p in parsed.packages] == [("a", "1")]
