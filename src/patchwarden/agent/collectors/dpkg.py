"""dpkg collector: `var/lib/dpkg/status` (+ distroless `var/lib/dpkg/status.d/*`) -> packages.

The status file is a list of RFC 822-like stanzas (deb-control(5), Debian Policy §5.1):
`Field: value` lines, continuation lines starting with a space or tab, stanzas separated by
blank lines. We parse it by hand (DESIGN §3: ~10x faster than python-debian) and keep only
the fields we need. Debian Policy §5.6.1 `Source: name (version)` gives the source identity
that Debian and Ubuntu advisories use.

A stanza that cannot be used (no Package, no Version, a line that is not a field) is reported
as a problem with its line number, never skipped silently (STYLE E3); a file where *no*
stanza is usable, or a vcpkg `status` file (same syntax, Windows ports), fails the collector.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Dict, List, Optional, Tuple

from patchwarden.agent.collectors.base import (
    Collector,
    CollectorFailed,
    Context,
    InventoryPart,
)
from patchwarden.agent.collectors.textfile import read_text
from patchwarden.core.inventory import CollectorError, Evidence, Package

NAME = "dpkg"
STATUS = "var/lib/dpkg/status"
STATUS_D = "var/lib/dpkg/status.d"

# Third word of `Status: want flag status` (dpkg(1) "package states") for which the package's
# files are unpacked and configured. `want` is ignored on purpose: a package marked
# deinstall/purge/hold but still installed is still on disk, so still vulnerable.
INSTALLED_STATES = frozenset({"installed", "triggers-awaited", "triggers-pending"})

# Stanzas are separated by one or more empty (or blank) lines.
_SEPARATOR_RE = re.compile(r"\n(?:[ \t]*\n)+")
# The fields we keep; Abi/Feature/Type are only written by vcpkg (its dpkg-like status file).
# Patterns start at "\n" (each stanza is searched with one prepended): a literal first
# character is much faster for `re` than `^` with MULTILINE.
_FIELD_RE = re.compile(
    r"\n(Package|Version|Architecture|Source|Status|Origin|Abi|Feature|Type):([^\n]*)"
)
# A line that is neither a continuation (leading blank) nor `Name:` with a one-word ASCII
# field name (deb822: printable characters except space and colon).
_BAD_LINE_RE = re.compile(r"\n(?=[^ \t\n])(?![!-9;-~]+:)")


@dataclass(frozen=True)
class StatusParse:
    """What one status file gave: usable packages and the problems found on the way."""

    packages: Tuple[Package, ...]
    problems: Tuple[str, ...]
    """One message per unusable stanza or line: "line 12: stanza 'acl' has no Version"."""
    stanzas: int
    """Stanzas seen, installed or not."""


def parse_status(text: str, source: str = STATUS, default_installed: bool = False) -> StatusParse:
    """Parse dpkg status text into installed packages (`Status: * * installed`).

    `default_installed` is for distroless `status.d/` files, which carry no Status field
    (each file describes one installed package). Raise CollectorFailed (naming `source`)
    when the text is a vcpkg status file or holds no usable stanza at all.
    """
    packages: List[Package] = []
    problems: List[str] = []
    stanzas = 0
    text = text.replace("\r\n", "\n")
    # One search over the whole text; stanzas are only searched one by one when it finds
    # something (a broken file), which keeps the common case fast.
    any_bad = _BAD_LINE_RE.search("\n" + text) is not None
    line = 1  # line number of text[start]
    start = 0
    # Regexes do the per-line work in C; Python only loops over stanzas.
    for sep in [*_SEPARATOR_RE.finditer(text), None]:
        end = sep.start() if sep else len(text)
        stanza = text[start:end]
        lead = len(stanza) - len(stanza.lstrip("\n"))
        stanza_line = line + lead
        stanza = stanza[lead:]
        if stanza and not stanza.isspace():
            stanzas += 1
            fields = {k: v.strip() for k, v in _FIELD_RE.findall("\n" + stanza)}
            bad = _BAD_LINE_RE.search("\n" + stanza) if any_bad else None
            if bad or stanza[0] in " \t":
                # A stanza with a broken line may have lost fields: report, do not guess.
                at = bad.start() if bad else 0  # offset in stanza of the bad line
                number = stanza_line + stanza.count("\n", 0, at)
                bad_line = stanza[at:].split("\n", 1)[0]
                what = f"not a 'Field: value' line: {bad_line[:60]!r}"
                if not bad:
                    what = "continuation line outside a field"
                label = f" (stanza {fields['Package']!r})" if "Package" in fields else ""
                problems.append(f"line {number}: {what}{label}")
            else:
                pkg, why = _package(fields, default_installed, source)
                if pkg is not None:
                    packages.append(pkg)
                elif why:
                    problems.append(f"line {stanza_line}: {why}")
        if sep is None:
            break
        line += text.count("\n", start, sep.end())
        start = sep.end()
    if not packages and problems:
        raise CollectorFailed(f"no usable dpkg stanza; first problem: {problems[0]}", source)
    return StatusParse(tuple(packages), tuple(problems), stanzas)


def _package(
    fields: Dict[str, str], default_installed: bool, source: str
) -> Tuple[Optional[Package], str]:
    """The installed package of one stanza, or (None, why) — why "" for not-installed."""
    name = fields.get("Package", "")
    if "Abi" in fields or fields.get("Type") == "Port":
        raise CollectorFailed(
            "this is a vcpkg status file (Abi/Feature/Type: Port fields), not a dpkg database",
            source,
        )
    if not name:
        return None, "stanza has no Package field"
    status = fields.get("Status")
    if status is None:
        if not default_installed:
            return None, f"stanza {name!r} has no Status field"
    else:
        words = status.split()
        if len(words) != 3:
            return None, f"stanza {name!r} has a malformed Status {status!r}"
        if words[2] not in INSTALLED_STATES:
            return None, ""
    version = fields.get("Version", "")
    if not version:
        return None, f"stanza {name!r} has no Version field"
    source_name, source_version = "", ""
    src = fields.get("Source", "")
    if src:
        # "Source: glibc (2.36-9+deb12u4)" when a binNMU made the versions differ.
        source_name, _, rest = src.partition(" ")
        rest = rest.strip()
        if rest.startswith("(") and rest.endswith(")"):
            source_version = rest[1:-1].strip()
        if source_name == name:
            source_name = ""
    return (
        Package(
            name=name,
            version=version,
            format="deb",
            arch=fields.get("Architecture", ""),
            source_name=source_name,
            source_version=source_version,
            origin=fields.get("Origin", ""),
        ),
        "",
    )


class DpkgCollector(Collector):
    """Installed .deb packages with binary and source identity (STYLE D2)."""

    name = NAME
    version = 1
    covers = frozenset({Evidence.INSTALLED_PACKAGES})

    def applies(self, ctx: Context) -> bool:
        """Only roots that have a dpkg database."""
        return ctx.path(STATUS).is_file() or ctx.path(STATUS_D).is_dir()

    def collect(self, ctx: Context) -> InventoryPart:
        """Read the status file and every `status.d/` entry; bad stanzas become warnings."""
        packages: List[Package] = []
        warnings: List[CollectorError] = []
        sources: List[Tuple[str, bool]] = []
        failed = 0
        if ctx.path(STATUS).is_file():
            sources.append((STATUS, False))
        status_d = ctx.path(STATUS_D)
        if status_d.is_dir():
            # *.md5sums files next to the stanzas list package files, not packages.
            sources.extend(
                (f"{STATUS_D}/{entry.name}", True)
                for entry in sorted(status_d.iterdir())
                if entry.is_file() and not entry.name.endswith(".md5sums")
            )
        for rel, default_installed in sources:
            try:
                parsed = parse_status(read_text(ctx.path(rel), rel), rel, default_installed)
            except CollectorFailed as exc:
                if not default_installed:
                    raise
                # One broken distroless entry must not hide the other packages' entries.
                warnings.append(CollectorError(NAME, exc.message, rel))
                failed += 1
                continue
            packages.extend(parsed.packages)
            warnings.extend(CollectorError(NAME, p, rel) for p in parsed.problems)
        if sources and failed == len(sources):
            raise CollectorFailed(f"no usable status.d entry: {warnings[0].message}", STATUS_D)
        return InventoryPart(packages=tuple(packages), warnings=tuple(warnings))
