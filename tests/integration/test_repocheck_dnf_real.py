"""The dnf repository check against real dnf, a real repository and a real rpm database.

dnf 4.14 is Debian's package of the upstream release RHEL 9 ships. The test builds rpms with
rpmbuild (empty payloads, real headers), a repository with createrepo_c and an updateinfo.xml
(added with modifyrepo_c) made from real AlmaLinux 9 errata of the corpus, and installs the
older builds into the rpm database of an install root. The collector's own commands then run
through real dnf; only where dnf looks is set (`--installroot`, `--config`, `--releasever`,
and `%_dbpath` through `$HOME/.rpmmacros`, since Debian's rpm keeps its database in `~`).
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Optional
from xml.sax.saxutils import quoteattr

import pytest
from tests.paths import CORPUS

from patchwarden.agent.collectors.base import Context
from patchwarden.agent.collectors.dnf_updates import DnfUpdatesCollector
from patchwarden.agent.collectors.rpm import parse_rpmdb
from patchwarden.agent.runner import Completed, Runner, SubprocessRunner
from patchwarden.core.inventory import Host, Inventory, OsRelease
from patchwarden.core.versions.rpm import split_evr
from patchwarden.detect.pending_updates import pending_update_matches

pytestmark = pytest.mark.slow

ALMA9 = CORPUS / "advisories/almalinux-osv/almalinux9"
# (erratum, binary package, installed build): the repository offers the erratum's fixed build.
CASES = [
    ("ALSA-2024:8793", "thunderbird", "128.3.1-1.el9_4.alma.1"),  # security, Moderate
    ("ALSA-2023:0946", "openssl-libs", "1:3.0.1-43.el9_0"),  # security, Moderate
    ("ALSA-2026:A009", "kernel-core", "5.14.0-611.54.3.el9_7"),  # Important, reboot suggested
    ("ALBA-2022:8256", "qatzip-libs", "1.0.7-1.el9"),  # a bug-fix erratum: no finding
]
SECURITY = CASES[:3]
REBOOT = {"kernel-core"}
"""Packages whose erratum entry says `<reboot_suggested>True</reboot_suggested>`, as RHEL's
and AlmaLinux's updateinfo do for kernel packages."""
NOT_UPDATED = ("zlib", "1.2.11-40.el9")  # installed, nothing newer offered
SPEC = """\
Name: %{pw_name}
%{?pw_epoch:Epoch: %{pw_epoch}}
Version: %{pw_version}
Release: %{pw_release}
Summary: patchwarden test build
License: MIT
%description
Empty payload; only the header matters to dnf here.
%files
"""


