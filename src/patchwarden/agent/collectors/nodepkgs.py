"""npm packages of a running Node.js application: `node_modules/*/package.json` of its app dir.

Node reads a module's files and closes them, so /proc cannot tell which packages were
required: every package installed in the application's `node_modules` (its working
directory's, and its main script's directory's) is reported, scoped ones (`@scope/name`)
included, and packages nested one level down (`a/node_modules/b`, what npm could not hoist).
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Callable, Dict, List, Optional, Tuple

MAX_PACKAGES = 5000
"""Most packages read per application directory."""
MAX_PACKAGE_JSON = 1 << 20

# Node options whose value is the next argument (node --help, v18+).
_WITH_VALUE = frozenset({"-r", "--require", "--import", "--loader", "-e", "--eval", "-p"})


def main_script(argv: List[str]) -> Optional[str]:
    """The script a `node [options] script.js [args]` command runs, None for none (a REPL,
    `-e`)."""
    i = 1
    while i < len(argv):
        arg = argv[i]
        if arg in ("-e", "--eval", "-p", "--print"):
            return None
        if arg in _WITH_VALUE:
            i += 2
            continue
        if arg == "--":
            return argv[i + 1] if i + 1 < len(argv) else None
        if not arg.startswith("-"):
            return arg
        i += 1
    return None


def app_dirs(cwd: str, script: Optional[str]) -> List[str]:
    """Directories whose node_modules the application uses: the script's, then the cwd."""
    dirs: List[str] = []
    if script:
        path = script if script.startswith("/") else os.path.join(cwd or "/", script)
        dirs.append(os.path.dirname(os.path.normpath(path)))
    if cwd and cwd not in dirs:
        dirs.append(cwd)
    return dirs


def installed(
    app_dir: str, open_path: Callable[[str], Path]
) -> Tuple[List[Tuple[str, str, str]], List[str]]:
    """((package dir, name, version) per package under `app_dir/node_modules`, problems)."""
    found: List[Tuple[str, str, str]] = []
    problems: List[str] = []
    top = f"{app_dir.rstrip('/')}/node_modules"
    for package_dir in _package_dirs(top, open_path, depth=0):
        if len(found) >= MAX_PACKAGES:
            problems.append(f"{top}: more than {MAX_PACKAGES} packages; the rest was not read")
            break
        data, problem = _package_json(open_path(f"{package_dir}/package.json"))
        if problem:
            problems.append(f"{package_dir}/package.json {problem}")
        if data is None:
            continue
        name, version = data.get("name"), data.get("version")
        if isinstance(name, str) and isinstance(version, str) and name and version:
            found.append((package_dir, name, version))
        else:
            problems.append(f"{package_dir}/package.json has no name or version")
    return found, problems


def _package_dirs(node_modules: str, open_path: Callable[[str], Path], depth: int) -> List[str]:
    try:
        names = sorted(os.listdir(open_path(node_modules)))
    except OSError:
        return []
    out: List[str] = []
    for name in names:
        if name.startswith("."):
            continue
        if name.startswith("@"):
            try:
                scoped = sorted(os.listdir(open_path(f"{node_modules}/{name}")))
            except OSError:
                continue
            dirs = [f"{node_modules}/{name}/{s}" for s in scoped if not s.startswith(".")]
        else:
            dirs = [f"{node_modules}/{name}"]
        for package_dir in dirs:
            out.append(package_dir)
            if depth == 0:
                out.extend(_package_dirs(f"{package_dir}/node_modules", open_path, depth + 1))
    return out


def _package_json(path: Path) -> Tuple[Optional[Dict[str, object]], str]:
    """(the package.json object, "") or (None, what is wrong); (None, "") when there is no
    package.json (a folder that is no package)."""
    try:
        with path.open("rb") as fh:
            raw = fh.read(MAX_PACKAGE_JSON + 1)
    except FileNotFoundError:
        return None, ""
    except OSError as exc:
        return None, f"unreadable: {exc.strerror or exc}"
    if len(raw) > MAX_PACKAGE_JSON:
        return None, f"exceeds {MAX_PACKAGE_JSON} bytes"
    try:
        data = json.loads(raw.decode("utf-8", "replace"))
    except ValueError as exc:
        return None, f"is not JSON: {exc}"
    if not isinstance(data, dict):
        return None, "is not a JSON object"
    return data, ""
