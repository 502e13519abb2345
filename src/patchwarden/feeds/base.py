"""The feed parser family (STYLE P1): `FeedParser` base, `ParseReport`, shared errors.

A parser turns one source (a file, a directory or an archive) into `core.advisory` values.
Whole-input problems (missing path, corrupt archive, not JSON at all) raise `FeedError` naming
the path; one bad record raises `MalformedRecord` inside the parser, which records it in the
caller's `ParseReport` and goes on with the next record (STYLE E4): one bad upstream record
never aborts an import.

Every parser builds each record through `ParseReport.attempt`, so *any* exception from one
record (a RecursionError from a record nested thousands deep, a ValueError from a 5,000-digit
number, a TypeError from a value of an unexpected shape) is a skip with its reason, not a
traceback. Items holding text no store can keep (NUL, a lone UTF-16 surrogate: `unstorable`)
are skipped too: by the parser itself where it knows its input can hold none
(`may_hold_unstorable`, one scan of the raw bytes, so clean records cost nothing), else by the
shared loop `FeedParser.parse`, which walks every item.
"""

from __future__ import annotations

import logging
import re
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, fields, is_dataclass
from pathlib import Path
from typing import Any, ClassVar, TypeVar

from patchwarden.core.advisory import Advisory, FeedItem
from patchwarden.core.errors import FeedError, MalformedRecord
from patchwarden.core.text import text_problem

log = logging.getLogger(__name__)

T = TypeVar("T")

MAX_REASON = 300
"""Characters of a skip reason kept (an exception's text can quote a megabyte of input)."""
MAX_RECORD_ID = 120
"""Characters of a record id kept in a skip (ids come from the input too)."""
MAX_KEPT = 1000
"""Skips and warnings kept in detail; beyond them only counted (a hostile feed can hold
millions of bad rows, and the report lives in the importing process)."""


@dataclass
class ParseReport:
    """What one parse run did besides yielding items; the caller creates and reads it."""

    parsed: int = 0
    """Items yielded."""
    skip_count: int = 0
    """Malformed records left out (all of them; `skipped` keeps the first MAX_KEPT)."""
    skipped: list[tuple[str, str]] = field(default_factory=list)
    """(record id, reason) of the first malformed records that were left out."""
    withdrawn: list[str] = field(default_factory=list)
    """Ids of records the source marks withdrawn (OSV `withdrawn`), left out on purpose."""
    warnings: list[tuple[str, str]] = field(default_factory=list)
    """(record id, what) for records kept with a part dropped (bad CVSS vector, odd line);
    the first MAX_KEPT."""
    warn_count: int = 0
    """Warnings noted (all of them)."""
    ignored: list[str] = field(default_factory=list)
    """Files of a directory or archive that are not records (LICENSE, README, …)."""

    def skip(self, error: MalformedRecord) -> None:
        """Count and log one malformed record by id (both cut short and made printable)."""
        self.skip_count += 1
        if self.skip_count > MAX_KEPT:
            return
        record_id = _printable(error.record_id, MAX_RECORD_ID)
        why = _printable(error.why, MAX_REASON)
        # INFO: the importer warns about the first few itself (a feed can skip thousands).
        log.info("skipped malformed record %s: %s", record_id, why)
        self.skipped.append((record_id, why))

    def attempt(self, record_id: str, build: Callable[..., T], *args: Any) -> T | None:
        """`build(*args)` for one record; None once the record is skipped with its reason.

        `MalformedRecord` is skipped as it is; any other exception names the record and
        what went wrong. `FeedError` still ends the parse: it means the whole input.
        """
        try:
            return build(*args)
        except MalformedRecord as exc:
            self.skip(exc)
        except FeedError:
            raise
        except RecursionError:
            self.skip(MalformedRecord(record_id, "nested too deeply to read"))
        except Exception as exc:  # one record must never abort an import (STYLE E4)
            why = f"cannot be read: {type(exc).__name__}: {exc}"
            self.skip(MalformedRecord(record_id, why))
        return None

    def warn(self, record_id: str, what: str) -> None:
        """Note a problem inside a record that was still kept."""
        self.warn_count += 1
        if self.warn_count > MAX_KEPT:
            return
        record_id = _printable(record_id, MAX_RECORD_ID)
        what = _printable(what, MAX_REASON)
        log.info("record %s: %s", record_id, what)
        self.warnings.append((record_id, what))

    def summary(self) -> str:
        """One line for logs and the CLI."""
        return (
            f"{self.parsed} parsed, {self.skip_count} malformed skipped, "
            f"{len(self.withdrawn)} withdrawn, {self.warn_count} warnings, "
            f"{len(self.ignored)} non-record files ignored"
        )


class FeedParser(ABC):
    """One feed kind. Subclasses set `kind`, `version` and implement `_parse`."""

    kind: ClassVar[str]
    """Registry name, also `Advisory.source` of what it yields."""
    version: ClassVar[int]
    """Bumped whenever the output for the same input changes (STYLE P3)."""
    description: ClassVar[str]
    checks_text: ClassVar[bool] = False
    """True when `_parse` skips items holding unstorable text itself (knowing where its input
    can hold some); otherwise the shared loop walks every item (`unstorable`)."""

    def parse(self, path: str | Path, report: ParseReport) -> Iterator[FeedItem]:
        """Stream the items of `path`; malformed records go to `report`, not to the caller.

        Raises FeedError when `path` cannot be read at all. The check that `path` exists
        runs at the first `next()`, like all of a generator's work.
        """
        path = Path(path)
        if not path.exists():
            raise FeedError(f"{path}: no such file or directory")
        walk = not self.checks_text
        for item in self._parse(path, report):
            if walk and not keep_storable(item, report):
                continue
            report.parsed += 1
            yield item

    @staticmethod
    def require_file(path: Path) -> None:
        """FeedError unless `path` is a file (for kinds that come as one file)."""
        if path.is_dir():
            raise FeedError(f"{path}: is a directory; this feed kind reads one file")

    @abstractmethod
    def _parse(self, path: Path, report: ParseReport) -> Iterator[FeedItem]:
        """Yield items of an existing `path`; call `report.skip` for malformed records."""


