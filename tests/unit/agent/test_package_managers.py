"""Package-manager command builders and output parsers (apt, dnf, yum, apk).

Parsers read recorded outputs: real apt and dnf, yum and apk written from their documentation
(tests/data/remediation/README.md). Builders are checked argv for argv: exact versions only,
never a full upgrade, non-interactive, the proxy where each tool reads it.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from tests.paths import REPO

from patchwarden.agent.actions import PACKAGE_MANAGERS, package_manager_for
from patchwarden.agent.actions.apk import Apk, split_name_version
from patchwarden.agent.actions.apt import Apt, deb_file_name
from patchwarden.agent.actions.base import (
    Change,
    Command,
    Installed,
    Target,
    Wanted,
    make_target,
)
from patchwarden.agent.actions.dnf import Dnf, strip_epoch
from patchwarden.agent.runner import RecordingRunner
from patchwarden.core.inventory import OsRelease

DATA = REPO / "tests" / "data" / "remediation"
SSL = [Wanted("libssl3", "3.0.22-1~deb12u2")]


def out(rel: str) -> str:
    path = DATA / rel
    if path.suffix == ".txt":
        return path.read_text()
    doc = json.loads(path.read_text())
    return str(doc["stdout"] + doc["stderr"])


def argv_of(rel: str) -> list[str]:
    return list(json.loads((DATA / rel).read_text())["argv"])


def target(proxy: str = "") -> Target:
    runner = RecordingRunner()
    return Target(Path("/"), runner, runner, "direct", proxy)


# -- apt ------------------------------------------------------------------------------------------


def test_apt_commands_are_exact_versions_non_interactive_and_recorded_as_run() -> None:
    apt = Apt()
    install = apt.install(target(), SSL)
    assert install.argv == (
        "apt-get", "install", "-q", "-y", "--only-upgrade", "--no-install-recommends",
        "-o", "Dpkg::Options::=--force-confdef", "-o", "Dpkg::Options::=--force-confold",
        "libssl3=3.0.22-1~deb12u2",
    )  # fmt: skip
    assert install.env["DEBIAN_FRONTEND"] == "noninteractive"
    assert install.env["NEEDRESTART_MODE"] == "l"
    plan = apt.plan(target(), SSL)
    assert plan.argv[:3] == ("apt-get", "install", "-s") and plan.argv[3:] == install.argv[2:]
    # The recorded outputs came from exactly these commands.
    assert list(plan.argv) == argv_of("apt/plan-upgrade.json")
    assert list(install.argv) == argv_of("apt/install-upgrade.json")
    assert "upgrade" not in install.argv and "dist-upgrade" not in install.argv


def test_apt_proxy_goes_into_acquire_options() -> None:
    apt = Apt()
    proxied = target("http://proxy.example:3128")
    assert apt.refresh(proxied) == Command(
        ("apt-get", "-q", "update", "-o", "Acquire::http::Proxy=http://proxy.example:3128",
         "-o", "Acquire::https::Proxy=http://proxy.example:3128"),
        apt.env(proxied),
    )  # fmt: skip
    assert "Acquire::http::Proxy=http://proxy.example:3128" in apt.install(proxied, SSL).argv
    assert not any("Proxy" in a for a in apt.install(target(), SSL).argv)


def test_apt_download_and_restore() -> None:
    apt = Apt()
    pkg = Installed("libssl3", "3.0.20-1~deb12u2", "amd64")
    download = apt.download(target(), pkg, "/var/cache/patchwarden/x")
    assert download.argv == ("apt-get", "-q", "download", "libssl3:amd64=3.0.20-1~deb12u2")
    assert download.cwd == "/var/cache/patchwarden/x"
    assert list(download.argv) == argv_of("apt/download.json")
    assert apt.download(target(), Installed("tzdata", "2024a-0+deb12u1", "all"), "/d").argv[-1] == (
        "tzdata=2024a-0+deb12u1"
    )
    restore = apt.restore(target(), ["/s/libssl3_3.0.20-1~deb12u2_amd64.deb"])
    assert "--allow-downgrades" in restore.argv and restore.argv[-1].endswith(".deb")
    assert deb_file_name(Installed("bsdutils", "1:2.38.1-5+deb12u3", "amd64")) == (
        "bsdutils_1%3a2.38.1-5+deb12u3_amd64.deb"
    )


def test_apt_plan_of_an_upgrade() -> None:
    plan = Apt().parse_plan(out("apt/plan-upgrade.json"))
    assert plan.changes == (
        Change("libssl3", "upgrade", "3.0.22-1~deb12u2", "3.0.20-1~deb12u2", "amd64"),
    )
    assert plan.already_newest == plan.not_installed == plan.unavailable == ()


def test_apt_plan_with_a_dependent_package_upgraded_too() -> None:
    plan = Apt().parse_plan(out("apt/plan-upgrade-with-dependent.json"))
    assert [(c.name, c.kind, c.from_version, c.to_version) for c in plan.changes] == [
        ("libssl-dev", "upgrade", "3.0.20-1~deb12u2", "3.0.22-1~deb12u2"),
        ("libssl3", "upgrade", "3.0.20-1~deb12u2", "3.0.22-1~deb12u2"),
    ]


@pytest.mark.parametrize(
    ("case", "field", "expected"),
    [
        (
            "apt/plan-already-newest.json",
            "already_newest",
            (Installed("libzstd1", "1.5.4+dfsg2-5"),),
        ),
        ("apt/plan-version-not-found.json", "unavailable", ("libssl3=9.9-1",)),
        ("apt/plan-not-installed.json", "not_installed", ("openssl",)),
        ("apt/plan-after-mirror-closed.json", "unavailable", ("libssl3=3.0.22-1~deb12u2",)),
    ],
)
def test_apt_plan_refusals(case: str, field: str, expected: tuple[object, ...]) -> None:
    plan = Apt().parse_plan(out(case))
    assert plan.changes == ()
    assert getattr(plan, field) == expected


def test_apt_plan_of_a_refused_downgrade_still_names_it() -> None:
    """apt -y stops before its Inst lines; the DOWNGRADED heading says what it would do."""
    plan = Apt().parse_plan(out("apt/plan-downgrade.json"))
    assert plan.changes == (Change("libssl3", "downgrade"),)


def test_apt_plan_marks_downgrades() -> None:
    text = (
        "The following packages will be DOWNGRADED:\n  libssl3\n"
        "Inst libssl3 [3.0.22-1~deb12u2] (3.0.20-1~deb12u2 Debian:12.12/oldstable [amd64])\n"
        "Remv libssl-dev [3.0.22-1~deb12u2]\n"
    )
    plan = Apt().parse_plan(text)
    assert [(c.name, c.kind) for c in plan.changes] == [
        ("libssl3", "downgrade"),
        ("libssl-dev", "remove"),
    ]


def test_apt_query_reads_installed_packages_only() -> None:
    found = Apt().parse_query(out("apt/query.json"))
    assert found == {
        "libssl3": Installed("libssl3", "3.0.20-1~deb12u2", "amd64"),
        "libzstd1": Installed("libzstd1", "1.5.4+dfsg2-5", "amd64"),
    }
    assert Apt().parse_query("x\t1.0\tamd64\trc \n") == {}  # config files only: not installed


def test_apt_owned_files_and_cache(tmp_path: Path) -> None:
    info = tmp_path / "var/lib/dpkg/info"
    info.mkdir(parents=True)
    (info / "libssl3:amd64.list").write_text("/.\n/usr\n/usr/lib/x86_64-linux-gnu/libssl.so.3\n")
    assert Apt().owned_files(tmp_path, "libssl3") == ["usr", "usr/lib/x86_64-linux-gnu/libssl.so.3"]
    archives = tmp_path / "var/cache/apt/archives"
    archives.mkdir(parents=True)
    pkg = Installed("libssl3", "3.0.20-1~deb12u2", "amd64")
    assert Apt().cached_file(tmp_path, pkg) is None
    (archives / deb_file_name(pkg)).write_bytes(b"!<arch>\n")
    assert Apt().cached_file(tmp_path, pkg) == archives / deb_file_name(pkg)


# -- dnf and yum ---------------------------------------------------------------------------------


DNF_WANTED = [
    Wanted("openssl-libs", "1:3.0.7-25.el9_3"),
    Wanted("kernel-core", "5.14.0-362.13.1.el9_3"),
]


def test_dnf_commands_match_the_recorded_ones() -> None:
    dnf = Dnf("dnf")
    assert list(dnf.plan(target(), DNF_WANTED).argv) == argv_of("dnf/plan-upgrade.json")
    assert list(dnf.install(target(), DNF_WANTED).argv) == argv_of("dnf/install-upgrade.json")
    assert list(dnf.manifest().argv) == argv_of("dnf/manifest.json")
    assert list(dnf.query(["openssl-libs", "kernel-core", "ca-certificates"]).argv) == argv_of(
        "dnf/query-before.json"
    )
    staged = "/var/cache/patchwarden/restore/"
    files = [
        staged + "openssl-libs-3.0.1-43.el9_0.x86_64.rpm",
        staged + "kernel-core-5.14.0-362.8.1.el9_3.x86_64.rpm",
    ]
    assert list(dnf.restore(target(), files).argv) == argv_of("dnf/restore-rpm-oldpackage.json")


def test_dnf_and_yum_words_and_proxy() -> None:
    proxied = target("http://proxy:3128")
    assert Dnf("dnf").install(proxied, DNF_WANTED).argv[:4] == (
        "dnf", "-y", "--setopt=proxy=http://proxy:3128", "upgrade"
    )  # fmt: skip
    yum = Dnf("yum")
    assert yum.install(target(), DNF_WANTED).argv[:3] == ("yum", "-y", "update")
    pkg = Installed("openssl-libs", "1:1.0.2k-25.el7_9", "x86_64")
    assert yum.download(target(), pkg, "/d").argv == (
        "yumdownloader", "--destdir", "/d", "openssl-libs-1:1.0.2k-25.el7_9.x86_64"
    )  # fmt: skip
    assert Dnf("dnf").download(target(), pkg, "/d").argv[:4] == (
        "dnf",
        "download",
        "--destdir",
        "/d",
    )
    assert yum.file_name(pkg) == "openssl-libs-1.0.2k-25.el7_9.x86_64.rpm"
    assert [lock.path for lock in yum.lock_files] == ["var/run/yum.pid", "var/lib/rpm/.rpm.lock"]
    assert "var/lib/dnf/rpmdb_lock.pid" in [lock.path for lock in Dnf("dnf").lock_files]
    with pytest.raises(ValueError, match="dnf or yum"):
        Dnf("zypper")


def test_dnf_plan_of_real_dnf() -> None:
    plan = Dnf().parse_plan(out("dnf/plan-upgrade.json"))
    assert plan.changes == (
        Change("kernel-core", "upgrade", "5.14.0-362.13.1.el9_3", "", "x86_64"),
        Change("openssl-libs", "upgrade", "1:3.0.7-25.el9_3", "", "x86_64"),
        Change("ca-certificates", "install", "2023.2.60-1.el9", "", "x86_64"),
    )


@pytest.mark.parametrize(
    ("case", "field", "expected"),
    [
        ("dnf/plan-nothing-to-do.json", "changes", ()),
        ("dnf/plan-no-match.json", "unavailable", ("openssl-libs-1:9.9-1.el9",)),
        ("dnf/plan-not-installed.json", "not_installed", ("ca-certificates",)),
        ("yum/no-package.txt", "unavailable", ("openssl-libs-1:9.9-1.el7",)),
        ("yum/no-update.txt", "changes", ()),
    ],
)
def test_dnf_plan_refusals(case: str, field: str, expected: tuple[object, ...]) -> None:
    plan = Dnf().parse_plan(out(case))
    assert plan.changes == () and getattr(plan, field) == expected
    if field == "not_installed":
        assert plan.unavailable == ()  # "No match" there only meant: not installed


def test_yum_plan_takes_old_versions_from_the_resolver_lines() -> None:
    plan = Dnf("yum").parse_plan(out("yum/plan-update.txt"))
    assert plan.changes == (
        Change("openssl-libs", "upgrade", "1:1.0.2k-26.el7_9", "1:1.0.2k-25.el7_9", "x86_64"),
        Change("openssl", "upgrade", "1:1.0.2k-26.el7_9", "1:1.0.2k-25.el7_9", "x86_64"),
    )


def test_dnf_plan_joins_a_long_name_wrapped_onto_its_own_line() -> None:
    text = (
        "Upgrading:\n"
        " python3-libselinux-debuginfo-extra-long-name\n"
        "                   x86_64    3.5-1.el9        baseos    200 k\n"
        "\nTransaction Summary\n"
    )
    (change,) = Dnf().parse_plan(text).changes
    assert (change.name, change.to_version) == (
        "python3-libselinux-debuginfo-extra-long-name",
        "3.5-1.el9",
    )


def test_dnf_query_and_epochs() -> None:
    dnf = Dnf()
    before = dnf.parse_query(out("dnf/query-before.json"))
    assert before == {
        "openssl-libs": Installed("openssl-libs", "1:3.0.1-43.el9_0", "x86_64"),
        "kernel-core": Installed("kernel-core", "5.14.0-362.8.1.el9_3", "x86_64"),
    }
    after = dnf.parse_query(out("dnf/query-after.json"))
    assert after["ca-certificates"].version == "2023.2.60-1.el9"
    assert dnf.same_version("0:1.2-3", "1.2-3") and dnf.same_version("(none):1.2-3", "1.2-3")
    assert not dnf.same_version("1:1.2-3", "1.2-3")
    assert strip_epoch("1:3.0.7-25.el9_3") == "1:3.0.7-25.el9_3"
    assert len(dnf.parse_query(out("dnf/manifest.json"))) == 4
    assert dnf.needs_reboot("kernel-core") and dnf.needs_reboot("glibc")
    assert not dnf.needs_reboot("openssl-libs")


def test_dnf_cached_file(tmp_path: Path) -> None:
    pkg = Installed("openssl-libs", "1:3.0.1-43.el9_0", "x86_64")
    packages = tmp_path / "var/cache/dnf/baseos-abc/packages"
    packages.mkdir(parents=True)
    assert Dnf().cached_file(tmp_path, pkg) is None
    (packages / "openssl-libs-3.0.1-43.el9_0.x86_64.rpm").write_bytes(b"\xed\xab\xee\xdb")
    assert Dnf().cached_file(tmp_path, pkg) == packages / "openssl-libs-3.0.1-43.el9_0.x86_64.rpm"


# -- apk ------------------------------------------------------------------------------------------


APK_WANTED = [Wanted("libssl3", "3.1.4-r6"), Wanted("libcrypto3", "3.1.4-r6")]


def test_apk_commands_and_world_restore(tmp_path: Path) -> None:
    apk = Apk()
    (tmp_path / "etc/apk").mkdir(parents=True)
    (tmp_path / "etc/apk/world").write_text("alpine-baselayout\nbusybox\nlibssl3>=3\n")
    here = Target(tmp_path, RecordingRunner(), RecordingRunner(), "chroot", "http://p:1")
    assert apk.plan(here, APK_WANTED).argv == (
        "apk", "add", "--simulate", "--upgrade", "libssl3=3.1.4-r6", "libcrypto3=3.1.4-r6"
    )  # fmt: skip
    assert apk.install(here, APK_WANTED).env == {
        "http_proxy": "http://p:1",
        "https_proxy": "http://p:1",
    }
    assert [c.argv for c in apk.after_install(here, APK_WANTED)] == [
        ("apk", "add", "libssl3"),
        ("apk", "del", "libcrypto3"),
    ]
    assert apk.refresh(here) is not None
    assert apk.download(here, Installed("libssl3", "3.1.4-r5"), "/d").argv == (
        "apk", "fetch", "-o", "/d", "libssl3=3.1.4-r5"
    )  # fmt: skip


def test_apk_plans() -> None:
    apk = Apk()
    assert apk.parse_plan(out("apk/plan-upgrade.txt")).changes == (
        Change("libcrypto3", "upgrade", "3.1.4-r6", "3.1.4-r5"),
        Change("libssl3", "upgrade", "3.1.4-r6", "3.1.4-r5"),
    )
    installed = apk.parse_plan(out("apk/install-upgrade.txt")).changes[-1]
    assert installed == Change("ca-certificates-bundle", "install", "20240226-r0")
    assert apk.parse_plan(out("apk/version-unavailable.txt")).unavailable == ("libssl3=3.1.9-r0",)
    assert apk.parse_plan(out("apk/no-such-package.txt")).unavailable == ("libsssl3",)


def test_apk_query_and_names() -> None:
    found = Apk().parse_query(out("apk/info.txt"))
    assert found["libssl3"] == Installed("libssl3", "3.1.4-r6")
    assert found["musl"].version == "1.2.4_git20230717-r4"
    assert found["ca-certificates-bundle"].version == "20240226-r0"
    assert split_name_version("py3-cryptography-41.0.7-r0") == ("py3-cryptography", "41.0.7-r0")
    assert split_name_version("no-version") is None


def test_apk_owned_files(tmp_path: Path) -> None:
    db = tmp_path / "lib/apk/db"
    db.mkdir(parents=True)
    (db / "installed").write_text(
        "P:musl\nV:1.2.4-r4\nF:lib\nR:ld-musl-x86_64.so.1\n\n"
        "P:libssl3\nV:3.1.4-r5\nF:lib\nR:libssl.so.3\nF:usr/lib\nR:libssl.so.3.x\n\n"
    )
    assert Apk().owned_files(tmp_path, "libssl3") == [
        "lib",
        "lib/libssl.so.3",
        "usr/lib",
        "usr/lib/libssl.so.3.x",
    ]


# -- registry ------------------------------------------------------------------------------------


def test_registry_and_detection(tmp_path: Path) -> None:
    assert list(PACKAGE_MANAGERS) == ["apt", "dnf", "yum", "apk"]
    assert package_manager_for(tmp_path) is None
    (tmp_path / "usr/bin").mkdir(parents=True)
    (tmp_path / "usr/bin/yum").write_text("")
    rhel7 = OsRelease(id="centos", family="rhel", release="7")
    assert package_manager_for(tmp_path, rhel7) is PACKAGE_MANAGERS["yum"]
    (tmp_path / "usr/bin/dnf").write_text("")
    assert package_manager_for(tmp_path, rhel7) is PACKAGE_MANAGERS["dnf"]
    (tmp_path / "usr/bin/apt-get").write_text("")  # Debian with dnf installed (like this host)
    debian = OsRelease(id="debian", family="debian", release="12")
    assert package_manager_for(tmp_path, debian) is PACKAGE_MANAGERS["apt"]


def test_chroot_target_shows_commands_as_run(tmp_path: Path) -> None:
    here = make_target(tmp_path, "chroot")
    shown = here.show(Command(("apt-get", "-q", "download", "x=1"), {"A": "1"}, cwd="/var/x"))
    assert shown == f"chroot {tmp_path} env -C /var/x A=1 apt-get -q download x=1"
    assert here.cannot_execute is None
    assert make_target(tmp_path, "direct").cannot_execute is not None  # not the running system
    assert make_target(Path("/"), "direct").cannot_execute is None
    with pytest.raises(ValueError, match="exec mode"):
        make_target(tmp_path, "ssh")
