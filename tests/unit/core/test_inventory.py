"""Decoding inventories (core.inventory): explicit per-dataclass decoders, exact messages."""

from __future__ import annotations

import dataclasses
import inspect
import json
from dataclasses import asdict
from typing import Any

import pytest

from patchwarden.core import inventory as inventory_module
from patchwarden.core.errors import InventoryError
from patchwarden.core.inventory import (
    _SHAPES,
    SCHEMA,
    UNKNOWN_OS,
    CollectorError,
    Evidence,
    Host,
    Inventory,
    Kernel,
    KernelPackage,
    OsRelease,
    Package,
    PendingUpdate,
)

FULL = Inventory(
    host=Host(hostname="web-01", machine_id="0123", arch="amd64", root="/mnt/img"),
    os=OsRelease(
        id="debian",
        family="debian",
        release="12",
        version_id="12",
        codename="bookworm",
        name="Debian GNU/Linux 12 (bookworm)",
        eol=False,
        eol_date="2026-06-10",
        source="etc/os-release",
    ),
    packages=(
        Package(
            name="libssl3",
            version="3.0.11-1~deb12u2",
            format="deb",
            arch="amd64",
            source_name="openssl",
            source_version="3.0.11-1~deb12u2",
            origin="Debian",
            module="",
        ),
        Package(name="nodejs", version="1:18.19-1.module", format="rpm", module="nodejs:18"),
    ),
    kernel=Kernel(
        running="6.1.0-18-amd64",
        running_package="linux-image-6.1.0-18-amd64",
        installed=(KernelPackage("linux-image-6.1.0-18-amd64", "6.1.76-1", "6.1.0-18-amd64"),),
        newest_installed="6.1.0-18-amd64",
        boot_default="6.1.0-18-amd64",
    ),
    pending_updates=(
        PendingUpdate(
            package="libssl3",
            installed_version="3.0.11-1~deb12u2",
            candidate_version="3.0.13-1~deb12u1",
            repository="bookworm-security",
            source_package="openssl",
            advisories=("DSA-5621-1",),
            cves=("CVE-2023-5678", "CVE-2024-0727"),
            severity="medium",
            restart_required=True,
            note="changelog unavailable",
        ),
    ),
    collectors=("os-release@1", "dpkg@1", "kernel@1", "apt-updates@1"),
    collector_errors=(CollectorError("dpkg", "line 3: no Version", "var/lib/dpkg/status"),),
    covered=("installed-packages", "pending-updates"),
    collected_at="2024-03-01T12:00:00+00:00",
)


def inventory_dict(**changes: Any) -> dict[str, Any]:
    """FULL as JSON-ready dict with top-level keys replaced (or dropped when `...`)."""
    data = FULL.to_dict()
    for key, value in changes.items():
        if value is ...:
            data.pop(key, None)
        else:
            data[key] = value
    return data


def refused(data: Any) -> str:
    with pytest.raises(InventoryError) as caught:
        Inventory.from_dict(data)
    return str(caught.value)


# --- every field has a decoder ---------------------------------------------------------------


def test_every_dataclass_of_the_module_has_a_decoder() -> None:
    defined = {
        obj
        for _, obj in inspect.getmembers(inventory_module, dataclasses.is_dataclass)
        if inspect.isclass(obj) and obj.__module__ == inventory_module.__name__
    }
    assert {shape.cls for shape in _SHAPES} == defined


@pytest.mark.parametrize("shape", _SHAPES, ids=lambda s: s.cls.__name__)
def test_each_decoder_reads_every_field_in_declaration_order(shape: Any) -> None:
    """A field added to a dataclass without a decoder line fails here (and vice versa)."""
    assert list(shape.decoders) == [f.name for f in dataclasses.fields(shape.cls)]


