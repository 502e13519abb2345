"""On-disk cache of fetched Debian changelogs, keyed by (source package, version).

A given upload's changelog never changes, so each is downloaded once per agent, not once per
scan (a periodic scan of a host with dozens of pending updates otherwise re-downloads dozens
of .debs). Entries not asked for by the latest scan are pruned, keeping the cache to the
updates still pending.
"""

from __future__ import annotations

import gzip
import json
import os
import tempfile
from pathlib import Path
from typing import Iterable, Optional
from urllib.parse import quote

from patchwarden.agent.apt.fetch import FetchResult, SourceKey


class ChangelogCache:
    """Changelog texts in a directory, one gzip JSON file per (source, version)."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory

    def _path(self, key: SourceKey) -> Path:
        # Versions hold ':' and '~'; quote() keeps file names portable and unambiguous.
        return self.directory / f"{quote(key[0], safe='')}_{quote(key[1], safe='')}.json.gz"

    def get(self, key: SourceKey) -> Optional[FetchResult]:
        """The cached changelog of an upload, or None (a damaged entry counts as missing)."""
        try:
            data = json.loads(gzip.decompress(self._path(key).read_bytes()))
            return FetchResult(str(data["text"]), method=f"{data['method']}, cached")
        except (OSError, ValueError, KeyError, EOFError):
            return None

    def put(self, key: SourceKey, result: FetchResult) -> None:
        """Keep a successfully fetched changelog (atomic write)."""
        if result.text is None:
            return
        self.directory.mkdir(parents=True, exist_ok=True)
        body = gzip.compress(json.dumps({"text": result.text, "method": result.method}).encode())
        fd, tmp = tempfile.mkstemp(dir=str(self.directory), prefix=".tmp-")
        with os.fdopen(fd, "wb") as fh:
            fh.write(body)
        os.replace(tmp, self._path(key))

    def prune(self, keep: Iterable[SourceKey]) -> None:
        """Remove every entry but `keep`."""
        if not self.directory.is_dir():
            return
        wanted = {self._path(k).name for k in keep}
        for path in self.directory.iterdir():
            if path.name not in wanted:
                path.unlink(missing_ok=True)
