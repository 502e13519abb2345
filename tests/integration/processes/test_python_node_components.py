"""Python and Node.js components of running processes.

Python: real interpreters on this machine — Debian's python3 importing python3-apt's and
python3-yaml's C extensions (package-owned), and this venv's python importing MarkupSafe's
(unpackaged). A pure-Python module leaves nothing mapped or open once imported, so only
distributions with a mapped extension (or a held file) are reported.

Node.js: the node_modules layout of an application (plain, scoped, nested one level, a
broken package.json) under a test root, with a generated proc tree for the node process.
"""

from __future__ import annotations

import importlib.metadata
import json
import subprocess
import sys
from pathlib import Path

from tests.integration.processes.proctree import FakeProcess, write_tree

from patchwarden.agent.collectors.registry import COLLECTORS
from patchwarden.agent.inventory import collect_inventory
from patchwarden.core.inventory import Component, Inventory

READY = "import sys; print('ready', flush=True); sys.stdin.read()"


def components(inv: Inventory, pid: int) -> list[Component]:
    [proc] = [p for p in inv.processes if p.pid == pid]
    return list(proc.components)


def test_python_processes_report_the_distributions_they_mapped() -> None:
    argvs = [
        ["/usr/bin/python3", "-c", f"import apt_pkg; {READY}"],
        [sys.executable, "-c", f"import markupsafe._speedups, click; {READY}"],
    ]
    procs = [
        subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        for argv in argvs
    ]
    try:
        for p in procs:
            assert p.stdout is not None and p.stdout.readline().strip() == "ready"
        names = ("processes", "components")
        inv = collect_inventory(
            Path("/"), online=False, collectors={n: COLLECTORS[n] for n in names}
        )
    finally:
        for p in procs:
            p.kill()
            p.wait(timeout=30)
    debian, venv = (components(inv, p.pid) for p in procs)
    apt = [c for c in debian if c.name == "python-apt"]
    assert [(c.ecosystem, c.package, c.method, c.confidence) for c in apt] == [
        ("PyPI", "python3-apt", "dist-info", "high")
    ]
    assert (
        apt[0].evidence == "/usr/lib/python3/dist-packages/apt_pkg.cpython-311-x86_64-linux-gnu.so"
    )
    markupsafe = importlib.metadata.version("MarkupSafe")
    assert [(c.name, c.version, c.package) for c in venv] == [("MarkupSafe", markupsafe, "")]
    assert venv[0].path.endswith(f"site-packages/markupsafe-{markupsafe}.dist-info")


def package(root: Path, rel: str, data: object) -> None:
    folder = root / rel
    folder.mkdir(parents=True, exist_ok=True)
    text = data if isinstance(data, str) else json.dumps(data)
    (folder / "package.json").write_text(text)


def test_a_node_application_reports_its_installed_packages(tmp_path: Path) -> None:
    root = tmp_path / "root"
    app = "srv/shop"
    package(root, f"{app}/node_modules/lodash", {"name": "lodash", "version": "4.17.15"})
    package(
        root,
        f"{app}/node_modules/@babel/traverse",
        {"name": "@babel/traverse", "version": "7.22.5"},
    )
    package(root, f"{app}/node_modules/express/node_modules/qs", {"name": "qs", "version": "6.5.2"})
    package(root, f"{app}/node_modules/express", {"name": "express", "version": "4.17.1"})
    package(root, f"{app}/node_modules/broken", "{not json")
    package(root, f"{app}/node_modules/nameless", {"version": "1.0.0"})
    (root / app / "server.js").write_text("require('express')")
    node = FakeProcess(
        300,
        "node",
        "/usr/bin/node",
        ["node", "--max-old-space-size=256", "server.js"],
        cwd=f"/{app}",
    )
    proc = write_tree(tmp_path / "proc", [node], root=root)
    names = ("processes", "components")
    inv = collect_inventory(
        root, online=False, proc=proc, collectors={n: COLLECTORS[n] for n in names}
    )
    found = {(c.name, c.version, c.path) for c in components(inv, 300)}
    assert found == {
        ("lodash", "4.17.15", f"/{app}/node_modules/lodash"),
        ("@babel/traverse", "7.22.5", f"/{app}/node_modules/@babel/traverse"),
        ("express", "4.17.1", f"/{app}/node_modules/express"),
        ("qs", "6.5.2", f"/{app}/node_modules/express/node_modules/qs"),
    }
    assert {c.ecosystem for c in components(inv, 300)} == {"npm"}
    assert [(e.collector, e.message) for e in inv.collector_errors] == [
        (
            "components",
            f"/{app}/node_modules/broken/package.json is not JSON:"
            " Expecting property name enclosed in double quotes: line 1 column 2 (char 1)",
        ),
        ("components", f"/{app}/node_modules/nameless/package.json has no name or version"),
    ]
