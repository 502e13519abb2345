"""Version comparisons per second: our schemes vs python-debian, apt_pkg and rpm's labelCompare.

For dpkg and rpm it measures `compare(scheme, a, b)` from strings (the API: keys cached per
string), comparisons of pre-parsed keys, and key parsing alone (`key` uncached), next to
python-debian (`version_compare` on strings, `Version` objects pre-parsed) and apt_pkg /
rpm.labelCompare, which run under /usr/bin/python3 (Debian's python3-apt / python3-rpm) and
time themselves inside that subprocess. Maven, semver and pep440 get the same three figures.
Versions are real where the corpus has them: the 843 packages of a Debian 12 host, AlmaLinux
10 fixed versions, osv-scalibr's generated Maven / PyPI lists; semver ones are generated.
Prints a table; asserts nothing (DESIGN §3).

Run: .venv/bin/python bench/versions.py
"""

from __future__ import annotations

import json
import random
import re
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from patchwarden.core.versions import SCHEMES, compare, key_function

CORPUS = Path(__file__).resolve().parents[1] / ".." / "shared" / "corpus"
SYSTEM_PYTHON = "/usr/bin/python3"
PAIRS = 200_000

_CHILD = """
import json, sys, time
pairs = json.load(sys.stdin)
if sys.argv[1] == "apt_pkg":
    import apt_pkg
    apt_pkg.init_system()
    cmp = apt_pkg.version_compare
else:
    import rpm
    def evr(text):
        v = rpm.ver(text)
        return (v.e, v.v, v.r)
    pairs = [(evr(a), evr(b)) for a, b in pairs]
    cmp = rpm.labelCompare
start = time.perf_counter()
for a, b in pairs:
    cmp(a, b)
print(json.dumps(len(pairs) / (time.perf_counter() - start)))
"""


def dpkg_versions() -> list[str]:
    """Every Version: of a real Debian 12 dpkg status database."""
    text = (CORPUS / "hosts" / "dpkg" / "local-debian12" / "status").read_text()
    return sorted(set(re.findall(r"^Version: (\S+)$", text, re.MULTILINE)))


def rpm_versions() -> list[str]:
    """`fixed` versions of the AlmaLinux 10 OSV records (`[E:]V-R`)."""
    found: set[str] = set()
    for path in (CORPUS / "advisories" / "almalinux-osv" / "almalinux10").glob("*.json"):
        for affected in json.loads(path.read_text()).get("affected", []):
            for rng in affected.get("ranges", []):
                found.update(e["fixed"] for e in rng.get("events", []) if "fixed" in e)
    return sorted(found)


def corpus_list(name: str, scheme: str) -> list[str]:
    """The versions of an osv-scalibr generated list that `scheme` parses."""
    words: set[str] = set()
    for line in (CORPUS / "version-compare" / "osv-scalibr" / name).read_text().splitlines():
        parts = line.split()
        if len(parts) == 3 and not line.startswith(("#", "//")):
            words.update((parts[0], parts[2]))
    parse = SCHEMES[scheme].key
    good = []
    for word in sorted(words):
        try:
            parse(word)
        except ValueError:
            continue  # a bench input set, not a test: legacy PyPI strings are simply left out
        good.append(word)
    return good


def semver_versions(rng: random.Random) -> list[str]:
    """npm-style versions: releases, pre-releases and builds over realistic numbers."""
    out = []
    for _ in range(3000):
        core = f"{rng.randint(0, 20)}.{rng.randint(0, 40)}.{rng.randint(0, 200)}"
        pre = rng.choice(["", "", "", "-alpha.1", "-beta.2", "-rc.1", "-next.12", "-0"])
        out.append(core + pre + rng.choice(["", "", "+build.5"]))
    return out


def rate(pairs: list[tuple[Any, Any]], fn: Callable[[Any, Any], Any]) -> float:
    """Calls per second of fn over all pairs."""
    start = time.perf_counter()
    for a, b in pairs:
        fn(a, b)
    return len(pairs) / (time.perf_counter() - start)


