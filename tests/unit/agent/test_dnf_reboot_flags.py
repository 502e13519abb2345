"""`reboot_suggested` from cached updateinfo.xml files (R-F4), every layout and compression."""

from __future__ import annotations

import bz2
import gzip
import lzma
from pathlib import Path

from patchwarden.agent.dnf.reboot_flags import WHOLE_UPDATE, cached_updateinfo, reboot_flags

DOC = b"""<?xml version="1.0" encoding="UTF-8"?>
<updates>
  <update type="security"><id>RHSA-2024:1</id>
    <pkglist><collection>
      <package name="kernel-core" version="5.14.0" release="1.el9" epoch="0" arch="x86_64">
        <filename>kernel-core.rpm</filename><reboot_suggested>True</reboot_suggested></package>
      <package name="kernel-tools" version="5.14.0" release="1.el9" epoch="0" arch="x86_64">
        <filename>kernel-tools.rpm</filename></package>
    </collection></pkglist></update>
  <update type="security"><id>RHSA-2024:2</id><reboot_suggested>true</reboot_suggested>
    <pkglist><collection><package name="glibc"/></collection></pkglist></update>
  <update type="security"><id>RHSA-2024:3</id>
    <pkglist><collection><package name="openssl-libs"/></collection></pkglist></update>
</updates>
"""
IDS = {"RHSA-2024:1", "RHSA-2024:2", "RHSA-2024:3"}
EXPECTED = {"RHSA-2024:1": {"kernel-core"}, "RHSA-2024:2": {WHOLE_UPDATE}}


def test_package_and_update_level_flags_in_every_compression(tmp_path: Path) -> None:
    writers = {".gz": gzip.compress, ".xz": lzma.compress, ".bz2": bz2.compress, "": bytes}
    for suffix, compress in writers.items():
        path = tmp_path / f"abc-updateinfo.xml{suffix}"
        path.write_bytes(compress(DOC))
        assert reboot_flags([path], IDS) == (EXPECTED, []), suffix


def test_only_the_asked_errata_are_kept(tmp_path: Path) -> None:
    path = tmp_path / "updateinfo.xml"
    path.write_bytes(DOC)
    assert reboot_flags([path], {"RHSA-2024:2"}) == ({"RHSA-2024:2": {WHOLE_UPDATE}}, [])


def test_unreadable_files_are_reported_not_fatal(tmp_path: Path) -> None:
    zst = tmp_path / "a-updateinfo.xml.zst"
    zst.write_bytes(b"(\xb5/\xfd")
    broken = tmp_path / "b-updateinfo.xml.gz"
    broken.write_bytes(gzip.compress(DOC)[:-30])
    bad_xml = tmp_path / "c-updateinfo.xml"
    bad_xml.write_bytes(b"<updates><update>")
    good = tmp_path / "d-updateinfo.xml.gz"
    good.write_bytes(gzip.compress(DOC))
    flags, problems = reboot_flags([zst, broken, bad_xml, good], IDS)
    assert flags == EXPECTED
    assert len(problems) == 3
    assert "no stdlib decoder" in problems[0] and str(broken) in problems[1]
    assert str(bad_xml) in problems[2]


def test_cache_layouts_of_dnf_and_yum(tmp_path: Path) -> None:
    dnf = tmp_path / "var/cache/dnf/baseos-0e7f0c15/repodata/1f2e-updateinfo.xml.gz"
    yum = tmp_path / "var/cache/yum/x86_64/7/updates/9a8b-updateinfo.xml.bz2"
    other = tmp_path / "var/cache/dnf/baseos-0e7f0c15/repodata/1f2e-primary.xml.gz"
    for path in (dnf, yum, other):
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"")
    assert cached_updateinfo(tmp_path) == sorted([dnf, yum])
