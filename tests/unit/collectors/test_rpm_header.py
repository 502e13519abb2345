"""rpm header blob decoding (pure), on header blobs built here byte by byte."""

from __future__ import annotations

import struct
import subprocess
from typing import List, Tuple, Union

import pytest

from patchwarden.agent.collectors.rpm import package_from_header, split_source_rpm
from patchwarden.agent.collectors.rpm_header import BadHeader, parse_header

STRING, INT32, STRING_ARRAY = 6, 4, 8


def build_header(entries: List[Tuple[int, int, Union[str, int, List[str]]]]) -> bytes:
    """A header blob (il, dl, index, data store) as rpm lays it out, big-endian."""
    index, store = b"", b""
    for tag, kind, value in entries:
        if kind == INT32:
            store += b"\0" * (-len(store) % 4)  # int32 values are 4-byte aligned
            offset, count, data = len(store), 1, struct.pack(">i", value)
        elif kind == STRING_ARRAY:
            assert isinstance(value, list)
            offset, count = len(store), len(value)
            data = b"".join(v.encode() + b"\0" for v in value)
        else:
            offset, count, data = len(store), 1, str(value).encode() + b"\0"
        index += struct.pack(">iIiI", tag, kind, offset, count)
        store += data
    return struct.pack(">ii", len(entries), len(store)) + index + store


BASH = [
    (1000, STRING, "libreadline7"),
    (1001, STRING, "7.0"),
    (1002, STRING, "19.6.1"),
    (1022, STRING, "x86_64"),
    (1044, STRING, "bash-4.4-19.6.1.src.rpm"),
    (1011, STRING, "SUSE LLC <https://www.suse.com/>"),
]


def test_happy_path_package_identity() -> None:
    pkg = package_from_header(parse_header(build_header(BASH)))
    assert pkg is not None
    assert (pkg.name, pkg.version, pkg.arch, pkg.format) == (
        "libreadline7",
        "7.0-19.6.1",
        "x86_64",
        "rpm",
    )
    # The source rpm's version differs from the binary's: kept as source_version.
    assert (pkg.source_name, pkg.source_version) == ("bash", "4.4-19.6.1")
    assert pkg.origin == "SUSE LLC <https://www.suse.com/>"


def test_epoch_is_written_only_when_the_header_has_one() -> None:
    with_epoch = package_from_header(parse_header(build_header([*BASH, (1003, INT32, 0)])))
    assert with_epoch is not None and with_epoch.version == "0:7.0-19.6.1"
    hello = [(1000, STRING, "hello"), (1001, STRING, "0.0.1"), (1002, STRING, "rls")]
    pkg = package_from_header(parse_header(build_header([(1003, INT32, 1), *hello])))
    assert pkg is not None and pkg.version == "1:0.0.1-rls"


def test_later_entries_override_earlier_ones_and_arrays_decode() -> None:
    blob = build_header(
        [(1000, STRING, "old"), (1118, STRING_ARRAY, ["a", "b"]), (1000, STRING, "new")]
    )
    assert parse_header(blob) == {1000: "new", 1118: ["a", "b"]}


def test_gpg_pubkey_is_not_a_package() -> None:
    key = [(1000, STRING, "gpg-pubkey"), (1001, STRING, "fd431d51"), (1002, STRING, "4ae0493b")]
    assert package_from_header(parse_header(build_header(key))) is None


def test_none_placeholders_are_empty() -> None:
    pkg = package_from_header(parse_header(build_header([*BASH[:4], (1011, STRING, "(none)")])))
    assert pkg is not None and (pkg.origin, pkg.source_name) == ("", "")


@pytest.mark.parametrize(
    ("blob", "message"),
    [
        (b"\0\0\0", "too short"),
        (struct.pack(">ii", 50, 10) + b"\0" * 20, "exceeds the blob"),
        (build_header(BASH)[:-5], "exceeds the blob"),
        (
            struct.pack(">ii", 1, 4) + struct.pack(">iIiI", 1000, STRING, 99, 1) + b"abcd",
            "offset 99",
        ),
        (
            struct.pack(">ii", 1, 4) + struct.pack(">iIiI", 1000, STRING, 0, 1) + b"abcd",
            "unterminated",
        ),
    ],
)
def test_sad_path_corrupt_blobs(blob: bytes, message: str) -> None:
    with pytest.raises(BadHeader, match=message):
        parse_header(blob)


def test_sad_path_header_without_version() -> None:
    with pytest.raises(BadHeader, match="lacks NAME/VERSION/RELEASE"):
        package_from_header(parse_header(build_header(BASH[:1])))


@pytest.mark.parametrize(
    ("filename", "expected"),
    [
        ("util-linux-2.32.1-42.el8_8.src.rpm", ("util-linux", "2.32.1-42.el8_8")),
        ("kernel-5.14.0-362.8.1.el9_3.nosrc.rpm", ("kernel", "5.14.0-362.8.1.el9_3")),
        ("", ("", "")),
        ("garbage.src.rpm", ("", "")),
    ],
)
def test_split_source_rpm(filename: str, expected: Tuple[str, str]) -> None:
    assert split_source_rpm(filename) == expected


def test_modularity_label_becomes_the_module_stream() -> None:
    label = (5096, STRING, "nginx:1.22:8080020230531101524:63b34585")
    pkg = package_from_header(parse_header(build_header([*BASH, label])))
    assert pkg is not None and pkg.module == "nginx:1.22"
    plain = package_from_header(parse_header(build_header(BASH)))
    assert plain is not None and plain.module == ""


def test_header_written_by_rpm_itself_carries_the_module_stream() -> None:
    """A header blob from rpm's own `hdr.unload()` (Debian's python3-rpm)."""
    script = (
        "import sys, rpm\n"
        "h = rpm.hdr()\n"
        "h[rpm.RPMTAG_NAME] = 'nodejs'\n"
        "h[rpm.RPMTAG_EPOCH] = 1\n"
        "h[rpm.RPMTAG_VERSION] = '18.14.2'\n"
        "h[rpm.RPMTAG_RELEASE] = '2.module_el8.7.0+3500+0c0e0ed5'\n"
        "h[rpm.RPMTAG_MODULARITYLABEL] = 'nodejs:18:8070020230306171546:0c0e0ed5'\n"
        "sys.stdout.buffer.write(h.unload())\n"
    )
    blob = subprocess.run(
        ["/usr/bin/python3", "-c", script], capture_output=True, check=True
    ).stdout
    pkg = package_from_header(parse_header(blob))
    assert pkg is not None
    assert (pkg.name, pkg.version, pkg.module) == (
        "nodejs",
        "1:18.14.2-2.module_el8.7.0+3500+0c0e0ed5",
        "nodejs:18",
    )
