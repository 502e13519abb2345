"""Alpine apk versions, `number{.number}...{letter}{_suffix{number}}...{~hash}{-r#}`.

Ordering follows current apk-tools' `apk_version_compare` (src/version.c, the tokenizer with
`TOKEN_INITIAL_DIGIT` and `TOKEN_COMMIT_HASH`; the osv-scalibr vectors in the corpus call it
"latest apk"). apk reads a version as typed tokens, in this order of types:

    initial number, .number, letter, _suffix, suffix number, ~hash, -r revision, end

and walks both versions while their token *types* agree, comparing values: numbers
numerically, except that a `.number` starting with `0` on either side compares as a string
(Gentoo rule: `1.01 < 1.1`, `1.0 < 1.00`); letters and hashes as strings; suffixes by rank
`_alpha < _beta < _pre < _rc < (none) < _cvs < _svn < _git < _hg < _p`. When the types first
differ, a pre-release suffix (`_alpha` … `_rc`) loses; otherwise the version whose token type
comes *later* in that list is the lesser one, so `1.0 < 1.0.1`, `1.0 < 1.0a`, `1.0 < 1.0-r1`,
`1.0_rc1 < 1.0`, `1.0 < 1.0_p1`.

`key()` writes that walk as a flat tuple: rank of the token type, then its value, for every
token, closed by the rank of "end". Ranks are the negated token types, with a pre-release
suffix below all; a `.number` value is (0, digits) when it starts with `0` and (1, number)
otherwise, which is exactly the mixed string/number rule above (any string starting with `0`
is below any number written without one).

One extension: a number right after the letter (`6.6.2p1-r0`, how Alpine versioned openssh
and others in the apk 2.x era; they are in Alpine advisories and old installed databases).
Current apk stops at such a digit as invalid, so `6.6.2p1 == 6.6.2p2` there; apk 2.x read it
as a number token and ordered those versions (the corpus list generated with apk 2.10 relies
on it), and so do we.

Other versions apk's validator rejects (`apk_version_validate`: upper case, unknown suffixes
such as `_blah`, `-ruff`, `1-r` without a number, an empty `.` part, a leading non-digit) raise
InvalidVersion: apk still orders them up to the first bad token, but a vulnerability match on
such a string would be a guess.
"""

from __future__ import annotations

import re
from typing import Union

from patchwarden.core.errors import InvalidVersion

NAME = "apk"

# Token types in apk's order (enum PARTS); the rank in the key is the negated type.
_INITIAL, _DIGIT, _LETTER, _SUFFIX, _SUFFIX_NO, _HASH, _REVISION, _END = range(8)
_PRE_RELEASE_RANK = -_END - 1
_NONE_SUFFIX = 5
_SUFFIXES = {
    "alpha": 1,
    "beta": 2,
    "pre": 3,
    "rc": 4,
    # 5 is "no suffix"
    "cvs": 6,
    "svn": 7,
    "git": 8,
    "hg": 9,
    "p": 10,
}
_NUMBER = re.compile(r"[0-9]+")
_LOWER_RUN = re.compile(r"[a-z]*")
_HEX_RUN = re.compile(r"[0-9a-f]*")

Value = Union[int, str, tuple[int, Union[int, str]]]


def _int(digits: str) -> int:
    """`int(digits)`; ValueError naming the problem when the run is too long for `int`."""
    try:
        return int(digits)
    except ValueError:
        # Over sys.get_int_max_str_digits() (4300) digits, as in `dpkg`: no version a
        # vendor ships, and comparing it would be a guess.
        raise ValueError("digit run too long") from None


def _tokens(text: str) -> list[Value]:
    """The flat (rank, value, …, end rank) key of apk's token walk; ValueError when invalid."""
    number = _NUMBER.match(text)
    if number is None:
        raise ValueError("does not start with a number")
    out: list[Value] = [-_INITIAL, _int(number.group())]
    kind, pos = _INITIAL, number.end()
    while pos < len(text):
        char = text[pos]
        if "a" <= char <= "z":
            if kind > _DIGIT:
                raise ValueError(f"letter {char!r} after the numbers")
            kind, value, pos = _LETTER, ord(char), pos + 1
            out += [-kind, value]
        elif char == ".":
            # A letter ends the numeric part: "1.0a.1" and "2p1" are not versions.
            if kind > _DIGIT:
                raise ValueError("'.' after a letter or suffix")
            number = _NUMBER.match(text, pos + 1)
            if number is None:
                raise ValueError("'.' not followed by digits")
            digits = number.group()
            kind, pos = _DIGIT, number.end()
            # The Gentoo rule: a part with a leading zero compares as a string (module doc).
            out += [-kind, (0, digits) if digits[0] == "0" else (1, _int(digits))]
        elif "0" <= char <= "9":
            number = _NUMBER.match(text, pos)
            assert number is not None  # text[pos] is a digit
            if kind == _SUFFIX:
                kind, pos = _SUFFIX_NO, number.end()
                out += [-kind, _int(number.group())]
            elif kind == _LETTER and out[-2] == -_LETTER:
                # Our one extension (module docstring): `6.6.2p1`. apk 2.x read these digits
                # as a number token; they rank like one and leave the state at "letter".
                pos = number.end()
                out += [-_DIGIT, (1, _int(number.group()))]
            else:
                raise ValueError(f"digit {char!r} after a letter and number")
        elif char == "_":
            if kind > _SUFFIX_NO:
                raise ValueError("'_' suffix after a hash or revision")
            run = _LOWER_RUN.match(text, pos + 1)
            assert run is not None  # the pattern matches the empty string
            suffix = _SUFFIXES.get(run.group())
            if suffix is None:
                raise ValueError(f"unknown suffix {text[pos : run.end()]!r}")
            kind, pos = _SUFFIX, run.end()
            rank = _PRE_RELEASE_RANK if suffix < _NONE_SUFFIX else -kind
            out += [rank, suffix]
        elif char == "~":
            run = _HEX_RUN.match(text, pos + 1)
            assert run is not None
            if kind >= _HASH or not run.group():
                raise ValueError("'~' must be followed by one hex commit hash")
            kind, pos = _HASH, run.end()
            out += [-kind, run.group()]
        elif char == "-":
            number = _NUMBER.match(text, pos + 2)
            if kind >= _REVISION or not text.startswith("-r", pos) or number is None:
                raise ValueError("'-' must start one '-r<number>' revision")
            kind, pos = _REVISION, number.end()
            out += [-kind, _int(number.group())]
        else:
            raise ValueError(f"unexpected {char!r}")
    out += [-_END, 0]
    return out


def key(version: str) -> tuple[Value, ...]:
    """A flat tuple ordered like `apk version -t` (apk-tools src/version.c).

    `1-r1` == `1-r01`; `1.2_rc1 < 1.2 < 1.2_p1`. Raises InvalidVersion on an empty string and
    on anything apk's validator rejects.
    """
    if not version:
        raise InvalidVersion(NAME, version, "empty version")
    try:
        return tuple(_tokens(version))
    except ValueError as exc:
        raise InvalidVersion(NAME, version, str(exc)) from None
