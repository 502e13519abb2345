"""Text the console can store and send back: Unicode scalar values, no NUL.

JSON can spell two things no database column and no UTF-8 response can hold: a lone UTF-16
surrogate (`"\\ud800"`) and NUL (`"\\u0000"`, refused by PostgreSQL's text type). Input from
agents and users is checked with `text_problem` before it is stored.

Keep Python 3.9 syntax here: the agent imports `core` on stock server Pythons (the inventory
decoder uses this module; the agent zipapp ships it).
"""

from __future__ import annotations

import re
from typing import Optional

_SURROGATE = re.compile("[\ud800-\udfff]")


def text_problem(value: str) -> Optional[str]:
    """Why `value` cannot be stored ("contains a NUL character" …), or None when it can."""
    if "\x00" in value:
        return "contains a NUL character"
    if not value.isascii():  # the common case costs one C-level scan
        found = _SURROGATE.search(value)
        if found:
            return f"contains a lone surrogate (U+{ord(found.group()):04X}), not valid Unicode"
    return None
