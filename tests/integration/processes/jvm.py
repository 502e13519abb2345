"""Real JVMs for the process and component tests: classes compiled with `javac` at test time,
JARs built with pom.properties, servers started on loopback ports and stopped afterwards.

The server (`Server PORT ADDRESS EAGER...`) loads the EAGER classes at start, listens, and
answers one line per connection: `load CLASS` loads a class (the trigger that makes the JVM
open a class-path JAR it had not opened yet), anything else answers `ok`. It uses a plain
ServerSocket: `com.sun.net.httpserver` looks up service providers on the class path, which
would open every JAR at start and hide what R-D2 is about.
"""

from __future__ import annotations

import os
import socket
import subprocess
import time
import zipfile
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from tests.tools import require

SERVER = """\
import java.io.*;
import java.net.*;

public class Server {
    public static void main(String[] args) throws Exception {
        ServerSocket server = new ServerSocket(
            Integer.parseInt(args[0]), 50, InetAddress.getByName(args[1]));
        for (int i = 2; i < args.length; i++) {
            Class.forName(args[i], false, Server.class.getClassLoader());
        }
        System.out.println("ready");
        System.out.flush();
        while (true) {
            try (Socket client = server.accept()) {
                BufferedReader in = new BufferedReader(
                    new InputStreamReader(client.getInputStream()));
                String line = in.readLine();
                String answer = "ok";
                if (line != null && line.startsWith("load ")) {
                    // Loaded, not initialised: a real library's static setup needs others.
                    Class.forName(line.substring(5).trim(), false, Server.class.getClassLoader());
                    answer = "loaded";
                }
                client.getOutputStream().write((answer + "\\n").getBytes());
            } catch (Exception e) {
                System.err.println(e);
            }
        }
    }
}
"""


@dataclass(frozen=True)
class Library:
    """A fake library JAR: one class, Maven coordinates in its pom.properties."""

    group: str
    artifact: str
    version: str
    class_name: str
    """Fully qualified name of the one class inside."""

    @property
    def file_name(self) -> str:
        return f"{self.artifact}-{self.version}.jar"


FASTJSON_VULNERABLE = Library("com.alibaba", "fastjson", "1.2.24", "com.alibaba.fastjson.JSON")
FASTJSON_FIXED = Library("com.alibaba", "fastjson", "1.2.83", "com.alibaba.fastjson.JSON")
LOG4J_VULNERABLE = Library(
    "org.apache.logging.log4j", "log4j-core", "2.14.1", "org.apache.logging.log4j.core.Logger"
)
LOG4J_FIXED = Library(
    "org.apache.logging.log4j", "log4j-core", "2.17.1", "org.apache.logging.log4j.core.Logger"
)
APP = Library("com.example", "demo-app", "1.0.0", "Server")


def javac(source_dir: Path, out_dir: Path) -> None:
    """Compile every .java file under `source_dir` into `out_dir` (Java 11 class files)."""
    tool = require("javac", "default-jdk-headless")
    sources = sorted(str(p) for p in source_dir.rglob("*.java"))
    out_dir.mkdir(parents=True, exist_ok=True)
    subprocess.run(
        [tool, "--release", "11", "-d", str(out_dir), *sources],
        check=True,
        capture_output=True,
        timeout=300,
    )


def pom_properties(lib: Library) -> str:
    return f"version={lib.version}\ngroupId={lib.group}\nartifactId={lib.artifact}\n"


def write_jar(
    path: Path,
    classes_dir: Path | None,
    lib: Library | None,
    main_class: str = "",
    extra: Iterable[tuple[str, bytes]] = (),
    compression: int = zipfile.ZIP_DEFLATED,
) -> Path:
    """A JAR of the classes under `classes_dir`, `lib`'s pom.properties, a manifest (with
    `main_class`) and `extra` (member name, data) entries."""
    path.parent.mkdir(parents=True, exist_ok=True)
    manifest = "Manifest-Version: 1.0\r\n"
    if main_class:
        manifest += f"Main-Class: {main_class}\r\n"
    with zipfile.ZipFile(path, "w", compression) as jar:
        jar.writestr("META-INF/MANIFEST.MF", manifest + "\r\n")
        if lib is not None:
            jar.writestr(
                f"META-INF/maven/{lib.group}/{lib.artifact}/pom.properties", pom_properties(lib)
            )
        if classes_dir is not None:
            for cls in sorted(classes_dir.rglob("*.class")):
                jar.write(cls, cls.relative_to(classes_dir).as_posix())
        for name, data in extra:
            jar.writestr(zipfile.ZipInfo(name), data, zipfile.ZIP_STORED)
    return path


def library_jar(work: Path, lib: Library) -> Path:
    """Compile `lib`'s one class and pack it with its pom.properties."""
    package, _, simple = lib.class_name.rpartition(".")
    src = work / f"src-{lib.artifact}-{lib.version}"
    (src / package.replace(".", "/")).mkdir(parents=True, exist_ok=True)
    (src / package.replace(".", "/") / f"{simple}.java").write_text(
        f"package {package};\npublic class {simple} {{}}\n"
    )
    classes = work / f"classes-{lib.artifact}-{lib.version}"
    javac(src, classes)
    return write_jar(work / "lib" / lib.file_name, classes, lib)


def app_classes(work: Path) -> Path:
    """The compiled Server class."""
    src = work / "src-app"
    src.mkdir(parents=True, exist_ok=True)
    (src / "Server.java").write_text(SERVER)
    classes = work / "classes-app"
    javac(src, classes)
    return classes


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@dataclass
class Jvm:
    """A running server JVM."""

    process: subprocess.Popen[bytes]
    port: int
    address: str

    @property
    def pid(self) -> int:
        return self.process.pid

    def send(self, line: str) -> str:
        """Send one request line, return the answer line."""
        host = "127.0.0.1" if self.address in ("0.0.0.0", "127.0.0.1") else self.address
        with socket.create_connection((host, self.port), timeout=30) as sock:
            sock.sendall(line.encode() + b"\n")
            return sock.makefile().readline().strip()


@contextmanager
def running_jvm(
    args: Sequence[str], port: int, address: str = "127.0.0.1", cwd: Path | None = None
) -> Iterator[Jvm]:
    """Start `java ARGS PORT ADDRESS …` (args end with the main class or `-jar FILE`, then the
    server arguments) and wait until it listens; kill it at the end."""
    java = require("java", "default-jdk-headless")
    # Small heaps: several JVMs share two cores with other test sessions.
    argv = [java, "-Xmx64m", "-Xss512k", "-XX:TieredStopAtLevel=1", "-XX:+UseSerialGC", *args]
    process = subprocess.Popen(
        argv, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=_env()
    )
    try:
        assert process.stdout is not None
        line = process.stdout.readline().decode().strip()
        if line != "ready":
            process.kill()
            _, err = process.communicate(timeout=30)
            raise AssertionError(f"JVM did not start: {line!r} {err.decode()[-2000:]}")
        yield Jvm(process, port, address)
    finally:
        process.kill()
        process.wait(timeout=30)


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("JAVA_", "_JAVA", "JDK_"))}
    env["LC_ALL"] = "C"
    return env


def wait_for(predicate: object, timeout: float = 30.0) -> None:
    """Poll `predicate()` until true (a JVM opens JARs a little after answering)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():  # type: ignore[operator]
            return
        time.sleep(0.1)
    raise AssertionError("condition not met in time")
