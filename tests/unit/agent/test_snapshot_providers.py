"""Snapshot providers and the store (R-F6).

There is no LVM volume and no btrfs filesystem on the test machine: the LVM and btrfs providers
run against a mount table written here and a runner replaying what `lvs`, `lvcreate`,
`lvconvert`, `lvremove` and `btrfs subvolume …` print (lvm2 2.03 and btrfs-progs 6.x message
formats, from their manual pages). The `packages` provider runs for real in the chroot tests.
"""

from __future__ import annotations

import datetime
import json
import stat
from pathlib import Path

import pytest

from patchwarden.agent.actions import PACKAGE_MANAGERS
from patchwarden.agent.actions.base import Target
from patchwarden.agent.runner import FakeRunner
from patchwarden.agent.snapshots import (
    PROVIDERS,
    available_providers,
    cleanup_expired,
    delete_snapshot,
)
from patchwarden.agent.snapshots.base import Draft, SnapshotStore, expired, root_mount
from patchwarden.agent.snapshots.btrfs import BtrfsProvider, pinned_subvolume, subvolume_id
from patchwarden.agent.snapshots.lvm import LVS, LvmProvider, parse_lvs, snapshot_size
from patchwarden.protocol import v1

APT = PACKAGE_MANAGERS["apt"]
NOW = datetime.datetime(2026, 11, 30, 7, 42, 43, tzinfo=datetime.timezone.utc)
LVS_OUTPUT = (
    "  vg0|root|/dev/vg0/root|/dev/mapper/vg0-root|-wi-ao----|21474836480|5368709120\n"
    "  vg0|swap_1|/dev/vg0/swap_1|/dev/mapper/vg0-swap_1|-wi-ao----|1073741824|5368709120\n"
)
BTRFS_SHOW = """\
@
\tName: \t\t\t@
\tUUID: \t\t\t1c3a7d9e-5f0b-4e55-9b5e-0d7f0a6c2b11
\tParent UUID: \t\t-
\tReceived UUID: \t\t-
\tCreation time: \t\t2026-01-05 10:00:00 +0000
\tSubvolume ID: \t\t256
\tGeneration: \t\t48211
\tGen at creation: \t6
\tParent ID: \t\t5
\tTop level ID: \t\t5
\tFlags: \t\t\t-
\tSnapshot(s):
"""


def mounts(tmp_path: Path, line: str) -> Path:
    path = tmp_path / "mounts"
    path.write_text("sysfs /sys sysfs rw 0 0\n" + line + "\n")
    return path


def target(runner: FakeRunner) -> Target:
    return Target(Path("/"), runner, runner, "direct")


def draft(tmp_path: Path, provider: str) -> tuple[SnapshotStore, Draft]:
    store = SnapshotStore(tmp_path / "snapshots")
    return store, store.draft(provider, "alice", NOW, 7)


# -- LVM ---------------------------------------------------------------------------------------


def test_lvs_rows_and_snapshot_size() -> None:
    (root, swap) = parse_lvs(LVS_OUTPUT)
    assert (root.vg, root.name, root.dm_path, root.size, root.vg_free) == (
        "vg0",
        "root",
        "/dev/mapper/vg0-root",
        21474836480,
        5368709120,
    )
    assert snapshot_size(root) == 21474836480 // 5
    assert snapshot_size(swap) == 1024**3  # at least 1 GiB


