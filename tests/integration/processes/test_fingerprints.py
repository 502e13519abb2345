"""Unpackaged servers versioned by the fingerprint rules (agent/data/fingerprints.json).

Redis and OpenSSL are this machine's real files (redis-tools' redis-check-rdb is the
redis-server binary; libssl3's libcrypto), copied where no package owns them; Tomcat's and
Elasticsearch's layouts are generated (their files are read, never run); nginx is a binary
carrying the string layout of Debian's nginx 1.22.1 (`nginx version: ` … `nginx/1.22.1`).
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
import zipfile
from pathlib import Path

import pytest
from tests.integration.processes.proctree import FakeProcess, write_tree
from tests.tools import require

from patchwarden.agent.collectors.fingerprints import load_rules
from patchwarden.agent.collectors.registry import COLLECTORS
from patchwarden.agent.inventory import collect_inventory
from patchwarden.core.inventory import Component, Evidence, Inventory

JAVA = "/usr/lib/jvm/java-17-openjdk-amd64/bin/java"
LIBCRYPTO = Path("/usr/lib/x86_64-linux-gnu/libcrypto.so.3")
REDIS_SERVER = Path("/usr/bin/redis-check-rdb")  # /usr/bin/redis-server links to it


def upstream_version(package: str) -> str:
    """The upstream part of an installed Debian package's version (5:7.0.15-1~deb12u10 ->
    7.0.15)."""
    tool = require("dpkg-query", "dpkg")
    out = subprocess.run(
        [tool, "-W", "-f=${Version}", package], capture_output=True, text=True, check=False
    )
    if out.returncode != 0:
        pytest.fail(f"install the Debian package {package} (make debs)", pytrace=False)
    return out.stdout.split(":")[-1].rsplit("-", 1)[0]


def catalina_jar(path: Path, server_info: str | None) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(path, "w") as jar:
        jar.writestr("META-INF/MANIFEST.MF", "Manifest-Version: 1.0\r\n")
        if server_info is not None:
            jar.writestr("org/apache/catalina/util/ServerInfo.properties", server_info)


SERVER_INFO = "server.info=Apache Tomcat/9.0.43\nserver.number=9.0.43.0\nserver.built=Jan 28 2021\n"


def collect(root: Path, proc: Path) -> Inventory:
    names = ("dpkg", "processes", "components", "fingerprints")
    return collect_inventory(
        root, online=False, proc=proc, collectors={n: COLLECTORS[n] for n in names}
    )


def fingerprinted(inv: Inventory, pid: int) -> list[Component]:
    [proc] = [p for p in inv.processes if p.pid == pid]
    return [c for c in proc.components if c.method == "fingerprint"]


@pytest.fixture
def server_root(tmp_path: Path) -> tuple[Path, Path]:
    root = tmp_path / "root"
    catalina_jar(root / "opt/tomcat/lib/catalina.jar", SERVER_INFO)
    (root / "srv/es/lib").mkdir(parents=True)
    (root / "srv/es/lib/elasticsearch-7.10.2.jar").write_bytes(b"")
    (root / "srv/es/lib/lucene-core-8.7.0.jar").write_bytes(b"")
    (root / "opt/redis/bin").mkdir(parents=True)
    shutil.copyfile(REDIS_SERVER, root / "opt/redis/bin/redis-server")
    shutil.copyfile("/usr/bin/redis-cli", root / "opt/redis/bin/redis-cli")
    (root / "opt/nginx/sbin").mkdir(parents=True)
    nginx = b"\x7fELF\x02\x01\x01" + bytes(5000) + b"nginx version: \x00" + bytes(300)
    (root / "opt/nginx/sbin/nginx").write_bytes(nginx + b"nginx/1.22.1\x00Server: \x00" + bytes(99))
    (root / "usr/sbin").mkdir(parents=True)
    (root / "usr/sbin/nginx").write_bytes(nginx + b"nginx/1.22.1\x00")
    (root / "opt/app/lib").mkdir(parents=True)
    shutil.copyfile(LIBCRYPTO, root / "opt/app/lib/libcrypto.so.3")
    # A dpkg database owning /usr/sbin/nginx: that one is the distro's business.
    (root / "var/lib/dpkg/info").mkdir(parents=True)
    (root / "var/lib/dpkg/status").write_text(
        "Package: nginx\nStatus: install ok installed\nVersion: 1.22.1-9\nArchitecture: amd64\n\n"
    )
    (root / "var/lib/dpkg/info/nginx.list").write_text("/usr\n/usr/sbin\n/usr/sbin/nginx\n")
    processes = [
        FakeProcess(
            100,
            "java",
            JAVA,
            [
                "java",
                "-Dcatalina.base=/opt/tomcat",
                "-Dcatalina.home=/opt/tomcat",
                "-classpath",
                "/opt/tomcat/bin/bootstrap.jar",
                "org.apache.catalina.startup.Bootstrap",
                "start",
            ],
            maps=[JAVA],
        ),
        FakeProcess(
            101,
            "java",
            JAVA,
            [
                "java",
                "-Xms1g",
                "-Des.path.home=/srv/es",
                "org.elasticsearch.bootstrap.Elasticsearch",
            ],
            maps=[JAVA],
        ),
        FakeProcess(102, "redis-server", "/opt/redis/bin/redis-server", ["redis-server *:6379"]),
        FakeProcess(103, "redis-cli", "/opt/redis/bin/redis-cli", ["redis-cli", "monitor"]),
        FakeProcess(104, "nginx", "/opt/nginx/sbin/nginx", ["nginx: master process"]),
        FakeProcess(105, "nginx", "/usr/sbin/nginx", ["nginx: master process"]),
        FakeProcess(106, "app", "/opt/app/bin/app", ["app"], maps=["/opt/app/lib/libcrypto.so.3"]),
    ]
    return root, write_tree(tmp_path / "proc", processes, root=root)


def test_each_product_is_versioned_from_its_files(server_root: tuple[Path, Path]) -> None:
    root, proc = server_root
    inv = collect(root, proc)
    assert inv.collector_errors == ()
    assert Evidence.RUNNING_PROCESSES.value in inv.covered
    redis = upstream_version("redis-tools")
    openssl = upstream_version("libssl3")
    found = {
        pid: [
            (c.ecosystem, c.name, c.version, c.confidence, c.path) for c in fingerprinted(inv, pid)
        ]
        for pid in range(100, 107)
    }
    assert found == {
        100: [
            (
                "Maven",
                "org.apache.tomcat:tomcat-catalina",
                "9.0.43",
                "high",
                "/opt/tomcat/lib/catalina.jar",
            )
        ],
        101: [
            (
                "Maven",
                "org.elasticsearch:elasticsearch",
                "7.10.2",
                "medium",
                "/srv/es/lib/elasticsearch-7.10.2.jar",
            )
        ],
        102: [("Bitnami", "redis", redis, "medium", "/opt/redis/bin/redis-server")],
        103: [("Bitnami", "redis", redis, "medium", "/opt/redis/bin/redis-cli")],
        104: [("Bitnami", "nginx", "1.22.1", "high", "/opt/nginx/sbin/nginx")],
        105: [],  # owned by the nginx package
        106: [("", "openssl", openssl, "high", "/opt/app/lib/libcrypto.so.3")],
    }
    [tomcat] = fingerprinted(inv, 100)
    assert tomcat.evidence == "org/apache/catalina/util/ServerInfo.properties"
    assert tomcat.cpe == "cpe:2.3:a:apache:tomcat:9.0.43:*:*:*:*:*:*:*"
    assert tomcat.package == "" and tomcat.loaded
    [crypto] = fingerprinted(inv, 106)
    assert crypto.cpe == f"cpe:2.3:a:openssl:openssl:{openssl}:*:*:*:*:*:*:*"
    assert crypto.evidence.startswith("byte ")


def test_unreadable_product_files_are_named(server_root: tuple[Path, Path]) -> None:
    root, proc = server_root
    catalina_jar(root / "opt/tomcat/lib/catalina.jar", None)  # no ServerInfo.properties
    (root / "opt/redis/bin/redis-server").unlink()
    (root / "opt/redis/bin/redis-server").mkdir()  # unreadable as a file
    inv = collect(root, proc)
    problems = sorted((e.collector, e.message) for e in inv.collector_errors)
    assert problems == [
        (
            "fingerprints",
            "Apache Tomcat: cannot read /opt/tomcat/lib/catalina.jar:"
            " no org/apache/catalina/util/ServerInfo.properties inside",
        ),
        ("fingerprints", "Redis: cannot read /opt/redis/bin/redis-server: Is a directory"),
    ]
    assert fingerprinted(inv, 100) == []
    assert [c.version for c in fingerprinted(inv, 104)] == ["1.22.1"]  # the rest still read
    assert Evidence.RUNNING_PROCESSES.value not in inv.covered


def test_bad_rules_are_refused_naming_the_rule() -> None:
    bad = b'{"schema": 1, "rules": [{"product": "x", "name": "x", "confidence": "sure",'
    bad += b' "exe": "^x$", "version": "(1)"}]}'
    with pytest.raises(ValueError, match=r"rule 0 \(x\): confidence must be high, medium or low"):
        load_rules(bad)
    with pytest.raises(ValueError, match="needs exactly one of exe, mapped, java_properties"):
        load_rules(b'{"schema": 1, "rules": [{"product": "y", "name": "y", "confidence": "low"}]}')
    assert {r.product for r in load_rules()} >= {"tomcat", "elasticsearch", "redis", "nginx"}


def test_a_live_process_mapping_an_unpackaged_libcrypto(tmp_path: Path) -> None:
    """Real process, real /proc: python3 loading a private copy of libcrypto (its hashlib
    module links it), next to one using the packaged library."""
    private = Path(tempfile.mkdtemp(prefix="pw-fp-", dir="/srv"))
    try:
        shutil.copyfile(LIBCRYPTO, private / "libcrypto.so.3")
        code = "import _hashlib, sys; print('ready', flush=True); sys.stdin.read()"
        procs = [
            subprocess.Popen(
                ["/usr/bin/python3", "-c", code],
                env={"LD_LIBRARY_PATH": str(lib)} if lib else {},
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                text=True,
            )
            for lib in (private, None)
        ]
        try:
            for p in procs:
                assert p.stdout is not None and p.stdout.readline().strip() == "ready"
            names = ("processes", "fingerprints")
            inv = collect_inventory(
                Path("/"), online=False, collectors={n: COLLECTORS[n] for n in names}
            )
        finally:
            for p in procs:
                p.kill()
                p.wait(timeout=30)
    finally:
        shutil.rmtree(private, ignore_errors=True)
    mine, packaged = (fingerprinted(inv, p.pid) for p in procs)
    assert [(c.name, c.version, c.path) for c in mine] == [
        ("openssl", upstream_version("libssl3"), f"{private}/libcrypto.so.3")
    ]
    assert packaged == []
