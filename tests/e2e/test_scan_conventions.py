"""`patchwarden scan` with Trivy/Grype conventions: --severity, --ignore-unfixed, --exit-code,
--ignore-file, and the table people read (grouped by source package, upgrade commands, the
real width when piped). Real CLI processes on an AlmaLinux root and an Ubuntu root."""

from __future__ import annotations

import fcntl
import json
import os
import pty
import re
import struct
import subprocess
import termios
from dataclasses import dataclass
from pathlib import Path

import pytest
from tests.e2e.fleet import build_roots, uct_subset
from tests.e2e.scan_feeds import KEV, alma_root, write_feed
from tests.paths import PATCHWARDEN


@dataclass
class Scan:
    """The AlmaLinux root, its feed and a data dir holding the KEV list."""

    root: Path
    feed: Path
    data: Path
    tmp: Path

    def run(self, *args: str, columns: str = "") -> subprocess.CompletedProcess[str]:
        """`patchwarden scan` of the root with the feed; stdout is a pipe, $COLUMNS as given."""
        env = {k: v for k, v in os.environ.items() if k != "COLUMNS"}
        if columns:
            env["COLUMNS"] = columns
        argv = [PATCHWARDEN, "scan", "--root", str(self.root), "--feed", f"osv:{self.feed}"]
        argv += ["--data-dir", str(self.data), *args]
        return subprocess.run(argv, capture_output=True, text=True, timeout=300, env=env)

    def json(self, *args: str) -> tuple[int, dict]:
        proc = self.run("--format", "json", *args)
        assert proc.returncode in (0, 1), proc.stderr
        return proc.returncode, json.loads(proc.stdout)


