"""`btrfs` snapshots: a read-only snapshot of the root's subvolume.

Detection: the root's mount is btrfs (/proc/mounts) and `btrfs subvolume show ROOT` answers
(the root is a subvolume). Create: `btrfs subvolume snapshot -r ROOT ROOT/.patchwarden-snapshots/
<id>`. Restore: a writable snapshot of that one, made the filesystem's default subvolume
(`btrfs subvolume set-default ID ROOT`): it is what mounts at the next boot, so the restore
needs a reboot. That only works when the root is mounted as the default subvolume (no
`subvol=`/`subvolid=` in its mount options); when the mount names a subvolume (`subvol=@`)
the restore says so up front instead. Delete: `btrfs subvolume delete PATH`. The commands run on the
machine itself (`host_runner`). No btrfs here: the tests replay recorded outputs.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import List, Mapping, Optional, Sequence

from patchwarden.agent.actions.base import Change, Installed, PackageManager, Target
from patchwarden.agent.actions.classify import tail
from patchwarden.agent.runner import Completed
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

SNAPSHOT_DIR = ".patchwarden-snapshots"
"""Directory at the top of the root that holds the snapshots (same filesystem)."""
_ID_RE = re.compile(r"^\s*Subvolume ID:\s*(\d+)\s*$", re.MULTILINE)


def subvolume_id(show_output: str) -> Optional[int]:
    """The `Subvolume ID:` of `btrfs subvolume show` output."""
    found = _ID_RE.search(show_output)
    return int(found.group(1)) if found else None


def pinned_subvolume(options: str) -> Optional[str]:
    """The `subvol=`/`subvolid=` mount option naming a subvolume other than the top one."""
    for option in options.split(","):
        key, _, value = option.partition("=")
        if key == "subvol" and value not in ("/", ""):
            return option
        if key == "subvolid" and value not in ("5", ""):
            return option
    return None


class BtrfsProvider(SnapshotProvider):
    """btrfs subvolume snapshots of the root."""

    name = "btrfs"
    tools = "btrfs-progs"

    def check(self, target: Target, mounts: Path = MOUNTS) -> None:
        """SnapshotError unless the root is a btrfs subvolume."""
        mount = root_mount(target.root, mounts)
        if mount is None or mount[2] != "btrfs":
            kind = mount[2] if mount else "unknown"
            raise failed(f"{target.root} is on a {kind} filesystem, not btrfs")
        done = self.run(target, ["btrfs", "subvolume", "show", str(target.root)])
        if not done.ok:
            raise failed(
                f"{target.root} is not a btrfs subvolume", tail=tail(done.stdout + done.stderr)
            )

    def create(
        self,
        target: Target,
        pm: PackageManager,
        changes: Sequence[Change],
        before: Mapping[str, Installed],
        draft: Draft,
        mounts: Path = MOUNTS,
    ) -> Taken:
        """`btrfs subvolume snapshot -r ROOT ROOT/.patchwarden-snapshots/<id>`."""
        self.check(target, mounts)
        folder = target.root / SNAPSHOT_DIR
        folder.mkdir(mode=0o700, exist_ok=True)
        path = folder / draft.id
        argv = ["btrfs", "subvolume", "snapshot", "-r", str(target.root), str(path)]
        done = self.run(target, argv)
        if not done.ok:
            raise failed("btrfs subvolume snapshot failed", tail=tail(done.stdout + done.stderr))
        info = v1.SnapshotInfo(
            id=draft.id,
            provider=self.name,
            # Copy-on-write: it costs nothing until the fix changes files.
            size_bytes=0,
            created_at=draft.created_at,
            expires_at=draft.expires_at,
            owner=draft.owner,
            location=str(path),
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
        """A writable copy of the snapshot becomes the default subvolume (next boot)."""
        mount = root_mount(target.root, mounts)
        pinned = pinned_subvolume(mount[3]) if mount else None
        if pinned:
            return Restored(
                error=v1.ActionError(
                    "not_supported",
                    f"the root is mounted with {pinned}: a new default subvolume would not be"
                    " used at boot",
                    f"restore by hand: boot from {info.location} (or copy its files back)",
                )
            )
        fresh = f"{info.location}-restore"
        commands: List[str] = []
        for argv in (
            ["btrfs", "subvolume", "snapshot", info.location, fresh],
            ["btrfs", "subvolume", "show", fresh],
        ):
            commands.append(" ".join(argv))
            done = self.run(target, argv)
            if not done.ok:
                return Restored(tuple(commands), self._error(argv, done))
        new_id = subvolume_id(done.stdout)
        if new_id is None:
            return Restored(tuple(commands), self._error(commands[-1].split(), done))
        argv = ["btrfs", "subvolume", "set-default", str(new_id), str(target.root)]
        commands.append(" ".join(argv))
        done = self.run(target, argv)
        if not done.ok:
            return Restored(tuple(commands), self._error(argv, done))
        return Restored(tuple(commands), None, restart_required=True)

    def delete(self, target: Target, info: v1.SnapshotInfo) -> List[str]:
        """`btrfs subvolume delete PATH`."""
        argv = ["btrfs", "subvolume", "delete", info.location]
        done = self.run(target, argv)
        if not done.ok and "No such file" not in done.stderr:
            raise failed(f"deleting {info.location} failed", tail=tail(done.stdout + done.stderr))
        return [" ".join(argv)]

    @staticmethod
    def _error(argv: List[str], done: Completed) -> v1.ActionError:
        return v1.ActionError(
            "unknown",
            f"{' '.join(argv[:3])} failed (exit status {done.returncode})",
            "read the output; the snapshot itself is unchanged",
            tail(done.stdout + done.stderr),
        )
