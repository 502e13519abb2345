"""Advisory feed parsers: every feed kind parses into `patchwarden.core.advisory` values.

    FEEDS["osv"].parse(path, report)  ->  Iterator[Advisory | KevEntry | EpssScore]

`FEEDS` is the explicit registry (STYLE P2), keyed by each parser's `kind`; `detect_kind`
guesses the kind of a path the user gave without `KIND:`.
"""

from __future__ import annotations

from pathlib import Path

from patchwarden.feeds.alpine_secdb import AlpineSecdbParser
from patchwarden.feeds.base import FeedItem, FeedParser, ParseReport
from patchwarden.feeds.debian_tracker import DebianTrackerParser
from patchwarden.feeds.epss import EpssParser
from patchwarden.feeds.kev import KevParser
from patchwarden.feeds.kind import detect_kind as _detect_kind
from patchwarden.feeds.nvd import NvdParser
from patchwarden.feeds.osv import OsvParser
from patchwarden.feeds.ubuntu_uct import UbuntuUctParser


def _registry(*parsers: FeedParser) -> dict[str, FeedParser]:
    table: dict[str, FeedParser] = {}
    for parser in parsers:
        if parser.kind in table:
            raise RuntimeError(f"duplicate feed kind {parser.kind!r}")
        table[parser.kind] = parser
    return table


FEEDS: dict[str, FeedParser] = _registry(
    OsvParser(),
    DebianTrackerParser(),
    UbuntuUctParser(),
    AlpineSecdbParser(),
    KevParser(),
    EpssParser(),
    NvdParser(),
)


def detect_kind(path: str | Path) -> str:
    """The `FEEDS` key for `path`, guessed from its name and first bytes; FeedError if unsure."""
    return _detect_kind(path, tuple(FEEDS))


__all__ = ["FEEDS", "FeedItem", "FeedParser", "ParseReport", "detect_kind"]
