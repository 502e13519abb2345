"""Alpine secdb YAML (`v3.x/{main,community}.yaml`) -> `Advisory`, one per vulnerability id.

Each file lists, for one `distroversion`, packages with `secfixes: {fixed version: [ids]}`.
Version `0` means "never affected" in secdb. Entries are free text in places (`CVE-2018-14468
(FrameRelay)`, `CVE-2019-5060 TALOS-2019-0844`, `CVE_2019-2426`, `XSA-207`): each CVE is an
advisory id, other ids become its aliases (or the id, when there is no CVE), and obvious CVE
typos are normalised.

Advisories are grouped by id across all files given (a CVE fixed in v3.10 and v3.11 is one
Advisory with an Affected per `Alpine:v3.x` and package), so the whole input is read first;
the secdb is small (0.5 MB for ten releases).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from patchwarden.core.advisory import (
    Advisory,
    Affected,
    AffectedPackage,
    VendorStatus,
)
from patchwarden.core.errors import FeedError, MalformedRecord
from patchwarden.feeds.base import FeedItem, FeedParser, ParseReport
from patchwarden.feeds.containers import iter_members
from patchwarden.feeds.ranges import fixed_in

_YAML_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_CVE = re.compile(r"CVE[-_ ](\d{4})-(\d{4,})")
_OTHER_ID = re.compile(r"\b([A-Za-z][A-Za-z0-9]*(?:-[A-Za-z0-9]+)+)\b")


@dataclass
class _Group:
    aliases: dict[str, None] = field(default_factory=dict)
    affected: dict[Affected, None] = field(default_factory=dict)


class AlpineSecdbParser(FeedParser):
    """Alpine secdb `secfixes` YAML: one file or a directory of `v3.x/*.yaml`."""

    kind = "alpine-secdb"
    version = 1
    description = "Alpine secdb YAML (secfixes per package), a file or a directory of them"

    def _parse(self, path: Path, report: ParseReport) -> Iterator[FeedItem]:
        groups: dict[str, _Group] = {}
        for member in iter_members(path, _is_yaml, report.ignored):
            doc = _load(path, member.name, member.data)
            _collect(member.name, doc, groups, report)
        for vuln_id, group in groups.items():
            yield Advisory(
                id=vuln_id,
                source="alpine-secdb",
                aliases=tuple(a for a in group.aliases if a != vuln_id),
                affected=tuple(group.affected),
            )


def _is_yaml(name: str) -> bool:
    return name.lower().endswith((".yaml", ".yml"))


def _load(path: Path, name: str, data: bytes) -> dict[str, Any]:
    where = path if path.name == name else f"{path}/{name}"
    try:
        doc = yaml.load(data, Loader=_YAML_LOADER)  # CSafeLoader/SafeLoader: no object tags
    except yaml.YAMLError as exc:
        raise FeedError(f"{where}: not valid YAML: {exc}") from exc
    if not isinstance(doc, dict) or not isinstance(doc.get("distroversion"), str):
        raise FeedError(f"{where}: not an Alpine secdb file (no distroversion)")
    return doc


def _collect(
    name: str, doc: dict[str, Any], groups: dict[str, _Group], report: ParseReport
) -> None:
    ecosystem = f"Alpine:{doc['distroversion']}"
    packages = doc.get("packages") or []  # v3.3/community.yaml has `packages:` and nothing
    if not isinstance(packages, list):
        raise FeedError(f"{name}: packages is not a list")
    for index, entry in enumerate(packages):
        pkg = entry.get("pkg") if isinstance(entry, dict) else None
        if not isinstance(pkg, dict) or not isinstance(pkg.get("name"), str):
            report.skip(MalformedRecord(f"{name}:packages[{index}]", "no pkg.name"))
            continue
        record = f"{ecosystem}/{pkg['name']}"
        secfixes = pkg.get("secfixes") or {}
        if not isinstance(secfixes, dict):
            report.skip(MalformedRecord(record, "secfixes is not a map"))
            continue
        for version, ids in secfixes.items():
            _add_fix(record, ecosystem, pkg["name"], str(version), ids, groups, report)


def _add_fix(
    record: str,
    ecosystem: str,
    name: str,
    version: str,
    ids: Any,
    groups: dict[str, _Group],
    report: ParseReport,
) -> None:
    if not isinstance(ids, list):
        report.warn(record, f"secfixes {version!r} lists no ids; dropped")
        return
    if version == "0":
        # secdb: fixed in "0" = this package was never affected.
        affected = Affected(AffectedPackage(ecosystem, name), status=VendorStatus.NOT_AFFECTED)
    else:
        affected = Affected(AffectedPackage(ecosystem, name), fixed_in(version))
    for text in ids:
        cves, others = _ids(str(text))
        if not cves and not others:
            report.warn(record, f"secfixes {version!r}: no vulnerability id in {text!r}")
            continue
        # Each CVE of an entry is its own advisory; other ids (XSA, TALOS) name the same
        # flaw and become aliases. Without a CVE, the first other id is the advisory id.
        for vuln_id in cves or others[:1]:
            group = groups.setdefault(vuln_id, _Group())
            group.aliases.update(dict.fromkeys(others))
            group.affected[affected] = None


def _ids(text: str) -> tuple[list[str], list[str]]:
    """(CVE ids, other ids) in one secfixes entry; typos like `CVE_2019-2426` are fixed."""
    cves = [f"CVE-{year}-{number}" for year, number in _CVE.findall(text)]
    rest = _CVE.sub(" ", text)
    others = [i for i in _OTHER_ID.findall(rest) if not i.upper().startswith("CVE")]
    return list(dict.fromkeys(cves)), list(dict.fromkeys(others))
