"""Property tests: our version keys against the REAL tools of each ecosystem (DESIGN §3).

Oracles, each one long-running process fed "a<TAB>b" lines and answering -1/0/1 per line, so
thousands of comparisons take seconds:

- dpkg: `apt_pkg.version_compare` (Debian's python3-apt, run by /usr/bin/python3), plus a
  smaller sample through `dpkg --compare-versions` itself;
- rpm: `rpm.labelCompare` on `rpm.ver()`-parsed EVRs (Debian's python3-rpm, rpm 4.18);
- Maven: `ComparableVersion` from maven-artifact 3.x via tests/integration/versions/
  MavenCompare.java, compiled at test time;
- semver: node-semver as bundled inside npm.

pep440 has no independent oracle (packaging *is* the reference implementation) and apk has
no apk binary here; their corpus tests carry them. A missing tool fails the test with the
Debian package to install (the Makefile's DEBS), it never skips.

Hypothesis generates pairs over small alphabets rich in `~ ^ + . - _` and epochs so that
near-equal versions are common, mixed with real versions from the corpus. Whenever the tool
says "equal", keys and hashes must be equal too.
"""

from __future__ import annotations

import json
import random
import re
import shutil
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from patchwarden.core.versions import compare, key

pytestmark = pytest.mark.oracle

REPO = Path(__file__).resolve().parents[3]
CORPUS = REPO / ".." / "shared" / "corpus"
HERE = Path(__file__).resolve().parent
SYSTEM_PYTHON = "/usr/bin/python3"
MAVEN_ARTIFACT_JAR = Path("/usr/share/maven/lib/maven-artifact-3.x.jar")
# Hypothesis explores and shrinks; the generated batches below bring the volume (tens of
# thousands of pairs per tool in one process each, a second or two).
EXAMPLES = settings(
    max_examples=600,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow],
)

_APT_SCRIPT = """
import sys, apt_pkg
apt_pkg.init_system()
for line in sys.stdin:
    a, b = line.rstrip("\\n").split("\\t")
    r = apt_pkg.version_compare(a, b)
    print((r > 0) - (r < 0), flush=True)
"""
_RPM_SCRIPT = """
import sys, rpm
def evr(text):
    v = rpm.ver(text)
    return (v.e, v.v, v.r)
for line in sys.stdin:
    a, b = line.rstrip("\\n").split("\\t")
    print(rpm.labelCompare(evr(a), evr(b)), flush=True)
"""
_NODE_SCRIPT = """
const semver = require(process.argv[1]);
const rl = require("readline").createInterface({ input: process.stdin });
rl.on("line", (line) => {
  const [a, b] = line.split("\\t");
  process.stdout.write(semver.compare(a, b) + "\\n");
});
"""


class Oracle:
    """One tool process answering one comparison per input line."""

    def __init__(self, name: str, argv: list[str]) -> None:
        self.name = name
        self.argv = argv
        self.process = subprocess.Popen(
            argv,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            encoding="utf-8",
            bufsize=1,
        )

    def compare(self, a: str, b: str) -> int:
        """The tool's -1/0/1 for one pair."""
        assert self.process.stdin is not None and self.process.stdout is not None
        self.process.stdin.write(f"{a}\t{b}\n")
        self.process.stdin.flush()
        answer = self.process.stdout.readline()
        if not answer:
            raise RuntimeError(f"{self.name} oracle died on {a!r} vs {b!r}: {self._stderr()}")
        return int(answer)

    def compare_many(self, pairs: list[tuple[str, str]]) -> list[int]:
        """The tool's answers for a whole batch, through one fresh process."""
        done = subprocess.run(
            self.argv,
            input="".join(f"{a}\t{b}\n" for a, b in pairs),
            capture_output=True,
            text=True,
            encoding="utf-8",
            check=True,
        )
        answers = [int(line) for line in done.stdout.split()]
        assert len(answers) == len(pairs), done.stderr
        return answers

    def _stderr(self) -> str:
        self.process.kill()
        _, err = self.process.communicate()
        return err

    def close(self) -> None:
        """End the tool process."""
        if self.process.poll() is None:
            self.process.kill()
            self.process.communicate()


def _require(path: str | None, what: str, package: str) -> str:
    if path is None or not Path(path).exists():
        pytest.fail(f"oracle {what} is missing: install the Debian package {package} (make debs)")
    return path


def _system_python_with(module: str, package: str) -> str:
    python = _require(shutil.which(SYSTEM_PYTHON), SYSTEM_PYTHON, "python3")
    probe = subprocess.run([python, "-c", f"import {module}"], capture_output=True, text=True)
    if probe.returncode != 0:
        pytest.fail(f"oracle {module} is missing in {python}: install the Debian package {package}")
    return python


