"""Bad input: whole-input problems raise FeedError naming the path; bad records are counted."""

from __future__ import annotations

import gzip
import io
import shutil
import tarfile
import zipfile
from pathlib import Path
from typing import Any

import pytest

from patchwarden.core.advisory import Advisory, VendorStatus
from patchwarden.core.errors import FeedError
from patchwarden.feeds import FEEDS, ParseReport, detect_kind

DATA = Path(__file__).resolve().parents[2] / "data" / "feeds"
OSV_BAD = ["missing-id.json", "unknown-event.json", "bad-schema.json"]


def _parse(kind: str, path: Path) -> tuple[list[Any], ParseReport]:
    report = ParseReport()
    return list(FEEDS[kind].parse(path, report)), report


def _osv_tar(tmp_path: Path, suffix: str, copies: int = 40) -> Path:
    """A tarball of the crafted OSV records plus `copies` renamed good ones."""
    path = tmp_path / f"osv{suffix}"
    good = (DATA / "osv/good.json").read_bytes()
    mode = "w:gz" if suffix.endswith("gz") else "w:xz"
    with tarfile.open(path, mode) as archive:
        for name in sorted(p.name for p in (DATA / "osv").iterdir()):
            archive.add(DATA / "osv" / name, arcname=f"osv/{name}")
        for n in range(copies):
            data = good.replace(b"PW-TEST-0001", f"PW-COPY-{n:04d}".encode())
            info = tarfile.TarInfo(f"osv/copy-{n:04d}.json")
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
    return path


def test_osv_directory_counts_each_kind_of_bad_record(tmp_path: Path) -> None:
    items, report = _parse("osv", DATA / "osv")
    assert [a.id for a in items] == ["PW-TEST-0005", "PW-TEST-0001"]  # bad-vector.yaml, good
    skipped = dict(report.skipped)
    assert skipped["missing-id.json"] == "record has no string `id`"
    assert "unknown event kind 'patched'" in skipped["PW-TEST-0002"]
    assert "unsupported schema_version '2.0.0'" in skipped["PW-TEST-0003"]
    assert "not valid JSON" in skipped["not-json.json"]
    assert len(report.skipped) == 4
    assert report.withdrawn == ["PW-TEST-0004"]  # apart from malformed
    assert any("AV:X" in what for rid, what in report.warnings if rid == "PW-TEST-0005")
    assert ("PW-TEST-0001", "reference {'type': 'WEB'} has no url; dropped") in report.warnings


def test_good_crafted_record() -> None:
    (adv,), _ = _parse("osv", DATA / "osv/good.json")
    assert adv.aliases == ("CVE-2099-0001", "CVE-2099-0002")
    assert adv.cvss_score == 9.8
    by_name = {a.package.name: a for a in adv.affected}
    assert by_name["bar"].status is VendorStatus.FIXED  # last_affected
    assert by_name["baz"].status is VendorStatus.AFFECTED
    assert by_name["baz"].binaries == ("libbaz1",)


@pytest.mark.parametrize("name", OSV_BAD)
def test_single_bad_record_file_is_counted_not_raised(name: str) -> None:
    items, report = _parse("osv", DATA / "osv" / name)
    assert items == []
    assert len(report.skipped) == 1


def test_single_file_that_is_not_json_is_a_feed_error() -> None:
    with pytest.raises(FeedError, match=r"not-json\.json: .*not valid JSON"):
        _parse("osv", DATA / "osv/not-json.json")


def test_missing_path_is_a_feed_error(tmp_path: Path) -> None:
    for kind in FEEDS:
        with pytest.raises(FeedError, match="no such file or directory"):
            _parse(kind, tmp_path / "nope.json")


@pytest.mark.parametrize("suffix", [".tar.gz", ".tar.xz"])
def test_osv_tarball_streams_like_a_directory(tmp_path: Path, suffix: str) -> None:
    items, report = _parse("osv", _osv_tar(tmp_path, suffix))
    assert len(items) == 42
    assert len(report.skipped) == 4 and report.withdrawn == ["PW-TEST-0004"]


