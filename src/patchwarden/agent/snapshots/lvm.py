"""`lvm` snapshots: a copy-on-write snapshot of the logical volume holding the root.

Detection reads the root's mount (/proc/mounts) and asks `lvs` which logical volume that
device is (`lvs --noheadings --nosuffix --units b --separator '|' -o vg_name,lv_name,lv_path,
lv_dm_path,lv_attr,lv_size,vg_free`, lvmreport(7)). Create: `lvcreate --snapshot --name
pw-<id> --size <bytes>b VG/LV`, sized a fifth of the origin (at least 1 GiB, at most the
volume group's free space). Restore: `lvconvert --merge VG/pw-<id>`; a mounted origin is
merged at its next activation, so the restore needs a reboot and uses the snapshot up.
Delete: `lvremove -y VG/pw-<id>`. The commands run on the machine itself (`host_runner`),
also in chroot mode. There is no LVM on the test machine: the tests replay recorded outputs.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import List, Mapping, Optional, Sequence

from patchwarden.agent.actions.base import Change, Installed, PackageManager, Target
from patchwarden.agent.actions.classify import tail
from patchwarden.agent.snapshots.base import (
    MOUNTS,
    Draft,
    Restored,
    SnapshotProvider,
    Taken,
    failed,
    root_mount,
)
from patchwarden.protocol import v1

LVS_FIELDS = "vg_name,lv_name,lv_path,lv_dm_path,lv_attr,lv_size,vg_free"
LVS = ("lvs", "--noheadings", "--nosuffix", "--units", "b", "--separator", "|", "-o", LVS_FIELDS)
MIN_SNAPSHOT = 1024**3
"""Smallest snapshot volume worth taking (bytes): a package transaction writes less."""


@dataclass(frozen=True)
class LogicalVolume:
    """One row of `lvs`."""

    vg: str
    name: str
    path: str
    dm_path: str
    attr: str
    size: int
    vg_free: int


def parse_lvs(output: str) -> List[LogicalVolume]:
    """Rows of `LVS` output (blank-indented, '|'-separated, sizes in bytes)."""
    found: List[LogicalVolume] = []
    for line in output.splitlines():
        parts = [p.strip() for p in line.split("|")]
        if len(parts) != 7 or not parts[5].isdigit() or not parts[6].isdigit():
            continue
        found.append(
            LogicalVolume(
                parts[0], parts[1], parts[2], parts[3], parts[4], int(parts[5]), int(parts[6])
            )
        )
    return found


def snapshot_size(lv: LogicalVolume) -> int:
    """A fifth of the origin, at least MIN_SNAPSHOT, never more than the VG has free."""
    return min(lv.vg_free, max(MIN_SNAPSHOT, lv.size // 5))


def lv_name(snapshot_id: str) -> str:
    """The snapshot volume's name (LV names allow [A-Za-z0-9+_.-])."""
    return f"pw-{snapshot_id}"


class LvmProvider(SnapshotProvider):
    """LVM copy-on-write snapshots of the root's logical volume."""

    name = "lvm"
    tools = "the LVM tools"

    def check(self, target: Target, mounts: Path = MOUNTS) -> None:
        """SnapshotError unless the root is on an LV of a VG with room for a snapshot."""
        self._origin(target, mounts)

    def _origin(self, target: Target, mounts: Path) -> LogicalVolume:
        """The LV the root is mounted from, or SnapshotError saying why there is none."""
        mount = root_mount(target.root, mounts)
        if mount is None:
            raise failed(f"the mount of {target.root} is unknown")
        device = mount[0]
        if not device.startswith("/dev/"):
            raise failed(f"{target.root} is not on a block device ({device}): no LVM snapshot")
        done = self.run(target, list(LVS))
        if not done.ok:
            raise failed("lvs failed", tail=tail(done.stdout + done.stderr))
        for lv in parse_lvs(done.stdout):
            if device in (lv.path, lv.dm_path):
                if lv.attr.startswith(("s", "S")):
                    raise failed(f"{device} is itself an LVM snapshot")
                if lv.vg_free < MIN_SNAPSHOT:
                    raise failed(
                        f"volume group {lv.vg} has only {lv.vg_free // 1024**2} MiB free;"
                        f" an LVM snapshot needs at least {MIN_SNAPSHOT // 1024**2} MiB"
                    )
                return lv
        raise failed(f"{target.root} is on {device}, which is not an LVM logical volume")

    def create(
        self,
        target: Target,
        pm: PackageManager,
        changes: Sequence[Change],
        before: Mapping[str, Installed],
        draft: Draft,
        mounts: Path = MOUNTS,
    ) -> Taken:
        """`lvcreate --snapshot` of the root's LV."""
        lv = self._origin(target, mounts)
        size = snapshot_size(lv)
        argv = ["lvcreate", "--snapshot", "--name", lv_name(draft.id), "--size", f"{size}b"]
        argv.append(f"{lv.vg}/{lv.name}")
        done = self.run(target, argv)
        if not done.ok:
            raise failed("lvcreate failed", tail=tail(done.stdout + done.stderr))
        info = v1.SnapshotInfo(
            id=draft.id,
            provider=self.name,
            size_bytes=size,
            created_at=draft.created_at,
            expires_at=draft.expires_at,
            owner=draft.owner,
            location=f"{lv.vg}/{lv_name(draft.id)}",
        )
        return Taken(info, (" ".join(argv),))

    def restore(
        self,
        target: Target,
        pm: Optional[PackageManager],
        info: v1.SnapshotInfo,
        directory: Path,
        mounts: Path = MOUNTS,
    ) -> Restored:
        """`lvconvert --merge VG/snapshot`: takes effect when the origin is next activated."""
        argv = ["lvconvert", "--merge", info.location]
        done = self.run(target, argv)
        if not done.ok:
            return Restored(
                (" ".join(argv),),
                v1.ActionError(
                    "unknown",
                    f"lvconvert --merge {info.location} failed",
                    "read the output; the snapshot volume is unchanged",
                    tail(done.stdout + done.stderr),
                ),
            )
        return Restored((" ".join(argv),), None, restart_required=True, consumed=True)

    def delete(self, target: Target, info: v1.SnapshotInfo) -> List[str]:
        """`lvremove -y VG/snapshot`."""
        argv = ["lvremove", "-y", info.location]
        done = self.run(target, argv)
        if not done.ok and "not found" not in done.stderr:
            raise failed(f"lvremove {info.location} failed", tail=tail(done.stdout + done.stderr))
        return [" ".join(argv)]
