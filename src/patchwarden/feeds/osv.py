"""OSV records (JSON or YAML) -> `Advisory`: a file, a directory tree, a zip or a tarball.

Follows the OSV schema 1.x (https://ossf.github.io/osv-schema/). Besides the schema fields it
reads the vendor extensions found in real data:

* Ubuntu: `affected[].ecosystem_specific.binaries` (a list of `{binary: version}` maps, or of
  `{binary_name, binary_version}` in older records) and `.ubuntu_priority`; a top-level
  `severity` entry of type `Ubuntu`; `upstream` ids (USN -> CVEs), kept as aliases.
* GHSA: `database_specific.severity` (LOW / MODERATE / HIGH / CRITICAL).
* AlmaLinux / Rocky: the Red Hat rating as summary prefix (`Important: pcs security update`),
  and the modularity streams a module erratum names there (`nginx:1.22 security update`).
* Drupal (OSV 1.7): `affected[].severity` CVSS vectors.

No OSV source in our corpus tags a fix as needing a restart, so `restart_required` stays False
here (R-F4's kernel rule is applied by detection, not by the feed).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path, PurePosixPath
from typing import Any

from patchwarden.core.advisory import (
    Advisory,
    Affected,
    AffectedPackage,
    Event,
    EventKind,
    Range,
    Reference,
    Severity,
    VendorStatus,
)
from patchwarden.core.errors import FeedError, MalformedRecord
from patchwarden.core.modularity import module_fix, streams_in
from patchwarden.feeds.base import (
    FeedItem,
    FeedParser,
    ParseReport,
    keep_storable,
    may_hold_unstorable,
)
from patchwarden.feeds.containers import container_of, iter_members
from patchwarden.feeds.decode import load_json, load_yaml
from patchwarden.feeds.scoring import base_score, cvss_version

_RECORD_SUFFIXES = (".json", ".yaml", ".yml")
_CVSS_TYPES = {"CVSS_V2": 2, "CVSS_V3": 3, "CVSS_V4": 4}
# OSV §affected[].ranges: these events end an affected interval, so a fix (or at least an
# unaffected later version) exists.
_CLOSING = (EventKind.FIXED, EventKind.LAST_AFFECTED, EventKind.LIMIT)

Warn = Callable[[str], None]


class OsvParser(FeedParser):
    """OSV JSON/YAML records from a file, a directory (recursive), a .zip or a tarball."""

    kind = "osv"
    version = 1
    description = "OSV records (JSON/YAML): file, directory, all.zip, .tar.gz/.tar.xz"
    checks_text = True

    def _parse(self, path: Path, report: ParseReport) -> Iterator[FeedItem]:
        single = container_of(path) == "file"
        for member in iter_members(path, _is_record_file, report):
            try:
                documents = _load(member.name, member.data)
            except ValueError as exc:
                if single:
                    raise FeedError(f"{path}: {exc}") from exc
                report.skip(MalformedRecord(member.name, str(exc)))
                continue
            suspect = may_hold_unstorable(member.data)
            for doc in documents:
                record_id = _record_id(doc, member.name)
                if isinstance(doc, dict) and doc.get("withdrawn"):
                    report.withdrawn.append(record_id)
                    continue
                advisory = _record_or_skip(doc, record_id, member.name, report)
                if advisory is not None and (not suspect or keep_storable(advisory, report)):
                    yield advisory


def parse_record(doc: Any, warn: Warn, origin: str = "(record)") -> Advisory:
    """One OSV record (already decoded) -> Advisory; MalformedRecord if it is unusable.

    `origin` (the file name) names the record in errors when it has no usable id. Problems
    in optional parts (a bad CVSS vector, a reference without URL) are passed to `warn` and
    the part is dropped; the advisory is kept.
    """
    if not isinstance(doc, dict):
        raise MalformedRecord(origin, f"record is a {type(doc).__name__}, not an object")
    rid = doc.get("id")
    if not isinstance(rid, str) or not rid.strip():
        raise MalformedRecord(origin, "record has no string `id`")
    _check_schema_version(rid, doc.get("schema_version"))
    aliases = _str_list(rid, doc, "aliases") + _str_list(rid, doc, "upstream")
    affected = tuple(_affected(rid, i, a, warn) for i, a in enumerate(_list(rid, doc, "affected")))
    affected = _with_module_streams(affected, _str(doc.get("summary")))
    score, vector = _best_cvss(rid, doc.get("severity"), warn)
    vendor = _vendor_severity(doc)
    if vendor is not None:
        severity = vendor
    elif any(a.severity for a in affected):
        severity = max((a.severity for a in affected if a.severity), key=lambda s: s.rank)
    else:
        severity = Severity.from_cvss(score)
    return Advisory(
        id=rid,
        source="osv",
        aliases=tuple(dict.fromkeys(a for a in aliases if a != rid)),
        summary=_str(doc.get("summary")),
        details=_str(doc.get("details")),
        modified=_str(doc.get("modified")),
        published=_str(doc.get("published")),
        withdrawn=_str(doc.get("withdrawn")),
        severity=severity,
        cvss_score=score,
        cvss_vector=vector,
        affected=affected,
        references=_references(doc.get("references"), warn),
        related=tuple(_str_list(rid, doc, "related")),
    )


def _record_or_skip(doc: Any, record_id: str, origin: str, report: ParseReport) -> Advisory | None:
    def warn(what: str) -> None:
        report.warn(record_id, what)

    return report.attempt(record_id, parse_record, doc, warn, origin)


def _is_record_file(name: str) -> bool:
    base = PurePosixPath(name).name
    return not base.startswith(".") and base.lower().endswith(_RECORD_SUFFIXES)


def _load(name: str, data: bytes) -> list[Any]:
    """Decode one file; a top-level list holds several records. ValueError if undecodable
    (nested too deeply included: `feeds.decode`)."""
    yaml_file = name.lower().endswith((".yaml", ".yml"))
    doc = load_yaml(data) if yaml_file else load_json(data)
    return doc if isinstance(doc, list) else [doc]


def _record_id(doc: Any, fallback: str) -> str:
    if isinstance(doc, dict) and isinstance(doc.get("id"), str) and doc["id"]:
        return str(doc["id"])
    return fallback


def _check_schema_version(rid: str, version: Any) -> None:
    # OSV: schema_version is optional (then 1.0.0); a different major version may change the
    # meaning of fields we read, so such records are not guessed at.
    if version is None:
        return
    if not isinstance(version, str) or version.split(".", 1)[0] != "1":
        raise MalformedRecord(rid, f"unsupported schema_version {version!r} (need 1.x)")


def _affected(rid: str, index: int, entry: Any, warn: Warn) -> Affected:
    where = f"affected[{index}]"
    if not isinstance(entry, dict):
        raise MalformedRecord(rid, f"{where} is not an object")
    pkg = entry.get("package")
    if not isinstance(pkg, dict):
        raise MalformedRecord(rid, f"{where} has no package")
    ecosystem, name = pkg.get("ecosystem"), pkg.get("name")
    if not isinstance(ecosystem, str) or not ecosystem or not isinstance(name, str) or not name:
        raise MalformedRecord(rid, f"{where}.package needs string ecosystem and name")
    where = f"{where} ({ecosystem}/{name})"
    ranges = tuple(_range(rid, where, r) for r in _list(rid, entry, "ranges", where))
    versions = tuple(_str_list(rid, entry, "versions", where))
    eco_specific = entry.get("ecosystem_specific") or {}
    if not isinstance(eco_specific, dict):
        raise MalformedRecord(rid, f"{where}.ecosystem_specific is not an object")
    fixed = any(e.kind in _CLOSING for r in ranges for e in r.events)
    return Affected(
        package=AffectedPackage(ecosystem=ecosystem, name=name, purl=_str(pkg.get("purl"))),
        ranges=ranges,
        versions=versions,
        status=VendorStatus.FIXED if fixed else VendorStatus.AFFECTED,
        binaries=_binaries(rid, where, eco_specific.get("binaries")),
        severity=_affected_severity(rid, where, entry, eco_specific, warn),
    )


def _with_module_streams(affected: tuple[Affected, ...], summary: str) -> tuple[Affected, ...]:
    """Module builds' entries with the streams the summary names (AlmaLinux, Rocky EL8+)."""
    streams = streams_in(summary)
    if not streams:
        return affected
    return tuple(replace(a, modules=streams) if module_fix(a) else a for a in affected)


