"""apk collector: `lib/apk/db/installed` -> installed Alpine packages.

The installed database is a list of stanzas separated by blank lines; each line is one
letter, a colon and a value (apk-tools "Installed database" / PKGINFO v2 field letters):
`P` name, `V` version, `A` architecture, `o` origin (the source package that Alpine's
secdb and OSV records name), `m` maintainer; file lines (`F`, `R`, `Z`, `a`, …) are ignored.
A stanza without P or V is reported, never skipped silently (STYLE E3).
"""

from __future__ import annotations

from typing import Dict, List, Tuple

from patchwarden.agent.collectors.base import (
    Collector,
    CollectorFailed,
    Context,
    InventoryPart,
)
from patchwarden.agent.collectors.textfile import read_text
from patchwarden.core.inventory import CollectorError, Evidence, Package

NAME = "apk"
INSTALLED = "lib/apk/db/installed"

_WANTED = frozenset("PVAo")


def parse_installed(
    text: str, source: str = INSTALLED
) -> Tuple[Tuple[Package, ...], Tuple[str, ...]]:
    """(packages, problems) of an apk installed database; problems carry line numbers.

    Raise CollectorFailed (naming `source`) when no stanza is usable at all.
    """
    packages: List[Package] = []
    problems: List[str] = []
    fields: Dict[str, str] = {}
    start, in_stanza, broken = 0, False, False
    lines = text.splitlines()
    lines.append("")
    for number, line in enumerate(lines, 1):
        if not line.strip():
            if in_stanza and not broken:
                name, version = fields.get("P", ""), fields.get("V", "")
                if name and version:
                    origin = fields.get("o", "")
                    packages.append(
                        Package(
                            name=name,
                            version=version,
                            format="apk",
                            arch=fields.get("A", ""),
                            source_name="" if origin == name else origin,
                        )
                    )
                else:
                    missing = "P (name)" if not name else "V (version)"
                    label = f" {name!r}" if name else ""
                    problems.append(f"line {start}: package{label} has no {missing} field")
            fields, in_stanza, broken = {}, False, False
            continue
        if not in_stanza:
            start, in_stanza = number, True
        if len(line) < 2 or line[1] != ":":
            if not broken:
                problems.append(f"line {number}: not an apk 'X:value' line: {line[:60]!r}")
            broken = True
        elif line[0] in _WANTED:
            fields[line[0]] = line[2:].strip()
    if not packages and problems:
        raise CollectorFailed(f"no usable apk package; first problem: {problems[0]}", source)
    return tuple(packages), tuple(problems)


class ApkCollector(Collector):
    """Installed Alpine (and Wolfi) packages with their origin."""

    name = NAME
    version = 1
    covers = frozenset({Evidence.INSTALLED_PACKAGES})

    def applies(self, ctx: Context) -> bool:
        """Only roots that have an apk database."""
        return ctx.path(INSTALLED).is_file()

    def collect(self, ctx: Context) -> InventoryPart:
        """Parse the installed database; bad stanzas become warnings."""
        packages, problems = parse_installed(read_text(ctx.path(INSTALLED), INSTALLED))
        warnings = tuple(CollectorError(NAME, p, INSTALLED) for p in problems)
        return InventoryPart(packages=packages, warnings=warnings)
