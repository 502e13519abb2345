"""NVD CVE records (CVE API 2.0 JSON) -> `CveRating`: NVD's CVSS rating of each CVE.

Reads the documents of the NVD CVE API 2.0 (https://nvd.nist.gov/developers/vulnerabilities:
`{"resultsPerPage", "startIndex", "totalResults", "format": "NVD_CVE", "version": "2.0",
"timestamp", "vulnerabilities": [{"cve": {...}}]}`), as one saved API page or as the NVD
"2.0 JSON Feeds" files of the same schema (https://nvd.nist.gov/vuln/data-feeds:
`https://nvd.nist.gov/feeds/json/cve/2.0/nvdcve-2.0-YYYY.json.gz`, `…-modified.json.gz`,
`…-recent.json.gz`; `.json.zip` twins), plain, gzipped or zipped, or a directory of them.

Of each `cve` it keeps `id`, the English `descriptions` entry (the title), `references[].url`,
`lastModified`, and one CVSS rating from `metrics`: NVD's own (`type: Primary`) before the
CNA's (`Secondary`), CVSS v3.1 before v3.0, v4.0 and v2 (`cvssData.baseScore`,
`vectorString`, `baseSeverity`; v2 keeps `baseSeverity` beside `cvssData`). NVD describes
CVEs, not affected package versions (its CPE configurations do not name distro packages), so
the ratings feed the rating index only. `Rejected` CVEs are left out as withdrawn.

The array is decoded one record at a time (`json.JSONDecoder.raw_decode`), so a yearly file
(some 200 MB of JSON) never exists as one Python object tree.
"""

from __future__ import annotations

import gzip
import json
import re
import zipfile
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from patchwarden.core.advisory import CveRating, Severity
from patchwarden.core.errors import FeedError, MalformedRecord
from patchwarden.core.ratings import MAX_INDEX_REFERENCES, title_of, urls
from patchwarden.feeds.base import FeedItem, FeedParser, ParseReport
from patchwarden.feeds.containers import dir_files
from patchwarden.feeds.scoring import base_score

MAX_DOCUMENT_BYTES = 2 * 2**30
"""Largest NVD document read (decompressed); the 2024 yearly feed is about 10 % of it."""
_CVE = re.compile(r"^CVE-[0-9]{4}-[0-9]{4,}$")
_METRICS = ("cvssMetricV31", "cvssMetricV30", "cvssMetricV40", "cvssMetricV2")
"""Preferred CVSS versions, best first (v3 is what distros and scanners rank by)."""
_SUFFIXES = (".json", ".json.gz", ".json.zip")
_WS = re.compile(r"[ \t\n\r]*")


class NvdParser(FeedParser):
    """NVD CVE API 2.0 pages and `nvdcve-2.0-*.json(.gz|.zip)` feed files (or a dir of them)."""

    kind = "nvd"
    version = 1
    description = "NVD CVE API 2.0 JSON: an API page, nvdcve-2.0-*.json.gz feeds, or a dir"

    def _parse(self, path: Path, report: ParseReport) -> Iterator[FeedItem]:
        if not path.is_dir():
            yield from _document(path, report)
            return
        for rel, full in dir_files(path, report.skip, report.ignored):
            if rel.lower().endswith(_SUFFIXES):
                yield from _document(full, report)
            else:
                report.ignored.append(rel)


def _document(path: Path, report: ParseReport) -> Iterator[CveRating]:
    text = _text(path)
    for index, raw in _records(path, text):
        record_id = _record_id(raw, index)
        if isinstance(raw, dict) and isinstance(raw.get("cve"), dict):
            status = raw["cve"].get("vulnStatus")
            if status == "Rejected":
                report.withdrawn.append(record_id)
                continue
        rating = report.attempt(record_id, parse_cve, raw, record_id, report)
        if rating is not None:
            yield rating


