"""The `nvd` feed kind: NVD CVE API 2.0 pages and the `nvdcve-2.0-*.json(.gz|.zip)` feed files
become CVE ratings (issue 8, item 3)."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import pytest
from tests.integration.feeds.nvd_docs import SAMPLE, V31, V31_CNA, V40, cve, document, write
from tests.paths import CORPUS

from patchwarden.core.advisory import CveRating, Severity
from patchwarden.core.errors import FeedError
from patchwarden.feeds import FEEDS, detect_kind
from patchwarden.feeds.base import ParseReport


def _parse(path: Path) -> tuple[list[CveRating], ParseReport]:
    report = ParseReport()
    items = list(FEEDS["nvd"].parse(path, report))
    assert all(isinstance(i, CveRating) for i in items)
    return items, report  # type: ignore[return-value]


def _by_id(items: list[CveRating]) -> dict[str, CveRating]:
    return {r.cve: r for r in items}


@pytest.mark.parametrize(
    "name", ["page.json", "nvdcve-2.0-2024.json.gz", "nvdcve-2.0-modified.json"]
)
def test_ratings_from_a_page_and_from_feed_files(tmp_path: Path, name: str) -> None:
    items, report = _parse(write(tmp_path / name, SAMPLE))
    got = _by_id(items)
    assert sorted(got) == ["CVE-2024-0001", "CVE-2024-0002", "CVE-2024-0003", "CVE-2024-0004"]
    assert report.withdrawn == ["CVE-2024-0005"]
    first = got["CVE-2024-0001"]
    # NVD's own (Primary) v3.1 before the CNA's and before v2.
    assert (first.source, first.severity, first.cvss_score, first.cvss_vector) == (
        "nvd",
        Severity.CRITICAL,
        9.8,
        V31,
    )
    assert first.title == "A heap overflow in foo (CVE-2024-0001)."  # English, first line
    assert first.references == ("https://example.org/CVE-2024-0001",)
    assert first.modified == "2024-05-02T12:00:00.000"
    assert (got["CVE-2024-0002"].severity, got["CVE-2024-0002"].cvss_vector) == (
        Severity.MEDIUM,
        V31_CNA,
    )
    assert (got["CVE-2024-0003"].cvss_score, got["CVE-2024-0003"].cvss_vector) == (9.3, V40)
    assert not got["CVE-2024-0004"].rated and got["CVE-2024-0004"].title


def test_zip_feed_and_a_directory_of_pages(tmp_path: Path) -> None:
    with zipfile.ZipFile(tmp_path / "nvdcve-2.0-2024.json.zip", "w") as archive:
        archive.writestr("nvdcve-2.0-2024.json", json.dumps(SAMPLE))
    items, _ = _parse(tmp_path / "nvdcve-2.0-2024.json.zip")
    assert len(items) == 4
    pages = tmp_path / "pages"
    pages.mkdir()
    write(pages / "0.json", document(SAMPLE["vulnerabilities"][0]))
    write(pages / "1.json.gz", document(SAMPLE["vulnerabilities"][1]))
    (pages / "README").write_text("not a page")
    items, report = _parse(pages)
    assert sorted(_by_id(items)) == ["CVE-2024-0001", "CVE-2024-0002"]
    assert report.ignored == ["README"]


def test_a_bad_record_is_skipped_by_id_and_a_bad_metric_dropped(tmp_path: Path) -> None:
    bad_metric = cve("CVE-2024-0007", {"cvssMetricV31": [{"type": "Primary", "cvssData": {}}]})
    doc = document({"cve": {"id": "not-a-cve"}}, bad_metric, "text", SAMPLE["vulnerabilities"][0])
    items, report = _parse(write(tmp_path / "page.json", doc))
    got = _by_id(items)
    assert sorted(got) == ["CVE-2024-0001", "CVE-2024-0007"]
    assert not got["CVE-2024-0007"].rated
    assert [r for r, _ in report.skipped] == ["not-a-cve", "vulnerabilities[2]"]
    assert any("cvssData.vectorString" in w for _, w in report.warnings)


def test_a_score_out_of_range_is_computed_from_the_vector(tmp_path: Path) -> None:
    doc = document(cve("CVE-2024-0008", {"cvssMetricV31": [
        {"type": "Primary", "cvssData": {"vectorString": V31, "baseScore": 98}}
    ]}))  # fmt: skip
    (rating,) = _parse(write(tmp_path / "page.json", doc))[0]
    assert (rating.cvss_score, rating.severity) == (9.8, Severity.CRITICAL)


@pytest.mark.parametrize(
    ("content", "why"),
    [
        (b"[1, 2]", "no JSON object"),
        (b'{"resultsPerPage": 1}', "no `vulnerabilities` list"),
        (b'{"vulnerabilities": [{"cve": {"id": "CVE-2024-0001"}}, ', "not valid JSON"),
        (b"\xff\xfe{", "not UTF-8"),
    ],
    ids=["not an object", "no list", "truncated", "not utf-8"],
)
def test_a_broken_document_is_refused_naming_the_file(
    tmp_path: Path, content: bytes, why: str
) -> None:
    path = tmp_path / "page.json"
    path.write_bytes(content)
    with pytest.raises(FeedError) as caught:
        _parse(path)
    assert str(path) in str(caught.value) and why in str(caught.value)


def test_a_truncated_gzip_is_refused(tmp_path: Path) -> None:
    path = write(tmp_path / "nvdcve-2.0-2024.json.gz", SAMPLE)
    path.write_bytes(path.read_bytes()[:100])
    with pytest.raises(FeedError, match="cannot read"):
        _parse(path)


@pytest.mark.parametrize(
    "name",
    ["nvdcve-2.0-2024.json.gz", "nvdcve-2.0-modified.json.zip", "nvdcve-2.0-recent.json", "x.json"],
)
def test_kind_detection(tmp_path: Path, name: str) -> None:
    path = tmp_path / name
    if name.endswith(".zip"):
        with zipfile.ZipFile(path, "w") as archive:
            archive.writestr("a.json", json.dumps(SAMPLE))
    else:
        write(path, SAMPLE)
    assert detect_kind(path) == "nvd"


def test_kev_is_still_kev() -> None:
    # KEV's JSON has a `vulnerabilities` list too.
    assert detect_kind(CORPUS / "advisories/cisa-kev/known_exploited_vulnerabilities.json") == "kev"
