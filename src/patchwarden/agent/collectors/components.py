"""components collector: the software components running processes hold (SPEC R-D1, R-D2).

For each process the processes collector read (their views in `Context.shared`):

* Java: the JARs the JVM really holds — `/proc/PID/fd` links (JDK 17 reads JARs through
  file descriptors, it does not map them) and `.jar` lines of `/proc/PID/maps` (older JVMs)
  — identified from inside (`jars`), nested JARs included. JARs the command line names
  (`-jar`, `-cp`, the `-jar` file's manifest `Class-Path`) that the JVM has not opened are
  reported with `loaded=False`: the JVM opens class-path JARs on the first class lookup that
  reaches them, so their classes never ran (R-D2). The JDK's own JARs are not components.
* Python: distributions whose files the process maps or holds (`pydists`).
* Node.js: packages in the application's node_modules (`nodepkgs`).

Files are read through the process (`/proc/PID/fd/N`, `/proc/PID/root/…`), so deleted JARs
and containers' files are read as the process sees them. The same file held by many JVMs is
read once (keyed by device, inode, size and mtime). The owning distro package is named for
files of processes that see the scanned root. Unreadable or hostile archives are warnings;
the components found so far are kept.
"""

from __future__ import annotations

import os
import zipfile
from dataclasses import replace
from pathlib import Path
from typing import Dict, List, Optional, Set, Tuple

from patchwarden.agent.collectors.base import Collector, Context, InventoryPart
from patchwarden.agent.collectors.jars import (
    ARCHIVES,
    MAX_META,
    JarReport,
    identify_file,
    parse_manifest,
)
from patchwarden.agent.collectors.java_classpath import class_path, manifest_class_path
from patchwarden.agent.collectors.nodepkgs import app_dirs, installed, main_script
from patchwarden.agent.collectors.owners import FileOwners, file_owners
from patchwarden.agent.collectors.processes import ProcessScan, process_scan
from patchwarden.agent.collectors.procfs import ProcView, clean
from patchwarden.agent.collectors.pydists import SiteIndex, loaded_dists
from patchwarden.core.inventory import CollectorError, Component, Evidence, ProcessInstance

NAME = "components"
MAX_WARNINGS = 200
"""Most warnings of one run (each names a file; the count of the rest is the last one)."""
MAX_WILDCARD = 5000
"""Most JARs one `dir/*` class-path entry expands to."""


class _Run:
    """What one collection run shares across processes: caches and warnings."""

    def __init__(self, ctx: Context, scan: ProcessScan) -> None:
        self.ctx = ctx
        self.scan = scan
        self.owners: FileOwners = file_owners(ctx)
        self.jars: Dict[Tuple[int, int, int, int], JarReport] = {}
        self.sites: Dict[str, SiteIndex] = {}
        self.warnings: List[CollectorError] = []
        self.warned: Set[Tuple[str, str]] = set()
        self.dropped = 0

    def warn(self, message: str, path: str = "") -> None:
        """Record a problem once (the same JAR held by 20 JVMs is one problem)."""
        key = (path, message)
        if key in self.warned:
            return
        self.warned.add(key)
        if len(self.warnings) < MAX_WARNINGS:
            self.warnings.append(CollectorError(NAME, message, clean(path)))
        else:
            self.dropped += 1

    def identify(self, opened: Path, display: str, view: ProcView) -> Optional[JarReport]:
        """The JAR at `opened` (shown as `display`), read once per file version; None when
        it cannot be read, or when the process `view` ended meanwhile (no problem then)."""
        try:
            st = os.stat(opened)
        except OSError as exc:
            if not _gone(view):
                self.warn(f"cannot read JAR: {exc.strerror or exc}", display)
            return None
        key = (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns)
        report = self.jars.get(key)
        if report is None:
            report = identify_file(str(opened), display)
            if report.problems and _gone(view):
                return None  # read through a process that ended: not the file's fault
            self.jars[key] = report
            for inner, problem in report.problems:
                self.warn(problem, display + inner)
        return report


def _gone(view: ProcView) -> bool:
    """True when the process ended (its files were read through its /proc entry)."""
    return view.real and not view.dir().exists()


class ComponentsCollector(Collector):
    """JARs, Python distributions and npm packages of the running processes."""

    name = NAME
    version = 1
    covers = frozenset({Evidence.RUNNING_PROCESSES})

    def applies(self, ctx: Context) -> bool:
        """Only after a successful processes collector."""
        return process_scan(ctx) is not None

    def collect(self, ctx: Context) -> InventoryPart:
        """Each Java, Python and Node.js process's components; see the module docstring."""
        scan = process_scan(ctx)
        assert scan is not None
        run = _Run(ctx, scan)
        out: List[ProcessInstance] = []
        for process in ctx.processes:
            view = scan.views.get(process.pid)
            if view is None or not process.runtime:
                out.append(process)
                continue
            try:
                if process.runtime == "java":
                    found = java_components(run, view)
                elif process.runtime == "python":
                    found = python_components(run, view)
                else:
                    found = node_components(run, view)
            except Exception as exc:  # one odd process must not cost the others' components
                run.warn(
                    f"components of process {process.pid} ({process.name}) not read:"
                    f" {type(exc).__name__}: {exc}",
                    process.exe,
                )
                found = ()
            out.append(replace(process, components=found))
        if run.dropped:
            run.warnings.append(CollectorError(NAME, f"{run.dropped} more problems not listed"))
        return InventoryPart(processes=tuple(out), warnings=tuple(run.warnings))


