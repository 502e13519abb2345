"""Changelog cache: round trip, damaged entries, pruning."""

from __future__ import annotations

from patchwarden.agent.apt.changelog_cache import ChangelogCache
from patchwarden.agent.apt.fetch import FetchResult

KEY = ("openssl", "3.0.17-1~deb12u2")


def test_round_trip_marks_the_method_cached(tmp_path):
    cache = ChangelogCache(tmp_path / "c")
    assert cache.get(KEY) is None
    cache.put(KEY, FetchResult("openssl (3.0.17-1~deb12u2) ...", method="apt-get download"))
    hit = cache.get(KEY)
    assert hit is not None and hit.text.startswith("openssl (3.0.17")
    assert hit.method == "apt-get download, cached"


def test_failures_are_not_cached_and_damage_reads_as_missing(tmp_path):
    cache = ChangelogCache(tmp_path)
    cache.put(KEY, FetchResult(None, "changelog unavailable"))
    assert cache.get(KEY) is None
    cache.put(KEY, FetchResult("text", method="apt-get download"))
    next(tmp_path.glob("*.json.gz")).write_bytes(b"\x1f\x8b broken")
    assert cache.get(KEY) is None


def test_prune_keeps_only_the_pending_uploads(tmp_path):
    cache = ChangelogCache(tmp_path)
    other = ("zlib", "1:1.2.13.dfsg-1+deb12u1")
    for key in (KEY, other):
        cache.put(key, FetchResult("t", method="m"))
    cache.prune([other])
    assert cache.get(KEY) is None and cache.get(other) is not None