def erratum(rid: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((ALMA9 / f"{rid}.json").read_text())
    return data


def fixed_build(doc: dict[str, Any], name: str) -> str:
    (fixed,) = {
        event["fixed"]
        for affected in doc["affected"]
        if affected["package"]["name"] == name
        for rng in affected["ranges"]
        for event in rng["events"]
        if "fixed" in event
    }
    return str(fixed)


def run(argv: Sequence[str], env: Mapping[str, str]) -> None:
    done = subprocess.run(list(argv), capture_output=True, text=True, env=dict(env), check=False)
    assert done.returncode == 0, (argv, done.stdout, done.stderr)


def build_rpm(work: Path, out: Path, name: str, evr: str, env: Mapping[str, str]) -> Path:
    epoch, version, release = split_evr(evr)
    spec = work / "pw.spec"
    spec.write_text(SPEC)
    defines = {"pw_name": name, "pw_version": version, "pw_release": release or "0"}
    if ":" in evr:
        defines["pw_epoch"] = epoch
    argv = [
        "rpmbuild",
        "-bb",
        "--quiet",
        "--target",
        "x86_64",
        "--define",
        f"_topdir {work / 'rpmbuild'}",
        "--define",
        f"_rpmdir {out}",
    ]
    argv += [a for k, v in defines.items() for a in ("--define", f"{k} {v}")]
    run([*argv, str(spec)], env)  # fmt: skip
    (built,) = out.glob(f"*/{name}-{version}-{release}.*.rpm")
    return built


def updateinfo_xml(docs: list[tuple[dict[str, Any], str, str]]) -> str:
    """`<updates>` of the errata, each listing the one build the repository offers."""
    updates = []
    for doc, name, evr in docs:
        epoch, version, release = split_evr(evr)
        kind = "security" if doc["id"].startswith("ALSA-") else "bugfix"
        severity = doc["summary"].split(":", 1)[0]
        refs = "".join(
            f"<reference href={quoteattr('https://access.redhat.com/security/cve/' + c)} "
            f'id={quoteattr(c)} type="cve" title={quoteattr(c)}/>'
            for c in doc.get("related", [])
        )
        updates.append(
            f'<update from="packager@almalinux.org" status="final" type="{kind}" version="1">'
            f"<id>{doc['id']}</id><title>{doc['summary']}</title>"
            f'<issued date="{doc["published"][:10]} 00:00:00"/>'
            f"<severity>{severity}</severity><summary>{doc['summary']}</summary>"
            f"<description>{doc['id']}</description><references>{refs}</references>"
            f'<pkglist><collection short="pw"><name>pw</name>'
            f'<package name="{name}" version="{version}" release="{release}" epoch="{epoch}" '
            f'arch="x86_64" src="{name}-{version}-{release}.src.rpm">'
            f"<filename>{name}-{version}-{release}.x86_64.rpm</filename>"
            + ("<reboot_suggested>True</reboot_suggested>" if name in REBOOT else "")
            + "</package>"
            "</collection></pkglist></update>"
        )
    return '<?xml version="1.0" encoding="UTF-8"?><updates>' + "".join(updates) + "</updates>"


class InstallRootRunner(Runner):
    """Real commands; dnf pointed at the install root and its configuration."""

    def __init__(self, root: Path, config: Path, home: Path) -> None:
        self.dnf_args = [f"--installroot={root}", f"--config={config}", "--releasever=9"]
        self.home = home
        self.argvs: list[tuple[str, ...]] = []

    def run(
        self,
        argv: Sequence[str],
        timeout: float = 120.0,
        env: Optional[Mapping[str, str]] = None,
        cwd: Optional[str] = None,
    ) -> Completed:
        if argv and argv[0] == "dnf":
            argv = [argv[0], *self.dnf_args, *argv[1:]]
        self.argvs.append(tuple(argv))
        env = {**(env or {}), "HOME": str(self.home)}
        return SubprocessRunner().run(argv, timeout=timeout, env=env, cwd=cwd)


@pytest.fixture(scope="module")
def dnf_host(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, InstallRootRunner]:
    """An install root with the old builds installed and a repository offering the fixes."""
    base = tmp_path_factory.mktemp("dnf")
    home, root, repo, old = base / "home", base / "root", base / "repo", base / "old"
    for d in (home, root / "etc/yum.repos.d", repo, old):
        d.mkdir(parents=True)
    (home / ".rpmmacros").write_text("%_dbpath /var/lib/rpm\n")
    env = {"HOME": str(home), "PATH": "/usr/bin:/bin:/usr/sbin:/sbin", "LC_ALL": "C"}
    offered = []
    for rid, name, installed in CASES:
        doc = erratum(rid)
        fixed = fixed_build(doc, name)
        build_rpm(base, repo, name, fixed, env)
        build_rpm(base, old, name, installed, env)
        offered.append((doc, name, fixed))
    build_rpm(base, old, *NOT_UPDATED, env)
    run(["createrepo_c", "-q", str(repo)], env)
    (base / "updateinfo.xml").write_text(updateinfo_xml(offered))
    run(["modifyrepo_c", "--mdtype=updateinfo", str(base / "updateinfo.xml"),
         str(repo / "repodata")], env)  # fmt: skip
    run(["rpm", "--root", str(root), "--initdb"], env)
    run(["rpm", "--root", str(root), "-i", "--nodeps", "--justdb",
         *map(str, sorted(old.glob("*/*.rpm")))], env)  # fmt: skip
    (root / "etc/yum.repos.d/pw.repo").write_text(
        f"[pw]\nname=patchwarden test\nbaseurl=file://{repo}\ngpgcheck=0\nenabled=1\n"
    )
    config = base / "dnf.conf"
    config.write_text(
        f"[main]\ngpgcheck=0\nreposdir={root}/etc/yum.repos.d\n"
        # Below the install root, where dnf keeps them on a real host.
        "cachedir=/var/cache/dnf\nlogdir=/var/log\npersistdir=/var/lib/dnf\n"
    )
    return root, InstallRootRunner(root, config, home)


def test_pending_security_errata_from_real_dnf(dnf_host: tuple[Path, InstallRootRunner]) -> None:
    root, runner = dnf_host
    packages, problems = parse_rpmdb(root / "var/lib/rpm/rpmdb.sqlite")
    assert not problems and len(packages) == 5
    os_release = OsRelease(id="almalinux", family="rhel", release="9")
    for online in (True, False):  # False: `dnf -C`, from the cache the first pass filled
        runner.argvs.clear()
        ctx = Context(root=root, runner=runner, os=os_release, packages=packages, online=online)
        updates = {u.package: u for u in DnfUpdatesCollector().collect(ctx).pending_updates}
        assert all(("-C" in argv) is not online for argv in runner.argvs)
        # Not the bug-fix erratum; the kernel's suggests a reboot (read from dnf's own cache).
        assert sorted(updates) == ["kernel-core", "openssl-libs", "thunderbird"]
        assert {n for n, u in updates.items() if u.restart_required} == REBOOT
        assert list((root / "var/cache/dnf").glob("pw-*/repodata/*-updateinfo.xml.gz"))
        for rid, name, installed in SECURITY:
            doc = erratum(rid)
            update = updates[name]
            assert update.installed_version == installed
            assert update.candidate_version == fixed_build(doc, name)
            assert update.repository == "pw"
            assert update.advisories == (rid,)
            assert set(update.cves) == set(doc["related"]) and update.cves
            assert update.severity and update.severity.lower() == (
                "important" if name == "kernel-core" else "moderate"
            )
            assert not update.note

    inv = Inventory(host=Host("alma"), os=os_release, packages=packages,
                    pending_updates=tuple(updates.values()))  # fmt: skip
    findings = pending_update_matches(inv)
    assert {(m.package, m.id) for m in findings} == {
        (name, cve) for rid, name, _ in SECURITY for cve in erratum(rid)["related"]
    }