def java_components(run: _Run, view: ProcView) -> Tuple[Component, ...]:
    """Held JARs (loaded) and class-path JARs not held (not loaded) of one JVM."""
    java_home = os.path.dirname(os.path.dirname(view.exe)) if view.exe else ""
    held: Dict[str, Optional[int]] = {}
    for fd, path, _deleted in view.held_files():
        if path.lower().endswith(ARCHIVES):
            held.setdefault(path, fd)
    for mapping in view.maps:
        if mapping.path.lower().endswith(ARCHIVES):
            held.setdefault(mapping.path, None)
    if java_home not in ("", "/", "/usr"):
        # The JDK's own JARs (a Java 8 rt.jar): the JDK is not an application component.
        held = {p: fd for p, fd in held.items() if not p.startswith(java_home + "/")}
    candidates = [p for p in _class_path_jars(run, view) if p not in held]
    in_root = view.pid in run.scan.in_root
    owners = run.owners.lookup(list(held) + candidates) if in_root else {}
    found: List[Component] = []
    for path in sorted(held):
        report = run.identify(view.open_path(path, held[path]), path, view)
        found.extend(_components(report, path, True, owners.get(path, "")))
    for path in candidates:
        opened = view.open_path(path)
        if not opened.is_file():
            continue  # the launcher skips class-path entries that do not exist
        report = run.identify(opened, path, view)
        found.extend(_components(report, path, False, owners.get(path, "")))
    return tuple(found)


def _components(
    report: Optional[JarReport], path: str, loaded: bool, package: str
) -> List[Component]:
    if report is None:
        return []
    return [
        Component(
            path=clean(path + ident.inner),
            ecosystem="Maven",
            name=clean(ident.name),
            version=clean(ident.version),
            method=ident.method,
            confidence=ident.confidence,
            loaded=loaded,
            package=package,
            evidence=clean(ident.evidence),
        )
        for ident in report.identities
    ]


def _class_path_jars(run: _Run, view: ProcView) -> List[str]:
    """Absolute paths of the archives the command line puts on the class path, in order."""
    jar, entries = class_path(view.argv)
    out: List[str] = []
    if jar:
        main = view.resolve(jar)
        out.append(main)
        out.extend(_manifest_class_path(view, main))
    for entry in entries:
        if entry == "*" or entry.endswith("/*"):
            folder = view.resolve(entry[:-1] or ".")
            try:
                names = sorted(os.listdir(view.open_path(folder)))
            except OSError:
                continue
            jars = [n for n in names if n.lower().endswith(".jar")]
            if len(jars) > MAX_WILDCARD:
                run.warn(f"class path wildcard names {len(jars)} JARs; first {MAX_WILDCARD} read")
            out.extend(os.path.join(folder, n) for n in jars[:MAX_WILDCARD])
        elif entry.lower().endswith(ARCHIVES):
            out.append(view.resolve(entry))
    return list(dict.fromkeys(out))


def _manifest_class_path(view: ProcView, jar: str) -> List[str]:
    """The `Class-Path` of the `-jar` file's manifest (read bounded; [] when unreadable)."""
    try:
        with zipfile.ZipFile(view.open_path(jar)) as archive:
            info = archive.getinfo("META-INF/MANIFEST.MF")
            if info.file_size > MAX_META:
                return []
            with archive.open(info) as member:
                text = member.read(MAX_META).decode("utf-8", "replace")
    except (OSError, KeyError, zipfile.BadZipFile, ValueError, EOFError):
        return []
    value = parse_manifest(text).get("Class-Path", "")
    return manifest_class_path(value, os.path.dirname(jar)) if value else []


def python_components(run: _Run, view: ProcView) -> Tuple[Component, ...]:
    """Distributions whose files a Python process maps or holds."""
    files = [m.path for m in view.maps] + [p for _, p, _ in view.held_files()]
    dists = loaded_dists(files, view.open_path, run.sites)
    in_root = view.pid in run.scan.in_root
    owners = run.owners.lookup([f for _, _, f in dists]) if in_root else {}
    return tuple(
        Component(
            path=clean(f"{site}/{dist.info_dir}"),
            ecosystem="PyPI",
            name=clean(dist.name),
            version=clean(dist.version),
            method="dist-info",
            confidence="high",
            package=owners.get(file, ""),
            evidence=clean(file),
        )
        for site, dist, file in dists
    )


def node_components(run: _Run, view: ProcView) -> Tuple[Component, ...]:
    """Packages installed in a Node.js application's node_modules."""
    found: List[Component] = []
    seen: Set[str] = set()
    for folder in app_dirs(view.cwd, main_script(view.argv)):
        packages, problems = installed(folder, view.open_path)
        for problem in problems:
            run.warn(problem)
        for package_dir, name, version in packages:
            if package_dir in seen:
                continue
            seen.add(package_dir)
            found.append(
                Component(
                    path=clean(package_dir),
                    ecosystem="npm",
                    name=clean(name),
                    version=clean(version),
                    method="package.json",
                    confidence="high",
                    evidence="package.json",
                )
            )
    if found and view.pid in run.scan.in_root:
        owners = run.owners.lookup([f"{c.path}/package.json" for c in found])
        found = [replace(c, package=owners.get(f"{c.path}/package.json", "")) for c in found]
    return tuple(found)
