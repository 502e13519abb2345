"""Archives cannot take the importer's memory, directory feeds cannot leave their root
(issue 9, security review).

The memory test runs `patchwarden feeds import` as a child process on 1 MB archives holding a
1 GiB member (the scheduler runs the same import inside the console) and compares its peak
RSS with the import of a tiny archive: before, the zip took 2.1 GB and the tarball 1.3 GB.
The caps themselves are tested in-process with small values.
"""

from __future__ import annotations

import gzip
import io
import json
import os
import subprocess
import tarfile
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from tests.paths import PATCHWARDEN

from patchwarden.core.errors import FeedError
from patchwarden.feeds import FEEDS, ParseReport, containers, detect_kind

GOOD = json.dumps(
    {
        "id": "PW-GOOD-1",
        "modified": "2024-01-01T00:00:00Z",
        "affected": [
            {
                "package": {"ecosystem": "Debian:12", "name": "openssl"},
                "ranges": [
                    {"type": "ECOSYSTEM", "events": [{"introduced": "0"}, {"fixed": "3.0.11-1"}]}
                ],
            }
        ],
    }
).encode()
GIB = 2**30
RSS_BOUND_MIB = 64
"""Peak RSS an import of a bomb may add over the import of a tiny archive."""


def _parse(kind: str, path: Path) -> tuple[list[Any], ParseReport]:
    report = ParseReport()
    return list(FEEDS[kind].parse(path, report)), report


class _Zeros(io.RawIOBase):
    """`size` zero bytes, streamed (a 1 GiB member is never built in memory)."""

    def __init__(self, size: int) -> None:
        self.left = size

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        n = min(len(buffer), self.left)
        buffer[:n] = bytes(n)
        self.left -= n
        return n


