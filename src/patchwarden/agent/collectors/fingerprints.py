"""fingerprints collector: servers installed outside the package manager, versioned by reading
their files — never by running them (SPEC R-T4).

Rules come from `agent/data/fingerprints.json`, one per product. A rule says which running
processes it looks at and where the version is:

* `exe`: a regex on the executable's file name (redis-server, nginx) — the version is read
  from the executable;
* `mapped`: a regex on the file name of a mapped library (libcrypto.so.3) — read from it;
* `java_properties`: `-D` system properties of a JVM naming the product's home directory
  (`catalina.home`); `file` is then relative to it: a JAR with `member` read from inside it
  (Tomcat's ServerInfo.properties), or a directory whose file names carry the version
  (`file_name` regex: Elasticsearch's lib/elasticsearch-X.Y.Z.jar).

`version` is a regex (bytes for binaries, text for members) whose first group is the
version; `anchors` (binaries) picks, of several matches, the one nearest the first anchor
string the file holds (Redis keeps many version-like strings; its own sits next to its
banner). Reads are bounded (MAX_BINARY, MAX_MEMBER). A file owned by a distro package is
left out: the distro's advisories cover it. Each hit is a `Component` with method
`fingerprint`, the rule's ecosystem, name, CPE and confidence, evidence naming the file
(and member or byte offset).
"""

from __future__ import annotations

import json
import os
import pkgutil
import re
import zipfile
from dataclasses import dataclass, replace
from typing import Any, Dict, List, Optional, Pattern, Tuple

from patchwarden.agent.collectors.base import (
    Collector,
    CollectorFailed,
    Context,
    InventoryPart,
)
from patchwarden.agent.collectors.jars import BadJar, check_entry_count
from patchwarden.agent.collectors.owners import file_owners
from patchwarden.agent.collectors.processes import process_scan
from patchwarden.agent.collectors.procfs import ProcView, clean
from patchwarden.core.inventory import CollectorError, Component, Evidence, ProcessInstance

NAME = "fingerprints"
DATA = "data/fingerprints.json"
MAX_BINARY = 256 << 20
"""Most bytes of an executable or library searched."""
MAX_MEMBER = 1 << 20
CHUNK = 8 << 20
OVERLAP = 4096
"""Bytes carried from one chunk to the next, so a match across a chunk border is found."""
ANCHOR_WINDOW = 1 << 20
"""How far from its anchor a version string may be."""


@dataclass(frozen=True)
class Rule:
    """One product's fingerprint (see the module docstring)."""

    product: str
    title: str
    ecosystem: str
    name: str
    cpe: str
    confidence: str
    exe: Optional[Pattern[str]] = None
    mapped: Optional[Pattern[str]] = None
    java_properties: Tuple[str, ...] = ()
    file: str = ""
    member: str = ""
    file_name: Optional[Pattern[str]] = None
    version_text: Optional[Pattern[str]] = None
    version_bytes: Optional[Pattern[bytes]] = None
    anchors: Tuple[bytes, ...] = ()


def load_rules(data: Optional[bytes] = None) -> Tuple[Rule, ...]:
    """The rules of the packaged data file (or of `data`); ValueError naming the bad rule."""
    if data is None:
        data = pkgutil.get_data("patchwarden.agent", DATA)
        if data is None:
            raise ValueError(f"{DATA} is missing from the agent package")
    doc = json.loads(data.decode("utf-8"))
    rules = doc.get("rules") if isinstance(doc, dict) else None
    if not isinstance(rules, list) or doc.get("schema") != 1:
        raise ValueError(f"{DATA}: expected {{'schema': 1, 'rules': [...]}}")
    return tuple(_rule(i, raw) for i, raw in enumerate(rules))


