"""AptUpdatesCollector on the fixture root, and ChangelogFetcher against a fake mirror."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Dict, Mapping, Optional, Sequence

import pytest
from test_apt_deb import build_deb
from tests.tools import require

from patchwarden.agent.apt.fetch import ChangelogFetcher, FetchRequest
from patchwarden.agent.apt.lists import AvailablePackage
from patchwarden.agent.collectors.apt_updates import AptUpdatesCollector
from patchwarden.agent.collectors.base import CollectorFailed, Context
from patchwarden.agent.collectors.dpkg import DpkgCollector
from patchwarden.agent.collectors.os_release import OsReleaseCollector
from patchwarden.agent.runner import Completed, FakeRunner, Runner, SubprocessRunner

DATA = Path(__file__).resolve().parents[2] / "data" / "repocheck" / "apt"
ROOT = DATA / "root"
GOLDEN = DATA / "expected-fixture.json"


def fixture_context(root: Path = ROOT) -> Context:
    ctx = Context(root=root, runner=FakeRunner())
    ctx.os = OsReleaseCollector().collect(ctx).os
    ctx.packages = DpkgCollector().collect(ctx).packages
    return ctx


def test_fixture_root_golden(update_golden: bool) -> None:
    ctx = fixture_context()
    collector = AptUpdatesCollector()
    assert collector.applies(ctx) and not ctx.live
    part = collector.collect(ctx)
    got = [u.__dict__ for u in part.pending_updates]
    got = json.loads(json.dumps(got))
    if update_golden:
        GOLDEN.write_text(json.dumps(got, indent=2) + "\n")
    assert got == json.loads(GOLDEN.read_text())
    by_name = {u.package: u for u in part.pending_updates}
    # The point-release jq 1.6-2.1+deb12u4 (suite bookworm) is not a security update.
    assert by_name["jq"].candidate_version == "1.6-2.1+deb12u3"
    assert "krb5-locales" not in by_name and "zlib1g" not in by_name
    assert by_name["zip"].repository == "bookworm-security"  # from the .gz index
    assert all(u.note == "changelog not fetched (not a live root)" for u in part.pending_updates)
    assert ctx.runner.calls == []  # type: ignore[attr-defined]  # non-live, plain/gz: no commands


def test_without_installed_packages_it_fails_loudly() -> None:
    ctx = fixture_context()
    ctx.packages = ()
    with pytest.raises(CollectorFailed, match="dpkg collector must run first"):
        AptUpdatesCollector().collect(ctx)


def test_without_security_suite_it_fails_loudly(tmp_path: Path) -> None:
    shutil.copytree(ROOT, tmp_path / "root")
    for item in (tmp_path / "root" / "var/lib/apt/lists").glob("*security*"):
        item.unlink()
    with pytest.raises(CollectorFailed, match="no security suite"):
        AptUpdatesCollector().collect(fixture_context(tmp_path / "root"))


class FakeMirror(Runner):
    """Answers `apt-get changelog` / `apt-get download` like a host whose mirror has `debs`."""

    def __init__(self, debs: Dict[str, Path], changelog_server: Optional[str] = None) -> None:
        self.debs = debs
        self.changelog_server = changelog_server
        self.calls: list = []

    def run(
        self,
        argv: Sequence[str],
        timeout: float = 120.0,
        env: Optional[Mapping[str, str]] = None,
        cwd: Optional[str] = None,
    ) -> Completed:
        self.calls.append(tuple(argv))
        if argv[:2] == ["apt-get", "changelog"]:
            if self.changelog_server is None:
                return Completed(tuple(argv), 100, "", "E: Failed to fetch https://metadata…")
            return Completed(tuple(argv), 0, self.changelog_server)
        if argv[:2] == ["apt-get", "download"]:
            name = argv[2].split("=")[0].split(":")[0]
            if name not in self.debs or cwd is None:
                return Completed(tuple(argv), 100, "", f"E: Unable to locate package {name}")
            shutil.copy(self.debs[name], Path(cwd) / f"{name}_1.0-1+deb12u1_all.deb")
            return Completed(tuple(argv), 0, "Get:1 …")
        return SubprocessRunner().run(argv, timeout, env, cwd)  # dpkg-deb for zstd debs


CHANGELOG = "foo (1.0-1+deb12u1) bookworm-security; urgency=high\n\n  * Fix CVE-2024-0001.\n"


def binaries(*names_sizes: tuple[str, int]) -> tuple[AvailablePackage, ...]:
    return tuple(
        AvailablePackage(n, "1.0-1+deb12u1", "all", "foo", "1.0-1+deb12u1", s, "", "x-security")
        for n, s in names_sizes
    )


def test_fetcher_falls_back_to_download_and_follows_doc_symlink(tmp_path: Path) -> None:
    require("dpkg-deb", "dpkg")  # builds the .debs and unpacks the zstd one: fail, never skip
    debs = {
        "libfoo1": build_deb(tmp_path, "libfoo1", "xz", doc_link="foo-common"),
        "foo-common": build_deb(tmp_path, "foo-common", "zstd", {"changelog.Debian.gz": CHANGELOG}),
    }
    mirror = FakeMirror(debs)
    request = FetchRequest("foo", "1.0-1+deb12u1", binaries(("libfoo1", 10), ("foo-common", 99)))
    other = FetchRequest("bar", "2", binaries(("libbar", 5)))
    results = ChangelogFetcher(mirror, workers=2).fetch_all([request, request, other])
    assert results[("foo", "1.0-1+deb12u1")].text == CHANGELOG
    assert results[("foo", "1.0-1+deb12u1")].method == "apt-get download"
    assert "Unable to locate package libbar" in results[("bar", "2")].note
    changelog_calls = [c for c in mirror.calls if c[1] == "changelog"]
    assert len(changelog_calls) == 1  # the dead changelog server was tried once, not per source
    downloads = [c[2] for c in mirror.calls if c[1] == "download"]
    assert sorted(downloads) == [
        "foo-common=1.0-1+deb12u1",
        "libbar=1.0-1+deb12u1",
        "libfoo1=1.0-1+deb12u1",
    ]


def test_fetcher_uses_changelog_server_when_it_answers() -> None:
    mirror = FakeMirror({}, changelog_server=CHANGELOG)
    request = FetchRequest("foo", "1.0-1+deb12u1", binaries(("foo", 1)))
    (result,) = ChangelogFetcher(mirror).fetch_all([request]).values()
    assert (result.text, result.method) == (CHANGELOG, "apt-get changelog")


def test_fetcher_budget_leaves_a_note_instead_of_a_guess() -> None:
    mirror = FakeMirror({})
    requests = [FetchRequest(f"s{i}", "1", binaries(("b", 1))) for i in range(3)]
    results = ChangelogFetcher(mirror, budget_seconds=0).fetch_all(requests)
    assert {r.note for r in results.values()} == {"changelog not fetched (time budget of 0s spent)"}
    assert mirror.calls == []
