"""The agent's state directory is its own (umask 022 notwithstanding): the state dir, outbox
and cache it creates are 0700, the credentials, pending uploads and cached changelogs 0600."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from patchwarden.agent import state as st
from patchwarden.agent.apt.changelog_cache import ChangelogCache
from patchwarden.agent.apt.fetch import FetchResult


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture(autouse=True)
def usual_umask() -> Iterator[None]:
    old = os.umask(0o022)
    yield
    os.umask(old)


def test_enrolment_and_uploads_leave_only_private_files(tmp_path: Path) -> None:
    state_dir = tmp_path / "var" / "lib" / "patchwarden"
    st.save(state_dir, st.AgentState("https://console:8080", "host-1", "s3cret"))
    upload = st.outbox_put(state_dir, "report-0001", b"\x1f\x8b pending upload")
    cache = ChangelogCache(state_dir / st.CACHE / "changelogs")
    cache.put(("openssl", "3.0.13-1"), FetchResult("openssl (3.0.13-1) ...", method="http"))
    dirs = {p: mode(p) for p in (state_dir, state_dir / st.OUTBOX, state_dir / st.CACHE)}
    assert dirs == dict.fromkeys(dirs, 0o700)
    files = [state_dir / st.STATE_FILE, upload, *(state_dir / st.CACHE).rglob("*.json.gz")]
    assert len(files) == 3
    assert {str(p): mode(p) for p in files} == dict.fromkeys(map(str, files), 0o600)
    assert st.load(state_dir) == st.AgentState("https://console:8080", "host-1", "s3cret")


def test_a_state_dir_chosen_by_the_admin_keeps_its_mode(tmp_path: Path) -> None:
    chosen = tmp_path / "chosen"
    chosen.mkdir(mode=0o750)
    st.save(chosen, st.AgentState("https://console:8080", "host-1", "s3cret"))
    assert mode(chosen) == 0o750
    assert mode(chosen / st.STATE_FILE) == 0o600 and mode(chosen / st.OUTBOX) == 0o700