@pytest.fixture(scope="module")
def alma(tmp_path_factory: pytest.TempPathFactory) -> Scan:
    base = tmp_path_factory.mktemp("alma-scan")
    data = base / "data"
    imported = subprocess.run(
        [PATCHWARDEN, "feeds", "import", f"kev:{KEV}", "--data-dir", str(data)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert imported.returncode == 0, imported.stderr
    return Scan(alma_root(base), write_feed(base), data, base)


def row_cells(lines: list[str], first: str) -> list[str]:
    """The cells of the (wide) table row whose source package is `first`, each cell's wrapped
    lines joined by a space. A row goes on while its severity cell (never wrapped) is empty."""
    start = next(n for n, line in enumerate(lines) if line.startswith(f"│ {first} "))
    rows = [[c.strip() for c in line.split("│")[1:-1]] for line in lines[start:]]
    end = next((n for n, r in enumerate(rows[1:], 1) if len(r) < 4 or r[3]), len(rows))
    return [" ".join(r[i] for r in rows[:end] if r[i]) for i in range(len(rows[0]))]


def ids(doc: dict) -> list[tuple[str, str]]:
    return sorted((f["id"], f["package"]) for f in doc["findings"])


ALL = [
    ("CVE-2021-44228", "bash"),
    ("CVE-2099-1001", "openssl"),
    ("CVE-2099-1001", "openssl-libs"),
    ("CVE-2099-3003", "curl"),
    ("CVE-2099-4004", "zlib"),
]


def test_unfiltered_json_keeps_its_schema(alma: Scan) -> None:
    code, doc = alma.json()
    assert code == 1 and ids(doc) == ALL
    assert set(doc) == {"schema", "host", "summary", "findings", "errors"}
    assert set(doc["summary"]) == {"findings", "by_severity", "exploitable", "no_fix"}


def test_severity_shows_and_counts_only_those(alma: Scan) -> None:
    code, doc = alma.json("--severity", "critical")
    assert code == 1 and ids(doc) == [("CVE-2099-3003", "curl")]
    assert doc["summary"]["findings"] == 1
    assert doc["summary"]["filters"] == {"severity": ["critical"], "removed": 4}
    code, doc = alma.json("--severity", "LOW,Medium")  # any case, as Trivy takes them
    assert code == 1 and ids(doc) == [("CVE-2021-44228", "bash"), ("CVE-2099-4004", "zlib")]
    # Filtered-out findings cannot fail the run: only low and medium remain, below high.
    code, doc = alma.json("--severity", "low,medium", "--fail-on", "high")
    assert code == 0 and doc["summary"]["findings"] == 2
    code, doc = alma.json("--severity", "none")
    assert code == 0 and doc["findings"] == []


def test_misspelt_severity_is_exit_2_before_scanning(alma: Scan) -> None:
    proc = alma.run("--severity", "critical,hgh")
    assert proc.returncode == 2 and proc.stdout == ""
    assert "invalid --severity 'hgh'" in proc.stderr
    assert "critical, high, medium, low, none, unknown" in proc.stderr


def test_ignore_unfixed_drops_findings_without_a_fix(alma: Scan) -> None:
    code, doc = alma.json("--ignore-unfixed")
    assert code == 1 and ("CVE-2099-3003", "curl") not in ids(doc) and len(ids(doc)) == 4
    assert doc["summary"]["no_fix"] == 0
    code, doc = alma.json("--ignore-unfixed", "--severity", "critical")
    assert code == 0 and doc["findings"] == []
    assert doc["summary"]["filters"] == {
        "severity": ["critical"],
        "ignore_unfixed": True,
        "removed": 5,
    }


def test_exit_code_is_the_findings_code(alma: Scan) -> None:
    assert alma.run("--exit-code", "7").returncode == 7
    assert alma.run("--exit-code", "0").returncode == 0
    assert alma.run("--exit-code", "7", "--severity", "none").returncode == 0
    assert alma.run("--exit-code", "7", "--fail-on", "critical").returncode == 7
    assert alma.run("--exit-code", "7", "--fail-on", "critical", "--ignore-unfixed").returncode == 0
    bad = alma.run("--exit-code", "256")
    assert bad.returncode == 2 and "--exit-code" in bad.stderr


def test_ignore_file_accepts_by_id_package_and_expiry(alma: Scan) -> None:
    ignore = alma.tmp / "accepted.yaml"
    ignore.write_text(
        "# accepted risks\n"
        "- id: cve-2099-1001\n"  # any case
        "  packages: [openssl-libs]\n"  # this binary only
        "  statement: library not loaded by any service\n"
        "- id: CVE-2099-4004\n"
        "  expires: 2000-01-01\n"  # past: no longer applies
        "- id: TEST-2099-0002\n"  # an advisory id names its findings too
        "  expires: 2999-12-31\n"
        "  statement: not exposed\n"
    )
    proc = alma.run("--format", "json", "--ignore-file", str(ignore))
    assert proc.returncode == 1, proc.stderr
    doc = json.loads(proc.stdout)
    assert ids(doc) == [
        ("CVE-2099-1001", "openssl"),
        ("CVE-2099-3003", "curl"),
        ("CVE-2099-4004", "zlib"),
    ]
    assert doc["summary"]["filters"] == {
        "ignore_file": str(ignore),
        "ignored": 2,
        "expired_ignores": ["CVE-2099-4004"],
        "removed": 2,
    }
    assert f"{ignore} line 5 (entry 2): CVE-2099-4004 expired on 2000-01-01" in proc.stderr
    assert "no longer applies" in proc.stderr
    # A source package name covers its binaries.
    ignore.write_text("- id: CVE-2099-1001\n  packages: openssl\n")
    code, doc = alma.json("--ignore-file", str(ignore))
    assert ("CVE-2099-1001", "openssl") not in ids(doc) and len(ids(doc)) == 3
    # Trivy's own layout (the list under `vulnerabilities:`) reads the same.
    ignore.write_text("vulnerabilities:\n  - id: CVE-2099-3003\n")
    code, doc = alma.json("--ignore-file", str(ignore), "--severity", "critical")
    assert code == 0 and doc["findings"] == []


@pytest.mark.parametrize(
    ("text", "needles"),
    [
        pytest.param(
            "- id: CVE-1\n  expires: 2024-13-01\n",
            ("line 1 (entry 1)", "expires '2024-13-01' is not a date (YYYY-MM-DD)"),
            id="bad date",
        ),
        pytest.param(
            "- id: CVE-1\n- id: CVE-2\n  expire: 2024-01-01\n",
            ("line 2 (entry 2)", "unknown key 'expire'", "id, packages, expires, statement"),
            id="unknown key",
        ),
        pytest.param("- packages: [a]\n", ("line 1 (entry 1)", "id is missing"), id="no id"),
        pytest.param(
            "- id: CVE-1\n  packages: {a: b}\n",
            ("entry 1", "packages must be a list of package names"),
            id="packages mapping",
        ),
        pytest.param("id: CVE-1\n", ("line 1", "expected a list of entries"), id="not a list"),
        pytest.param("- id: [CVE-1\n", ("line 2", "not valid YAML"), id="YAML syntax"),
        pytest.param(
            "- id: CVE-1\n- CVE-2\n", ("line 2 (entry 2)", "expected a mapping"), id="str"
        ),
    ],
)
def test_malformed_ignore_file_is_exit_2_naming_line_and_entry(
    alma: Scan, text: str, needles: tuple[str, ...]
) -> None:
    ignore = alma.tmp / "bad.yaml"
    ignore.write_text(text)
    proc = alma.run("--ignore-file", str(ignore))
    assert proc.returncode == 2 and proc.stdout == "", proc.stdout
    assert str(ignore) in proc.stderr
    for needle in needles:
        assert needle in proc.stderr, (needle, proc.stderr)


def test_missing_ignore_file_is_exit_2(alma: Scan) -> None:
    proc = alma.run("--ignore-file", str(alma.tmp / "nope.yaml"))
    assert proc.returncode == 2 and "nope.yaml: no such ignore file" in proc.stderr


def test_table_groups_by_source_package_with_upgrade_commands(alma: Scan) -> None:
    proc = alma.run()
    assert proc.returncode == 1, proc.stderr
    lines = proc.stdout.splitlines()
    header = next(line for line in lines if "source package" in line)
    for column in ("installed", "fixed", "severity", "vulnerabilities", "notes", "upgrade with"):
        assert column in header
    # openssl and openssl-libs (source rpm openssl) share one row; its fix is a vendor advisory.
    assert row_cells(lines, "openssl") == [
        "openssl openssl, openssl-libs",
        "1.1.1k-7.cm2",
        "1:3.0.7-1",
        "high (almalinux)",  # and who rated it (issue 8)
        "CVE-2099-1001",
        "",
        "dnf upgrade --advisory=ALSA-2099:0001",
    ]
    assert row_cells(lines, "curl") == [
        "curl", "7.76.0-6.cm2", "—", "critical (almalinux)", "CVE-2099-3003", "no fix yet", "—",
    ]  # fmt: skip
    assert row_cells(lines, "bash")[4:] == ["CVE-2021-44228 KEV", "", "dnf upgrade bash"]
    # Most severe first.
    order = [line.split("│")[1].strip() for line in lines if line.startswith("│ ")]
    assert [name for name in order if name][:4] == [
        "curl",
        "openssl",
        "openssl, openssl-libs",
        "zlib",
    ]
    assert "5 findings in 4 source packages: 1 critical, 2 high, 1 medium, 1 low" in proc.stdout
    assert "1 known exploited (KEV)" in proc.stdout
    assert "install every available fix: dnf upgrade bash openssl openssl-libs zlib" in proc.stdout


def test_piped_table_is_wide_unless_columns_says_otherwise(alma: Scan) -> None:
    widths = [len(line) for line in alma.run().stdout.splitlines()]
    # Not rich's 80 columns: the header and rows stay on one line each.
    assert 80 < max(widths) <= 200
    narrow = alma.run(columns="100").stdout.splitlines()
    assert max(len(line) for line in narrow[:-1]) <= 100  # the last line is the command
    header = " ".join(line for line in narrow[:6] if "source package" in line or "→" in line)
    assert "installed → fixed" in header and "upgrade with" not in header


def test_filters_line_under_the_table(alma: Scan) -> None:
    proc = alma.run("--severity", "high,critical", "--ignore-unfixed")
    assert proc.returncode == 1, proc.stderr
    assert "2 findings in 1 source packages: 2 high" in proc.stdout
    assert "filters: severity high,critical; without a fix left out (3 findings not shown)" in (
        proc.stdout
    )


def test_ubuntu_table_upgrade_command_is_apt_get(tmp_path: Path) -> None:
    roots = build_roots(tmp_path / "roots")
    feed = uct_subset(tmp_path / "uct")
    proc = subprocess.run(
        [PATCHWARDEN, "scan", "--root", str(roots["ubu"]), "--feed", f"ubuntu-uct:{feed}"]
        + ["--data-dir", str(tmp_path / "data")],
        capture_output=True,
        text=True,
        timeout=300,
        env={k: v for k, v in os.environ.items() if k != "COLUMNS"},
    )
    assert proc.returncode == 1, proc.stderr
    apt = row_cells(proc.stdout.splitlines(), "apt")
    assert apt[0] == "apt apt, libapt-pkg5.0"
    assert apt[1:5] == ["1.6.3ubuntu0.1", "1.6.6ubuntu0.1", "high (ubuntu)", "CVE-2019-3462"]
    assert apt[-1] == "apt-get install --only-upgrade apt libapt-pkg5.0"
    assert "118 findings in 24 source packages: 6 high, 51 medium, 61 low" in proc.stdout


def test_on_a_terminal_the_table_takes_its_width_and_progress_shows(alma: Scan) -> None:
    """stdout and stderr on a pseudo-terminal of 100 columns (as a person runs it)."""
    controller, terminal = pty.openpty()
    fcntl.ioctl(terminal, termios.TIOCSWINSZ, struct.pack("HHHH", 50, 100, 0, 0))
    env = {k: v for k, v in os.environ.items() if k not in ("COLUMNS", "LINES")}
    env["TERM"] = "xterm-256color"
    argv = [PATCHWARDEN, "scan", "--root", str(alma.root), "--feed", f"osv:{alma.feed}"]
    proc = subprocess.Popen(
        [*argv, "--data-dir", str(alma.data)], stdout=terminal, stderr=terminal, env=env
    )
    os.close(terminal)
    chunks = []
    while True:
        try:
            chunk = os.read(controller, 65536)
        except OSError:  # EIO: the process closed the terminal
            break
        if not chunk:
            break
        chunks.append(chunk)
    assert proc.wait(timeout=300) == 1
    os.close(controller)
    screen = b"".join(chunks).decode()
    assert f"collecting the inventory of {alma.root}" in screen  # the spinner, on stderr
    plain = re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", screen).replace("\r", "")
    table = [line for line in plain.split("\n") if "CVE-2099" in line]
    assert table and max(len(line) for line in table) <= 100
    assert "installed → fixed" in plain  # the 100-column layout, not a 200-column one