def _wrong_values(annotation: str) -> list[tuple[Any, str, str]]:
    """JSON values a field of this annotation refuses: (value, path suffix, complaint).

    The decoders never look at annotations; this test does, to check they agree with them.
    """
    if annotation.startswith("Optional["):
        annotation = annotation[len("Optional[") : -1]
    if annotation.startswith("Tuple["):
        item = annotation[len("Tuple[") : -len(", ...]")]
        return [(7, "", "must be a list, got int")] + [
            ([value], f"[0]{suffix}", complaint) for value, suffix, complaint in _wrong_values(item)
        ]
    if annotation in ("str", "bool", "int"):
        return [([], "", f"must be {annotation}, got list")]
    return [("x", "", "must be an object, got str")]  # a nested dataclass


@pytest.mark.parametrize("shape", _SHAPES, ids=lambda s: s.cls.__name__)
def test_each_decoder_checks_the_annotated_type(shape: Any) -> None:
    for f in dataclasses.fields(shape.cls):
        for value, suffix, complaint in _wrong_values(str(f.type)):
            with pytest.raises(InventoryError) as caught:
                shape.decoders[f.name](value, f"x.{f.name}")
            assert str(caught.value) == f"malformed inventory: x.{f.name}{suffix} {complaint}"


def test_each_optional_field_takes_null() -> None:
    for shape in _SHAPES:
        for f in dataclasses.fields(shape.cls):
            if str(f.type).startswith("Optional["):
                assert shape.decoders[f.name](None, "x") is None, (shape.cls, f.name)


# --- round trips and defaults ----------------------------------------------------------------


def test_full_inventory_round_trips() -> None:
    assert Inventory.from_dict(FULL.to_dict()) == FULL


def test_json_lists_decode_like_tuples() -> None:
    assert Inventory.from_dict(json.loads(json.dumps(FULL.to_dict()))) == FULL


def test_happy_path_minimal_inventory_takes_every_default() -> None:
    inv = Inventory.from_dict({"host": {"hostname": "h"}})
    assert inv == Inventory(host=Host(hostname="h"))
    assert inv.os is UNKNOWN_OS
    assert inv.covered == ()


def test_happy_path_older_inventory_without_covered_covers_nothing() -> None:
    inv = Inventory.from_dict(inventory_dict(covered=...))
    assert inv.covered == ()
    assert inv == dataclasses.replace(FULL, covered=())


@pytest.mark.parametrize(
    "changes",
    [
        pytest.param({"packages": None}, id="null list is empty"),
        pytest.param({"packages": ...}, id="missing list is empty"),
        pytest.param({"os": {}}, id="empty os is unknown"),
        pytest.param({"os": None}, id="null os is unknown"),
        pytest.param({"os": ""}, id="empty string os is unknown"),
        pytest.param({"kernel": None}, id="null kernel is the empty kernel"),
        pytest.param({"collected_at": None}, id="null top-level scalar is its default"),
        pytest.param({"covered": None}, id="null covered is empty"),
        pytest.param({"schema": ...}, id="missing schema is the current one"),
    ],
)
def test_happy_path_null_or_missing_is_the_default(changes: dict[str, Any]) -> None:
    inv = Inventory.from_dict(inventory_dict(**changes))
    field = next(iter(changes))
    default = getattr(Inventory(host=FULL.host), field)
    assert getattr(inv, field) == default


def test_happy_path_unknown_evidence_kind_is_kept() -> None:
    """A newer agent may vouch for kinds this console does not know: kept, not refused."""
    inv = Inventory.from_dict(inventory_dict(covered=["installed-packages", "lockfiles"]))
    assert inv.covered == ("installed-packages", "lockfiles")


# --- refusals, word for word (the console's 422 details) -------------------------------------