def _range(rid: str, where: str, raw: Any) -> Range:
    if not isinstance(raw, dict) or not isinstance(raw.get("type"), str):
        raise MalformedRecord(rid, f"{where}: range without a type")
    events_raw = raw.get("events")
    if not isinstance(events_raw, list) or not events_raw:
        raise MalformedRecord(rid, f"{where}: {raw['type']} range without events")
    events = []
    for ev in events_raw:
        if not isinstance(ev, dict) or len(ev) != 1:
            raise MalformedRecord(rid, f"{where}: event {ev!r} must have exactly one kind")
        ((kind, version),) = ev.items()
        try:
            event_kind = EventKind(kind)
        except ValueError:
            raise MalformedRecord(rid, f"{where}: unknown event kind {kind!r}") from None
        if not isinstance(version, str) or not version:
            raise MalformedRecord(rid, f"{where}: {kind} event without a version string")
        events.append(Event(event_kind, version))
    return Range(type=raw["type"], events=tuple(events))


def _binaries(rid: str, where: str, raw: Any) -> tuple[str, ...]:
    """Binary package names from Ubuntu's `ecosystem_specific.binaries`."""
    if raw is None:
        return ()
    if not isinstance(raw, list):
        raise MalformedRecord(rid, f"{where}: ecosystem_specific.binaries is not a list")
    names: list[str] = []
    for item in raw:
        if isinstance(item, str):
            names.append(item)
        elif isinstance(item, dict) and "binary_name" in item:
            names.append(str(item["binary_name"]))
        elif isinstance(item, dict):
            # Current Ubuntu OSV: one map {binary name: binary version} per list item.
            names.extend(str(k) for k in item)
        else:
            raise MalformedRecord(rid, f"{where}: binaries entry {item!r} is not a name or map")
    return tuple(dict.fromkeys(names))


