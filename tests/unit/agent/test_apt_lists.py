"""agent.apt.lists: finding security-suite indices and parsing `Packages` stanzas."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from tests.tools import require

from patchwarden.agent.apt.lists import (
    find_list_files,
    load_security_packages,
    parse_packages,
    parse_release,
    read_list_text,
)
from patchwarden.agent.collectors.base import CollectorFailed
from patchwarden.agent.runner import FakeRunner, SubprocessRunner

ROOT = Path(__file__).resolve().parents[2] / "data" / "repocheck" / "apt" / "root"
LISTS = ROOT / "var" / "lib" / "apt" / "lists"


def test_fixture_lists_are_classified_by_suite() -> None:
    found = {(f.dist, f.component, f.compression): f for f in find_list_files(LISTS)}
    assert set(found) == {
        ("bookworm-security", "main", ""),
        ("bookworm-security", "contrib", "gz"),
        ("bookworm", "main", ""),
    }
    assert found[("bookworm-security", "main", "")].security
    assert found[("bookworm-security", "main", "")].release["Codename"] == "bookworm-security"
    assert found[("bookworm-security", "main", "")].arch == "amd64"
    assert not found[("bookworm", "main", "")].security


def test_release_parser_skips_pgp_armour_and_hash_lists() -> None:
    text = (LISTS / "deb.debian.org_debian-security_dists_bookworm-security_InRelease").read_text()
    fields = parse_release(text)
    assert fields["Label"] == "Debian-Security"
    assert fields["Suite"] == "oldstable-security"
    assert "Hash" not in fields  # armour header, not a Release field
    assert fields["SHA256"] == ""


def test_security_packages_come_from_security_indices_only() -> None:
    packages = load_security_packages(ROOT, FakeRunner())
    by_key = {(p.name, p.version): p for p in packages}
    assert ("jq", "1.6-2.1+deb12u4") not in by_key  # offered by bookworm (not security)
    assert ("jq", "1.6-2.1+deb12u3") in by_key
    assert ("zip", "3.0-13+deb12u1") in by_key  # from the .gz index
    libssl = by_key[("libssl3", "3.0.22-1~deb12u2")]
    assert (libssl.source, libssl.source_version) == ("openssl", "3.0.22-1~deb12u2")
    assert libssl.filename.startswith("pool/updates/main/o/openssl/libssl3_")
    assert libssl.size > 0 and libssl.dist == "bookworm-security"
    brotli = by_key[("libbrotli1", "1.0.9-2+deb12u1")]
    assert brotli.source == "brotli"


def test_source_field_with_version_is_a_binnmu_source() -> None:
    text = "Package: libfoo1\nSource: foo (1.0-1)\nVersion: 1.0-1+b2\nArchitecture: amd64\n"
    (pkg,) = parse_packages(text, "bookworm-security")
    assert (pkg.source, pkg.source_version, pkg.version) == ("foo", "1.0-1", "1.0-1+b2")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("Package: a\nArchitecture: all\n", "lacks Package or Version"),
        ("Package: a\nVersion: 1\nthis is not a field\n", "not a `Field: value` line"),
        ("Package: a\nVersion: 1\nSize: big\n", "bad Size"),
        ("Package: a\nVersion: 1\nSource: (x\n", "bad Source"),
    ],
    ids=["sad path no version", "sad path junk line", "sad path size", "sad path source"],
)
def test_malformed_stanzas_name_the_file(text: str, message: str) -> None:
    with pytest.raises(CollectorFailed, match=message) as info:
        list(parse_packages(text, "x-security", "/lists/x_Packages"))
    assert info.value.path == "/lists/x_Packages"


def test_old_debian_security_dist_names(tmp_path: Path) -> None:
    """Debian <= 10: the dist is `buster/updates`; URItoFileName wrote it as buster_updates."""
    base = "security.debian.org_debian-security_dists_buster_updates"
    (tmp_path / f"{base}_main_binary-amd64_Packages").write_text("")
    (tmp_path / f"{base}_InRelease").write_text("Label: Debian-Security\nCodename: buster\n")
    (listed,) = find_list_files(tmp_path)
    assert (listed.dist, listed.component, listed.security) == ("buster/updates", "main", True)


def test_ubuntu_esm_and_security_pockets_count(tmp_path: Path) -> None:
    for name in (
        "esm.ubuntu.com_apps_ubuntu_dists_jammy-apps-security_main_binary-amd64_Packages",
        "security.ubuntu.com_ubuntu_dists_jammy-security_universe_binary-amd64_Packages",
        "archive.ubuntu.com_ubuntu_dists_jammy-updates_main_binary-amd64_Packages",
    ):
        (tmp_path / name).write_text("")
    flags = {f.dist: f.security for f in find_list_files(tmp_path)}
    assert flags == {"jammy-apps-security": True, "jammy-security": True, "jammy-updates": False}


def test_missing_lists_dir_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(CollectorFailed, match="apt lists directory is missing"):
        find_list_files(tmp_path / "nope")


def test_lz4_without_apt_helper_names_the_file(tmp_path: Path) -> None:
    path = tmp_path / "h_dists_bookworm-security_main_binary-amd64_Packages.lz4"
    path.write_bytes(b"\x04\x22\x4d\x18junk")
    (listed,) = find_list_files(tmp_path)
    with pytest.raises(CollectorFailed, match="apt-helper") as info:
        read_list_text(listed, FakeRunner())
    assert info.value.path == str(path)


@pytest.mark.parametrize(("tool", "package"), [("lz4", "lz4"), ("zstd", "zstd")])
def test_lz4_and_zstd_indices_read_through_apt_helper(
    tmp_path: Path, tool: str, package: str
) -> None:
    # Real tools, failing (never skipping) when missing: the Makefile's DEBS installs them.
    require("/usr/lib/apt/apt-helper", "apt")
    packer = require(tool, package)
    plain = (
        LISTS / "deb.debian.org_debian-security_dists_bookworm-security_main_binary-amd64_Packages"
    )
    ext = {"lz4": "lz4", "zstd": "zst"}[tool]
    packed = tmp_path / f"h_dists_bookworm-security_main_binary-amd64_Packages.{ext}"
    argv = [packer, "-q", "-f", str(plain), str(packed)]
    if tool == "zstd":
        argv.insert(-1, "-o")
    subprocess.run(argv, check=True)
    (listed,) = find_list_files(tmp_path)
    assert read_list_text(listed, SubprocessRunner()) == plain.read_text()


def test_apt_helper_failure_is_reported(tmp_path: Path) -> None:
    path = tmp_path / "h_dists_bookworm-security_main_binary-amd64_Packages.zst"
    path.write_bytes(b"not zstd")
    (listed,) = find_list_files(tmp_path)
    runner = FakeRunner()
    runner.add(["/usr/lib/apt/apt-helper", "cat-file", str(path)], "", 100, "E: bad file")
    with pytest.raises(CollectorFailed, match="exit 100.*bad file"):
        read_list_text(listed, runner)
