"""The class path a `java` command line names: `-jar`, `-cp`/`-classpath`/`--class-path`.

The JVM opens class-path JARs lazily (the first time a class lookup reaches them), so these
are only candidates: a JAR named here that the process does not hold was never loaded
(SPEC R-D2). `java [options] MainClass [args]` and `java [options] -jar app.jar [args]`:
options end at the main class or after `-jar`'s file; application arguments are not read.
"""

from __future__ import annotations

import os
from typing import List, Optional, Tuple

# Launcher options that take the next argument as their value (java(1), JDK 17).
_WITH_VALUE = frozenset(
    {
        "-cp",
        "-classpath",
        "--class-path",
        "-p",
        "--module-path",
        "--upgrade-module-path",
        "--add-modules",
        "--limit-modules",
        "--add-reads",
        "--add-exports",
        "--add-opens",
        "--patch-module",
        "--describe-module",
        "-d",
        "--source",
        "--enable-native-access",
    }
)
_CLASS_PATH = frozenset({"-cp", "-classpath", "--class-path"})


def class_path(argv: List[str]) -> Tuple[Optional[str], List[str]]:
    """(the `-jar` file or None, class path entries in order) of a java command line."""
    jar: Optional[str] = None
    entries: List[str] = []
    i = 1
    while i < len(argv):
        arg = argv[i]
        if arg == "-jar":
            if i + 1 < len(argv):
                jar = argv[i + 1]
            break
        if arg in _CLASS_PATH and i + 1 < len(argv):
            entries = argv[i + 1].split(os.pathsep)  # the last one wins, as in the launcher
            i += 2
            continue
        if arg.startswith("--class-path=") or arg.startswith("-Djava.class.path="):
            entries = arg.split("=", 1)[1].split(os.pathsep)
        elif arg in _WITH_VALUE:
            i += 2
            continue
        elif not arg.startswith("-"):
            break  # the main class: what follows are the application's arguments
        i += 1
    # With -jar, the launcher ignores -cp: the JAR (and its manifest Class-Path) is the path.
    return jar, ([] if jar else [e for e in entries if e])


def manifest_class_path(value: str, jar_dir: str) -> List[str]:
    """Absolute paths of a JAR manifest's `Class-Path` (space-separated relative URLs)."""
    out = []
    for url in value.split():
        if url.startswith("file:"):
            url = url[len("file:") :]
        if "://" in url:
            continue  # remote class path entries are not files here
        out.append(os.path.normpath(os.path.join(jar_dir, url)))
    return out