@pytest.fixture(scope="module")
def apt_oracle() -> Iterator[Oracle]:
    python = _system_python_with("apt_pkg", "python3-apt")
    oracle = Oracle("apt_pkg", [python, "-c", _APT_SCRIPT])
    yield oracle
    oracle.close()


@pytest.fixture(scope="module")
def rpm_oracle() -> Iterator[Oracle]:
    python = _system_python_with("rpm", "python3-rpm")
    oracle = Oracle("rpm", [python, "-c", _RPM_SCRIPT])
    yield oracle
    oracle.close()


@pytest.fixture(scope="module")
def maven_oracle(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Oracle]:
    javac = _require(shutil.which("javac"), "javac", "default-jdk-headless")
    java = _require(shutil.which("java"), "java", "default-jdk-headless")
    jar = _require(str(MAVEN_ARTIFACT_JAR), str(MAVEN_ARTIFACT_JAR), "maven")
    classes = tmp_path_factory.mktemp("maven-oracle")
    subprocess.run(
        [javac, "-cp", jar, "-d", str(classes), str(HERE / "MavenCompare.java")],
        check=True,
        capture_output=True,
    )
    oracle = Oracle("Maven", [java, "-cp", f"{jar}:{classes}", "MavenCompare"])
    yield oracle
    oracle.close()


@pytest.fixture(scope="module")
def node_oracle() -> Iterator[Oracle]:
    node = _require(shutil.which("node"), "node", "nodejs")
    npm = _require(shutil.which("npm"), "npm", "npm")
    root = subprocess.run([npm, "root", "-g"], capture_output=True, text=True, check=True)
    semver_js = Path(root.stdout.strip()) / "npm" / "node_modules" / "semver"
    _require(str(semver_js), "node-semver (bundled inside npm)", "npm")
    oracle = Oracle("node-semver", [node, "-e", _NODE_SCRIPT, str(semver_js)])
    yield oracle
    oracle.close()


def _check(scheme: str, a: str, b: str, expected: int) -> None:
    """Our answer equals the tool's; "equal" means equal keys and equal hashes too."""
    assert compare(scheme, a, b) == expected, f"{scheme}: {a!r} vs {b!r}, tool says {expected}"
    if expected == 0:
        ka, kb = key(scheme, a), key(scheme, b)
        assert ka == kb and hash(ka) == hash(kb), f"{scheme}: {a!r} == {b!r} but keys differ"


def _check_batch(scheme: str, oracle: Oracle, pairs: list[tuple[str, str]]) -> None:
    wrong = [
        (a, b, want)
        for (a, b), want in zip(pairs, oracle.compare_many(pairs))
        if compare(scheme, a, b) != want
        or (want == 0 and hash(key(scheme, a)) != hash(key(scheme, b)))
    ]
    assert wrong == [], f"{len(wrong)} of {len(pairs)} differ from {oracle.name}: {wrong[:10]}"


def _sample_pairs(versions: list[str], count: int) -> list[tuple[str, str]]:
    """`count` pairs drawn with a fixed seed from `versions` (repeatable batches)."""
    rng = random.Random(440)
    return [(rng.choice(versions), rng.choice(versions)) for _ in range(count)]


# --- generated versions: small alphabets so that near-equal pairs are frequent ------------


def _text(alphabet: str, min_size: int, max_size: int) -> st.SearchStrategy[str]:
    return st.text(st.sampled_from(alphabet), min_size=min_size, max_size=max_size)


def _epoch() -> st.SearchStrategy[str]:
    return st.one_of(st.just(""), st.sampled_from(["0:", "1:", "2:", "01:", "10:"]))


