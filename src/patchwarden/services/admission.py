"""Admitting a request body: who may send one, and how its bytes become a JSON document.

Every JSON endpoint of the console (agent: enrolment, inventory upload, job result; REST:
actions, settings) takes its body the same way; the server streams, this module decides:

1. the sender is known from the headers alone before a byte of the body is read
   (`check_agent`, or `users.authenticate_user` for the REST API; enrolment has no
   credentials and a small body instead);
2. the body is read within its `BodyLimits` chunk by chunk as it arrives (`BodyReader`): its
   size on the wire, chunked or not, and its size once inflated when gzip-encoded, checked
   while inflating, so neither a long body nor a gzip bomb is ever held whole;
3. the bytes are parsed (`parse_json`) as strict UTF-8 JSON whose size, nesting and numbers
   are bounded and whose strings hold nothing a database or a response cannot carry.

Refusals: `TooLarge` (413) for sizes, `MalformedRequest` (400) for what is not JSON, broken
gzip or nested too deeply, `InvalidRequest` (422) for a value no database holds, naming where
it is (`inventory.os.name`, `record_ids[3]`).

Sizes are counted on the bytes before anything is built: `[` `{` `,` are counted wherever
they are, inside strings too, so the counts are upper bounds and cost a C-level scan. Depth is
left to the parser's own recursion guard for runaway nesting (a RecursionError, refused here)
and checked exactly on the parsed document, one level at a time (measured on a 12 MB
inventory: json.loads 94 ms, the depth walk 69 ms; a string-stripping pre-scan took 220-350
ms and peaked at 150-250 MB).
"""

from __future__ import annotations

import json
import math
import re
import zlib
from dataclasses import dataclass
from typing import Any, Optional, Union

from patchwarden.core.text import text_problem
from patchwarden.protocol import v1
from patchwarden.services import tokens
from patchwarden.services.errors import AuthError, InvalidRequest, MalformedRequest, TooLarge
from patchwarden.services.ports import UnitOfWork

MAX_API_BODY = 1024 * 1024
"""Largest body of a REST API request (an action on 10,000 records is about 120 kB)."""

INT64 = (-(2**63), 2**63 - 1)
"""The integers both databases store: any other number in a body is refused."""

Bytes = Union[bytes, bytearray]


@dataclass(frozen=True)
class BodyLimits:
    """What one endpoint accepts as its body."""

    what: str
    """Names the body in messages: "inventory upload", "enrolment" …"""
    wire: int
    """Most bytes on the wire (as sent: compressed or not, chunked or not)."""
    inflated: int
    """Most bytes once a gzip body is inflated."""
    depth: int = v1.MAX_JSON_DEPTH
    containers: int = v1.MAX_JSON_CONTAINERS
    values: int = v1.MAX_JSON_VALUES


INVENTORY = BodyLimits("inventory upload", v1.MAX_INVENTORY_GZIP, v1.MAX_INVENTORY_JSON)
ENROLMENT = BodyLimits("enrolment", v1.MAX_SMALL_BODY, v1.MAX_SMALL_BODY)
JOB_RESULT = BodyLimits("job result", v1.MAX_SMALL_BODY, v1.MAX_SMALL_BODY)
API_REQUEST = BodyLimits("request body", MAX_API_BODY, MAX_API_BODY)


@dataclass(frozen=True)
class Body:
    """A body read whole within its limits."""

    wire: bytes
    """The bytes as sent (what an inventory upload stores)."""
    data: bytes
    """The JSON text: `wire` itself, or `wire` inflated."""


def check_agent(uow: UnitOfWork, authorization: Optional[str]) -> str:
    """The host id of `Authorization: Agent <host_id>:<secret>`, else AuthError.

    Read only, before the body is read: the service the request goes on to authenticates
    again in its own transaction (and records the contact).
    """
    if not authorization:
        raise AuthError("missing agent credentials")
    try:
        host_id, secret = v1.parse_auth_header(authorization)
    except v1.ProtocolError as exc:
        raise AuthError(str(exc)) from None
    with uow.read():
        stored = uow.hosts.secret_hash(host_id)
    if stored is None or not tokens.matches(secret, stored):
        raise AuthError("wrong agent credentials")
    return host_id


INFLATE_STEP = 256 * 1024
"""Most bytes one inflate call may produce: a bomb is inflated in steps this size, so
refusing it never costs more than the limit itself."""


