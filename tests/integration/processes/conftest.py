"""JARs and the server class, built once per session with the real JDK (tests/…/jvm.py)."""

from __future__ import annotations

import zipfile
from dataclasses import dataclass
from pathlib import Path

import pytest
from tests.integration.processes import jvm


@dataclass(frozen=True)
class JavaWorld:
    """Everything the JVM tests start: an app JAR, library JARs and a fat JAR."""

    root: Path
    app: Path
    """app.jar: the Server class, pom.properties com.example:demo-app:1.0.0."""
    libs: dict[jvm.Library, Path]
    fat: Path
    """A Spring Boot style fat JAR running Server, with log4j-core 2.14.1 and fastjson 1.2.83
    nested (stored, as Spring Boot does) in BOOT-INF/lib."""

    def class_path(self, *libs: jvm.Library) -> str:
        return ":".join([str(self.app), *(str(self.libs[lib]) for lib in libs)])


@pytest.fixture(scope="session")
def java_world(tmp_path_factory: pytest.TempPathFactory) -> JavaWorld:
    work = tmp_path_factory.mktemp("java")
    classes = jvm.app_classes(work)
    app = jvm.write_jar(work / "app" / "app.jar", classes, jvm.APP, "Server")
    libs = {
        lib: jvm.library_jar(work, lib)
        for lib in (
            jvm.FASTJSON_VULNERABLE,
            jvm.FASTJSON_FIXED,
            jvm.LOG4J_VULNERABLE,
            jvm.LOG4J_FIXED,
        )
    }
    nested = [
        (f"BOOT-INF/lib/{lib.file_name}", libs[lib].read_bytes())
        for lib in (jvm.LOG4J_VULNERABLE, jvm.FASTJSON_FIXED)
    ]
    fat = jvm.write_jar(
        work / "fat" / "fat.jar",
        classes,
        jvm.Library("com.example", "fat-app", "2.0.0", "Server"),
        "Server",
        extra=nested,
        compression=zipfile.ZIP_DEFLATED,
    )
    return JavaWorld(work, app, libs, fat)