def _joined(*parts: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    return st.tuples(*parts).map("".join)


def _status_versions() -> list[str]:
    status = CORPUS / "hosts" / "dpkg" / "local-debian12" / "status"
    found = re.findall(r"^Version: (\S+)$", status.read_text(encoding="utf-8"), re.MULTILINE)
    return sorted(set(found))


def _corpus_words(name: str) -> list[str]:
    words: set[str] = set()
    text = (CORPUS / "version-compare" / name).read_text(encoding="utf-8")
    for line in text.splitlines():
        parts = line.split()
        if len(parts) == 3 and not line.startswith(("#", "//")):
            words.update((parts[0], parts[2]))
    return sorted(words)


def _almalinux_fixed_versions() -> list[str]:
    """`fixed` events of the AlmaLinux 10 OSV records: real `[E:]V-R` strings."""
    found: set[str] = set()
    for path in sorted((CORPUS / "advisories" / "almalinux-osv" / "almalinux10").glob("*.json")):
        record = json.loads(path.read_text(encoding="utf-8"))
        for affected in record.get("affected", []):
            for rng in affected.get("ranges", []):
                found.update(e["fixed"] for e in rng.get("events", []) if "fixed" in e)
    return sorted(found)


DPKG_REAL = _status_versions()
DPKG_VERSION = st.one_of(
    _joined(
        _epoch(),
        st.sampled_from("0123456789"),
        _text("0123456789abzAZ.+~", 0, 6),
        st.one_of(st.just(""), _joined(st.just("-"), _text("0123456789abz.+~", 1, 5))),
    ),
    # A hyphen inside the upstream version needs a revision after it (Policy §5.6.12).
    _joined(
        st.sampled_from("12"), st.just("-"), _text("0a.~", 1, 3), st.just("-"), _text("01~", 1, 2)
    ),
    st.sampled_from(DPKG_REAL),
)
RPM_REAL = sorted(
    set(_almalinux_fixed_versions()) | set(_corpus_words("osv-scalibr/redhat-versions.txt"))
)
_RPM_CHARS = "0123456789az.~^_+é"
RPM_VERSION = st.one_of(
    _joined(
        _epoch(),
        _text(_RPM_CHARS.replace("é", ""), 1, 1),
        _text(_RPM_CHARS, 0, 6),
        st.one_of(st.just(""), _joined(st.just("-"), _text(_RPM_CHARS, 0, 5))),
    ),
    st.sampled_from([v for v in RPM_REAL if v and not v.startswith(":")]),
)
_MAVEN_TOKENS = [
    "1", "0", "2", "10", "00", ".", ".", "-", "-", "_",
    "a", "b", "m", "x", "rc", "cr", "alpha", "beta", "milestone", "ga", "final", "release",
    "RELEASE", "sp", "SNAPSHOT", "jre", "Final",
]  # fmt: skip
MAVEN_REAL = _corpus_words("osv-scalibr/maven-versions-generated.txt")
MAVEN_VERSION = st.one_of(
    st.lists(st.sampled_from(_MAVEN_TOKENS), min_size=1, max_size=7).map("".join),
    st.sampled_from(MAVEN_REAL),
)
_SEMVER_IDS = ["0", "1", "2", "11", "a", "b", "alpha", "beta", "rc", "x-1", "-", "0a"]
SEMVER_VERSION = _joined(
    st.sampled_from(["", "v"]),
    st.lists(st.sampled_from(["0", "1", "2", "10"]), min_size=3, max_size=3).map(".".join),
    st.one_of(
        st.just(""),
        st.lists(st.sampled_from(_SEMVER_IDS), min_size=1, max_size=3).map(
            lambda ids: "-" + ".".join(ids)
        ),
    ),
    st.sampled_from(["", "+build", "+1.2", "+x-y"]),
)


def _rng_text(rng: random.Random, alphabet: str, low: int, high: int) -> str:
    return "".join(rng.choice(alphabet) for _ in range(rng.randint(low, high)))


def _rng_epoch(rng: random.Random) -> str:
    return rng.choice(["", "", "", "0:", "1:", "2:", "01:"])


def _generated_dpkg(rng: random.Random) -> str:
    revision = "-" + _rng_text(rng, "0123456789abz.+~", 1, 5) if rng.random() < 0.6 else ""
    upstream = rng.choice("0123456789") + _rng_text(rng, "0123456789abzAZ.+~", 0, 7)
    return _rng_epoch(rng) + upstream + revision


def _generated_rpm(rng: random.Random) -> str:
    release = "-" + _rng_text(rng, _RPM_CHARS, 0, 6) if rng.random() < 0.6 else ""
    version = rng.choice("0123456789az~^") + _rng_text(rng, _RPM_CHARS, 0, 7)
    return _rng_epoch(rng) + version + release


def _generated_maven(rng: random.Random) -> str:
    return "".join(rng.choice(_MAVEN_TOKENS) for _ in range(rng.randint(1, 8)))


def _generated_semver(rng: random.Random) -> str:
    core = ".".join(rng.choice(["0", "1", "2", "10"]) for _ in range(3))
    pre = ""
    if rng.random() < 0.6:
        pre = "-" + ".".join(rng.choice(_SEMVER_IDS) for _ in range(rng.randint(1, 4)))
    return rng.choice(["", "v"]) + core + pre + rng.choice(["", "+build", "+1.2"])


def _generated_pairs(
    make: Callable[[random.Random], str], edits: list[str], count: int
) -> list[tuple[str, str]]:
    """`count` generated pairs; a third of them are a version against a small edit of it."""
    rng = random.Random(1009)
    pairs = []
    for _ in range(count):
        a = make(rng)
        b = make(rng) if rng.random() < 0.67 else a + rng.choice(edits)
        pairs.append((a, b))
    return pairs


BATCH = 30000


# --- dpkg -----------------------------------------------------------------------------------


@EXAMPLES
@given(a=DPKG_VERSION, b=DPKG_VERSION)
def test_dpkg_matches_apt_pkg(apt_oracle: Oracle, a: str, b: str) -> None:
    _check("dpkg", a, b, apt_oracle.compare(a, b))


def test_dpkg_real_versions_batch_matches_apt_pkg(apt_oracle: Oracle) -> None:
    """20,000 pairs of the 843 packages' versions of a real Debian 12 host, one batch."""
    _check_batch("dpkg", apt_oracle, _sample_pairs(DPKG_REAL, 20000))


def test_dpkg_generated_batch_matches_apt_pkg(apt_oracle: Oracle) -> None:
    _check_batch(
        "dpkg",
        apt_oracle,
        _generated_pairs(_generated_dpkg, ["", "~", ".0", "0", "a", "+", "-0"], BATCH),
    )


def _dpkg_says(dpkg: str, a: str, b: str) -> int:
    """-1/0/1 from `dpkg --compare-versions` (one process per question, so few pairs)."""
    if subprocess.run([dpkg, "--compare-versions", a, "lt", b]).returncode == 0:
        return -1
    return 0 if subprocess.run([dpkg, "--compare-versions", a, "eq", b]).returncode == 0 else 1


def test_dpkg_sample_matches_real_dpkg() -> None:
    """apt_pkg is only a stand-in for dpkg: a smaller sample goes through dpkg itself."""
    dpkg = _require(shutil.which("dpkg"), "dpkg", "dpkg")
    rng = random.Random(5612)
    tricky = ["1.0~rc1", "1.0", "1.0-0", "0:1.0", "1.0+", "1.0.", "1.0a", "1:0.1", "1.0~~"]
    pool = tricky + rng.sample(DPKG_REAL, 30) + [_generated_dpkg(rng) for _ in range(30)]
    for _ in range(150):
        a, b = rng.choice(pool), rng.choice(pool)
        _check("dpkg", a, b, _dpkg_says(dpkg, a, b))


# --- rpm ------------------------------------------------------------------------------------


@EXAMPLES
@given(a=RPM_VERSION, b=RPM_VERSION)
def test_rpm_matches_label_compare(rpm_oracle: Oracle, a: str, b: str) -> None:
    _check("rpm", a, b, rpm_oracle.compare(a, b))


def test_rpm_real_versions_batch_matches_label_compare(rpm_oracle: Oracle) -> None:
    """20,000 pairs of AlmaLinux 10 fixed versions and osv-scalibr's Red Hat strings."""
    _check_batch("rpm", rpm_oracle, _sample_pairs(RPM_REAL, 20000))


def test_rpm_generated_batch_matches_label_compare(rpm_oracle: Oracle) -> None:
    _check_batch(
        "rpm",
        rpm_oracle,
        _generated_pairs(_generated_rpm, ["", "~", "^", ".0", "0", "a", "-"], BATCH),
    )


# --- Maven ----------------------------------------------------------------------------------


@EXAMPLES
@given(a=MAVEN_VERSION, b=MAVEN_VERSION)
def test_maven_matches_comparable_version(maven_oracle: Oracle, a: str, b: str) -> None:
    _check("maven", a, b, maven_oracle.compare(a, b))


def test_maven_real_versions_batch_matches_comparable_version(maven_oracle: Oracle) -> None:
    """20,000 pairs of the real Maven Central versions of osv-scalibr's generated list."""
    _check_batch("maven", maven_oracle, _sample_pairs(MAVEN_REAL, 20000))


def test_maven_generated_batch_matches_comparable_version(maven_oracle: Oracle) -> None:
    _check_batch(
        "maven",
        maven_oracle,
        _generated_pairs(_generated_maven, ["", ".0", "-0", "-ga", ".final", "0", "a"], BATCH),
    )


def test_maven_corpus_corrections_are_what_maven_says(maven_oracle: Oracle) -> None:
    """Every corrected corpus line (tests/data/versions/corpus-corrections.txt) is Maven's."""
    path = REPO / "tests" / "data" / "versions" / "corpus-corrections.txt"
    rows = [
        line.split()
        for line in path.read_text(encoding="utf-8").splitlines()
        if line.strip() and not line.startswith("#")
    ]
    maven_rows = [(a, op, b) for name, a, op, b in rows if "maven" in name]
    assert len(maven_rows) == 20
    for a, op, b in maven_rows:
        assert maven_oracle.compare(a, b) == "<=>".index(op) - 1, (a, op, b)


# --- semver ---------------------------------------------------------------------------------


@EXAMPLES
@given(a=SEMVER_VERSION, b=SEMVER_VERSION)
def test_semver_matches_node_semver(node_oracle: Oracle, a: str, b: str) -> None:
    _check("semver", a, b, node_oracle.compare(a, b))


def test_semver_generated_batch_matches_node_semver(node_oracle: Oracle) -> None:
    _check_batch("semver", node_oracle, _generated_pairs(_generated_semver, [""], BATCH))