def _zeros(size: int) -> Iterator[bytes]:
    chunk = bytes(2**20)
    for _ in range(size // len(chunk)):
        yield chunk


def zip_bomb(path: Path, size: int = GIB) -> Path:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("good.json", GOOD)
        info = zipfile.ZipInfo("big.json")
        info.compress_type = zipfile.ZIP_DEFLATED
        with archive.open(info, "w", force_zip64=True) as member:
            for chunk in _zeros(size):
                member.write(chunk)
    return path


def tar_bomb(path: Path, size: int = GIB) -> Path:
    with tarfile.open(path, "w:gz", compresslevel=1) as archive:
        info = tarfile.TarInfo("good.json")
        info.size = len(GOOD)
        archive.addfile(info, io.BytesIO(GOOD))
        info = tarfile.TarInfo("big.json")
        info.size = size
        archive.addfile(info, io.BufferedReader(_Zeros(size)))
    return path


def _peak_rss_mib(argv: list[str]) -> tuple[int, str, str]:
    """Run `argv`; (its peak RSS in MiB, stdout, stderr). Exit code 0 is required."""
    with open(os.devnull, "rb") as stdin:
        proc = subprocess.Popen(
            argv, stdin=stdin, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
    # Small outputs: the pipes cannot fill, so waiting first cannot deadlock.
    _, status, usage = os.wait4(proc.pid, 0)
    out, err = proc.stdout.read(), proc.stderr.read()  # type: ignore[union-attr]
    proc.stdout.close()  # type: ignore[union-attr]
    proc.stderr.close()  # type: ignore[union-attr]
    proc.returncode = os.waitstatus_to_exitcode(status)
    assert proc.returncode == 0, err
    return usage.ru_maxrss // 1024, out, err


def epss_bomb(path: Path, size: int = GIB // 4) -> Path:
    """An EPSS .csv.gz: a good row, then a line of `size` bytes (read whole before: csv reads
    line by line), then another good row."""
    with gzip.open(path, "wb", compresslevel=1) as stream:
        stream.write(b"cve,epss,percentile\nCVE-2099-6000,0.5,0.9\n")
        chunk = b"9" * 2**20
        for _ in range(size // len(chunk)):
            stream.write(chunk)
        stream.write(b"\nCVE-2099-6001,0.25,0.5\n")
    return path


def test_importing_archives_with_a_1_gib_member_stays_within_64_mb(tmp_path: Path) -> None:
    tiny = tmp_path / "tiny.zip"
    with zipfile.ZipFile(tiny, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("good.json", GOOD)
    bombs = [
        ("osv", zip_bomb(tmp_path / "bomb.zip")),
        ("osv", tar_bomb(tmp_path / "bomb.tar.gz")),
        ("epss", epss_bomb(tmp_path / "bomb.csv.gz")),
    ]
    assert all(b.stat().st_size < 5 * 2**20 for _, b in bombs)

    def run(kind: str, archive: Path) -> tuple[int, str, str]:
        data_dir = tmp_path / f"data-{archive.name}"
        return _peak_rss_mib(
            [PATCHWARDEN, "feeds", "import", "--data-dir", str(data_dir), f"{kind}:{archive}"]
        )

    base, _, _ = run("osv", tiny)
    for kind, bomb in bombs:
        peak, out, err = run(kind, bomb)
        if kind == "osv":
            assert "1 records stored" in out and "1 skipped" in out, out
            assert "big.json: larger than 8 MiB (1073741824 bytes); not read" in err, err
        else:
            assert "2 records stored" in out and "1 skipped" in out, out
            assert "bomb.csv.gz:3: line over 65536 chars" in err, err
        assert peak - base < RSS_BOUND_MIB, f"{bomb.name}: {peak} MiB vs {base} MiB"


@pytest.fixture
def small_caps(monkeypatch: pytest.MonkeyPatch) -> None:
    """Caps small enough to reach with archives of a few kB."""
    monkeypatch.setattr(containers, "MAX_MEMBER_BYTES", 4096)
    monkeypatch.setattr(containers, "MAX_TOTAL_BYTES", 64 * 1024)
    monkeypatch.setattr(containers, "MAX_MEMBERS", 20)
    monkeypatch.setattr(containers, "MAX_TAR_HEADER_BYTES", 2048)


def _tar(path: Path, members: dict[str, bytes], fmt: int = tarfile.PAX_FORMAT) -> Path:
    with tarfile.open(path, "w:gz", format=fmt) as archive:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
    return path


def _zip(path: Path, members: dict[str, bytes], method: int = zipfile.ZIP_DEFLATED) -> Path:
    with zipfile.ZipFile(path, "w", method) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return path


@pytest.mark.usefixtures("small_caps")
@pytest.mark.parametrize("build", [_zip, _tar], ids=["zip", "tar.gz"])
def test_a_member_over_the_cap_is_skipped_the_rest_read(tmp_path: Path, build: Any) -> None:
    suffix = ".zip" if build is _zip else ".tar.gz"
    path = build(tmp_path / f"a{suffix}", {"good.json": GOOD, "big.json": b" " * 5000})
    items, report = _parse("osv", path)
    assert [a.id for a in items] == ["PW-GOOD-1"]
    assert report.skipped == [("big.json", "larger than 4 KiB (5000 bytes); not read")]


@pytest.mark.usefixtures("small_caps")
@pytest.mark.parametrize("build", [_zip, _tar], ids=["zip", "tar.gz"])
def test_an_archive_inflating_past_the_total_cap_is_refused(tmp_path: Path, build: Any) -> None:
    suffix = ".zip" if build is _zip else ".tar.gz"
    members = {f"r{n}.json": b" " * 4000 for n in range(19)}
    with pytest.raises(FeedError, match="inflates to more than 64 KiB"):
        _parse("osv", build(tmp_path / f"a{suffix}", members))


@pytest.mark.usefixtures("small_caps")
@pytest.mark.parametrize("build", [_zip, _tar], ids=["zip", "tar.gz"])
def test_an_archive_with_too_many_entries_is_refused(tmp_path: Path, build: Any) -> None:
    suffix = ".zip" if build is _zip else ".tar.gz"
    members = {f"r{n}.txt": b"" for n in range(21)}
    with pytest.raises(FeedError, match="entries"):
        _parse("osv", build(tmp_path / f"a{suffix}", members))


@pytest.mark.usefixtures("small_caps")
@pytest.mark.parametrize("fmt", [tarfile.PAX_FORMAT, tarfile.GNU_FORMAT], ids=["pax", "gnu"])
def test_a_tar_header_extension_over_its_cap_is_refused(tmp_path: Path, fmt: int) -> None:
    long_name = "d/" * 2000 + "good.json"  # a pax path header / a GNU long-name header
    path = _tar(tmp_path / "a.tar.gz", {"first.json": GOOD, long_name: GOOD}, fmt)
    with pytest.raises(FeedError, match="header extension of .* bytes"):
        _parse("osv", path)


def test_zip_members_compressed_with_other_methods_are_skipped(tmp_path: Path) -> None:
    # zipfile inflates bzip2 and lzma members in one call however large the result.
    path = _zip(tmp_path / "bz.zip", {"good.json": GOOD}, zipfile.ZIP_BZIP2)
    items, report = _parse("osv", path)
    assert items == []
    assert report.skipped == [
        ("good.json", "compressed with method 12; only stored and deflated members are read")
    ]


def test_member_names_with_dot_dot_are_labels_only(tmp_path: Path) -> None:
    work = tmp_path / "work"
    work.mkdir()
    path = _tar(work / "a.tar.gz", {"../../escaped.json": GOOD})
    items, _ = _parse("osv", path)
    assert [a.id for a in items] == ["PW-GOOD-1"]
    assert not list(tmp_path.rglob("escaped.json"))


# -- directory feeds and symbolic links -----------------------------------------------------


@pytest.fixture
def linked_dir(tmp_path: Path) -> Path:
    """An OSV directory with a link out of it (to a file and a directory), one inside, one
    to nothing."""
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.json").write_bytes(GOOD.replace(b"PW-GOOD-1", b"PW-OUTSIDE"))
    root = tmp_path / "feed"
    (root / "sub").mkdir(parents=True)
    (root / "sub" / "real.json").write_bytes(GOOD)
    (root / "out.json").symlink_to(outside / "secret.json")
    (root / "outdir").symlink_to(outside, target_is_directory=True)
    (root / "in.json").symlink_to(root / "sub" / "real.json")
    (root / "gone.json").symlink_to(root / "nothing.json")
    return root


def test_directory_feeds_do_not_follow_links_out_of_their_root(linked_dir: Path) -> None:
    items, report = _parse("osv", linked_dir)
    # The link inside is read like its target (the same record twice, the store keeps one).
    assert [a.id for a in items] == ["PW-GOOD-1", "PW-GOOD-1"]
    assert sorted(report.skipped) == [
        ("gone.json", "symbolic link to nothing; not followed"),
        ("out.json", "symbolic link out of the feed directory"),
        ("outdir", "symbolic link out of the feed directory"),
    ]


def test_other_directory_feeds_skip_links_out_too(tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    dsa = Path(__file__).parents[2] / "data/feeds/debian/mixed.list"
    (outside / "DSA.list").write_bytes(dsa.read_bytes())
    uct = Path(__file__).parents[2] / "data/feeds/uct/CVE-2099-1000"
    (outside / "CVE-2099-1000").write_bytes(uct.read_bytes())
    (outside / "main.yaml").write_text("distroversion: v3.99\npackages: []\n")
    for kind, name in [
        ("debian-tracker", "DSA.list"),
        ("ubuntu-uct", "CVE-2099-1000"),
        ("alpine-secdb", "main.yaml"),
    ]:
        root = tmp_path / kind
        root.mkdir()
        (root / name).symlink_to(outside / name)
        items, report = _parse(kind, root)
        assert items == [], kind
        assert report.skipped == [(name, "symbolic link out of the feed directory")], kind


def test_kind_detection_does_not_read_links_out_of_the_directory(tmp_path: Path) -> None:
    outside = tmp_path / "outside.json"
    outside.write_bytes(GOOD)
    root = tmp_path / "feed"
    root.mkdir()
    (root / "a.json").symlink_to(outside)
    with pytest.raises(FeedError, match="cannot tell which feed"):
        detect_kind(root)


@pytest.mark.usefixtures("small_caps")
def test_kind_detection_refuses_a_huge_tar_header_without_reading_it(tmp_path: Path) -> None:
    path = _tar(tmp_path / "a.tar.gz", {"d/" * 2000 + "x.json": GOOD}, tarfile.GNU_FORMAT)
    with pytest.raises(FeedError, match="header extension of .* bytes"):
        detect_kind(path)