class BodyReader:
    """Takes a body chunk by chunk within `limits`; `finish()` hands it over.

    Raises as soon as a limit is passed, so at most `limits.wire` bytes as sent and
    `limits.inflated` bytes inflated are ever held (kept as lists of chunks: growing one
    buffer would copy it, briefly holding it twice).
    """

    def __init__(
        self, limits: BodyLimits, content_encoding: str = "", content_length: Optional[str] = None
    ) -> None:
        self.limits = limits
        encoding = content_encoding.strip().lower()
        if encoding in ("", "identity"):
            self._inflater = None
        elif encoding in ("gzip", "x-gzip"):
            self._inflater = zlib.decompressobj(wbits=31)  # gzip framing only
        else:
            raise MalformedRequest(
                f"{limits.what}: unsupported Content-Encoding {content_encoding[:40]!r} "
                "(send gzip or no encoding)"
            )
        if content_length:
            try:
                declared = int(content_length)
            except ValueError:
                raise MalformedRequest(f"{limits.what}: Content-Length is not a number") from None
            self._check_wire(declared, declared)
        self._wire: list[bytes] = []
        self._wire_size = 0
        self._data: list[bytes] = []
        self._data_size = 0

    def _check_wire(self, size: int, shown: Optional[int]) -> None:
        if size > self.limits.wire:
            of = f" of {shown} bytes" if shown is not None else ""
            raise TooLarge(f"{self.limits.what}{of} exceeds {self.limits.wire} bytes")

    def feed(self, chunk: bytes) -> None:
        """Take the next chunk (TooLarge / MalformedRequest as soon as it is wrong)."""
        if not chunk:
            return
        self._wire_size += len(chunk)
        self._check_wire(self._wire_size, None)
        self._wire.append(chunk)
        if self._inflater is not None:
            self._inflate(self._inflater, chunk)

    def _inflate(self, inflater: Any, chunk: bytes) -> None:
        what, limit = self.limits.what, self.limits.inflated
        if inflater.eof:
            raise MalformedRequest(f"{what}: data after the end of the gzip stream")
        pending = chunk
        while True:
            # At most one byte more than fits: getting it means the body is too large.
            step = min(limit - self._data_size + 1, INFLATE_STEP)
            try:
                out = inflater.decompress(pending, step)
            except zlib.error as exc:
                raise MalformedRequest(f"{what} is not valid gzip: {exc}") from None
            self._data.append(out)
            self._data_size += len(out)
            if self._data_size > limit:
                raise TooLarge(f"{what} exceeds {limit} bytes once decompressed")
            pending = inflater.unconsumed_tail
            if len(out) < step or inflater.eof:
                break  # all input taken (a full step may leave output pending: go on)
        if inflater.unused_data:
            raise MalformedRequest(f"{what}: data after the end of the gzip stream")

    def finish(self) -> Body:
        """The whole body; MalformedRequest when it is empty or its gzip stream truncated."""
        what = self.limits.what
        if not self._wire_size:
            raise MalformedRequest(f"{what} is empty: a JSON document was expected")
        wire = b"".join(self._wire)
        self._wire.clear()
        if self._inflater is None:
            return Body(wire, wire)
        if not self._inflater.eof:
            raise MalformedRequest(f"{what}: gzip stream is truncated")
        data = b"".join(self._data)
        self._data.clear()
        return Body(wire, data)


def stored_inventory(body: Optional[bytes]) -> Optional[dict[str, Any]]:
    """The `inventory` object of an upload as the console stored it (gzip or plain JSON);
    None when there is none or it cannot be read. The body passed admission when it came, so
    it is only inflated and parsed here, not checked again."""
    if body is None:
        return None
    try:
        if body[:2] == b"\x1f\x8b":
            body = zlib.decompress(body, wbits=31)
        inventory = json.loads(body)["inventory"]
    except (zlib.error, ValueError, KeyError, TypeError):
        return None
    return inventory if isinstance(inventory, dict) else None


def read_body(body: bytes, limits: BodyLimits, content_encoding: str = "") -> Body:
    """`BodyReader` over a body already in memory (services called without the server)."""
    reader = BodyReader(limits, content_encoding)
    reader.feed(body)
    return reader.finish()


class _Unfit:
    """A number the parser met that no database column holds (found and named afterwards)."""

    __slots__ = ("text",)

    def __init__(self, text: str) -> None:
        self.text = text