def test_lvm_create_restore_delete(tmp_path: Path) -> None:
    table = mounts(tmp_path, "/dev/mapper/vg0-root / ext4 rw,relatime 0 0")
    runner = FakeRunner()
    runner.add(list(LVS), LVS_OUTPUT)
    store, new = draft(tmp_path, "lvm")
    name = f"pw-{new.id}"
    runner.add(
        ["lvcreate", "--snapshot", "--name", name, "--size", "4294967296b", "vg0/root"],
        f'  Logical volume "{name}" created.\n',
    )
    provider = LvmProvider()
    assert provider.unsupported(target(runner), table) is None
    taken = provider.create(target(runner), APT, (), {}, new, table)
    assert taken.info.location == f"vg0/{name}" and taken.info.size_bytes == 4294967296
    assert taken.info.owner == "alice" and taken.info.expires_at == "2026-12-07T07:42:43+00:00"
    runner.add(
        ["lvconvert", "--merge", f"vg0/{name}"],
        f"  Delaying merge since origin is open.\n  Merging of snapshot vg0/{name} will occur"
        " on next activation of vg0/root.\n",
    )
    restored = provider.restore(target(runner), None, taken.info, tmp_path, table)
    assert restored.error is None and restored.restart_required and restored.consumed
    runner.add(
        ["lvremove", "-y", f"vg0/{name}"], f'  Logical volume "{name}" successfully removed.\n'
    )
    assert provider.delete(target(runner), taken.info) == [f"lvremove -y vg0/{name}"]


@pytest.mark.parametrize(
    ("line", "lvs", "reason"),
    [
        (
            "/dev/vda1 / ext4 rw 0 0",
            LVS_OUTPUT,
            "/ is on /dev/vda1, which is not an LVM logical volume",
        ),
        ("overlay / overlay rw 0 0", LVS_OUTPUT, "/ is not on a block device (overlay)"),
        (
            "/dev/mapper/vg0-root / ext4 rw 0 0",
            "  vg0|root|/dev/vg0/root|/dev/mapper/vg0-root|-wi-ao----|21474836480|104857600\n",
            "volume group vg0 has only 100 MiB free",
        ),
    ],
)
def test_lvm_unsupported_says_why(tmp_path: Path, line: str, lvs: str, reason: str) -> None:
    runner = FakeRunner()
    runner.add(list(LVS), lvs)
    why = LvmProvider().unsupported(target(runner), mounts(tmp_path, line))
    assert why is not None and reason in why


def test_lvm_without_the_tools(tmp_path: Path) -> None:
    why = LvmProvider().unsupported(
        target(FakeRunner()), mounts(tmp_path, "/dev/mapper/vg0-root / ext4 rw 0 0")
    )
    assert why is not None and why.startswith("the LVM tools are not installed")


# -- btrfs -------------------------------------------------------------------------------------


def test_btrfs_create_restore_delete(tmp_path: Path) -> None:
    root = tmp_path / "root"
    root.mkdir()
    table = mounts(
        tmp_path, f"/dev/vda2 {root} btrfs rw,relatime,ssd,space_cache=v2,subvolid=5,subvol=/ 0 0"
    )
    runner = FakeRunner()
    runner.add(["btrfs", "subvolume", "show", str(root)], BTRFS_SHOW)
    store, new = draft(tmp_path, "btrfs")
    path = root / ".patchwarden-snapshots" / new.id
    runner.add(
        ["btrfs", "subvolume", "snapshot", "-r", str(root), str(path)],
        f"Create a readonly snapshot of '{root}' in '{path}'\n",
    )
    here = Target(root, runner, runner, "chroot")
    provider = BtrfsProvider()
    assert provider.unsupported(here, table) is None
    taken = provider.create(here, APT, (), {}, new, table)
    assert taken.info.location == str(path)
    assert stat.S_IMODE((root / ".patchwarden-snapshots").stat().st_mode) == 0o700
    fresh = f"{path}-restore"
    runner.add(
        ["btrfs", "subvolume", "snapshot", str(path), fresh],
        f"Create a snapshot of '{path}' in '{fresh}'\n",
    )
    runner.add(["btrfs", "subvolume", "show", fresh], BTRFS_SHOW.replace("256", "263"))
    runner.add(["btrfs", "subvolume", "set-default", "263", str(root)], "")
    restored = provider.restore(here, None, taken.info, tmp_path, table)
    assert restored.error is None and restored.restart_required
    assert restored.commands[-1] == f"btrfs subvolume set-default 263 {root}"
    runner.add(
        ["btrfs", "subvolume", "delete", str(path)], f"Delete subvolume (no-commit): '{path}'\n"
    )
    assert provider.delete(here, taken.info) == [f"btrfs subvolume delete {path}"]


