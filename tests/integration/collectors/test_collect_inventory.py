"""collect_inventory over roots built from corpus files, over bad roots, and over this machine."""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import FrozenSet

import pytest

from patchwarden.agent.collectors.base import Collector, CollectorFailed, Context, InventoryPart
from patchwarden.agent.collectors.registry import COLLECTORS
from patchwarden.agent.inventory import collect_inventory
from patchwarden.agent.runner import FakeRunner
from patchwarden.core.errors import InventoryError
from patchwarden.core.inventory import CollectorError, Evidence, Inventory, Package, PendingUpdate

CORPUS = Path(__file__).resolve().parents[3] / ".." / "shared" / "corpus"
HOSTS = CORPUS / "hosts"


def put(root: Path, rel: str, source: Path) -> None:
    (root / rel).parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(source, root / rel)


def write(root: Path, rel: str, text: str) -> None:
    (root / rel).parent.mkdir(parents=True, exist_ok=True)
    (root / rel).write_text(text, encoding="utf-8")


@pytest.fixture
def debian12_root(tmp_path: Path) -> Path:
    """A Debian 12 root: the corpus' real status file, os-release, hostname, a kernel setup."""
    local = HOSTS / "dpkg" / "local-debian12"
    put(tmp_path, "etc/os-release", local / "os-release")
    put(tmp_path, "etc/debian_version", local / "debian_version")
    put(tmp_path, "var/lib/dpkg/status", local / "status")
    write(tmp_path, "etc/hostname", "web-01\n")
    write(tmp_path, "etc/machine-id", "0123456789abcdef0123456789abcdef\n")
    write(tmp_path, "etc/default/grub", 'GRUB_DEFAULT="saved"\nGRUB_TIMEOUT=5\n')
    write(
        tmp_path,
        "boot/grub/grubenv",
        "# GRUB Environment Block\nsaved_entry=gnulinux-6.1.0-9-amd64\n",
    )
    for release in ("6.1.0-9-amd64", "6.1.0-18-amd64"):
        write(tmp_path, f"boot/vmlinuz-{release}", "")
        (tmp_path / "lib/modules" / release).mkdir(parents=True)
    return tmp_path


def test_debian12_root(debian12_root: Path) -> None:
    inv = collect_inventory(debian12_root, runner=FakeRunner(), online=False)
    assert (inv.os.id, inv.os.release, inv.os.codename) == ("debian", "12", "bookworm")
    assert len(inv.packages) == 843
    assert inv.collectors == ("os-release@1", "dpkg@1", "kernel@1")
    assert inv.collector_errors == ()
    assert inv.covered == ("installed-packages",)  # no apt lists: no repository check
    assert inv.host.hostname == "web-01"
    assert inv.host.machine_id == "0123456789abcdef0123456789abcdef"
    assert inv.host.arch == "amd64"
    assert inv.host.root == str(debian12_root)
    assert inv.collected_at.endswith("+00:00")
    # Not booted here: no running kernel, the on-disk kernels are the installed ones.
    kernel = inv.kernel
    assert kernel.running is None
    assert [k.release for k in kernel.installed] == ["6.1.0-9-amd64", "6.1.0-18-amd64"]
    assert kernel.newest_installed == "6.1.0-18-amd64"
    assert kernel.boot_default == "6.1.0-9-amd64"  # pinned by saved_entry (R-F5)
    assert Inventory.from_dict(inv.to_dict()) == inv


def test_alpine_root_with_a_bad_stanza_reports_it(tmp_path: Path) -> None:
    put(tmp_path, "etc/os-release", HOSTS / "os-release/claircore/alpine/3.3/etc/os-release")
    put(tmp_path, "lib/apk/db/installed", HOSTS / "apk/trivy/installed")
    inv = collect_inventory(tmp_path, runner=FakeRunner())
    assert (inv.os.family, inv.os.release) == ("alpine", "3.3")
    assert len(inv.packages) == 15
    assert inv.collectors == ("os-release@1", "apk@1", "kernel@1")
    assert inv.covered == ()  # the skipped stanza may be the package a record is about
    assert inv.collector_errors == (
        CollectorError(
            "apk",
            "line 23: package 'invalidPackageWithoutAVersion' has no V (version) field",
            "lib/apk/db/installed",
        ),
    )