def _affected_severity(
    rid: str, where: str, entry: dict[str, Any], eco_specific: dict[str, Any], warn: Warn
) -> Severity | None:
    priority = eco_specific.get("ubuntu_priority")
    if isinstance(priority, str) and priority:
        return Severity.parse(priority)
    score, _ = _best_cvss(rid, entry.get("severity"), warn)
    return Severity.from_cvss(score) if score is not None else None


def _best_cvss(rid: str, raw: Any, warn: Warn) -> tuple[float | None, str]:
    """(score, vector) of the newest CVSS version among OSV `severity[]` entries."""
    if not raw:
        return None, ""
    if not isinstance(raw, list):
        warn(f"severity is not a list: {raw!r}")
        return None, ""
    best: tuple[int, float, str] | None = None
    for item in raw:
        if not isinstance(item, dict) or not isinstance(item.get("score"), str):
            warn(f"severity entry {item!r} has no score string")
            continue
        if item.get("type") not in _CVSS_TYPES:
            continue  # vendor ratings ("Ubuntu") are read by _vendor_severity
        vector = item["score"]
        try:
            score = base_score(vector)
        except ValueError as exc:
            warn(str(exc))
            continue
        candidate = (cvss_version(vector), score, vector)
        if best is None or candidate[0] > best[0]:
            best = candidate
    return (best[1], best[2]) if best else (None, "")


def _vendor_severity(doc: dict[str, Any]) -> Severity | None:
    """The source's own rating, which outranks a generic CVSS score for its packages."""
    for item in doc.get("severity") or []:
        if isinstance(item, dict) and item.get("type") == "Ubuntu":
            return Severity.parse(_str(item.get("score")))
    db = doc.get("database_specific")
    if isinstance(db, dict) and isinstance(db.get("severity"), str):
        return Severity.parse(db["severity"])
    summary = _str(doc.get("summary"))
    if ":" in summary:
        # Red Hat derived errata (ALSA, RLSA): "Important: pcs security update".
        word = summary.split(":", 1)[0]
        rating = Severity.parse(word)
        if rating is not Severity.UNKNOWN or word.strip().lower() == "unknown":
            return rating
    return None


def _references(raw: Any, warn: Warn) -> tuple[Reference, ...]:
    if not raw:
        return ()
    if not isinstance(raw, list):
        warn("references is not a list; dropped")
        return ()
    refs = []
    for item in raw:
        if isinstance(item, dict) and isinstance(item.get("url"), str):
            refs.append(Reference(type=_str(item.get("type")) or "WEB", url=item["url"]))
        else:
            warn(f"reference {item!r} has no url; dropped")
    return tuple(refs)


def _list(rid: str, doc: dict[str, Any], key: str, where: str = "record") -> list[Any]:
    value = doc.get(key)
    if value is None:
        return []
    if not isinstance(value, list):
        raise MalformedRecord(rid, f"{where}.{key} is not a list")
    return value


def _str_list(rid: str, doc: dict[str, Any], key: str, where: str = "record") -> list[str]:
    values = _list(rid, doc, key, where)
    if not all(isinstance(v, str) for v in values):
        raise MalformedRecord(rid, f"{where}.{key} must hold strings only")
    return values


def _str(value: Any) -> str:
    return value if isinstance(value, str) else ""
