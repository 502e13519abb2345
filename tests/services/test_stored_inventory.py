"""Reading back an upload as the console stored it: gzip or plain, never an exception."""

from __future__ import annotations

import gzip
import json
from typing import Optional

import pytest

from patchwarden.services.admission import stored_inventory

INVENTORY = {"host": {"hostname": "web-1"}, "packages": []}
UPLOAD = json.dumps({"schema": 1, "inventory": INVENTORY}).encode()


def test_a_stored_upload_reads_back_gzip_or_plain() -> None:
    assert stored_inventory(UPLOAD) == INVENTORY
    assert stored_inventory(gzip.compress(UPLOAD)) == INVENTORY


@pytest.mark.parametrize(
    "body",
    [
        None,
        b"",
        gzip.compress(UPLOAD)[:-8],  # truncated gzip
        b"\x1f\x8b not gzip at all",
        b"{not json",
        b"[1, 2]",
        json.dumps({"schema": 1}).encode(),
        json.dumps({"inventory": [1]}).encode(),
    ],
)
def test_an_unreadable_stored_upload_is_none(body: Optional[bytes]) -> None:
    assert stored_inventory(body) is None
