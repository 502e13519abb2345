"""One hostile record never aborts an import (issue 9, security review; STYLE E4).

Each parser gets good records around one that used to raise out of it (nested 5,000 deep,
an id with an escaped lone surrogate, NUL, a NaN, a number or field too long, bytes that are
no UTF-8): the bad one is skipped with its reason and counted, the good ones are kept, and
`patchwarden feeds import` exits 0 saying how many it skipped.
"""

from __future__ import annotations

import gzip
import json
import subprocess
from pathlib import Path
from typing import Any

import pytest
from tests.paths import PATCHWARDEN

from patchwarden.core.advisory import Advisory
from patchwarden.core.errors import FeedError
from patchwarden.feeds import FEEDS, ParseReport
from patchwarden.feeds.base import MAX_KEPT, MAX_REASON

DEEP = "[" * 5000 + "]" * 5000


def _parse(kind: str, path: Path) -> tuple[list[Any], ParseReport]:
    report = ParseReport()
    return list(FEEDS[kind].parse(path, report)), report


def _osv(rid: str, **extra: Any) -> dict[str, Any]:
    record = {
        "id": rid,
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
    record.update(extra)
    return record


def _osv_dir(tmp_path: Path) -> Path:
    root = tmp_path / "osv"
    root.mkdir()
    (root / "good-1.json").write_text(json.dumps(_osv("PW-GOOD-1")))
    (root / "good-2.yaml").write_text("id: PW-GOOD-2\nmodified: '2024-01-01T00:00:00Z'\n")
    (root / "deep.json").write_text('{"id": "PW-DEEP", "details": ' + DEEP + "}")
    (root / "deep-list.json").write_text(DEEP)
    (root / "deep.yaml").write_text("id: PW-DEEP-Y\ndetails: " + DEEP + "\n")
    (root / "surrogate.json").write_text(json.dumps(_osv("PW-SURR-\ud800")))
    (root / "nul.json").write_text(json.dumps(_osv("PW-NUL", summary="a\x00b")))
    nul_version = _osv("PW-NUL-VERSION")
    nul_version["affected"][0]["ranges"][0]["events"][1]["fixed"] = "3.0\x00"
    (root / "nul-version.json").write_text(json.dumps(nul_version))
    # A number int() refuses anywhere in the record: kept as text, the record stays good.
    (root / "big-number.json").write_text(
        json.dumps(_osv("PW-BIG-NUMBER"))[:-1] + ', "x": ' + "9" * 5000 + "}"
    )
    # A 5,000-digit fixed version is storable: matching skips it later (test_long_versions).
    (root / "long-fixed.json").write_text(
        json.dumps(_osv("PW-LONG-FIXED")).replace("3.0.11-1", "1" * 5000)
    )
    # A list where an event should be, nested deep: its repr in the reason is cut short.
    deep_event = _osv("PW-DEEP-EVENT")
    deep_event["affected"][0]["ranges"][0]["events"].append({"fixed": [[[["x" * 2000]]]]})
    (root / "deep-event.json").write_text(json.dumps(deep_event))
    return root


def test_osv_directory_skips_each_hostile_record_and_keeps_the_rest(tmp_path: Path) -> None:
    items, report = _parse("osv", _osv_dir(tmp_path))
    assert sorted(a.id for a in items) == [
        "PW-BIG-NUMBER",
        "PW-GOOD-1",
        "PW-GOOD-2",
        "PW-LONG-FIXED",
    ]
    skipped = dict(report.skipped)
    assert skipped["deep.json"] == "not valid JSON: nested too deeply"
    assert skipped["deep-list.json"] == "not valid JSON: nested too deeply"
    assert skipped["deep.yaml"].startswith("not valid YAML")
    assert skipped["PW-SURR-\\ud800"] == (
        "advisory.id contains a lone surrogate (U+D800), not valid Unicode"
    )
    assert skipped["PW-NUL"] == "advisory.summary contains a NUL character"
    assert skipped["PW-NUL-VERSION"] == (
        "advisory.affected[0].ranges[0].events[1].version contains a NUL character"
    )
    assert "without a version string" in skipped["PW-DEEP-EVENT"]
    assert all(len(why) <= MAX_REASON + 40 for why in skipped.values())
    assert report.skip_count == len(report.skipped) == 7
    assert report.parsed == 4


def test_single_osv_file_nested_too_deep_is_a_feed_error(tmp_path: Path) -> None:
    path = tmp_path / "deep.json"
    path.write_text(DEEP)
    with pytest.raises(FeedError, match=r"deep\.json: not valid JSON: nested too deeply"):
        _parse("osv", path)


def test_feeds_import_exits_0_and_says_how_many_it_skipped(tmp_path: Path) -> None:
    root = _osv_dir(tmp_path)
    proc = subprocess.run(
        [PATCHWARDEN, "feeds", "import", "--data-dir", str(tmp_path / "data"), f"osv:{root}"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    assert "4 records stored" in proc.stdout and "7 skipped" in proc.stdout, proc.stdout
    assert "Traceback" not in proc.stderr
    assert "PW-NUL: advisory.summary contains a NUL character" in proc.stderr


def test_debian_tracker_json_skips_the_one_bad_cve(tmp_path: Path) -> None:
    release = {"status": "resolved", "fixed_version": "1.2-1", "urgency": "low"}
    doc = {
        "foo": {
            "CVE-2099-0001": {"description": "good", "releases": {"bookworm": release}},
            "CVE-2099-0002": {
                "description": "bad",
                "releases": {"bookworm": {**release, "fixed_version": "1.2\x00"}},
            },
            "CVE-2099-0003": {"description": "surrogate \ud800", "releases": {}},
            "CVE-2099-0004": {"description": "odd bug", "debianbug": [[["x"]]], "releases": {}},
        }
    }
    path = tmp_path / "tracker.json"
    path.write_text(json.dumps(doc))
    items, report = _parse("debian-tracker", path)
    assert sorted(a.id for a in items) == ["CVE-2099-0001", "CVE-2099-0004"]
    assert [rid for rid, _ in report.skipped] == ["CVE-2099-0002", "CVE-2099-0003"]


def test_debian_list_byte_that_is_no_utf8_spoils_one_advisory(tmp_path: Path) -> None:
    text = (
        b"[29 Mar 2023] DSA-9001-1 foo - security update\n"
        b"\t{CVE-2099-2001}\n"
        b"\t[bullseye] - foo 1.2-3+deb11u1\n"
        b"[28 Mar 2023] DSA-9000-1 bar - security \xff update\n"
        b"\t{CVE-2099-2000}\n"
        b"\t[bullseye] - bar 1.0-1\n"
        b"[27 Mar 2023] DSA-8999-1 baz - security update\n"
        b"\t[bullseye] - baz 1.0\x00-1\n"
    )
    path = tmp_path / "DSA.list"
    path.write_bytes(text)
    items, report = _parse("debian-tracker", path)
    assert [a.id for a in items] == ["DSA-9001-1"]
    assert [rid for rid, _ in report.skipped] == ["DSA-9000-1", "DSA-8999-1"]
    assert "lone surrogate" in report.skipped[0][1]


def test_ubuntu_tracker_file_with_nul_is_skipped(tmp_path: Path) -> None:
    good = (Path(__file__).parents[2] / "data/feeds/uct/CVE-2099-1000").read_text()
    root = tmp_path / "uct"
    root.mkdir()
    (root / "CVE-2099-1000").write_text(good)
    (root / "CVE-2099-1001").write_text(good.replace("CVE-2099-1000", "CVE-2099-1001\x00"))
    items, report = _parse("ubuntu-uct", root)
    assert [a.id for a in items] == ["CVE-2099-1000"]
    assert report.skipped == [("CVE-2099-1001\\x00", "advisory.id contains a NUL character")]


def test_alpine_skips_one_package_and_one_bad_file_of_a_directory(tmp_path: Path) -> None:
    root = tmp_path / "v3.99"
    root.mkdir()
    (root / "main.yaml").write_text(
        "distroversion: v3.99\npackages:\n"
        "  - pkg:\n      name: foo\n      secfixes:\n        1.2-r0:\n          - CVE-2099-4000\n"
        '  - pkg:\n      name: bar\n      secfixes:\n        "1.2\\0-r0":\n'
        "          - CVE-2099-4001\n"
    )
    (root / "community.yaml").write_text("distroversion: [1, 2\n")
    items, report = _parse("alpine-secdb", tmp_path)
    assert [a.id for a in items if isinstance(a, Advisory)] == ["CVE-2099-4000"]
    skipped = dict(report.skipped)
    assert skipped["v3.99/community.yaml"].startswith("not valid YAML")
    assert skipped["Alpine:v3.99/bar"] == (
        "affected.ranges[0].events[1].version contains a NUL character"
    )


def test_kev_rows_that_cannot_be_stored_or_read_are_skipped(tmp_path: Path) -> None:
    rows = [
        {"cveID": "CVE-2099-5000", "vendorProject": "good"},
        {"cveID": "CVE-2099-5001", "vendorProject": "nul\x00"},
        {"cveID": "CVE-\u0662\u0660\u0662\u0661-1234"},  # Arabic-Indic digits: no CVE id
    ]
    path = tmp_path / "kev.json"
    path.write_text(json.dumps({"vulnerabilities": rows}))
    items, report = _parse("kev", path)
    assert [e.cve for e in items] == ["CVE-2099-5000"]
    assert [rid for rid, _ in report.skipped] == ["CVE-2099-5001", "vulnerabilities[2]"]

    csv_path = tmp_path / "kev.csv"
    csv_path.write_bytes(
        b"cveID,vendorProject,product,dateAdded\n"
        b"CVE-2099-5000,good,p,2024-01-01\n"
        b"CVE-2099-5002,bad \xff byte,p,2024-01-01\n"
        b'CVE-2099-5003,"' + b"x" * 200_000 + b'",p,2024-01-01\n'
        b"CVE-2099-5004,good,p,2024-01-01\n"
    )
    items, report = _parse("kev", csv_path)
    assert [e.cve for e in items] == ["CVE-2099-5000", "CVE-2099-5004"]
    assert report.skip_count == 2
    assert "lone surrogate" in dict(report.skipped)["CVE-2099-5002"]


@pytest.mark.parametrize("compressed", [False, True], ids=["csv", "csv.gz"])
def test_epss_rows_with_nan_out_of_range_or_huge_fields_are_skipped(
    tmp_path: Path, compressed: bool
) -> None:
    text = (
        b"cve,epss,percentile\n"
        b"CVE-2099-6000,0.5,0.9\n"
        b"CVE-2099-6001,nan,0.9\n"
        b"CVE-2099-6002,1.5,0.9\n"
        b'CVE-2099-6003,"' + b"9" * 200_000 + b'",0.9\n'
        b"CVE-2099-6004,0.\xff,0.9\n"
        b"CVE-2099-6005,0.25,0.5\n"
    )
    path = tmp_path / ("epss.csv.gz" if compressed else "epss.csv")
    path.write_bytes(gzip.compress(text) if compressed else text)
    items, report = _parse("epss", path)
    assert [(s.cve, s.epss) for s in items] == [("CVE-2099-6000", 0.5), ("CVE-2099-6005", 0.25)]
    assert report.skip_count == 4


def test_a_million_bad_rows_keep_only_the_first_in_detail(tmp_path: Path) -> None:
    path = tmp_path / "epss.csv"
    path.write_text("cve,epss,percentile\n" + "bad,row,here\n" * (MAX_KEPT * 3))
    items, report = _parse("epss", path)
    assert items == []
    assert report.skip_count == MAX_KEPT * 3
    assert len(report.skipped) == MAX_KEPT


def test_epss_line_too_long_is_skipped_and_a_file_too_long_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from patchwarden.feeds import epss

    monkeypatch.setattr(epss, "MAX_LINE", 100)
    path = tmp_path / "epss.csv"
    path.write_text(
        "cve,epss,percentile\nCVE-2099-6000,0.5,0.9\n"
        + "x" * 1000  # no newline for 1000 characters
        + "\nCVE-2099-6001,0.25,0.5\n"
    )
    items, report = _parse("epss", path)
    assert [s.cve for s in items] == ["CVE-2099-6000", "CVE-2099-6001"]
    assert report.skipped == [("epss.csv:3", "line over 100 chars")]

    monkeypatch.setattr(epss, "MAX_CHARACTERS", 500)
    with pytest.raises(FeedError, match="epss.csv: more than 500 characters"):
        _parse("epss", path)
