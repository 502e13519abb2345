"""Snapshot plug-in family (STYLE P1, SPEC R-F6): a restorable backup of what a fix changes.

`SnapshotProvider` is what every provider offers: whether it works on this host, create,
restore, delete. `SnapshotStore` keeps each snapshot's metadata (`snapshot.json`: the
protocol's `SnapshotInfo`, with owner, size, creation and expiry) and the provider's files in
`<state dir>/snapshots/<id>/`, readable by the agent only.
"""

from __future__ import annotations

import datetime
import json
import os
import secrets
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import List, Mapping, Optional, Sequence, Tuple

from patchwarden.agent.actions.base import (
    QUERY_TIMEOUT,
    Change,
    Installed,
    PackageManager,
    Target,
)
from patchwarden.agent.runner import CommandNotFound, Completed
from patchwarden.agent.state import PRIVATE_DIR, PRIVATE_FILE
from patchwarden.protocol import v1

SNAPSHOTS = "snapshots"
"""Directory of the state dir that holds the snapshots."""
INFO = "snapshot.json"
MOUNTS = Path("/proc/self/mounts")


class SnapshotError(Exception):
    """A snapshot could not be created, restored or deleted; carries the action error."""

    def __init__(self, error: v1.ActionError, commands: Sequence[str] = ()) -> None:
        super().__init__(error.message)
        self.error = error
        self.commands = tuple(commands)


def failed(
    message: str, hint: str = "", tail: str = "", code: str = "snapshot_failed"
) -> SnapshotError:
    """A SnapshotError with a `snapshot_failed` (or `code`) action error."""
    return SnapshotError(v1.ActionError(code, message, hint, tail))


@dataclass(frozen=True)
class Draft:
    """A snapshot being made: its id, directory and metadata known before it exists."""

    id: str
    directory: Path
    owner: str
    created_at: str
    expires_at: str


@dataclass(frozen=True)
class Restored:
    """What a provider's restore did."""

    commands: Tuple[str, ...] = ()
    error: Optional[v1.ActionError] = None
    restart_required: bool = False
    """True when the restored state takes effect at the next boot (volume snapshots)."""
    consumed: bool = False
    """True when restoring used the snapshot up (an LVM merge): it is gone afterwards."""


@dataclass(frozen=True)
class Taken:
    """What a provider's create did."""

    info: v1.SnapshotInfo
    commands: Tuple[str, ...] = field(default_factory=tuple)


class SnapshotProvider:
    """Base class: subclasses set `name` and implement the four operations."""

    name: str = ""
    tools: str = ""
    """What to install when the provider's commands are missing ("the LVM tools")."""

    def unsupported(self, target: Target, mounts: Path = MOUNTS) -> Optional[str]:
        """None when this provider can snapshot the target's root, else why not (`check`)."""
        try:
            self.check(target, mounts)
        except SnapshotError as exc:
            return str(exc)
        return None

    def check(self, target: Target, mounts: Path = MOUNTS) -> None:
        """SnapshotError saying why this provider cannot snapshot the target's root."""
        raise NotImplementedError

    def run(self, target: Target, argv: List[str]) -> Completed:
        """Run one of the provider's commands on the host (never in the chroot: volumes and
        subvolumes are the host's); SnapshotError naming `tools` when it is missing."""
        try:
            return target.host_runner.run(argv, timeout=QUERY_TIMEOUT)
        except CommandNotFound as exc:
            raise failed(f"{self.tools} are not installed ({exc})") from exc

    def create(
        self,
        target: Target,
        pm: PackageManager,
        changes: Sequence[Change],
        before: Mapping[str, Installed],
        draft: Draft,
        mounts: Path = MOUNTS,
    ) -> Taken:
        """Take the snapshot of what `changes` will replace (versions in `before`)."""
        raise NotImplementedError

    def restore(
        self,
        target: Target,
        pm: Optional[PackageManager],
        info: v1.SnapshotInfo,
        directory: Path,
        mounts: Path = MOUNTS,
    ) -> Restored:
        """Put the snapshot's state back (`directory`: the store's directory of the snapshot)."""
        raise NotImplementedError

    def delete(self, target: Target, info: v1.SnapshotInfo) -> List[str]:
        """Remove what the snapshot holds outside the store; returns the commands run."""
        return []


