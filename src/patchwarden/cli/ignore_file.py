"""`scan --ignore-file PATH`: accepted vulnerabilities, in YAML like Trivy's `.trivyignore.yaml`.

The file is a list of entries (or, as in Trivy's file, that list under `vulnerabilities:`):

    - id: CVE-2024-0727            # required: a CVE or advisory id (case does not matter)
      packages: [libssl3, openssl] # optional: only these binary or source packages
      expires: 2026-06-30          # optional: from this day on the entry no longer applies
      statement: not reachable     # optional: why it is accepted

A finding is ignored when an entry names its id or one of its advisories, or when every CVE it
carries is named (an advisory fixing two CVEs stays while one of them still counts). A
malformed file is an input error that names the line and the entry.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Optional

import yaml

from patchwarden.core.errors import InputError
from patchwarden.core.matching import Match

KEYS = ("id", "packages", "expires", "statement")
"""Keys an entry may have."""

_NULL = "tag:yaml.org,2002:null"


class IgnoreFileError(InputError):
    """The ignore file cannot be read or is not a list of valid entries."""


@dataclass(frozen=True)
class IgnoreEntry:
    """One accepted vulnerability."""

    id: str
    packages: tuple[str, ...] = ()
    """Binary or source package names it is limited to; empty: every package."""
    expires: Optional[date] = None
    """First day the entry no longer applies (Trivy's `expired_at`); None: never."""
    statement: str = ""
    number: int = 0
    """1-based position in the file, for messages."""
    line: int = 0
    """1-based line the entry starts on, for messages."""

    def expired(self, today: date) -> bool:
        """True from the `expires` day on."""
        return self.expires is not None and today >= self.expires

    def names(self, m: Match) -> bool:
        """Whether this entry is about `m`'s package (always, without `packages`)."""
        return not self.packages or m.package in self.packages or m.source_package in self.packages


@dataclass(frozen=True)
class IgnoreOutcome:
    """Findings left after the ignore file, and what it did."""

    kept: list[Match]
    ignored: int
    expired: list[IgnoreEntry]


def load_ignore_file(path: Path) -> list[IgnoreEntry]:
    """Read and check the ignore file at `path`; IgnoreFileError naming what is wrong."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise IgnoreFileError(f"{path}: no such ignore file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise IgnoreFileError(f"{path}: cannot read the ignore file: {exc}") from None
    return parse_ignore_file(text, str(path))


def parse_ignore_file(text: str, where: str) -> list[IgnoreEntry]:
    """The entries of ignore-file `text`; `where` (the path) starts every error message."""
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        at = f" line {mark.line + 1}" if mark is not None else ""
        raise IgnoreFileError(f"{where}{at}: not valid YAML: {exc.problem or exc}") from None
    except yaml.YAMLError as exc:
        raise IgnoreFileError(f"{where}: not valid YAML: {exc}") from None
    if root is None or (isinstance(root, yaml.ScalarNode) and root.tag == _NULL):
        return []  # an empty file ignores nothing
    if isinstance(root, yaml.MappingNode):
        root = _vulnerabilities_list(root, where)
    if not isinstance(root, yaml.SequenceNode):
        raise IgnoreFileError(
            f"{where} line {root.start_mark.line + 1}: expected a list of entries "
            "(- id: CVE-…, with optional packages, expires, statement)"
        )
    return [_entry(node, n, where) for n, node in enumerate(root.value, start=1)]


def _vulnerabilities_list(root: yaml.MappingNode, where: str) -> yaml.Node:
    """Trivy's layout: the list under the one key `vulnerabilities`."""
    keys = [k.value for k, _ in root.value]
    if keys != ["vulnerabilities"]:
        raise IgnoreFileError(
            f"{where} line {root.start_mark.line + 1}: expected a list of entries, or that "
            f"list under `vulnerabilities:` (found keys {', '.join(map(str, keys))})"
        )
    value: yaml.Node = root.value[0][1]
    return value


def _entry(node: yaml.Node, number: int, where: str) -> IgnoreEntry:
    """Check one list item and build its entry."""
    line = node.start_mark.line + 1
    at = f"{where} line {line} (entry {number})"
    if not isinstance(node, yaml.MappingNode):
        raise IgnoreFileError(
            f"{at}: expected a mapping with id (and packages, expires, statement)"
        )
    fields: dict[str, yaml.Node] = {}
    for key_node, value in node.value:
        key = key_node.value if isinstance(key_node, yaml.ScalarNode) else None
        if key not in KEYS:
            raise IgnoreFileError(f"{at}: unknown key {key!r} (expected {', '.join(KEYS)})")
        if key in fields:
            raise IgnoreFileError(f"{at}: {key} given twice")
        if not (isinstance(value, yaml.ScalarNode) and value.tag == _NULL):
            fields[key] = value  # `key:` with no value is the same as leaving it out
    ident = _scalar(fields.get("id"), "id", at)
    if not ident:
        raise IgnoreFileError(f"{at}: id is missing (a CVE or advisory id)")
    return IgnoreEntry(
        id=ident,
        packages=_packages(fields.get("packages"), at),
        expires=_date(fields.get("expires"), at),
        statement=_scalar(fields.get("statement"), "statement", at),
        number=number,
        line=line,
    )


def _scalar(node: Optional[yaml.Node], key: str, at: str) -> str:
    """A scalar's text ("" when absent); IgnoreFileError for lists and mappings."""
    if node is None:
        return ""
    if not isinstance(node, yaml.ScalarNode):
        raise IgnoreFileError(f"{at}: {key} must be a single value, not a list or mapping")
    return str(node.value).strip()


def _packages(node: Optional[yaml.Node], at: str) -> tuple[str, ...]:
    """`packages:` as a list of names (one name alone is a list of one)."""
    if node is None:
        return ()
    if isinstance(node, yaml.ScalarNode):
        return (node.value.strip(),) if node.value.strip() else ()
    if not isinstance(node, yaml.SequenceNode) or not all(
        isinstance(item, yaml.ScalarNode) and item.value.strip() for item in node.value
    ):
        raise IgnoreFileError(f"{at}: packages must be a list of package names")
    return tuple(item.value.strip() for item in node.value)


def _date(node: Optional[yaml.Node], at: str) -> Optional[date]:
    """`expires:` as a date; IgnoreFileError unless it is YYYY-MM-DD."""
    text = _scalar(node, "expires", at)
    if not text:
        return None
    try:
        if len(text) != 10:
            raise ValueError(text)
        return date.fromisoformat(text)
    except ValueError:
        raise IgnoreFileError(f"{at}: expires {text!r} is not a date (YYYY-MM-DD)") from None


def apply_ignores(
    matches: Sequence[Match], entries: Sequence[IgnoreEntry], today: date
) -> IgnoreOutcome:
    """Drop the findings the unexpired entries accept; list the expired entries."""
    active = [e for e in entries if not e.expired(today)]
    kept = [m for m in matches if not _ignored(m, active)]
    return IgnoreOutcome(
        kept=kept,
        ignored=len(matches) - len(kept),
        expired=[e for e in entries if e.expired(today)],
    )


def _ignored(m: Match, entries: Sequence[IgnoreEntry]) -> bool:
    """Whether the entries about `m`'s package name its id, an advisory or all its CVEs."""
    ids = {e.id.upper() for e in entries if e.names(m)}
    if not ids:
        return False
    if m.id.upper() in ids or any(a.upper() in ids for a in m.advisories):
        return True
    return bool(m.cves) and all(c.upper() in ids for c in m.cves)
