"""agent.apt.deb: the changelog inside real .debs built with dpkg-deb (every compression)."""

from __future__ import annotations

import gzip
import os
import subprocess
from pathlib import Path

import pytest
from tests.tools import require

from patchwarden.agent.apt.deb import DebError, read_doc_changelog
from patchwarden.agent.runner import FakeRunner, SubprocessRunner

CHANGELOG = "foo (1.0-1+deb12u1) bookworm-security; urgency=high\n\n  * Fix CVE-2024-0001.\n"


def build_deb(
    tmp: Path,
    package: str,
    compression: str = "xz",
    docs: dict[str, str] | None = None,
    doc_link: str = "",
) -> Path:
    """Build a real .deb of `package` with dpkg-deb; docs maps doc file -> text (gzipped).

    Fails (never skips) when dpkg-deb is missing: the Makefile installs it (package dpkg).
    """
    dpkg_deb = require("dpkg-deb", "dpkg")
    tree = tmp / f"tree-{package}-{compression}"
    (tree / "DEBIAN").mkdir(parents=True)
    (tree / "DEBIAN" / "control").write_text(
        f"Package: {package}\nVersion: 1.0-1+deb12u1\nArchitecture: all\n"
        "Maintainer: Test <t@example.org>\nDescription: test package\n"
    )
    doc = tree / "usr" / "share" / "doc" / package
    doc.parent.mkdir(parents=True)
    (tree / "usr" / "bin").mkdir(parents=True)
    (tree / "usr" / "bin" / package).write_text("#!/bin/sh\n")
    if doc_link:
        os.symlink(doc_link, doc)
    else:
        doc.mkdir()
        for name, text in (docs or {}).items():
            (doc / name).write_bytes(gzip.compress(text.encode()))
    out = tmp / f"{package}_{compression}.deb"
    subprocess.run(
        [dpkg_deb, "--root-owner-group", f"-Z{compression}", "--build", str(tree), str(out)],
        check=True,
        capture_output=True,
    )
    return out


@pytest.mark.parametrize("compression", ["xz", "gzip", "none"])
def test_stdlib_reads_debian_changelog(tmp_path: Path, compression: str) -> None:
    deb = build_deb(tmp_path, "foo", compression, {"changelog.Debian.gz": CHANGELOG})
    found = read_doc_changelog(deb, "foo", FakeRunner())  # no command may run
    assert found.text == CHANGELOG and found.symlink_to is None


def test_zstd_deb_is_unpacked_with_dpkg_deb(tmp_path: Path) -> None:
    deb = build_deb(tmp_path, "foo", "zstd", {"changelog.Debian.gz": CHANGELOG})
    assert read_doc_changelog(deb, "foo", SubprocessRunner()).text == CHANGELOG
    with pytest.raises(DebError, match="needs dpkg-deb"):
        read_doc_changelog(deb, "foo", FakeRunner())


def test_debian_changelog_preferred_over_upstream_changelog(tmp_path: Path) -> None:
    docs = {"changelog.gz": "upstream news\n", "changelog.Debian.gz": CHANGELOG}
    deb = build_deb(tmp_path, "foo", "xz", docs)
    assert read_doc_changelog(deb, "foo", FakeRunner()).text == CHANGELOG


def test_native_package_changelog_gz(tmp_path: Path) -> None:
    deb = build_deb(tmp_path, "foo", "xz", {"changelog.gz": CHANGELOG})
    assert read_doc_changelog(deb, "foo", FakeRunner()).text == CHANGELOG


@pytest.mark.parametrize("compression", ["xz", "zstd"])
def test_symlinked_doc_dir_is_reported(tmp_path: Path, compression: str) -> None:
    deb = build_deb(tmp_path, "libfoo1", compression, doc_link="foo-common")
    found = read_doc_changelog(deb, "libfoo1", SubprocessRunner())
    assert found.symlink_to == "foo-common" and found.text is None


def test_package_without_changelog(tmp_path: Path) -> None:
    deb = build_deb(tmp_path, "foo", "xz", {"copyright.gz": "x"})
    assert read_doc_changelog(deb, "foo", FakeRunner()).text is None


def test_not_a_deb(tmp_path: Path) -> None:
    bogus = tmp_path / "bogus.deb"
    bogus.write_bytes(b"PK\x03\x04 not an ar archive")
    with pytest.raises(DebError, match="not an ar archive"):
        read_doc_changelog(bogus, "foo", FakeRunner())


def test_truncated_deb(tmp_path: Path) -> None:
    deb = build_deb(tmp_path, "foo", "xz", {"changelog.Debian.gz": CHANGELOG})
    cut = tmp_path / "cut.deb"
    cut.write_bytes(deb.read_bytes()[:300])
    with pytest.raises(DebError):
        read_doc_changelog(cut, "foo", FakeRunner())
