"""JSON and YAML documents of feeds, decoded so that no input can crash the decoder.

Two things in a feed file make Python's decoders raise something other than a decode error:

* Nesting: `json` recurses once per level and raises RecursionError near the interpreter's
  recursion limit (1,000 levels: a 10 kB record of `[[[[…`). That limit is our bound; such a
  document is refused with ValueError("nested too deeply"). Real records nest fewer than 10.
* Long numbers: `int()` refuses more than 4,300 digits (Python 3.11+). A number that long is
  kept as its digit string, so one record carrying it (an Alpine secdb version `1111…` is a
  YAML int) is judged by its parser and then by version matching, not by the decoder, which
  would fail the whole file.

Both functions raise ValueError, with the format in the message, for anything undecodable.
"""

from __future__ import annotations

import json
from typing import Any, Union

import yaml

_BaseLoader: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def _int_or_digits(text: str) -> Union[int, str]:
    try:
        return int(text)
    except ValueError:  # over sys.get_int_max_str_digits() digits
        return text


class _Loader(_BaseLoader):  # type: ignore[misc]
    """CSafeLoader (no object tags) that keeps integers too long for `int` as text."""


def _yaml_int(loader: Any, node: Any) -> Any:
    try:
        return yaml.constructor.SafeConstructor.construct_yaml_int(loader, node)
    except ValueError:
        return loader.construct_scalar(node)


_Loader.add_constructor("tag:yaml.org,2002:int", _yaml_int)


def load_json(data: Union[bytes, str]) -> Any:
    """The decoded document; ValueError("not valid JSON: …") when it cannot be."""
    try:
        return json.loads(data, parse_int=_int_or_digits)
    except RecursionError:
        raise ValueError("not valid JSON: nested too deeply") from None
    except ValueError as exc:  # JSONDecodeError and UnicodeDecodeError are ValueErrors
        raise ValueError(f"not valid JSON: {exc}") from exc


def load_yaml(data: Union[bytes, str]) -> Any:
    """The decoded document (safe tags only); ValueError("not valid YAML: …") when it cannot be."""
    try:
        return yaml.load(data, Loader=_Loader)  # noqa: S506 - a SafeLoader subclass
    except RecursionError:
        raise ValueError("not valid YAML: nested too deeply") from None
    except (ValueError, yaml.YAMLError) as exc:
        raise ValueError(f"not valid YAML: {exc}") from exc
