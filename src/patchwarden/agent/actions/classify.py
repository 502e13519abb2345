"""Package-manager failures, classified and explained (SPEC R-F7).

`classify(output, returncode)` reads what apt-get, dpkg, dnf, yum, rpm or apk printed and
returns a `v1.ActionError`: a stable code, a message quoting the line that decided it, a next
step for a person, and the raw tail of the output (kept for `unknown`). The rules are tables
of line patterns, checked in priority order: a permission problem also mentions a lock file
(apt: "Could not open lock file … Permission denied"), so permission is decided first; a
mirror that could not be reached makes the next step say "version not found", so the mirror
comes before "no update". The test data are lines the real tools print
(tests/unit/agent/test_classify.py).
"""

from __future__ import annotations

import re
from typing import List, Optional, Pattern, Tuple
from urllib.parse import urlsplit

from patchwarden.agent.runner import TIMEOUT_RC
from patchwarden.protocol.v1 import MAX_TAIL, ActionError

_RULES: List[Tuple[str, List[str]]] = [
    (
        "permission",
        [
            r"Permission denied",
            r"are you root\?",
            r"has to be run with superuser privileges",  # dnf
            r"requires superuser privilege",  # dpkg
            r"You need to be root to perform this command",  # yum
            r"Operation not permitted",
            r"Read-only file system",
        ],
    ),
    (
        "pm_locked",
        [
            r"Could not get lock",  # apt, dpkg frontend
            r"is another process using it\?",
            r"It is held by process",
            r"dpkg status database is locked by another process",
            r"lock was locked by another process",  # dpkg
            r"Waiting for cache lock",
            r"Waiting for process with pid \d+ to finish",  # dnf
            r"Another app is currently holding the yum lock",  # yum
            r"can't create transaction lock",  # rpm
            r"[Uu]nable to lock database",  # apk
        ],
    ),
    (
        "disk_full",
        [
            r"No space left on device",
            r"You don't have enough free space in",  # apt
            r"needs \S+ (?:more space )?on the \S+ filesystem",  # rpm, yum
            r"At least \S+ more space needed on the \S+ filesystem",  # dnf
            r"Disk Requirements:",
            r"Disk quota exceeded",
        ],
    ),
    (
        "mirror_unreachable",
        [
            r"Could not resolve '",  # apt
            r"Temporary failure resolving",  # apt
            r"Could not connect to",  # apt
            r"Unable to connect to",  # apt
            r"Connection refused",
            r"Connection timed out",
            r"Network is unreachable",
            r"No route to host",
            r"Failed to fetch",  # apt
            r"Curl error \(\d+\)",  # dnf (librepo)
            r"Cannot download repomd\.xml",  # dnf
            r"Failed to download metadata for repo",  # dnf
            r"Cannot find a valid baseurl for repo",  # yum
            r"Could not retrieve mirrorlist",  # yum
            r"Errno 14\]",  # yum (urlgrabber)
            r"temporary error \(try again later\)",  # apk
            r"DNS lookup error",  # apk
            r"network error",  # apk
        ],
    ),
    (
        # apk: a missing package, or the fix's own version pin broken (no such version);
        # decided before apk's "unable to select packages" counts as a conflict.
        "no_update",
        [r"breaks: world\[[^\]\s=]+=[^\]\s]+\]", r"\(no such package\)"],
    ),
    (
        "dependency_conflict",
        [
            r"unmet dependencies",
            r"Unable to correct problems",
            r"you have held broken packages",
            r"Packages were downgraded and -y was used without --allow-downgrades",
            r"Removing essential system-critical packages is not permitted",
            r"^\s*Problem( \d+)?: ",  # dnf (libsolv)
            r"conflicting requests",
            r"nothing provides",
            r"cannot install both",
            r"conflicts with file from package",  # rpm
            r"^Error: Package: ",  # yum
            r"You could try using --skip-broken",  # yum
            r"unable to select packages",  # apk
            r"Protected multilib versions",
            r"unsatisfiable constraints",  # apk
        ],
    ),
    (
        "no_update",
        [
            r"is already the newest version",  # apt
            r"No packages marked for update",  # yum
            r"No packages marked for upgrade",
            r"Nothing to do",  # dnf, yum
            r"Version '[^']+' for '[^']+' was not found",  # apt
            r"Unable to locate package",  # apt
            r"No match for argument",  # dnf
            r"No package \S+ available",  # yum
            r"is already installed",  # dnf, yum
            r"of (?:a )?higher version already installed",  # dnf: the fix is older
        ],
    ),
]
_COMPILED: List[Tuple[str, List[Pattern[str]]]] = [
    (code, [re.compile(p, re.MULTILINE) for p in patterns]) for code, patterns in _RULES
]

_HINTS = {
    "permission": (
        "failed to obtain permission: check permissions and retry",
        "run the agent as root, and check that the package manager's files and directories"
        " are owned by root and not writable by others",
    ),
    "pm_locked": (
        "the package manager is busy (its lock is held)",
        "wait for the other package operation (apt, unattended-upgrades, dnf, yum, apk) to"
        " finish, then retry",
    ),
    "disk_full": (
        "disk full",
        "free space on the filesystem named above (apt-get clean, dnf clean packages or"
        " apk cache clean remove downloaded packages), then retry",
    ),
    "dependency_conflict": (
        "the fixed version cannot be installed without breaking dependencies",
        "resolve the conflict by hand (the command is in the history): held or broken"
        " packages, or a repository that lacks the matching dependencies",
    ),
    "no_update": (
        "no update available",
        "the repositories this host uses offer no such version yet; retry once the"
        " distribution publishes it, or verify the record if it is already fixed",
    ),
    "unknown": (
        "the package manager failed",
        "read the output below; the command is in the history",
    ),
}