def _text(path: Path) -> str:
    """The document's text, decompressed; FeedError when it cannot be read."""
    name = path.name.lower()
    try:
        if name.endswith(".zip"):
            with zipfile.ZipFile(path) as archive:
                members = [i for i in archive.infolist() if not i.is_dir()]
                if len(members) != 1:
                    raise FeedError(
                        f"{path}: an NVD zip holds one JSON file, this one has {len(members)}"
                    )
                if members[0].file_size > MAX_DOCUMENT_BYTES:
                    raise FeedError(f"{path}: larger than {MAX_DOCUMENT_BYTES} bytes unpacked")
                with archive.open(members[0]) as stream:
                    data = stream.read(MAX_DOCUMENT_BYTES + 1)
        elif name.endswith(".gz"):
            with gzip.open(path, "rb") as stream:
                data = stream.read(MAX_DOCUMENT_BYTES + 1)
        else:
            with path.open("rb") as stream:
                data = stream.read(MAX_DOCUMENT_BYTES + 1)
    except (OSError, EOFError, zlib.error, zipfile.BadZipFile) as exc:
        raise FeedError(f"{path}: cannot read: {exc}") from exc
    if len(data) > MAX_DOCUMENT_BYTES:
        raise FeedError(f"{path}: larger than {MAX_DOCUMENT_BYTES} bytes unpacked; not read")
    try:
        return data.decode("utf-8").lstrip("\ufeff")
    except UnicodeDecodeError as exc:
        raise FeedError(f"{path}: not UTF-8 text: {exc}") from None


def _records(path: Path, text: str) -> Iterator[tuple[int, Any]]:
    """(index, decoded element) of the top-level `vulnerabilities` array, one at a time.

    The top-level object is walked key by key; other values are decoded and dropped (they
    are a few numbers and strings). A broken element ends the document: JSON cannot be
    resynchronised inside an array.
    """
    decoder = json.JSONDecoder()
    pos = _skip(text, 0)
    if not text.startswith("{", pos):
        raise FeedError(f"{path}: not an NVD CVE document (no JSON object)")
    pos = _skip(text, pos + 1)
    found = False
    while not text.startswith("}", pos):
        try:
            key, pos = decoder.raw_decode(text, pos)
            pos = _skip(text, pos)
            if not text.startswith(":", pos):
                raise ValueError("':' expected")
            pos = _skip(text, pos + 1)
            if key == "vulnerabilities" and text.startswith("[", pos):
                found = True
                pos = _skip(text, pos + 1)
                index = 0
                while not text.startswith("]", pos):
                    item, pos = decoder.raw_decode(text, pos)
                    yield index, item
                    index += 1
                    pos = _skip(text, pos)
                    if text.startswith(",", pos):
                        pos = _skip(text, pos + 1)
                    elif not text.startswith("]", pos):
                        raise ValueError("',' or ']' expected in vulnerabilities")
                pos += 1
            else:
                _, pos = decoder.raw_decode(text, pos)
        except RecursionError:
            raise FeedError(f"{path}: not valid JSON: nested too deeply") from None
        except ValueError as exc:
            raise FeedError(f"{path}: not valid JSON near character {pos}: {exc}") from exc
        pos = _skip(text, pos)
        if text.startswith(",", pos):
            pos = _skip(text, pos + 1)
        elif not text.startswith("}", pos):
            raise FeedError(f"{path}: not valid JSON near character {pos}")
    if not found:
        raise FeedError(f"{path}: not an NVD CVE document (no `vulnerabilities` list)")


def _skip(text: str, pos: int) -> int:
    match = _WS.match(text, pos)
    return match.end() if match else pos


def _record_id(raw: Any, index: int) -> str:
    if isinstance(raw, dict) and isinstance(raw.get("cve"), dict):
        cve_id = raw["cve"].get("id")
        if isinstance(cve_id, str) and cve_id:
            return cve_id
    return f"vulnerabilities[{index}]"