def test_rpm_root_kernel_package_from_the_database(tmp_path: Path) -> None:
    put(tmp_path, "etc/os-release", HOSTS / "os-release/syft/os/mariner/etc/os-release")
    put(tmp_path, "var/lib/rpm/rpmdb.sqlite", HOSTS / "rpmdb/go-rpmdb/cbl-mariner-2.0/rpmdb.sqlite")
    inv = collect_inventory(tmp_path, runner=FakeRunner())
    assert len(inv.packages) == 129
    assert inv.host.arch == "x86_64"
    assert inv.collectors == ("os-release@1", "rpm@1", "kernel@1")
    assert inv.covered == ("installed-packages",)


def test_sad_path_corrupt_status_is_a_collector_error_not_no_packages(tmp_path: Path) -> None:
    put(tmp_path, "etc/os-release", HOSTS / "dpkg/local-debian12/os-release")
    (tmp_path / "var/lib/dpkg").mkdir(parents=True)
    (tmp_path / "var/lib/dpkg/status").write_bytes(b"Package: a\n\x00\xff\xfe garbage" * 50)
    inv = collect_inventory(tmp_path, runner=FakeRunner())
    assert inv.packages == ()
    assert "dpkg@1" not in inv.collectors
    assert inv.covered == ()
    assert inv.collector_errors == (
        CollectorError(
            "dpkg",
            "binary data (NUL byte at offset 11), expected text",
            "var/lib/dpkg/status",
        ),
    )


def test_sad_path_empty_os_release_is_unknown_with_a_warning(tmp_path: Path) -> None:
    write(tmp_path, "etc/os-release", "")
    inv = collect_inventory(tmp_path, runner=FakeRunner())
    assert (inv.os.id, inv.os.family) == ("unknown", "unknown")
    assert inv.collector_errors == (
        CollectorError("os-release", "no KEY=value lines (empty file?)", "etc/os-release"),
    )


def test_unexpected_oserror_from_a_collector_is_recorded(tmp_path: Path) -> None:
    class Exploding(Collector):
        name = "exploding"

        def collect(self, ctx: Context) -> InventoryPart:
            raise PermissionError(13, "Permission denied", str(ctx.path("etc/shadow")))

    class Failing(Collector):
        name = "failing"
        version = 3

        def collect(self, ctx: Context) -> InventoryPart:
            raise CollectorFailed("database locked", "var/lib/x")

    collectors = {"exploding": Exploding(), "failing": Failing(), **COLLECTORS}
    inv = collect_inventory(tmp_path, runner=FakeRunner(), collectors=collectors)
    assert inv.collector_errors[:2] == (
        CollectorError(
            "exploding",
            f"PermissionError: [Errno 13] Permission denied: '{tmp_path}/etc/shadow'",
            f"{tmp_path}/etc/shadow",
        ),
        CollectorError("failing", "database locked", "var/lib/x"),
    )
    assert inv.collectors == ("os-release@1", "kernel@1")


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda p: p / "missing", "scan root does not exist"),
        (lambda p: p / "a-file", "scan root is not a directory"),
    ],
)
def test_sad_path_unusable_root_is_fatal(make, message: str, tmp_path: Path) -> None:
    (tmp_path / "a-file").write_text("not a root")
    root = make(tmp_path)
    with pytest.raises(InventoryError, match=f"^{root}: {message}"):
        collect_inventory(root, runner=FakeRunner())


def test_registry_order_os_first_packages_then_kernel() -> None:
    names = list(COLLECTORS)
    assert names[0] == "os-release"
    assert names.index("kernel") > max(names.index(n) for n in ("dpkg", "rpm", "apk"))


@pytest.mark.live
def test_this_machine() -> None:
    """The real `/` of the build machine: Debian 12 with several hundred dpkg packages."""
    inv = collect_inventory(Path("/"), online=False)
    assert (inv.os.id, inv.os.release) == ("debian", "12")
    assert len([p for p in inv.packages if p.format == "deb"]) > 300
    assert inv.kernel.running == os.uname().release
    assert inv.host.hostname
    assert "dpkg@1" in inv.collectors
    assert not [e for e in inv.collector_errors if e.collector in ("dpkg", "os-release")]


def test_distroless_ubuntu_kernel_packages_from_status_d(tmp_path: Path) -> None:
    """syft's `deinstall` entry: one installed linux-image, one left as config-files only."""
    put(tmp_path, "var/lib/dpkg/status.d/linux", HOSTS / "dpkg/syft-status.d/deinstall")
    inv = collect_inventory(tmp_path, runner=FakeRunner())
    assert [(p.name, p.source) for p in inv.packages] == [
        ("linux-image-6.14.0-1012-aws", "linux-signed-aws-6.14")
    ]
    assert [(k.name, k.release) for k in inv.kernel.installed] == [
        ("linux-image-6.14.0-1012-aws", "6.14.0-1012-aws")
    ]
    assert inv.kernel.newest_installed == "6.14.0-1012-aws"
    assert (inv.kernel.running, inv.kernel.boot_default) == (None, None)


