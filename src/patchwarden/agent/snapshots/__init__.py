"""Snapshot providers (STYLE P2 registry): `packages` everywhere, `lvm` / `btrfs` when the root
filesystem supports them; deleting snapshots and cleaning up expired ones."""

from __future__ import annotations

import datetime
from pathlib import Path
from typing import Dict, List, Tuple

from patchwarden.agent.actions.base import Target
from patchwarden.agent.snapshots.base import (
    MOUNTS,
    SnapshotError,
    SnapshotProvider,
    SnapshotStore,
    expired,
    root_mount,
)
from patchwarden.agent.snapshots.btrfs import BtrfsProvider
from patchwarden.agent.snapshots.lvm import LvmProvider
from patchwarden.agent.snapshots.packages import PackagesProvider

PROVIDERS: Dict[str, SnapshotProvider] = {}
"""name -> provider (the names of protocol v1 SNAPSHOT_PROVIDERS)."""


def _register(provider: SnapshotProvider) -> None:
    if not provider.name or provider.name in PROVIDERS:
        raise ValueError(f"snapshot provider {provider.name!r} is empty or already registered")
    PROVIDERS[provider.name] = provider


_register(PackagesProvider())
_register(LvmProvider())
_register(BtrfsProvider())


def available_providers(root: Path, exec_mode: str, mounts: Path = MOUNTS) -> Tuple[str, ...]:
    """Providers worth offering for `root`, judged from its mount alone (no command runs):
    `packages` whenever the agent can run commands there, `lvm` for a device-mapper or
    `/dev/VG/LV` device, `btrfs` for a btrfs mount. Creation checks again, thoroughly."""
    if not exec_mode:
        return ()
    found = ["packages"]
    mount = root_mount(root, mounts)
    if mount is not None:
        device, _, fstype, _ = mount
        if device.startswith("/dev/mapper/") or device.count("/") == 3:
            found.append("lvm")
        if fstype == "btrfs":
            found.append("btrfs")
    return tuple(found)


def delete_snapshot(target: Target, store: SnapshotStore, snapshot_id: str) -> List[str]:
    """Delete a snapshot (provider's part, then the store's); the commands run.

    Raise SnapshotError when the provider cannot delete it (the metadata is kept then, so
    the console still sees it)."""
    info = store.get(snapshot_id)
    if info is None:
        return []
    provider = PROVIDERS.get(info.provider)
    commands = provider.delete(target, info) if provider is not None else []
    store.remove(snapshot_id)
    return commands


def cleanup_expired(
    target: Target, store: SnapshotStore, now: datetime.datetime
) -> Tuple[List[str], List[str]]:
    """Delete every expired snapshot: (ids deleted, messages of those that could not be)."""
    deleted: List[str] = []
    problems: List[str] = []
    for info in store.list():
        if not expired(info, now):
            continue
        try:
            delete_snapshot(target, store, info.id)
        except SnapshotError as exc:
            problems.append(f"{info.id}: {exc}")
            continue
        deleted.append(info.id)
    return deleted, problems