def parse_cve(raw: Any, record_id: str, report: ParseReport) -> CveRating:
    """One `vulnerabilities[]` element -> CveRating; MalformedRecord when it is unusable.

    A bad metric or reference is dropped with a warning; the rest of the record is kept.
    """
    if not isinstance(raw, dict) or not isinstance(raw.get("cve"), dict):
        raise MalformedRecord(record_id, "element has no `cve` object")
    cve = raw["cve"]
    cve_id = cve.get("id")
    if not isinstance(cve_id, str) or not _CVE.match(cve_id):
        raise MalformedRecord(record_id, f"bad CVE id {cve_id!r}")
    score, vector, severity = _metric(cve_id, cve.get("metrics"), report)
    modified = cve.get("lastModified")
    return CveRating(
        cve=cve_id,
        source="nvd",
        severity=severity,
        cvss_score=score,
        cvss_vector=vector,
        title=title_of(_description(cve.get("descriptions"))),
        references=urls(_references(cve_id, cve.get("references"), report), MAX_INDEX_REFERENCES),
        modified=modified if isinstance(modified, str) else "",
    )


def _description(raw: Any) -> str:
    if not isinstance(raw, list):
        return ""
    texts = [d for d in raw if isinstance(d, dict) and isinstance(d.get("value"), str)]
    english = [d["value"] for d in texts if d.get("lang") == "en"]
    return str((english or [d["value"] for d in texts] or [""])[0])


def _references(cve_id: str, raw: Any, report: ParseReport) -> list[str]:
    if raw is None:
        return []
    if not isinstance(raw, list):
        report.warn(cve_id, "references is not a list; dropped")
        return []
    out = []
    for item in raw:
        if isinstance(item, dict) and isinstance(item.get("url"), str):
            out.append(item["url"])
        else:
            report.warn(cve_id, f"reference {str(item)[:80]!r} has no url; dropped")
    return out


def _metric(cve_id: str, raw: Any, report: ParseReport) -> tuple[float | None, str, Severity]:
    """(score, vector, severity) of the preferred CVSS metric; (None, "", UNKNOWN) if none."""
    if raw is None:
        return None, "", Severity.UNKNOWN
    if not isinstance(raw, dict):
        report.warn(cve_id, "metrics is not an object; dropped")
        return None, "", Severity.UNKNOWN
    candidates: list[tuple[int, int, float, str, Severity]] = []
    for rank, key in enumerate(_METRICS):
        entries = raw.get(key) or []
        if not isinstance(entries, list):
            report.warn(cve_id, f"metrics.{key} is not a list; dropped")
            continue
        for entry in entries:
            got = _one_metric(cve_id, key, entry, report)
            if got is not None:
                primary = 0 if entry.get("type") == "Primary" else 1
                candidates.append((primary, rank, *got))
    if not candidates:
        return None, "", Severity.UNKNOWN
    # NVD's own analysis first, then the CNA's; within each, the preferred CVSS version.
    _, _, score, vector, severity = min(candidates, key=lambda c: (c[0], c[1]))
    return score, vector, severity


def _one_metric(
    cve_id: str, key: str, entry: Any, report: ParseReport
) -> tuple[float, str, Severity] | None:
    data = entry.get("cvssData") if isinstance(entry, dict) else None
    if not isinstance(data, dict) or not isinstance(data.get("vectorString"), str):
        report.warn(cve_id, f"metrics.{key} entry without cvssData.vectorString; dropped")
        return None
    vector = data["vectorString"]
    score = data.get("baseScore")
    if isinstance(score, bool) or not isinstance(score, (int, float)) or not 0 <= score <= 10:
        try:
            score = base_score(vector)
        except ValueError as exc:
            report.warn(cve_id, f"metrics.{key}: {exc}; dropped")
            return None
    word = data.get("baseSeverity") or entry.get("baseSeverity")
    severity = Severity.parse(word if isinstance(word, str) else None)
    if severity is Severity.UNKNOWN:
        severity = Severity.from_cvss(float(score))
    return float(score), vector, severity