@pytest.mark.parametrize(
    ("data", "message"),
    [
        pytest.param([], "inventory must be a JSON object", id="sad path not an object"),
        pytest.param(
            inventory_dict(schema=2),
            "unsupported inventory schema 2 (expected 1)",
            id="sad path newer schema",
        ),
        pytest.param(
            inventory_dict(schema=None),
            "unsupported inventory schema None (expected 1)",
            id="sad path null schema",
        ),
        pytest.param(
            inventory_dict(schema=True),
            "malformed inventory: inventory.schema must be int, got bool",
            id="sad path true is no schema number",
        ),
        pytest.param(
            inventory_dict(host=...),
            "malformed inventory: inventory lacks ['host']",
            id="sad path no host",
        ),
        pytest.param(
            inventory_dict(host=None),
            "malformed inventory: inventory.host must be an object, got null",
            id="sad path null host",
        ),
        pytest.param(
            inventory_dict(extra=1, another=2),
            "malformed inventory: inventory has unknown fields ['another', 'extra']",
            id="sad path unknown fields sorted",
        ),
        pytest.param(
            inventory_dict(os={**asdict(FULL.os), "eol": "no"}),
            "malformed inventory: inventory.os.eol must be bool, got str",
            id="sad path string eol",
        ),
        pytest.param(
            inventory_dict(os={"id": "debian", "name": "x"}),
            "malformed inventory: inventory.os lacks ['family', 'release']",
            id="sad path os lacks fields in declaration order",
        ),
        pytest.param(
            inventory_dict(os={**asdict(FULL.os), "family": ["debian"]}),
            "malformed inventory: inventory.os.family must be str, got list",
            id="sad path list as os family",
        ),
        pytest.param(
            inventory_dict(collectors="dpkg@1"),
            "malformed inventory: inventory.collectors must be a list, got str",
            id="sad path collectors not a list",
        ),
        pytest.param(
            inventory_dict(covered="installed-packages"),
            "malformed inventory: inventory.covered must be a list, got str",
            id="sad path covered not a list",
        ),
        pytest.param(
            inventory_dict(covered=["installed-packages", 3]),
            "malformed inventory: inventory.covered[1] must be str, got int",
            id="sad path covered item not a string",
        ),
        pytest.param(
            inventory_dict(packages=[asdict(FULL.packages[0]), {"name": "a", "version": None}]),
            "malformed inventory: inventory.packages[1] lacks ['format']",
            id="sad path package lacks format",
        ),
        pytest.param(
            inventory_dict(packages=[{"name": "a", "version": None, "format": "deb"}]),
            "malformed inventory: inventory.packages[0].version must be str, got null",
            id="sad path null in a nested scalar",
        ),
        pytest.param(
            inventory_dict(kernel={"installed": [{"name": "k", "version": "1", "release": 6}]}),
            "malformed inventory: inventory.kernel.installed[0].release must be str, got int",
            id="sad path deep path",
        ),
        pytest.param(
            inventory_dict(kernel=[]),
            "malformed inventory: inventory.kernel must be an object, got list",
            id="sad path kernel a list",
        ),
        pytest.param(
            inventory_dict(pending_updates=[{**asdict(FULL.pending_updates[0]), "cves": 1.5}]),
            "malformed inventory: inventory.pending_updates[0].cves must be a list, got float",
            id="sad path float as cves",
        ),
        pytest.param(
            inventory_dict(pending_updates=[{**asdict(FULL.pending_updates[0]), "x": 1}]),
            "malformed inventory: inventory.pending_updates[0] has unknown fields ['x']",
            id="sad path unknown nested field",
        ),
        pytest.param(
            inventory_dict(collector_errors=[None]),
            "malformed inventory: inventory.collector_errors[0] must be an object, got null",
            id="sad path null collector error",
        ),
    ],
)
def test_sad_path_messages(data: Any, message: str) -> None:
    assert refused(data) == message


def test_sad_path_first_bad_field_in_the_object_order_is_named() -> None:
    message = refused({"host": {"root": 1, "hostname": 2}})
    assert message == "malformed inventory: inventory.host.root must be str, got int"


# --- the parts the console stores on its own -------------------------------------------------