def parse_rate(versions: list[str], parse: Callable[[str], Any]) -> float:
    """Uncached parses per second, repeated to about 100k parses."""
    rounds = max(1, 100_000 // len(versions))
    start = time.perf_counter()
    for _ in range(rounds):
        for version in versions:
            parse(version)
    return rounds * len(versions) / (time.perf_counter() - start)


def key_compare(a: Any, b: Any) -> int:
    """What `compare` does once keys exist."""
    return (a > b) - (a < b)


def ours(scheme: str, versions: list[str], pairs: list[tuple[str, str]]) -> list[tuple[str, float]]:
    """Our three figures for one scheme."""
    keyed = key_function(scheme)
    keys = [(keyed(a), keyed(b)) for a, b in pairs]  # also warms compare's per-string cache
    return [
        ("ours: compare() from strings", rate(pairs, lambda a, b: compare(scheme, a, b))),
        ("ours: pre-parsed keys", rate(keys, key_compare)),
        ("ours: key() parse, uncached", parse_rate(versions, SCHEMES[scheme].key)),
    ]


def in_system_python(tool: str, pairs: list[tuple[str, str]]) -> float | str:
    """cmp/s measured inside /usr/bin/python3, or why it could not run."""
    done = subprocess.run(
        [SYSTEM_PYTHON, "-c", _CHILD, tool],
        input=json.dumps(pairs),
        capture_output=True,
        text=True,
    )
    if done.returncode != 0:
        return f"not available ({done.stderr.strip().splitlines()[-1]})"
    return float(json.loads(done.stdout))


def python_debian(pairs: list[tuple[str, str]]) -> list[tuple[str, float | str]]:
    """python-debian (GPL; a test oracle only) on strings and on pre-parsed Version objects."""
    try:
        from debian.debian_support import Version, version_compare
    except ImportError:
        return [("python-debian", "not installed (dev extra)")]
    parsed = [(Version(a), Version(b)) for a, b in pairs[:50_000]]
    return [
        ("python-debian: version_compare()", rate(pairs[:50_000], version_compare)),
        ("python-debian: Version objects", rate(parsed, key_compare)),
    ]


def main() -> None:
    """Measure every scheme and print one table."""
    rng = random.Random(2024)
    sets = {
        "dpkg": dpkg_versions(),
        "rpm": rpm_versions(),
        "maven": corpus_list("maven-versions-generated.txt", "maven"),
        "semver": semver_versions(rng),
        "pep440": corpus_list("pypi-versions-generated.txt", "pep440"),
    }
    rows: list[tuple[str, str, float | str]] = []
    for scheme, versions in sets.items():
        pairs = [(rng.choice(versions), rng.choice(versions)) for _ in range(PAIRS)]
        rows += [(scheme, name, value) for name, value in ours(scheme, versions, pairs)]
        if scheme == "dpkg":
            rows += [(scheme, name, value) for name, value in python_debian(pairs)]
            rows.append((scheme, "apt_pkg.version_compare (C)", in_system_python("apt_pkg", pairs)))
        if scheme == "rpm":
            rows.append((scheme, "rpm.labelCompare (C)", in_system_python("rpm", pairs)))
        print(f"{scheme}: {len(versions)} distinct versions, {len(pairs)} random pairs of them")
    print()
    print(f"{'scheme':<8} {'method':<36} {'cmp/s':>14}")
    print(f"{'-' * 8} {'-' * 36} {'-' * 14}")
    for scheme, name, value in rows:
        shown = f"{value:>14,.0f}" if isinstance(value, float) else f"{value:>14}"
        print(f"{scheme:<8} {name:<36} {shown}")
    print("\n(`key() parse` rows are parses/s, not comparisons.)")


if __name__ == "__main__":
    main()
