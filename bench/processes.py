"""Process + JAR inventory: time and peak RSS on a host with many JVMs holding many JARs.

Twenty real JVMs are too heavy for a 2-core test machine shared with others, so the /proc
view is generated (tests/integration/processes/proctree.py): JVMS java processes, each
holding JARS library JARs of its own through `fd/` links (unique files: no cache hits
between JVMs), a quarter of them also running a Spring Boot fat JAR with NESTED stored libs,
plus OTHERS ordinary processes; the scanned root carries this host's real dpkg file lists,
so owner lookups cost what they cost here. The collectors (processes, components,
fingerprints) run in a fresh child per round; each round prints wall time and the child's
peak RSS. The live host's /proc is measured the same way for comparison.

Run: .venv/bin/python bench/processes.py [--jvms 20] [--jars 100] [--rounds 3]
"""

from __future__ import annotations

import argparse
import io
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.integration.processes.proctree import FakeProcess, tcp_line, write_tree  # noqa: E402

JAVA = "/usr/lib/jvm/java-17-openjdk-amd64/bin/java"
NESTED = 60
OTHERS = 200

_CHILD = """
import json, resource, sys, time
from pathlib import Path
from patchwarden.agent.collectors.registry import COLLECTORS
from patchwarden.agent.inventory import collect_inventory
root, proc = sys.argv[1], sys.argv[2]
names = ("processes", "components", "fingerprints")
t0 = time.perf_counter()
inv = collect_inventory(Path(root), online=False, proc=Path(proc) if proc else None,
                        collectors={n: COLLECTORS[n] for n in names})
t1 = time.perf_counter()
print(json.dumps({
    "collect_s": t1 - t0,
    "processes": len(inv.processes),
    "components": sum(len(p.components) for p in inv.processes),
    "loaded": sum(c.loaded for p in inv.processes for c in p.components),
    "problems": len(inv.collector_errors),
    "maxrss_kb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
}))
"""


def library_jar(group: str, artifact: str, version: str, classes: int = 8) -> bytes:
    """A small JAR: manifest, pom.properties and a few class-sized members."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as jar:
        jar.writestr(
            "META-INF/MANIFEST.MF", f"Manifest-Version: 1.0\nImplementation-Version: {version}\n"
        )
        jar.writestr(
            f"META-INF/maven/{group}/{artifact}/pom.properties",
            f"groupId={group}\nartifactId={artifact}\nversion={version}\n",
        )
        for i in range(classes):
            jar.writestr(f"{group.replace('.', '/')}/{artifact}/C{i}.class", os.urandom(1500))
    return buf.getvalue()


def build(base: Path, jvms: int, jars: int) -> tuple[Path, Path, int]:
    """The generated root and proc tree; returns (root, proc, JAR files written)."""
    root = base / "root"
    info = root / "var/lib/dpkg/info"
    info.mkdir(parents=True)
    for lst in Path("/var/lib/dpkg/info").glob("*.list"):
        shutil.copyfile(lst, info / lst.name)
    processes: list[FakeProcess] = []
    sockets = []
    written = 0
    for n in range(jvms):
        lib = root / f"opt/app{n}/lib"
        lib.mkdir(parents=True)
        fds: dict[int, str] = {}
        for j in range(jars):
            name = f"lib{j}-1.{n}.{j}.jar"
            (lib / name).write_bytes(library_jar(f"org.bench{j}", f"lib{j}", f"1.{n}.{j}"))
            fds[100 + j] = f"/opt/app{n}/lib/{name}"
            written += 1
        argv = ["java", "-Xmx1g", "-cp", f"/opt/app{n}/lib/*", "com.example.Main"]
        if n % 4 == 0:
            fat = io.BytesIO()
            with zipfile.ZipFile(fat, "w", zipfile.ZIP_STORED) as archive:
                archive.writestr(
                    "META-INF/maven/com.example/fat/pom.properties",
                    "groupId=com.example\nartifactId=fat\nversion=1.0\n",
                )
                for k in range(NESTED):
                    archive.writestr(
                        f"BOOT-INF/lib/nested{k}-2.{k}.jar",
                        library_jar(f"org.nested{k}", f"nested{k}", f"2.{k}"),
                    )
            (root / f"opt/app{n}/app.jar").write_bytes(fat.getvalue())
            fds[99] = f"/opt/app{n}/app.jar"
            argv = ["java", "-Xmx1g", "-jar", f"/opt/app{n}/app.jar"]
            written += 1
        inode = 90_000 + n
        fds[3] = f"socket:[{inode}]"
        sockets.append(tcp_line(n, "00000000", 8000 + n, "0A", inode))
        processes.append(FakeProcess(1000 + n, "java", JAVA, argv, fds=fds, maps=[JAVA]))
    processes.extend(
        FakeProcess(5000 + n, "sleep", "/usr/bin/sleep", ["sleep", "1000"]) for n in range(OTHERS)
    )
    proc = write_tree(base / "proc", processes, tcp=sockets, root=root)
    return root, proc, written


def measure(root: str, proc: str) -> dict[str, float]:
    out = subprocess.run(
        [sys.executable, "-c", _CHILD, root, proc], capture_output=True, text=True, check=True
    )
    result: dict[str, float] = json.loads(out.stdout)
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jvms", type=int, default=20)
    parser.add_argument("--jars", type=int, default=100)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    print(f"machine: {os.cpu_count()} cpus, python {sys.version.split()[0]}")
    with tempfile.TemporaryDirectory(prefix="bench-processes-") as tmp:
        start = time.perf_counter()
        root, proc, written = build(Path(tmp), args.jvms, args.jars)
        print(
            f"generated: {args.jvms} JVMs x {args.jars} JARs held (+ fat JARs with {NESTED}"
            f" nested libs in every 4th), {OTHERS} other processes; {written} JAR files"
            f" in {time.perf_counter() - start:.1f} s"
        )
        for n in range(args.rounds):
            r = measure(str(root), str(proc))
            print(
                f"generated /proc round {n + 1}: {r['collect_s']:.2f} s, peak RSS"
                f" {r['maxrss_kb'] / 1024:.0f} MiB, {r['processes']} processes,"
                f" {r['components']} components ({r['loaded']} loaded), {r['problems']} problems"
            )
    r = measure("/", "")
    print(
        f"live /proc: {r['collect_s']:.2f} s, peak RSS {r['maxrss_kb'] / 1024:.0f} MiB,"
        f" {r['processes']} processes, {r['components']} components"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