def test_parts_round_trip() -> None:
    assert OsRelease.from_dict(asdict(FULL.os)) == FULL.os
    assert Kernel.from_dict(asdict(FULL.kernel)) == FULL.kernel
    error = FULL.collector_errors[0]
    assert CollectorError.from_dict(asdict(error)) == error


@pytest.mark.parametrize("stored", [{}, None], ids=["empty row", "null"])
def test_parts_of_a_host_without_inventory(stored: Any) -> None:
    """`hosts.os` / `hosts.kernel` of an enrolled host that never reported are `{}`."""
    assert OsRelease.from_dict(stored) is UNKNOWN_OS
    assert Kernel.from_dict(stored) == Kernel()


@pytest.mark.parametrize(
    ("decode", "data", "message"),
    [
        pytest.param(
            OsRelease.from_dict,
            {**asdict(UNKNOWN_OS), "eol": "no"},
            "malformed inventory: os.eol must be bool, got str",
            id="os",
        ),
        pytest.param(
            Kernel.from_dict,
            {"installed": {}},
            "malformed inventory: kernel.installed must be a list, got dict",
            id="kernel",
        ),
        pytest.param(
            CollectorError.from_dict,
            {"collector": "dpkg"},
            "malformed inventory: collector_error lacks ['message']",
            id="collector error",
        ),
        pytest.param(
            CollectorError.from_dict,
            ["dpkg", "oops"],
            "malformed inventory: collector_error must be an object, got list",
            id="collector error not an object",
        ),
    ],
)
def test_sad_path_parts(decode: Any, data: Any, message: str) -> None:
    with pytest.raises(InventoryError) as caught:
        decode(data)
    assert str(caught.value) == message


def test_parts_name_their_place_when_told() -> None:
    bad = {"collector": "a", "message": "b", "path": 1}
    with pytest.raises(InventoryError) as caught:
        CollectorError.from_dict(bad, "collector_errors[2]")
    assert str(caught.value) == "malformed inventory: collector_errors[2].path must be str, got int"


@pytest.mark.parametrize(
    "os_value",
    [{}, None, "", {**asdict(FULL.os)}, {**asdict(FULL.os), "eol": 1}, {"id": "x"}, ["x"]],
)
def test_os_part_decodes_as_in_a_whole_inventory(os_value: Any) -> None:
    def outcome(decode: Any) -> Any:
        try:
            return decode()
        except InventoryError as exc:
            return str(exc)

    whole = outcome(lambda: Inventory.from_dict(inventory_dict(os=os_value)).os)
    part = outcome(lambda: OsRelease.from_dict(os_value, "inventory.os"))
    assert whole == part


def test_evidence_vocabulary() -> None:
    assert [e.value for e in Evidence] == [
        "installed-packages",
        "pending-updates",
        "running-processes",
    ]
    assert SCHEMA == 1


# --- processes the agent could not read (issue 12 follow-up) ----------------------------------

PROCESS = {"pid": 4242, "start_time": "2024-03-01T11:00:00.000+00:00", "exe": "/usr/bin/java"}


def test_happy_path_a_process_of_an_older_agent_is_readable() -> None:
    """`readable` is additive: a process without it was read completely."""
    [process] = Inventory.from_dict(inventory_dict(processes=[PROCESS])).processes
    assert process.readable is True


def test_happy_path_an_unreadable_process_round_trips() -> None:
    data = inventory_dict(processes=[{**PROCESS, "exe": "", "name": "init", "readable": False}])
    inv = Inventory.from_dict(data)
    assert [(p.pid, p.name, p.readable) for p in inv.processes] == [(4242, "init", False)]
    assert Inventory.from_dict(json.loads(json.dumps(inv.to_dict()))) == inv


def test_sad_path_readable_must_be_a_bool() -> None:
    assert refused(inventory_dict(processes=[{**PROCESS, "readable": "no"}])) == (
        "malformed inventory: inventory.processes[0].readable must be bool, got str"
    )
