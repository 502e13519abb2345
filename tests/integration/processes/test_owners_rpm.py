"""Owning packages from an rpm database (the rpm collector's reader): CBL-Mariner 2.0's real
rpmdb.sqlite from the corpus, under a test root with a generated proc tree."""

from __future__ import annotations

import shutil
from pathlib import Path

from tests.integration.processes.proctree import FakeProcess, write_tree

from patchwarden.agent.collectors.registry import COLLECTORS
from patchwarden.agent.inventory import collect_inventory

RPMDB = (
    Path(__file__).resolve().parents[3]
    / "../shared/corpus/hosts/rpmdb/go-rpmdb/cbl-mariner-2.0/rpmdb.sqlite"
)
LIBCRYPTO = "/usr/lib/libcrypto.so.1.1.1k"


def test_exe_and_libraries_owned_by_rpm_packages(tmp_path: Path) -> None:
    root = tmp_path / "root"
    (root / "var/lib/rpm").mkdir(parents=True)
    shutil.copyfile(RPMDB, root / "var/lib/rpm/rpmdb.sqlite")
    (root / "usr/lib").mkdir(parents=True)
    # The distro's libcrypto, fingerprint-able: owned, so left to the distro's advisories.
    (root / LIBCRYPTO.lstrip("/")).write_bytes(b"\x7fELF" + bytes(64) + b"\x00OpenSSL 1.1.1k  ")
    (root / "opt/tool/lib").mkdir(parents=True)
    shutil.copyfile(root / LIBCRYPTO.lstrip("/"), root / "opt/tool/lib/libcrypto.so.1.1")
    processes = [
        # Merged /usr: the rpm lists /bin/bash, the process runs /usr/bin/bash.
        FakeProcess(10, "bash", "/usr/bin/bash", ["bash"], maps=[LIBCRYPTO]),
        FakeProcess(
            11, "tool", "/opt/tool/bin/tool", ["tool"], maps=["/opt/tool/lib/libcrypto.so.1.1"]
        ),
    ]
    proc = write_tree(tmp_path / "proc", processes, root=root)
    names = ("rpm", "processes", "components", "fingerprints")
    inv = collect_inventory(
        root, online=False, proc=proc, collectors={n: COLLECTORS[n] for n in names}
    )
    assert inv.collector_errors == ()
    by_pid = {p.pid: p for p in inv.processes}
    assert by_pid[10].package == "bash"
    assert by_pid[10].components == ()
    assert by_pid[11].package == ""
    assert [(c.name, c.version, c.path) for c in by_pid[11].components] == [
        ("openssl", "1.1.1k", "/opt/tool/lib/libcrypto.so.1.1")
    ]
