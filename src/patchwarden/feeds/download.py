"""HTTPS download of feed files: conditional requests, streaming, atomic replace (R-S2)."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import httpx

from patchwarden.core.errors import FeedError

Progress = Callable[[int, "int | None"], None]
"""Called with (bytes so far, total bytes or None) while a download runs."""


@dataclass(frozen=True)
class Downloaded:
    """Result of one conditional download."""

    url: str
    path: Path | None
    """The fresh file, or None when the server said 304 Not Modified."""
    etag: str | None = None
    last_modified: str | None = None
    size: int = 0

    @property
    def modified(self) -> bool:
        """True when a new file was fetched."""
        return self.path is not None


def download(
    client: httpx.Client,
    url: str,
    dest: Path,
    etag: str | None = None,
    last_modified: str | None = None,
    progress: Progress | None = None,
) -> Downloaded:
    """GET `url` into `dest` unless unchanged since (`etag`, `last_modified`).

    The body streams into a temporary file beside `dest` that replaces `dest` only once it
    is complete, so an interrupted download never leaves a truncated feed behind.
    """
    headers = {}
    if etag:
        headers["If-None-Match"] = etag
    if last_modified:
        headers["If-Modified-Since"] = last_modified
    dest.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=dest.name + ".", suffix=".part", dir=dest.parent)
    tmp = Path(tmp_name)
    try:
        with client.stream("GET", url, headers=headers, follow_redirects=True) as resp:
            if resp.status_code == 304:
                return Downloaded(url=url, path=None, etag=etag, last_modified=last_modified)
            if resp.status_code != 200:
                raise FeedError(f"{url}: HTTP {resp.status_code} {resp.reason_phrase}")
            total = int(resp.headers.get("content-length") or 0) or None
            size = 0
            with os.fdopen(fd, "wb") as out:
                fd = -1
                for chunk in resp.iter_bytes(1 << 16):
                    out.write(chunk)
                    size += len(chunk)
                    if progress:
                        progress(size, total)
            if total is not None and size != total:
                raise FeedError(f"{url}: download truncated ({size} of {total} bytes)")
            os.replace(tmp, dest)
            return Downloaded(
                url=url,
                path=dest,
                etag=resp.headers.get("etag"),
                last_modified=resp.headers.get("last-modified"),
                size=size,
            )
    except httpx.HTTPError as exc:
        raise FeedError(f"{url}: download failed: {exc}") from exc
    finally:
        if fd >= 0:
            os.close(fd)
        tmp.unlink(missing_ok=True)