_ESCAPE = re.compile(rb"\\(?:0|x00|u0000|u[dD][89a-fA-F]|U0000(?:0000|[dD][89a-fA-F]))")
r"""The escapes that decode to NUL or a lone surrogate: JSON `\u0000` `\ud800`, YAML `\0`
`\x00` `\U0000d800` (a literal first character: `re` finds it with a fast scan)."""
_ENCODED_SURROGATE = re.compile(rb"\xed[\xa0-\xbf]")
"""A surrogate encoded as UTF-8: invalid, yet `json` decodes bytes with surrogatepass."""


def may_hold_unstorable(data: bytes) -> bool:
    """Could a JSON or YAML document decoded from `data` hold NUL or a lone surrogate?

    Only through a NUL byte (also in every UTF-16/32 document), an encoded surrogate or an
    escape (`_ESCAPE`). False for nearly every real record, whose items then need no walk
    (`unstorable`); a false alarm (an escaped backslash before `u0000`) only costs that walk.
    Three C-level scans at most: about 0.1 ms per MB.
    """
    if b"\x00" in data:
        return True
    if b"\xed" in data and _ENCODED_SURROGATE.search(data):
        return True
    return b"\\" in data and _ESCAPE.search(data) is not None


def keep_storable(item: FeedItem, report: ParseReport) -> bool:
    """True when `item` can be stored; else False, once it is skipped with the reason."""
    problem = unstorable(item)
    if problem is None:
        return True
    report.skip(MalformedRecord(item_id(item), problem))
    return False


def item_id(item: FeedItem) -> str:
    """The id a skip names an item by: advisory id or CVE."""
    return item.id if isinstance(item, Advisory) else item.cve


def unstorable(item: object, name: str = "") -> str | None:
    """Why `item` (a feed item or a part of one) cannot be stored, naming the field that holds
    a NUL, a lone surrogate or a NaN (under `name`, default the item's type); None when it can.

    Such text reaches the console database through findings, where PostgreSQL refuses NUL
    and no UTF-8 encoder takes a lone surrogate; SQLite turns a NaN into NULL.
    """
    strings: list[str] = []
    numbers: list[float] = []
    _collect(item, strings, numbers)
    # One C-level scan of everything: the common, clean case costs a join and a search.
    if text_problem("".join(strings)) is None and all(n == n for n in numbers):  # NaN != NaN
        return None
    for where, value in _fields(item, name or type(item).__name__.lower()):
        if isinstance(value, str):
            problem = text_problem(value)
            if problem is not None:
                return f"{where} {problem}"
        elif value != value:
            return f"{where} is not a number (NaN)"
    return None  # pragma: no cover - the fast check and the walk see the same values


_FIELD_NAMES: dict[type, tuple[str, ...]] = {}
"""Dataclass -> its field names, filled on first sight (feed items are a handful of types)."""


def _names(cls: type) -> tuple[str, ...]:
    names = _FIELD_NAMES.get(cls)
    if names is None:
        names = _FIELD_NAMES[cls] = tuple(f.name for f in fields(cls))
    return names


def _collect(value: object, strings: list[str], numbers: list[float]) -> None:
    """Every str and float inside `value` (dataclasses and tuples of them, as feed items are).

    Iterative and keyed on exact types (no recursion, no `is_dataclass` per value), yet
    some 10 us per DSA and 75 us per AlmaLinux erratum: the reason parsers that know their
    input walk only the items of suspect records.
    """
    stack = [value]
    while stack:
        item = stack.pop()
        cls = type(item)
        if cls is str:
            strings.append(item)  # type: ignore[arg-type]
            continue
        names = _FIELD_NAMES.get(cls)
        if names is not None:
            stack.extend([getattr(item, name) for name in names])
        elif cls is tuple:
            stack.extend(item)  # type: ignore[arg-type]
        elif cls is float:
            numbers.append(item)  # type: ignore[arg-type]
        elif isinstance(item, str):
            strings.append(item)  # enum members, str subclasses
        elif is_dataclass(item):
            stack.extend([getattr(item, name) for name in _names(cls)])


def _fields(value: object, where: str) -> Iterator[tuple[str, object]]:
    """(path such as `advisory.affected[0].note`, value) of every str and float in `value`."""
    if isinstance(value, (str, float)):
        yield where, value
    elif isinstance(value, tuple):
        for index, part in enumerate(value):
            yield from _fields(part, f"{where}[{index}]")
    elif is_dataclass(value):
        for name in _names(type(value)):
            yield from _fields(getattr(value, name), f"{where}.{name}")


def _printable(text: str, limit: int) -> str:
    """`text` cut to `limit` characters, with lone surrogates and NUL escaped."""
    if len(text) > limit:
        text = f"{text[:limit]}... ({len(text)} characters)"
    if text_problem(text) is not None:
        text = text.encode("utf-8", "backslashreplace").decode("utf-8").replace("\x00", "\\x00")
    return text
