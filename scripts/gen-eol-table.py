#!/usr/bin/env python3
"""Regenerate `src/patchwarden/agent/collectors/eol_table.py` from endoflife.date product files.

The source files are endoflife.date's `products/<product>.md` (MIT licence: the facts may be
copied); by default they are read from `../shared/corpus/eol/endoflife.date/` beside the repo.
Each file starts with YAML front matter whose `releases:` list has `releaseCycle`, `codename`
and `eol` (end of standard support: Debian security support, Ubuntu standard support, RHEL
full/maintenance support, Alpine main-repository support).

Usage: .venv/bin/python scripts/gen-eol-table.py [SOURCE_DIR]
"""

from __future__ import annotations

import datetime
import json
import sys
from pathlib import Path
from typing import Any, Dict, List, Tuple

import yaml

REPO = Path(__file__).resolve().parents[1]
DEFAULT_SOURCE = REPO / ".." / "shared" / "corpus" / "eol" / "endoflife.date"
TARGET = REPO / "src" / "patchwarden" / "agent" / "collectors" / "eol_table.py"

# os-release ID -> endoflife.date product file (without .md). Only distributions whose
# release key (OsRelease.release) equals the product's releaseCycle are listed.
PRODUCTS = {
    "debian": "debian",
    "ubuntu": "ubuntu",
    "rhel": "rhel",
    "centos": "centos",
    "almalinux": "almalinux",
    "rocky": "rocky-linux",
    "ol": "oracle-linux",
    "alpine": "alpine-linux",
    "amzn": "amazon-linux",
    "fedora": "fedora",
    "sles": "sles",
}


# Debian LTS is free and ships through the same debian-security archive as regular security
# support, so a Debian release is end-of-life only when LTS ends (`eoes` on endoflife.date).
# Ubuntu ESM and RHEL ELS are paid extras: standard support end stays the EOL there.
FREE_EXTENDED_SUPPORT = {"debian"}


def front_matter(path: Path) -> Dict[str, Any]:
    """The YAML front matter of one endoflife.date product file."""
    text = path.read_text(encoding="utf-8")
    if not text.startswith("---"):
        raise SystemExit(f"{path}: no YAML front matter")
    _, head, _ = text.split("---", 2)
    data = yaml.safe_load(head)
    if not isinstance(data, dict) or not isinstance(data.get("releases"), list):
        raise SystemExit(f"{path}: front matter has no releases list")
    return data


def eol_value(path: Path, cycle: str, value: Any) -> str:
    """ISO date of `eol`; "" when the product says false (no end date announced)."""
    if value is False:
        return ""
    if isinstance(value, datetime.date):
        return value.isoformat()
    raise SystemExit(f"{path}: release {cycle}: unexpected eol value {value!r}")


def rows(source: Path) -> List[Tuple[str, str, str, str]]:
    """(os id, release cycle, eol date, codename) for every release of every product."""
    out = []
    for os_id, product in PRODUCTS.items():
        path = source / f"{product}.md"
        for release in front_matter(path)["releases"]:
            cycle = str(release["releaseCycle"])
            eol = eol_value(path, cycle, release.get("eol"))
            if os_id in FREE_EXTENDED_SUPPORT and release.get("eoes"):
                eol = eol_value(path, cycle, release["eoes"])
            codename = str(release.get("codename") or "").split(" ")[0].lower()
            out.append((os_id, cycle, eol, codename))
    return out


def render(table: List[Tuple[str, str, str, str]]) -> str:
    """The Python source of eol_table.py."""
    lines = [
        '"""End-of-life dates of distribution releases (generated: do not edit).',
        "",
        "Regenerate with `scripts/gen-eol-table.py`; the facts come from endoflife.date",
        "(MIT licence). `eol` is the end of standard support (Debian: of LTS);",
        '"" means no end date announced.',
        '"""',
        "",
        "from __future__ import annotations",
        "",
        "from typing import Dict, Tuple",
        "",
        "EOL_TABLE: Dict[Tuple[str, str], Tuple[str, str]] = {",
        '    # (os-release ID, release): (eol ISO date or "", lower-case codename or "")',
    ]
    for os_id, cycle, eol, codename in table:
        key = f"({json.dumps(os_id)}, {json.dumps(cycle)})"
        lines.append(f"    {key}: ({json.dumps(eol)}, {json.dumps(codename)}),")
    lines.append("}")
    return "\n".join(lines) + "\n"


def main(argv: List[str]) -> int:
    """Write the table; print how many releases it holds."""
    source = Path(argv[1]) if len(argv) > 1 else DEFAULT_SOURCE
    table = rows(source)
    TARGET.write_text(render(table), encoding="utf-8")
    print(f"wrote {len(table)} releases to {TARGET.relative_to(REPO)}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
