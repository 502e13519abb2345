"""Protocol v1 remediation actions: typed, validated parameters and typed result details."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from patchwarden.protocol import v1

FIX = {"packages": [{"name": "libssl3", "target_version": "3.0.22-1~deb12u2"}]}


def test_fix_defaults_are_filled_in() -> None:
    assert v1.validate_params("fix", FIX) == {
        "packages": [{"name": "libssl3", "target_version": "3.0.22-1~deb12u2"}],
        "format": "",
        "record_ids": [],
        "snapshot": True,
        "snapshot_provider": "packages",
        "snapshot_expiry_days": 7,
        "snapshot_allowed": True,
        "requested_by": "",
    }


@pytest.mark.parametrize(
    ("fmt", "name", "version"),
    [
        ("deb", "libssl3", "3.0.22-1~deb12u2"),
        ("deb", "bsdutils", "1:2.38.1-5+deb12u3"),
        ("deb", "libstdc++6", "12.2.0-14"),
        ("rpm", "openssl-libs", "1:3.0.7-25.el9_3"),
        ("rpm", "perl-Net-SSLeay", "1.92-2.el9"),
        ("rpm", "kernel-core", "5.14.0-362.13.1.el9_3"),
        ("apk", "libssl3", "3.1.4-r6"),
        ("apk", "musl", "1.2.4_git20230717-r4"),
        ("", "python3.11", "3.11.2-6+deb12u1"),
    ],
)
def test_happy_path_package_names_and_versions_per_format(
    fmt: str, name: str, version: str
) -> None:
    params = {"packages": [{"name": name, "target_version": version}], "format": fmt}
    assert v1.validate_params("fix", params)["packages"] == [
        {"name": name, "target_version": version}
    ]


@pytest.mark.parametrize(
    ("fmt", "name", "version", "complaint"),
    [
        ("", "-oDpkg::Pre-Invoke=sh", "1.0", "is not a package name"),
        ("", "libssl3;reboot", "1.0", "is not a package name"),
        ("", "libssl3 openssl", "1.0", "is not a package name"),
        ("", "$(id)", "1.0", "is not a package name"),
        ("", "a" * 129, "1.0", "is not a package name"),
        ("", "libssl3", "1.0 && reboot", "is not a package version"),
        ("", "libssl3", "--allow-downgrades", "is not a package version"),
        ("", "libssl3", "1.0`id`", "is not a package version"),
        ("", "libssl3", "1" * 129, "is not a package version"),
        ("deb", "LibSSL3", "1.0-1", "is not a deb package name"),  # Debian names are lower case
        ("deb", "x", "1.0-1", "is not a deb package name"),  # at least two characters
        ("rpm", "openssl-libs", "3.0.7", "is not a rpm package version"),  # release required
        ("apk", "libssl3", "3.1.4-6", "is not a apk package version"),  # -rN
        ("", 7, "1.0", "is not a package name"),
        ("", "libssl3", None, "is not a package version"),
    ],
)
def test_sad_path_names_and_versions_that_are_no_package(
    fmt: str, name: Any, version: Any, complaint: str
) -> None:
    params = {"packages": [{"name": name, "target_version": version}], "format": fmt}
    with pytest.raises(v1.ProtocolError, match=complaint):
        v1.validate_params("fix", params)


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({}, "fix: packages must be a list of 1..100 packages"),
        ({"packages": []}, "fix: packages must be a list of 1..100 packages"),
        ({"packages": [{"name": "x1", "target_version": "1"}] * 101}, "1..100 packages"),
        ({"packages": ["libssl3=1.0"]}, "must be an object with exactly name and target_version"),
        ({**FIX, "packages": FIX["packages"] * 2}, "libssl3 is named twice"),
        ({**FIX, "format": "msi"}, "format must be one of"),
        ({**FIX, "snapshot": "yes"}, "snapshot must be true or false"),
        (
            {**FIX, "snapshot_expiry_days": 0},
            "snapshot_expiry_days must be an integer within 1..365",
        ),
        ({**FIX, "snapshot_expiry_days": True}, "snapshot_expiry_days must be an integer"),
        ({**FIX, "snapshot_provider": "zfs"}, "snapshot_provider must be one of"),
        ({**FIX, "record_ids": [0]}, "record_ids must be a list of at most 1000 integers"),
        ({**FIX, "record_ids": [True]}, "record_ids must be a list"),
        (
            {**FIX, "requested_by": "al\x1bice"},
            "requested_by contains the non-printable character U+001B",
        ),
        ({**FIX, "command": "apt-get dist-upgrade"}, "fix: unexpected parameters ['command']"),
    ],
)
def test_sad_path_fix_parameters(params: dict[str, Any], message: str) -> None:
    with pytest.raises(v1.ProtocolError, match=re.escape(message)):
        v1.validate_params("fix", params)


def test_rollback_restart_and_snapshot_delete() -> None:
    snap = "packages-20261130t074243z-a3dfbb"
    assert v1.validate_params("rollback", {"snapshot_id": snap}) == {
        "snapshot_id": snap,
        "record_ids": [],
    }
    assert v1.validate_params("restart", {}) == {"delay_seconds": 0, "reason": "", "record_ids": []}
    assert (
        v1.validate_params("restart", {"delay_seconds": 3600, "reason": "kernel 6.1.0-18"})[
            "delay_seconds"
        ]
        == 3600
    )
    assert v1.validate_params("snapshot_delete", {"snapshot_id": snap}) == {"snapshot_id": snap}
    for bad in ("../../etc", "", "Packages-X", "x" * 65, 7):
        with pytest.raises(v1.ProtocolError, match="snapshot_id must match"):
            v1.validate_params("rollback", {"snapshot_id": bad})
    with pytest.raises(v1.ProtocolError, match="delay_seconds must be an integer within 0..3600"):
        v1.validate_params("restart", {"delay_seconds": 3601})
    with pytest.raises(
        v1.ProtocolError, match="reason contains the non-printable character U\\+000A"
    ):
        v1.validate_params("restart", {"reason": "a\nb"})
    with pytest.raises(v1.ProtocolError, match="reason must be text of at most 200 characters"):
        v1.validate_params("restart", {"reason": "x" * 201})


def test_scan_and_verify_are_unchanged() -> None:
    assert v1.validate_params("verify", {"record_ids": [3]}) == {
        "types": ["linux"],
        "vulns": [],
        "record_ids": [3],
    }
    with pytest.raises(v1.ProtocolError, match="unknown action kind 'cleanup'"):
        v1.validate_params("cleanup", {})


def test_parse_jobs_keeps_the_good_ones_and_names_the_bad_ones() -> None:
    actions, rejected = v1.parse_jobs(
        {
            "jobs": [
                {"job_id": 1, "kind": "fix", "params": FIX},
                {"job_id": 2, "kind": "fix", "params": {"packages": "libssl3"}},
                {"job_id": 3, "kind": "format_disk", "params": {}},
                {"job_id": "x", "kind": "fix"},
            ]
        }
    )
    assert [a.job_id for a in actions] == [1]
    assert [(r.job_id, r.kind) for r in rejected] == [(2, "fix"), (3, "format_disk")]
    assert "packages must be a list" in rejected[0].message


FULL_FIX = v1.FixDetails(
    packages=(
        v1.PackageOutcome(
            "libssl3", "3.0.20-1~deb12u2", "3.0.22-1~deb12u2", True, "3.0.22-1~deb12u2"
        ),
    ),
    snapshot=v1.SnapshotInfo(
        id="packages-20261130t074243z-a3dfbb",
        provider="packages",
        size_bytes=2038926,
        created_at="2026-11-30T07:42:43+00:00",
        expires_at="2026-12-07T07:42:43+00:00",
        owner="alice",
        packages=(
            v1.SavedPackage("libssl3", "3.0.20-1~deb12u2", "amd64", "x.deb", "ab" * 32, 2036016),
        ),
        location="/var/lib/patchwarden/snapshots/packages-20261130t074243z-a3dfbb",
    ),
    error=v1.ActionError("unknown", "odd", "read it", "tail"),
    prechecks=(v1.ActionError("pm_locked", "busy", "wait"),),
    restart_required=True,
    restart_processes=(
        v1.RestartProcess(812, "nginx", ("/usr/lib/x86_64-linux-gnu/libssl.so.3",)),
    ),
    commands=("apt-get -q update",),
    dry_run=False,
)


@pytest.mark.parametrize(
    ("kind", "details"),
    [
        ("fix", FULL_FIX),
        ("fix", v1.FixDetails()),
        (
            "rollback",
            v1.RollbackDetails(
                "packages-20261130t074243z-a3dfbb", FULL_FIX.packages, None, True, ("x",)
            ),
        ),
        (
            "restart",
            v1.RestartDetails(
                60, "kernel", "shutdown -r +1 kernel", "2026-11-30T08:00:00+00:00", None, True, "h"
            ),
        ),
        ("snapshot_delete", v1.SnapshotDeleteDetails("packages-20261130t074243z-a3dfbb", True)),
    ],
)
def test_details_round_trip_through_json(kind: str, details: Any) -> None:
    data = json.loads(json.dumps(details.to_dict()))
    assert v1.details_from_dict(kind, data) == details
    assert len(json.dumps(data)) < v1.MAX_SMALL_BODY


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"error": {"code": "oops", "message": "m"}}, "details.error.code 'oops' is not one of"),
        ({"packages": [{"name": 1}]}, "details.packages\\[0\\].name must be a string"),
        ({"restart_required": "yes"}, "details.restart_required must be true or false"),
        ({"extra": 1}, "details has unknown fields \\['extra'\\]"),
        ({"snapshot": {"id": "../x"}}, "details.snapshot.id must match"),
        ([], "details must be an object"),
    ],
)
def test_sad_path_malformed_details(data: Any, message: str) -> None:
    with pytest.raises(v1.ProtocolError, match=message):
        v1.FixDetails.from_dict(data)


def test_every_error_code_is_documented_and_classification_codes_are_among_them() -> None:
    assert set(v1.CLASSIFICATION_CODES) <= set(v1.ERROR_CODES)
    assert set(v1.PRECHECK_CODES) <= set(v1.ERROR_CODES)
    assert set(v1.PRECHECK_CODES) == {"eol", "disk_space", "pm_locked", "permission", "no_update"}
    with pytest.raises(v1.ProtocolError, match="has no typed details"):
        v1.details_from_dict("scan", {})


def test_a_big_fix_result_is_trimmed_to_fit_a_result_body() -> None:
    from patchwarden.agent.main import fit_details

    outcome = FULL_FIX.packages[0]
    saved = FULL_FIX.snapshot.packages[0]  # type: ignore[union-attr]
    big = v1.FixDetails(
        packages=(outcome,) * 100,
        snapshot=v1.SnapshotInfo(**{**FULL_FIX.snapshot.__dict__, "packages": (saved,) * 300}),  # type: ignore[union-attr]
        error=v1.ActionError("unknown", "m", "h", "x" * v1.MAX_TAIL),
        restart_processes=FULL_FIX.restart_processes * 50,
        commands=("apt-get install " + "pkg=1.0 " * 70,) * 20,
    )
    data = big.to_dict()
    assert len(json.dumps(data)) > v1.MAX_SMALL_BODY
    fitted = fit_details(data)
    assert len(json.dumps(fitted)) < v1.MAX_SMALL_BODY
    back = v1.FixDetails.from_dict(fitted)
    assert back.packages == big.packages and back.error is not None  # outcomes are kept
    small = FULL_FIX.to_dict()
    assert fit_details(json.loads(json.dumps(small))) == small