# Host names in mirror errors, most specific first.
_DNS_RES = [
    re.compile(r"Could not resolve '([^']+)'"),  # apt
    re.compile(r"Temporary failure resolving '([^']+)'"),  # apt
    # curl (dnf's librepo, yum's urlgrabber): "Couldn't resolve host name for URL",
    # "Could not resolve host: NAME".
    re.compile(
        r"Could(?:n't| not) resolve (?:host(?: name)?|proxy name)(?: for)?:? '?([^\s'\];]+)"
    ),
    re.compile(r"(\S+?):? DNS lookup error"),  # apk: "ERROR: URL: DNS lookup error"
]
_CONNECT_RES = [
    re.compile(r"Could not connect to \[?([^\s\]]+?)\]?:(\d+)"),  # apt
    re.compile(r"Unable to connect to \[?([^\s\]]+?)\]?:(\d+)"),  # apt
    re.compile(r"Failed to connect to (\S+) port (\d+)"),  # curl 7.x+ (dnf)
    re.compile(r"Failed connect to ([^\s:;]+):(\d+)"),  # older curl (yum on EL7)
]
_URL_RE = re.compile(r"(?:https?|ftp)://[^\s'\"\]\)]+")
_TIMEOUT_RE = re.compile(r"timed out|Timeout was reached|Operation too slow", re.IGNORECASE)


def tail(text: str, limit: int = MAX_TAIL) -> str:
    """The end of `text`, at most `limit` characters, starting at a line when it is cut."""
    text = text.strip()
    if len(text) <= limit:
        return text
    cut = text[-limit:]
    newline = cut.find("\n")
    return cut[newline + 1 :] if 0 <= newline < limit // 2 else cut


def classify(output: str, returncode: int, timeout: float = 0.0) -> ActionError:
    """The classified error of a failed command whose combined output is `output`."""
    if returncode == TIMEOUT_RC and "timed out after" in output:
        seconds = f" within {timeout:.0f} s" if timeout else ""
        return ActionError(
            "timeout",
            f"the package manager did not finish{seconds} and was stopped",
            "raise the agent's fix_timeout or check the mirror's speed; then look for a"
            " half-finished transaction (dpkg --configure -a, dnf history) before retrying",
            tail(output),
        )
    for code, patterns in _COMPILED:
        line = _first_line(output, patterns)
        if line is None:
            continue
        if code == "mirror_unreachable":
            return _mirror(output, line)
        title, hint = _HINTS[code]
        return ActionError(code, f"{title}: {line}", hint, tail(output))
    title, hint = _HINTS["unknown"]
    return ActionError("unknown", f"{title} (exit status {returncode})", hint, tail(output))


def explain(code: str, detail: str, output: str = "") -> ActionError:
    """An error of `code` with the standard hint and `detail` as its message's second half."""
    title, hint = _HINTS.get(code, _HINTS["unknown"])
    return ActionError(code, f"{title}: {detail}" if detail else title, hint, tail(output))


def _first_line(output: str, patterns: List[Pattern[str]]) -> Optional[str]:
    """The first line of `output` any pattern matches, stripped and shortened."""
    for line in output.splitlines():
        if any(p.search(line) for p in patterns):
            text = line.strip()
            return text if len(text) <= 300 else text[:297] + "..."
    return None


def _mirror(output: str, line: str) -> ActionError:
    """mirror_unreachable naming the host, with a DNS or a connectivity hint."""
    for pattern in _DNS_RES:
        found = pattern.search(output)
        if found:
            host = _host_of(found.group(1))
            return ActionError(
                "mirror_unreachable",
                f"package mirror unreachable: the name {host} does not resolve",
                f"check DNS on this host: `getent hosts {host}` must print an address (see"
                " /etc/resolv.conf), or set a proxy in the agent's configuration",
                tail(output),
            )
    for pattern in _CONNECT_RES:
        found = pattern.search(output)
        if found:
            host, port = found.group(1), found.group(2)
            return ActionError(
                "mirror_unreachable",
                f"package mirror unreachable: no connection to {host} port {port}",
                f"check that {host}:{port} is reachable from this host (firewall, the"
                f" mirror or proxy being up): e.g. `curl -sI http://{_bracket(host)}:{port}/`",
                tail(output),
            )
    url = _URL_RE.search(line) or _URL_RE.search(output)
    host = _host_of(url.group(0)) if url else ""
    slow = bool(_TIMEOUT_RE.search(output))
    what = "timed out reaching" if slow else "could not reach"
    target = host or "the package mirror"
    return ActionError(
        "mirror_unreachable",
        f"package mirror unreachable: {what} {target} ({line})",
        f"check that {target} is reachable from this host (DNS, firewall, proxy)"
        + (f": e.g. `curl -sI {url.group(0)}`" if url else ""),
        tail(output),
    )


def _host_of(text: str) -> str:
    """The host of a URL, or `text` itself when it is no URL."""
    if "://" in text:
        return urlsplit(text).hostname or text
    return text


def _bracket(host: str) -> str:
    """An IPv6 address in brackets, as URLs write it."""
    return f"[{host}]" if ":" in host else host
