"""RHEL modularity: a module build fixes only its own stream (EL8+)."""

from __future__ import annotations

import pytest

from patchwarden.core.advisory import Affected, AffectedPackage, Event, EventKind, Range
from patchwarden.core.inventory import Package
from patchwarden.core.modularity import is_modular, module_applies, streams_in


@pytest.mark.parametrize(
    ("summary", "streams"),
    [
        ("Moderate: nginx:1.22 security update", ("nginx:1.22",)),
        ("Low: virt:rhel and virt-devel:rhel security update", ("virt:rhel", "virt-devel:rhel")),
        ("container-tools:4.0 security, bug fix, and enhancement update", ("container-tools:4.0",)),
        ("Important: pcs security update", ()),
        ("Important: kernel security, bug fix: CVE-2023-1", ()),
        ("", ()),
    ],
)
def test_streams_named_by_an_erratum_summary(summary: str, streams: tuple[str, ...]) -> None:
    assert streams_in(summary) == streams


@pytest.mark.parametrize(
    ("version", "modular"),
    [
        ("1:1.22.1-1.module_el8.8.0+3623+f96e6422.1.alma.1", True),
        ("1:1.22.1-1.module+el8.8.0+19978+1d8c5a8e", True),
        ("1:1.14.1-9.el8", False),
        ("1.0-1.modulemd.el8", False),  # "module" in a release is not a module build by itself
        ("module_el8-1", False),  # only the release counts
    ],
)
def test_module_builds_are_told_by_their_release(version: str, modular: bool) -> None:
    assert is_modular(version) is modular


def _affected(fixed: str, modules: tuple[str, ...] = ()) -> Affected:
    rng = Range("ECOSYSTEM", (Event(EventKind.INTRODUCED, "0"), Event(EventKind.FIXED, fixed)))
    return Affected(AffectedPackage("AlmaLinux:8", "nginx"), ranges=(rng,), modules=modules)


FIX_122 = _affected("1:1.22.1-1.module_el8.8.0+3623+f96e6422.1.alma.1", ("nginx:1.22",))
FIX_124 = _affected("1:1.24.0-3.module_el8.10.0+4182+ca797750.1.alma.1", ("nginx:1.24",))
FIX_PLAIN = _affected("1:1.14.1-10.el8")


@pytest.mark.parametrize(
    ("version", "module", "applies"),
    [
        # Stream known on both sides: only its own stream's fixes.
        ("1:1.22.1-1.module+el8.8.0+19978+1d8c5a8e", "nginx:1.22", {"1.22"}),
        # Stream not known on the host (a manifest without labels): every module fix.
        ("1:1.22.1-1.module+el8.8.0+19978+1d8c5a8e", "", {"1.22", "1.24"}),
        # A non-modular nginx (nginx.org, EPEL) is no module stream's build, and vice versa.
        ("1:1.22.1-1.el8.ngx", "", {"plain"}),
    ],
)
def test_module_fixes_apply_to_their_own_build_line(
    version: str, module: str, applies: set[str]
) -> None:
    pkg = Package("nginx", version, "rpm", module=module)
    entries = {"1.22": FIX_122, "1.24": FIX_124, "plain": FIX_PLAIN}
    assert {k for k, a in entries.items() if module_applies(a, pkg)} == applies