# --- Inventory.covered: what the run vouches for (STYLE E3) ----------------------------------

PACKAGES = frozenset({Evidence.INSTALLED_PACKAGES})
UPDATES = frozenset({Evidence.PENDING_UPDATES})


class Fake(Collector):
    """A collector that covers `covers` and succeeds, warns, fails or does not apply."""

    def __init__(self, name: str, covers: FrozenSet[Evidence], outcome: str = "ok") -> None:
        self.name = name
        self.covers = covers
        self.outcome = outcome

    def applies(self, ctx: Context) -> bool:
        return self.outcome != "does not apply"

    def collect(self, ctx: Context) -> InventoryPart:
        if self.outcome in ("fails", "does not apply"):
            raise CollectorFailed("database locked", f"var/lib/{self.name}")
        if self.outcome == "raises":
            raise PermissionError(13, "Permission denied", f"var/lib/{self.name}")
        warnings = (
            (CollectorError(self.name, "line 3: no Version", f"var/lib/{self.name}"),)
            if self.outcome == "warns"
            else ()
        )
        if Evidence.PENDING_UPDATES in self.covers:
            update = PendingUpdate("a", "1", "2", "security")
            return InventoryPart(pending_updates=(update,), warnings=warnings)
        return InventoryPart(packages=(Package(self.name, "1", "deb"),), warnings=warnings)


@pytest.mark.parametrize(
    ("fakes", "covered"),
    [
        pytest.param(
            [Fake("pkgs", PACKAGES), Fake("updates", UPDATES)],
            ("installed-packages", "pending-updates"),
            id="happy path both kinds",
        ),
        pytest.param(
            [Fake("os", frozenset()), Fake("pkgs", PACKAGES)],
            ("installed-packages",),
            id="happy path a collector covering nothing adds nothing",
        ),
        pytest.param([Fake("pkgs", PACKAGES, "fails")], (), id="sad path the collector failed"),
        pytest.param(
            [Fake("pkgs", PACKAGES, "raises")], (), id="sad path the collector raised OSError"
        ),
        pytest.param([Fake("pkgs", PACKAGES, "warns")], (), id="sad path the collector warned"),
        pytest.param(
            [Fake("dpkg", PACKAGES), Fake("rpm", PACKAGES, "fails")],
            (),
            id="sad path one of two package collectors failed",
        ),
        pytest.param(
            [Fake("dpkg", PACKAGES, "fails"), Fake("rpm", PACKAGES)],
            (),
            id="sad path the first of two package collectors failed",
        ),
        pytest.param(
            [Fake("pkgs", PACKAGES, "fails"), Fake("updates", UPDATES)],
            ("pending-updates",),
            id="a failure spoils its own kind only",
        ),
        pytest.param(
            [Fake("os", frozenset(), "warns"), Fake("pkgs", PACKAGES)],
            ("installed-packages",),
            id="a warning of a collector covering nothing spoils nothing",
        ),
        pytest.param(
            [Fake("dpkg", PACKAGES), Fake("rpm", PACKAGES, "does not apply")],
            ("installed-packages",),
            id="a collector that does not apply counts for nothing",
        ),
        pytest.param(
            [Fake("rpm", PACKAGES, "does not apply")],
            (),
            id="sad path nothing that applies covers it",
        ),
    ],
)
def test_covered(tmp_path: Path, fakes: list[Fake], covered: tuple[str, ...]) -> None:
    inv = collect_inventory(tmp_path, runner=FakeRunner(), collectors={f.name: f for f in fakes})
    assert inv.covered == covered
    assert Inventory.from_dict(inv.to_dict()) == inv


def test_covered_ignores_an_os_release_warning(tmp_path: Path) -> None:
    """The real collectors: an empty os-release warns, the dpkg database is still complete."""
    write(tmp_path, "etc/os-release", "")
    put(tmp_path, "var/lib/dpkg/status", HOSTS / "dpkg/local-debian12/status")
    inv = collect_inventory(tmp_path, runner=FakeRunner())
    assert [e.collector for e in inv.collector_errors] == ["os-release"]
    assert inv.covered == ("installed-packages",)