def _rule(index: int, raw: Any) -> Rule:
    where = f"{DATA} rule {index}"
    if not isinstance(raw, dict):
        raise ValueError(f"{where}: not an object")
    product = raw.get("product")
    try:
        kinds = [k for k in ("exe", "mapped", "java_properties") if k in raw]
        if len(kinds) != 1:
            raise ValueError("needs exactly one of exe, mapped, java_properties")
        binary = kinds[0] != "java_properties"
        version = raw.get("version", "")
        if not version and not raw.get("file_name"):
            raise ValueError("needs a version or file_name regex")
        if raw.get("confidence") not in ("high", "medium", "low"):
            raise ValueError("confidence must be high, medium or low")
        return Rule(
            product=str(product),
            title=str(raw.get("title", product)),
            ecosystem=str(raw.get("ecosystem", "")),
            name=str(raw["name"]),
            cpe=str(raw.get("cpe", "")),
            confidence=str(raw["confidence"]),
            exe=re.compile(raw["exe"]) if "exe" in raw else None,
            mapped=re.compile(raw["mapped"]) if "mapped" in raw else None,
            java_properties=tuple(str(p) for p in raw.get("java_properties", ())),
            file=str(raw.get("file", "")),
            member=str(raw.get("member", "")),
            file_name=re.compile(raw["file_name"]) if raw.get("file_name") else None,
            version_text=re.compile(version, re.MULTILINE) if version and not binary else None,
            version_bytes=re.compile(version.encode("latin-1")) if version and binary else None,
            anchors=tuple(a.encode("latin-1") for a in raw.get("anchors", ())),
        )
    except (KeyError, TypeError, re.error, ValueError) as exc:
        raise ValueError(f"{where} ({product}): {exc}") from None


@dataclass(frozen=True)
class Hit:
    """A product found in a file."""

    path: str
    version: str
    evidence: str


def search_binary(opened: str, rule: Rule) -> Optional[Tuple[str, int]]:
    """(version, byte offset) of `rule` in the file at `opened`, None when absent.

    Without anchors the first match wins; with them, the match nearest the first anchor
    the file holds (within ANCHOR_WINDOW).
    """
    assert rule.version_bytes is not None
    matches: List[Tuple[int, str]] = []
    anchors: Dict[bytes, int] = {}
    with open(opened, "rb") as fh:
        offset = 0
        tail = b""
        while offset < MAX_BINARY:
            chunk = fh.read(min(CHUNK, MAX_BINARY - offset))
            if not chunk:
                break
            data = tail + chunk
            base = offset - len(tail)
            for m in rule.version_bytes.finditer(data):
                at = base + m.start(1)
                if not matches or at > matches[-1][0]:
                    matches.append((at, m.group(1).decode("ascii", "replace")))
            for anchor in rule.anchors:
                if anchor not in anchors:
                    found = data.find(anchor)
                    if found >= 0:
                        anchors[anchor] = base + found
            if not rule.anchors and matches:
                break
            offset += len(chunk)
            tail = data[-OVERLAP:]
    if not matches:
        return None
    if not rule.anchors:
        return matches[0][1], matches[0][0]
    for anchor in rule.anchors:
        if anchor in anchors:
            at = anchors[anchor]
            near = min(matches, key=lambda m: abs(m[0] - at))
            if abs(near[0] - at) <= ANCHOR_WINDOW:
                return near[1], near[0]
            return None
    return None


def java_property(argv: List[str], name: str) -> Optional[str]:
    """The value of `-Dname=value` on a java command line (options before the main class)."""
    prefix = f"-D{name}="
    for arg in argv[1:]:
        if arg.startswith(prefix):
            return arg[len(prefix) :]
        if arg in ("-jar",) or (not arg.startswith("-") and "=" not in arg):
            break
    return None


