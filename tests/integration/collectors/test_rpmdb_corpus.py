"""rpm databases of the corpus in all three on-disk formats, plus truncated and corrupt copies.

Expected values were cross-checked against rpm 4.18 itself (`rpm -qa --dbpath` with the
sqlite / bdb_ro backends, Debian's `rpm` package) and go-rpmdb's test expectations
(pkg/testdata/cbl-mariner-2.0/curl.json; sle15-bci package names).
"""

from __future__ import annotations

import shutil
import sqlite3
from pathlib import Path

import pytest

from patchwarden.agent.collectors.base import CollectorFailed, Context
from patchwarden.agent.collectors.rpm import RpmCollector, find_database, parse_rpmdb
from patchwarden.agent.collectors.rpm_manifest import load_rpm_manifest
from patchwarden.core.errors import InventoryError
from patchwarden.core.inventory import Package

CORPUS = Path(__file__).resolve().parents[3] / ".." / "shared" / "corpus"
RPMDB = CORPUS / "hosts" / "rpmdb"

SLE15_NAMES = {
    "system-user-root", "filesystem", "glibc", "libpcre1", "libgmp10", "libgcc_s1", "libcap2",
    "libstdc++6", "libncurses6", "terminfo-base", "libattr1", "libselinux1", "libreadline7",
    "bash", "libacl1", "coreutils", "sles-release", "ca-certificates-mozilla-prebuilt",
    "libpopt0", "file-magic", "libbz2-1", "liblua5_3-5", "liblzma5", "libz1", "libzstd1",
    "libmagic1", "libcrypt1", "libgpg-error0", "libdw1", "libebl-plugins", "libelf1",
    "perl-base", "libgcrypt20", "rpm-config-SUSE", "rpm-ndb",
}  # fmt: skip


def by_name(packages: tuple) -> dict:
    return {p.name: p for p in packages}


def test_sqlite_cbl_mariner() -> None:
    packages, problems = parse_rpmdb(RPMDB / "go-rpmdb/cbl-mariner-2.0/rpmdb.sqlite")
    assert (len(packages), problems) == (129, ())
    assert by_name(packages)["curl"] == Package(
        name="curl",
        version="7.76.0-6.cm2",
        format="rpm",
        arch="x86_64",
        origin="Microsoft Corporation",
    )


def test_ndb_sle15() -> None:
    packages, problems = parse_rpmdb(RPMDB / "go-rpmdb/sle15-bci/Packages.db")
    assert problems == ()
    assert {p.name for p in packages} == SLE15_NAMES
    readline = by_name(packages)["libreadline7"]
    assert (readline.version, readline.source, readline.source_ver) == (
        "7.0-19.6.1",
        "bash",
        "4.4-19.6.1",
    )


def test_bdb_libuuid() -> None:
    packages, problems = parse_rpmdb(RPMDB / "go-rpmdb/libuuid/Packages")
    assert problems == ()
    assert packages == (
        Package(
            name="libuuid",
            version="2.32.1-42.el8_8",
            format="rpm",
            arch="x86_64",
            source_name="util-linux",
            origin="Red Hat, Inc.",
        ),
    )


@pytest.mark.parametrize(
    ("case", "expected"),
    [
        ("osv-scalibr/Packages_epoch", ("hello", "1:0.0.1-rls")),
        ("syft/Packages", ("dive", "0.9.2-1")),
    ],
)
def test_small_bdb_databases(case: str, expected: tuple, tmp_path: Path) -> None:
    # read_blobs picks the format from the file name: give the BDB file its real name.
    db = tmp_path / "Packages"
    shutil.copyfile(RPMDB / case, db)
    packages, _ = parse_rpmdb(db)
    assert [(p.name, p.version) for p in packages] == [expected]


def place(root: Path, case: str, directory: str = "var/lib/rpm") -> Path:
    """Copy a corpus database into `root` under its real file name."""
    name = {"rpmdb.sqlite": "rpmdb.sqlite", "Packages.db": "Packages.db"}.get(
        Path(case).name, "Packages"
    )
    target = root / directory / name
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(RPMDB / case, target)
    return target


def test_collector_prefers_sysimage_and_leaves_no_sqlite_side_files(tmp_path: Path) -> None:
    db = place(tmp_path, "go-rpmdb/cbl-mariner-2.0/rpmdb.sqlite", "usr/lib/sysimage/rpm")
    place(tmp_path, "go-rpmdb/libuuid/Packages")
    assert find_database(Context(root=tmp_path)) == "usr/lib/sysimage/rpm/rpmdb.sqlite"
    part = RpmCollector().collect(Context(root=tmp_path))
    assert len(part.packages) == 129
    assert sorted(p.name for p in db.parent.iterdir()) == ["rpmdb.sqlite"]


@pytest.mark.parametrize(
    ("case", "cut", "message"),
    [
        ("go-rpmdb/libuuid/Packages", 40000, "truncated"),
        ("go-rpmdb/libuuid/Packages", 100, "truncated BerkeleyDB metadata page"),
        ("go-rpmdb/sle15-bci/Packages.db", 1000000, "truncated"),
        ("go-rpmdb/cbl-mariner-2.0/rpmdb.sqlite", 100000, "not a readable rpm SQLite database"),
    ],
)
def test_sad_path_truncated_databases_fail_naming_the_file(
    case: str, cut: int, message: str, tmp_path: Path
) -> None:
    db = place(tmp_path, case)
    db.write_bytes(db.read_bytes()[:cut])
    with pytest.raises(CollectorFailed) as info:
        RpmCollector().collect(Context(root=tmp_path))
    assert info.value.path == f"var/lib/rpm/{db.name}"
    assert message in info.value.message


def test_sad_path_garbage_file_is_not_an_rpm_database(tmp_path: Path) -> None:
    db = tmp_path / "var/lib/rpm/Packages"
    db.parent.mkdir(parents=True)
    db.write_bytes(b"\x7fELF" + bytes(range(256)) * 10)
    with pytest.raises(CollectorFailed, match="var/lib/rpm/Packages: not a BerkeleyDB hash"):
        RpmCollector().collect(Context(root=tmp_path))


def test_sad_path_sqlite_without_packages_table(tmp_path: Path) -> None:
    db = tmp_path / "var/lib/rpm/rpmdb.sqlite"
    db.parent.mkdir(parents=True)
    sqlite3.connect(db).close()
    with pytest.raises(CollectorFailed, match="no such table: Packages"):
        RpmCollector().collect(Context(root=tmp_path))


@pytest.mark.parametrize(
    ("case", "count", "name", "version"),
    [
        ("bdb.rpm-manifest.json", 174, "openssl-libs", "1:1.1.1-8.el8"),
        ("httpd-24_9.5-1734525854.rpm-manifest.json", 243, "httpd", "2.4.62-1.el9"),
        ("nodejs.rpm-manifest.json", 301, "dbus-common", "1:1.12.20-7.el9_1"),
    ],
)
def test_rpm_manifests_load(case: str, count: int, name: str, version: str) -> None:
    packages = load_rpm_manifest(RPMDB / "claircore-rpm-manifest" / case)
    assert len(packages) == count
    assert by_name(packages)[name].version == version


def test_sad_path_bad_manifest_names_file_and_entry(tmp_path: Path) -> None:
    bad = tmp_path / "bad.rpm-manifest.json"
    bad.write_text('{"rpms": [{"name": "x"}]}')
    with pytest.raises(InventoryError, match=r"bad.rpm-manifest.json: rpms\[0\]"):
        load_rpm_manifest(bad)
