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

from patchwarden.core.advisory import (
    Advisory,
    Affected,
    AffectedPackage,
    VendorStatus,
)
from patchwarden.core.errors import FeedError, MalformedRecord
from patchwarden.feeds.base import (
    FeedItem,
    FeedParser,
    ParseReport,
    may_hold_unstorable,
    unstorable,
)
from patchwarden.feeds.containers import container_of, iter_members
from patchwarden.feeds.decode import load_yaml
from patchwarden.feeds.ranges import fixed_in

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
    checks_text = True  # per package, in `_package`; ids are built from ASCII patterns

    def _parse(self, path: Path, report: ParseReport) -> Iterator[FeedItem]:
        single = container_of(path) == "file"
        groups: dict[str, _Group] = {}
        for member in iter_members(path, _is_yaml, report):
            try:
                doc = _load(member.data)
            except ValueError as exc:
                # One file given: the input is bad. One file of many: that file is skipped.
                if single:
                    raise FeedError(f"{path}: {exc}") from exc
                report.skip(MalformedRecord(member.name, str(exc)))
                continue
            _collect(member.name, doc, groups, report, may_hold_unstorable(member.data))
        for vuln_id, group in groups.items():
            yield Advisory(
                id=vuln_id,
                source="alpine-secdb",
                aliases=tuple(a for a in group.aliases if a != vuln_id),
                affected=tuple(group.affected),
            )


def _is_yaml(name: str) -> bool:
    return name.lower().endswith((".yaml", ".yml"))


def _load(data: bytes) -> dict[str, Any]:
    """One secdb file; ValueError saying why it is none."""
    doc = load_yaml(data)
    if not isinstance(doc, dict) or not isinstance(doc.get("distroversion"), str):
        raise ValueError("not an Alpine secdb file (no distroversion)")
    if not isinstance(doc.get("packages") or [], list):
        raise ValueError("not an Alpine secdb file (packages is not a list)")
    return doc


def _collect(
    name: str, doc: dict[str, Any], groups: dict[str, _Group], report: ParseReport, suspect: bool
) -> None:
    ecosystem = f"Alpine:{doc['distroversion']}"
    packages = doc.get("packages") or []  # v3.3/community.yaml has `packages:` and nothing
    for index, entry in enumerate(packages):
        # Each package is one record: its fixes join the groups only when all of it is good.
        where = f"{name}:packages[{index}]"
        fixes = report.attempt(where, _package, where, ecosystem, entry, report, suspect)
        for vuln_id, others, affected in fixes or ():
            group = groups.setdefault(vuln_id, _Group())
            group.aliases.update(dict.fromkeys(others))
            group.affected[affected] = None


_Fix = tuple[str, list[str], Affected]
"""(advisory id, other ids naming the same flaw, the affected entry)."""


def _package(
    where: str, ecosystem: str, entry: Any, report: ParseReport, suspect: bool
) -> list[_Fix]:
    """The fixes one `packages[]` entry lists; MalformedRecord when it is unusable (also for
    text that cannot be stored, looked for when the file is `suspect`)."""
    pkg = entry.get("pkg") if isinstance(entry, dict) else None
    if not isinstance(pkg, dict) or not isinstance(pkg.get("name"), str):
        raise MalformedRecord(where, "no pkg.name")
    record = f"{ecosystem}/{pkg['name']}"
    secfixes = pkg.get("secfixes") or {}
    if not isinstance(secfixes, dict):
        raise MalformedRecord(record, "secfixes is not a map")
    fixes: list[_Fix] = []
    for version, ids in secfixes.items():
        fixes.extend(_fixes(record, ecosystem, pkg["name"], str(version), ids, report))
    for _, others, affected in fixes if suspect else ():
        problem = unstorable(affected) or unstorable(tuple(others), "ids")
        if problem is not None:
            raise MalformedRecord(record, problem)
    return fixes


def _fixes(
    record: str,
    ecosystem: str,
    name: str,
    version: str,
    ids: Any,
    report: ParseReport,
) -> Iterator[_Fix]:
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
            yield vuln_id, others, affected


def _ids(text: str) -> tuple[list[str], list[str]]:
    """(CVE ids, other ids) in one secfixes entry; typos like `CVE_2019-2426` are fixed."""
    cves = [f"CVE-{year}-{number}" for year, number in _CVE.findall(text)]
    rest = _CVE.sub(" ", text)
    others = [i for i in _OTHER_ID.findall(rest) if not i.upper().startswith("CVE")]
    return list(dict.fromkeys(cves)), list(dict.fromkeys(others))
