"""`packages` snapshots: the exact package files a fix replaces, and the package-state manifest.

Works on any host the agent can fix. Before the transaction, every package it upgrades,
downgrades or removes is saved at its installed version: from the package manager's cache
when the file is there (apt keeps what it downloaded), else downloaded again at that exact
version (`apt-get download pkg:arch=ver`, `dnf download`, `apk fetch`). The manifest is the
whole package database's state (`dpkg-query -W` / `rpm -qa` / `apk info -v` lines). A restore
reinstalls the saved files with downgrades allowed, after checking their SHA-256.

Downloads and restores happen in a staging directory inside the root
(`/var/cache/patchwarden/`), because in chroot mode the package manager only sees the root;
the snapshot itself lives in the agent's state directory.
"""

from __future__ import annotations

import hashlib
import shutil
from pathlib import Path
from typing import List, Mapping, Optional, Sequence

from patchwarden.agent.actions.base import (
    QUERY_TIMEOUT,
    Change,
    Installed,
    PackageManager,
    Target,
    run,
)
from patchwarden.agent.actions.classify import classify, tail
from patchwarden.agent.collectors.base import resolve_in_root
from patchwarden.agent.runner import CommandNotFound
from patchwarden.agent.snapshots.base import (
    MOUNTS,
    Draft,
    Restored,
    SnapshotError,
    SnapshotProvider,
    Taken,
    failed,
)
from patchwarden.agent.state import PRIVATE_DIR, PRIVATE_FILE
from patchwarden.protocol import v1

STAGING = "var/cache/patchwarden"
"""Staging area inside the root (relative), for downloads and restores."""
FILES = "files"
MANIFEST = "manifest.txt"
SAVED_KINDS = ("upgrade", "downgrade", "remove", "reinstall")
"""Changes that replace an installed package (a new install replaces nothing)."""


def sha256_of(path: Path) -> str:
    """Hex SHA-256 of a file."""
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def staging_dir(target: Target, name: str) -> Path:
    """A fresh private directory `/var/cache/patchwarden/<name>` inside the root."""
    base = resolve_in_root(target.root, STAGING)
    base.mkdir(mode=PRIVATE_DIR, parents=True, exist_ok=True)
    path = base / name
    if path.exists():
        shutil.rmtree(path)
    path.mkdir(mode=PRIVATE_DIR)
    return path


class PackagesProvider(SnapshotProvider):
    """Saves and reinstalls package files."""

    name = "packages"

    def unsupported(self, target: Target, mounts: Path = MOUNTS) -> Optional[str]:
        """Works wherever the agent can run the package manager."""
        return target.cannot_execute

    def create(
        self,
        target: Target,
        pm: PackageManager,
        changes: Sequence[Change],
        before: Mapping[str, Installed],
        draft: Draft,
        mounts: Path = MOUNTS,
    ) -> Taken:
        """Save each replaced package's file and the manifest into the snapshot directory."""
        files = draft.directory / FILES
        files.mkdir(mode=PRIVATE_DIR)
        commands: List[str] = []
        saved: List[v1.SavedPackage] = []
        stage: Optional[Path] = None
        try:
            for change in changes:
                if change.kind not in SAVED_KINDS:
                    continue
                pkg = before.get(change.name)
                if pkg is None:
                    raise failed(
                        f"the installed version of {change.name} is unknown: cannot save it",
                        "rescan the host and retry, or fix without a snapshot",
                    )
                source = pm.cached_file(target.root, pkg)
                if source is None:
                    if stage is None:
                        stage = staging_dir(target, draft.id)
                    source = self._download(target, pm, pkg, stage, commands)
                dest = files / pm.file_name(pkg)
                shutil.copyfile(source, dest)
                dest.chmod(PRIVATE_FILE)
                saved.append(
                    v1.SavedPackage(
                        pkg.name,
                        pkg.version,
                        pkg.arch,
                        dest.name,
                        sha256_of(dest),
                        dest.stat().st_size,
                    )
                )
            manifest = pm.manifest()
            commands.append(target.show(manifest))
            done = run(target, manifest, QUERY_TIMEOUT)
            if not done.ok:
                raise failed(
                    "the package-state manifest could not be read",
                    tail=tail(done.stdout + done.stderr),
                )
            manifest_path = draft.directory / MANIFEST
            manifest_path.touch(mode=PRIVATE_FILE)
            manifest_path.write_text(done.stdout)
        except SnapshotError as exc:
            # The commands that ran belong in the fix's history even when it stops here.
            raise SnapshotError(exc.error, commands) from exc
        except CommandNotFound as exc:
            raise failed(f"cannot save the installed packages: {exc}") from exc
        finally:
            if stage is not None:
                shutil.rmtree(stage, ignore_errors=True)
        size = sum(p.size_bytes for p in saved) + (draft.directory / MANIFEST).stat().st_size
        info = v1.SnapshotInfo(
            id=draft.id,
            provider=self.name,
            size_bytes=size,
            created_at=draft.created_at,
            expires_at=draft.expires_at,
            owner=draft.owner,
            packages=tuple(saved),
            location=str(draft.directory),
        )
        return Taken(info, tuple(commands))

    @staticmethod
    def _download(
        target: Target, pm: PackageManager, pkg: Installed, stage: Path, commands: List[str]
    ) -> Path:
        """Download `pkg` at its exact version into `stage`; the file, or SnapshotError."""
        command = pm.download(target, pkg, target.inside(stage))
        commands.append(target.show(command))
        done = run(target, command)
        path = stage / pm.file_name(pkg)
        if not done.ok or not path.is_file():
            output = done.stdout + done.stderr
            error = classify(output, done.returncode, target.timeout)
            raise failed(
                f"{pkg.name} {pkg.version} is not in the package cache and could not be"
                f" downloaded again ({error.message})",
                "fix without a snapshot, or make the installed version downloadable"
                " (mirror reachable, the version still published)",
                tail(output),
            )
        return path

    def restore(
        self,
        target: Target,
        pm: Optional[PackageManager],
        info: v1.SnapshotInfo,
        directory: Path,
        mounts: Path = MOUNTS,
    ) -> Restored:
        """Check the saved files, stage them inside the root, reinstall them."""
        if pm is None:
            return Restored(error=v1.ActionError("not_supported", "no package manager found"))
        files = directory / FILES
        for saved in info.packages:
            path = files / saved.file
            if not path.is_file() or sha256_of(path) != saved.sha256:
                return Restored(
                    error=v1.ActionError(
                        "no_snapshot",
                        f"snapshot {info.id} is damaged: {saved.file} is missing or changed",
                        "the snapshot cannot be restored; reinstall the old versions by hand",
                    )
                )
        if not info.packages:
            return Restored()
        stage = staging_dir(target, "restore-" + info.id)
        try:
            staged = []
            for saved in info.packages:
                shutil.copyfile(files / saved.file, stage / saved.file)
                staged.append(target.inside(stage / saved.file))
            command = pm.restore(target, staged)
            done = run(target, command)
        except CommandNotFound as exc:
            return Restored(error=v1.ActionError("not_supported", str(exc)))
        finally:
            shutil.rmtree(stage, ignore_errors=True)
        error = None
        if not done.ok:
            error = classify(done.stdout + done.stderr, done.returncode, target.timeout)
        return Restored((target.show(command),), error)