class _Numbers:
    """Parser hooks: every number is checked as it is parsed, the first unfit one remembered."""

    def __init__(self) -> None:
        self.unfit = False

    def integer(self, text: str) -> Any:
        # 20 characters hold every int64 ("-9223372036854775808"); longer strings are not
        # converted at all (int() of a huge digit string costs quadratic time).
        if len(text) <= 20:
            value = int(text)
            if INT64[0] <= value <= INT64[1]:
                return value
        self.unfit = True
        return _Unfit(text)

    def real(self, text: str) -> Any:
        value = float(text)
        if math.isfinite(value):
            return value
        self.unfit = True  # 1e400 parses as inf: JSON cannot send it back
        return _Unfit(text)

    def constant(self, text: str) -> Any:
        self.unfit = True  # NaN, Infinity: Python's extension, not JSON
        return _Unfit(text)


# Strings get a NUL or a lone surrogate only from a \u escape (raw control characters are
# refused by the parser, encoded surrogates by the strict UTF-8 decoding): without one of
# these escapes, no string needs to be looked at.
_SUSPECT_ESCAPE = re.compile(r"\\u(?:0000|[dD][89a-fA-F])")


def parse_json(data: Bytes, limits: BodyLimits) -> Any:
    """The JSON document in `data`, bounded by `limits`; strings and numbers storable.

    TooLarge when it holds more containers or values than allowed, MalformedRequest when it
    is not UTF-8 JSON or nests too deeply, InvalidRequest naming the first string or number
    no database holds.
    """
    what = limits.what
    if not data:
        raise MalformedRequest(f"{what} is empty: a JSON document was expected")
    containers = data.count(b"[") + data.count(b"{")
    if containers > limits.containers:
        raise TooLarge(f"{what} holds more than {limits.containers} JSON arrays and objects")
    if containers + data.count(b",") >= limits.values:
        raise TooLarge(f"{what} holds more than {limits.values} JSON values")
    try:
        text = data.decode("utf-8")  # json.loads(bytes) would let encoded surrogates through
    except UnicodeDecodeError as exc:
        raise MalformedRequest(
            f"{what} is not JSON: not valid UTF-8 ({exc.reason} at byte {exc.start})"
        ) from None
    numbers = _Numbers()
    try:
        document = json.loads(
            text,
            parse_int=numbers.integer,
            parse_float=numbers.real,
            parse_constant=numbers.constant,
        )
    except RecursionError:
        raise MalformedRequest(f"{what} is nested deeper than {limits.depth} levels") from None
    except ValueError as exc:
        raise MalformedRequest(f"{what} is not JSON: {exc}") from None
    _check_depth(document, limits)
    strings = _SUSPECT_ESCAPE.search(text) is not None
    if strings or numbers.unfit:
        _check_values(document, what, strings)
    return document


def _check_depth(document: Any, limits: BodyLimits) -> None:
    level = [document] if isinstance(document, (dict, list)) else []
    depth = 0
    while level:
        depth += 1
        if depth > limits.depth:
            raise MalformedRequest(f"{limits.what} is nested deeper than {limits.depth} levels")
        level = [
            child
            for container in level
            for child in (container.values() if type(container) is dict else container)
            if type(child) is dict or type(child) is list
        ]


def _check_values(document: Any, what: str, strings: bool) -> None:
    """InvalidRequest naming the first unfit number (or, when `strings`, unfit string)."""
    stack: list[tuple[Any, str]] = [(document, "")]
    while stack:
        value, where = stack.pop()
        if isinstance(value, dict):
            problem = next(filter(None, map(text_problem, value)), None) if strings else None
            if problem:
                raise InvalidRequest(f"{what}: a key of {where or 'the body'} {problem}")
            stack.extend((child, _key_path(where, key)) for key, child in reversed(value.items()))
        elif isinstance(value, list):
            stack.extend((child, f"{where}[{i}]") for i, child in reversed(list(enumerate(value))))
        elif isinstance(value, _Unfit):
            raise InvalidRequest(
                f"{what}: {where or 'the body'} is {value.text[:40]}, out of range "
                f"(numbers must be finite, integers within -2^63..2^63-1)"
            )
        elif strings and isinstance(value, str):
            problem = text_problem(value)
            if problem:
                raise InvalidRequest(f"{what}: {where or 'the body'} {problem}")


_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_-]*")


def _key_path(where: str, key: str) -> str:
    """`where.key`, or `where[<key as an escaped literal>]` for keys that are no plain name
    (so a message never carries a character a response cannot encode)."""
    if _NAME.fullmatch(key):
        return f"{where}.{key}" if where else key
    return f"{where}[{ascii(key)[:60]}]"


def parse_object(data: Bytes, limits: BodyLimits) -> dict[str, Any]:
    """`parse_json`, and InvalidRequest unless the document is a JSON object."""
    document = parse_json(data, limits)
    if not isinstance(document, dict):
        raise InvalidRequest(f"{limits.what} must be a JSON object")
    return document