def test_btrfs_restore_refused_when_the_root_names_its_subvolume(tmp_path: Path) -> None:
    table = mounts(tmp_path, "/dev/vda2 / btrfs rw,relatime,subvolid=256,subvol=/@ 0 0")
    info = v1.SnapshotInfo("btrfs-20261130t074243z-a3dfbb", "btrfs", 0, "a", "b", location="/x")
    restored = BtrfsProvider().restore(target(FakeRunner()), None, info, tmp_path, table)
    assert restored.error is not None and restored.error.code == "not_supported"
    assert "subvolid=256" in restored.error.message


def test_btrfs_helpers(tmp_path: Path) -> None:
    assert subvolume_id(BTRFS_SHOW) == 256
    assert subvolume_id("ERROR: Not a Btrfs subvolume: Invalid argument") is None
    assert pinned_subvolume("rw,subvolid=5,subvol=/") is None
    assert pinned_subvolume("rw,subvol=@") == "subvol=@"
    why = BtrfsProvider().unsupported(
        target(FakeRunner()), mounts(tmp_path, "/dev/vda1 / ext4 rw 0 0")
    )
    assert why == "/ is on a ext4 filesystem, not btrfs"


# -- which providers a host has -------------------------------------------------------------


def test_available_providers_from_the_mount(tmp_path: Path) -> None:
    lvm = mounts(tmp_path, "/dev/mapper/vg0-root / ext4 rw 0 0")
    assert available_providers(Path("/"), "direct", lvm) == ("packages", "lvm")
    btrfs = mounts(tmp_path, "/dev/vda2 / btrfs rw 0 0")
    assert available_providers(Path("/"), "direct", btrfs) == ("packages", "btrfs")
    assert available_providers(Path("/"), "", btrfs) == ()
    assert list(PROVIDERS) == list(v1.SNAPSHOT_PROVIDERS)


def test_root_mount_takes_the_deepest_and_unescapes(tmp_path: Path) -> None:
    table = tmp_path / "mounts"
    table.write_text(
        "/dev/vda1 / ext4 rw 0 0\n/dev/vdb1 /srv/my\\040roots ext4 rw 0 0\n"
        "tmpfs /srv/my\\040roots/r/var/cache/apt/archives tmpfs rw 0 0\n"
    )
    assert root_mount(Path("/srv/my roots/r"), table) == (
        "/dev/vdb1",
        "/srv/my roots",
        "ext4",
        "rw",
    )
    assert root_mount(Path("/usr"), table) == ("/dev/vda1", "/", "ext4", "rw")


# -- the store ------------------------------------------------------------------------------


def test_store_keeps_private_metadata_and_expires(tmp_path: Path) -> None:
    store, new = draft(tmp_path, "packages")
    sid = new.id
    assert sid.startswith("packages-20261130t074243z-") and len(sid) == 32
    info = v1.SnapshotInfo(sid, "packages", 10, new.created_at, new.expires_at, "alice")
    store.save(info)
    assert store.get(sid) == info and store.list() == [info]
    assert stat.S_IMODE((store.directory / sid / "snapshot.json").stat().st_mode) == 0o600
    assert stat.S_IMODE((store.directory / sid).stat().st_mode) == 0o700
    assert json.loads((store.directory / sid / "snapshot.json").read_text())["owner"] == "alice"
    assert store.get("../../etc") is None and not store.remove("../../etc")
    assert not expired(info, NOW + datetime.timedelta(days=6))
    assert expired(info, NOW + datetime.timedelta(days=7))
    t = target(FakeRunner())
    assert cleanup_expired(t, store, NOW + datetime.timedelta(days=1)) == ([], [])
    assert cleanup_expired(t, store, NOW + datetime.timedelta(days=8)) == ([sid], [])
    assert store.list() == [] and not (store.directory / sid).exists()
    assert delete_snapshot(t, store, sid) == []