@pytest.mark.parametrize("suffix", [".tar.gz", ".tar.xz"])
def test_truncated_tarball_is_a_feed_error_naming_it(tmp_path: Path, suffix: str) -> None:
    whole = _osv_tar(tmp_path, suffix, copies=400)
    cut = tmp_path / f"cut{suffix}"
    cut.write_bytes(whole.read_bytes()[: whole.stat().st_size * 2 // 3])
    report = ParseReport()
    with pytest.raises(FeedError, match=rf"cut{suffix}: truncated or corrupt tar archive"):
        for _ in FEEDS["osv"].parse(cut, report):
            pass
    assert report.parsed > 0  # the records before the damage were streamed out


def test_osv_zip_and_corrupt_zip(tmp_path: Path) -> None:
    good = tmp_path / "all.zip"
    with zipfile.ZipFile(good, "w") as archive:
        for path in sorted((DATA / "osv").iterdir()):
            archive.write(path, path.name)
    items, report = _parse("osv", good)
    assert [a.id for a in items] == ["PW-TEST-0005", "PW-TEST-0001"]
    assert len(report.skipped) == 4
    bad = tmp_path / "bad.zip"
    bad.write_bytes(good.read_bytes()[:200])
    with pytest.raises(FeedError, match=r"bad\.zip: truncated or corrupt zip archive"):
        _parse("osv", bad)


def test_uct_crafted_file_and_missing_candidate() -> None:
    items, report = _parse("ubuntu-uct", DATA / "uct")
    (adv,) = items
    assert adv.id == "CVE-2099-1000"
    assert report.skipped == []
    assert report.ignored == ["no-candidate"]  # not named CVE-*: not a tracker file
    by_key = {(a.package.ecosystem, a.package.name): a for a in adv.affected}
    assert by_key[("Ubuntu:18.04:LTS", "foo")].status is VendorStatus.FIXED
    assert by_key[("Ubuntu:18.04:LTS", "bar")].status is VendorStatus.NOT_AFFECTED
    assert by_key[("Ubuntu:16.04:LTS", "bar")].status is VendorStatus.FIX_DEFERRED
    assert by_key[("Ubuntu:16.04:LTS", "foo")].status is VendorStatus.AFFECTED  # ESM-only fix
    assert by_key[("Ubuntu:Pro:16.04:LTS", "foo")].status is VendorStatus.FIXED
    assert by_key[("Ubuntu:19.10", "foo")].note == "fix pending publication: 1.4-1ubuntu1"
    assert by_key[("Ubuntu:18.04:LTS", "bar")].severity is not None
    assert any("groovy2" in what for _, what in report.warnings)


def test_uct_file_without_candidate_is_counted(tmp_path: Path) -> None:
    target = tmp_path / "CVE-2099-0000"
    shutil.copy(DATA / "uct/no-candidate", target)
    items, report = _parse("ubuntu-uct", tmp_path)
    assert items == []
    assert report.skipped == [("CVE-2099-0000", "no Candidate field")]


def test_debian_list_with_bad_entries() -> None:
    items, report = _parse("debian-tracker", DATA / "debian/mixed.list")
    assert [a.id for a in items] == ["DSA-9001-1", "DTSA-1-1"]
    assert [rid for rid, _ in report.skipped] == ["DSA-9000-1", "DSA-8999-1"]
    assert items[0].aliases == ("CVE-2099-2001", "CVE-2099-2002")
    assert items[1].published == "2005-08-26"


def test_tracker_json_with_bad_entries() -> None:
    items, report = _parse("debian-tracker", DATA / "debian/tracker-bad.json")
    (adv,) = items
    statuses = {a.package.ecosystem: a.status for a in adv.affected}
    assert statuses == {
        "Debian:12": VendorStatus.FIX_DEFERRED,
        "Debian:11": VendorStatus.WILL_NOT_FIX,
        "Debian:13": VendorStatus.UNDER_INVESTIGATION,
        "Debian:unstable": VendorStatus.FIXED,
        "Debian:10": VendorStatus.END_OF_LIFE,
        "Debian:1.3": VendorStatus.NOT_AFFECTED,
    }
    assert sorted(rid for rid, _ in report.skipped) == ["CVE-2099-3001", "bar"]


def test_tracker_json_that_is_not_json(tmp_path: Path) -> None:
    path = tmp_path / "tracker.json"
    path.write_text('{"foo": {"CVE-1": ')
    with pytest.raises(FeedError, match=r"tracker\.json: not valid JSON"):
        _parse("debian-tracker", path)


def test_alpine_bad_entries() -> None:
    items, report = _parse("alpine-secdb", DATA / "alpine/bad.yaml")
    by_id = {a.id: a for a in items if isinstance(a, Advisory)}
    assert set(by_id) == {"CVE-2099-4000", "CVE-2099-4001", "XSA-999", "CVE-2099-4002"}
    assert by_id["CVE-2099-4001"].aliases == ("TALOS-2099-0001",)
    assert by_id["CVE-2099-4002"].affected[0].status is VendorStatus.NOT_AFFECTED
    assert len(report.skipped) == 2  # a pkg without name, a list item that is no package
    assert len(report.warnings) == 2  # "(no id here)", `1.3-r0:` with no ids


def test_alpine_not_secdb(tmp_path: Path) -> None:
    path = tmp_path / "x.yaml"
    path.write_text("foo: [1, 2\n")
    with pytest.raises(FeedError, match=r"x\.yaml: not valid YAML"):
        _parse("alpine-secdb", path)
    path.write_text("foo: 1\n")
    with pytest.raises(FeedError, match="no distroversion"):
        _parse("alpine-secdb", path)


def test_kev_bad_rows_and_count() -> None:
    items, report = _parse("kev", DATA / "kev/bad.json")
    assert [(e.cve, e.ransomware) for e in items] == [("CVE-2099-5000", True)]
    assert [rid for rid, _ in report.skipped] == ["vulnerabilities[1]", "vulnerabilities[2]"]


def test_kev_not_a_catalogue(tmp_path: Path) -> None:
    path = tmp_path / "kev.json"
    path.write_text('{"hello": 1}')
    with pytest.raises(FeedError, match="not a KEV catalogue"):
        _parse("kev", path)
    with pytest.raises(FeedError, match="is a directory"):
        _parse("kev", tmp_path)


def test_epss_bad_rows_plain_and_gzip(tmp_path: Path) -> None:
    plain = DATA / "epss/bad-rows.csv"
    zipped = tmp_path / "epss.csv.gz"
    zipped.write_bytes(gzip.compress(plain.read_bytes()))
    for path in (plain, zipped):
        items, report = _parse("epss", path)
        assert [(s.cve, s.date) for s in items] == [
            ("CVE-2099-6000", "2099-01-02"),
            ("CVE-2099-6003", "2099-01-02"),
        ]
        assert [rid for rid, _ in report.skipped] == [f"{path.name}:4", f"{path.name}:5"]


def test_epss_wrong_header_and_truncated_gzip(tmp_path: Path) -> None:
    with pytest.raises(FeedError, match="not an EPSS CSV"):
        _parse("epss", DATA / "epss/not-epss.csv")
    big = "cve,epss,percentile\n" + "".join(f"CVE-2099-{n},0.1,0.2\n" for n in range(20000))
    data = gzip.compress(big.encode())
    cut = tmp_path / "cut.csv.gz"
    cut.write_bytes(data[: len(data) // 2])
    with pytest.raises(FeedError, match=r"cut\.csv\.gz: unreadable EPSS file"):
        _parse("epss", cut)


@pytest.mark.parametrize(
    ("rel", "kind"),
    [
        ("osv/good.json", "osv"),
        ("osv/bad-vector.yaml", "osv"),
        ("uct/CVE-2099-1000", "ubuntu-uct"),
        ("debian/mixed.list", "debian-tracker"),
        ("debian/tracker-bad.json", "debian-tracker"),
        ("alpine/bad.yaml", "alpine-secdb"),
        ("kev/bad.json", "kev"),
        ("epss/bad-rows.csv", "epss"),
        ("osv", "osv"),
        ("uct", "ubuntu-uct"),
    ],
)
def test_detect_kind_of_crafted_files(rel: str, kind: str) -> None:
    assert detect_kind(DATA / rel) == kind


def test_detect_kind_of_archives(tmp_path: Path) -> None:
    assert detect_kind(_osv_tar(tmp_path, ".tar.gz", copies=1)) == "osv"
    uct = tmp_path / "uct.tar.xz"
    with tarfile.open(uct, "w:xz") as archive:
        archive.add(DATA / "uct/CVE-2099-1000", arcname="active/CVE-2099-1000")
    assert detect_kind(uct) == "ubuntu-uct"
    zipped = tmp_path / "all.zip"
    with zipfile.ZipFile(zipped, "w") as archive:
        archive.write(DATA / "osv/good.json", "PW-TEST-0001.json")
    assert detect_kind(zipped) == "osv"


def test_detect_kind_unknown(tmp_path: Path) -> None:
    path = tmp_path / "notes.txt"
    path.write_text("hello")
    with pytest.raises(FeedError, match="give it as KIND:PATH"):
        detect_kind(path)
    with pytest.raises(FeedError, match="no such file"):
        detect_kind(tmp_path / "missing")