class FingerprintsCollector(Collector):
    """Unpackaged servers among the running processes, by fingerprint rules."""

    name = NAME
    version = 1
    covers = frozenset({Evidence.RUNNING_PROCESSES})

    def applies(self, ctx: Context) -> bool:
        """Only after a successful processes collector."""
        return process_scan(ctx) is not None

    def collect(self, ctx: Context) -> InventoryPart:
        """Apply every rule to every process; see the module docstring."""
        scan = process_scan(ctx)
        assert scan is not None
        try:
            rules = load_rules()
        except (OSError, ValueError) as exc:
            raise CollectorFailed(f"fingerprint rules unusable: {exc}", DATA) from exc
        owners = file_owners(ctx)
        warnings: List[CollectorError] = []
        targets: Dict[int, List[Tuple[Rule, str]]] = {}
        for process in ctx.processes:
            view = scan.views.get(process.pid)
            if view is not None and view.pid in scan.in_root:
                targets[process.pid] = [(r, p) for r in rules for p in self._targets(r, view)]
        # Owned files are the distro's business (its advisories cover them): not even read.
        # One pass over the package file lists for every file of the run.
        owned = owners.lookup(sorted({p for found in targets.values() for _, p in found}))
        cache: Dict[Tuple[str, str], Optional[Hit]] = {}
        hits: Dict[int, List[Tuple[Rule, Hit]]] = {}
        for pid, found in targets.items():
            for rule, path in found:
                if owned.get(path):
                    continue
                hit = self._hit(rule, scan.views[pid], path, cache, warnings)
                if hit is not None:
                    hits.setdefault(pid, []).append((rule, hit))
        # A hit may name a file inside the target (a directory's JAR): owned too?
        owned = owners.lookup(sorted({h.path for found in hits.values() for _, h in found}))
        out: List[ProcessInstance] = []
        for process in ctx.processes:
            extra = tuple(
                Component(
                    path=clean(hit.path),
                    ecosystem=rule.ecosystem,
                    name=rule.name,
                    version=clean(hit.version),
                    method="fingerprint",
                    confidence=rule.confidence,
                    cpe=rule.cpe.replace("{version}", clean(hit.version)),
                    evidence=clean(hit.evidence),
                )
                for rule, hit in hits.get(process.pid, ())
                if not owned.get(hit.path)
            )
            out.append(
                replace(process, components=process.components + extra) if extra else process
            )
        warnings.extend(
            CollectorError(NAME, f"package file list unreadable: {p}") for p in owners.problems
        )
        return InventoryPart(processes=tuple(out), warnings=tuple(warnings))

    @staticmethod
    def _targets(rule: Rule, view: ProcView) -> List[str]:
        """The files (or directory) of one process that `rule` reads."""
        targets: List[str] = []
        if rule.exe is not None and view.exe and rule.exe.search(os.path.basename(view.exe)):
            targets.append(view.exe)
        if rule.mapped is not None:
            for mapping in view.maps:
                base = os.path.basename(mapping.path)
                if mapping.path not in targets and rule.mapped.search(base):
                    targets.append(mapping.path)
        for prop in rule.java_properties:
            home = java_property(view.argv, prop)
            if home:
                targets.append(os.path.join(view.resolve(home), rule.file))
                break
        return targets

    def _hit(
        self,
        rule: Rule,
        view: ProcView,
        path: str,
        cache: Dict[Tuple[str, str], Optional[Hit]],
        warnings: List[CollectorError],
    ) -> Optional[Hit]:
        """What `rule` finds in `path` as the process `view` sees it, read once per run."""
        key = (rule.product, path)
        if key in cache:
            return cache[key]
        try:
            hit = cache[key] = self._read(rule, view, path)
        except (OSError, ValueError, KeyError, BadJar, zipfile.BadZipFile, EOFError) as exc:
            if view.real and not view.dir().exists():
                return None  # the process ended: another one holding the file may tell
            cache[key] = None
            why = getattr(exc, "strerror", None) or str(exc) or type(exc).__name__
            if isinstance(exc, KeyError):
                why = f"no {rule.member} inside"
            warnings.append(CollectorError(NAME, f"{rule.title}: cannot read {path}: {why}", path))
            return None
        return hit

    @staticmethod
    def _read(rule: Rule, view: ProcView, path: str) -> Optional[Hit]:
        opened = str(view.open_path(path))
        if rule.version_bytes is not None:
            found = search_binary(opened, rule)
            return None if found is None else Hit(path, found[0], f"byte {found[1]}")
        if rule.file_name is not None:
            if not os.path.isdir(opened):
                return None
            for entry in sorted(os.listdir(opened)):
                match = rule.file_name.match(entry)
                if match:
                    return Hit(os.path.join(path, entry), match.group(1), f"file name {entry}")
            return None
        if not os.path.isfile(opened):
            return None  # not this product's layout: nothing to report
        assert rule.version_text is not None
        with open(opened, "rb") as fh:
            check_entry_count(fh)
            with zipfile.ZipFile(fh) as archive:
                info = archive.getinfo(rule.member)
                if info.file_size > MAX_MEMBER:
                    raise ValueError(f"{rule.member} of {info.file_size} bytes is too big")
                with archive.open(info) as member:
                    text = member.read(MAX_MEMBER).decode("utf-8", "replace")
        match = rule.version_text.search(text)
        if match is None:
            raise ValueError(f"{rule.member} names no version")
        return Hit(path, match.group(1), f"{rule.member}")