class SnapshotStore:
    """Snapshot metadata and files under `<state dir>/snapshots/` (0700 dirs, 0600 files)."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory

    def new_id(self, provider: str, now: datetime.datetime) -> str:
        """`<provider>-<UTC time>-<random>`: sortable, unique, valid for v1.SNAPSHOT_ID_PATTERN."""
        stamp = now.astimezone(datetime.timezone.utc).strftime("%Y%m%dt%H%M%Sz")
        return f"{provider}-{stamp}-{secrets.token_hex(3)}"

    def draft(self, provider: str, owner: str, now: datetime.datetime, expiry_days: int) -> Draft:
        """A new snapshot's id and (created, private) directory."""
        snapshot_id = self.new_id(provider, now)
        path = self.path(snapshot_id)
        self.directory.mkdir(mode=PRIVATE_DIR, parents=True, exist_ok=True)
        path.mkdir(mode=PRIVATE_DIR)
        expires = now + datetime.timedelta(days=expiry_days)
        return Draft(snapshot_id, path, owner, _iso(now), _iso(expires))

    def path(self, snapshot_id: str) -> Path:
        """The directory of snapshot `snapshot_id` (the id is checked first)."""
        return self.directory / v1.check_snapshot_id(snapshot_id)

    def save(self, info: v1.SnapshotInfo) -> None:
        """Write the snapshot's metadata (0600)."""
        path = self.path(info.id) / INFO
        fd = os.open(str(path), os.O_WRONLY | os.O_CREAT | os.O_TRUNC, PRIVATE_FILE)
        with os.fdopen(fd, "w") as fh:
            json.dump(info.to_dict(), fh, indent=1)

    def get(self, snapshot_id: str) -> Optional[v1.SnapshotInfo]:
        """The snapshot's metadata; None when there is no such (complete) snapshot."""
        try:
            path = self.path(snapshot_id) / INFO
        except v1.ProtocolError:
            return None
        try:
            return v1.SnapshotInfo.from_dict(json.loads(path.read_text()))
        except (OSError, ValueError, v1.ProtocolError):
            return None

    def list(self) -> List[v1.SnapshotInfo]:
        """Every complete snapshot, oldest first."""
        if not self.directory.is_dir():
            return []
        found = [self.get(p.name) for p in self.directory.iterdir() if p.is_dir()]
        return sorted((s for s in found if s is not None), key=lambda s: (s.created_at, s.id))

    def remove(self, snapshot_id: str) -> bool:
        """Delete the snapshot's directory; False when there was none."""
        try:
            path = self.path(snapshot_id)
        except v1.ProtocolError:
            return False
        if not path.is_dir():
            return False
        shutil.rmtree(path)
        return True


def expired(info: v1.SnapshotInfo, now: datetime.datetime) -> bool:
    """True when the snapshot's expiry time has passed."""
    try:
        expires = datetime.datetime.fromisoformat(info.expires_at)
    except ValueError:
        return True  # an expiry we cannot read is no promise to keep it
    if expires.tzinfo is None:
        expires = expires.replace(tzinfo=datetime.timezone.utc)
    return expires <= now


def _iso(moment: datetime.datetime) -> str:
    return moment.astimezone(datetime.timezone.utc).isoformat(timespec="seconds")


def root_mount(root: Path, mounts: Path = MOUNTS) -> Optional[Tuple[str, str, str, str]]:
    """(device, mount point, fstype, options) of the mount `root` lives on (/proc/mounts)."""
    try:
        text = mounts.read_text("utf-8", "replace")
    except OSError:
        return None
    real = os.path.realpath(str(root))
    best: Optional[Tuple[str, str, str, str]] = None
    for line in text.splitlines():
        parts = line.split()
        if len(parts) < 4:
            continue
        device, point, fstype, options = (_unescape(p) for p in parts[:4])
        inside = real == point or real.startswith(point.rstrip("/") + "/")
        # The longest mount point wins; among equal ones the last (the one on top).
        if inside and (best is None or len(point) >= len(best[1])):
            best = (device, point, fstype, options)
    return best


def _unescape(field_text: str) -> str:
    """/proc/mounts writes blanks and backslashes as octal escapes (`\\040`)."""
    if "\\" not in field_text:
        return field_text
    out, i = [], 0
    while i < len(field_text):
        chunk = field_text[i : i + 4]
        if len(chunk) == 4 and chunk[0] == "\\" and chunk[1:].isdigit():
            out.append(chr(int(chunk[1:], 8)))
            i += 4
        else:
            out.append(field_text[i])
            i += 1
    return "".join(out)
