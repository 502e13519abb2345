"""`patchwarden server` over HTTPS, and the refusals before it starts (issue 8).

A CA and a server certificate are made at test time (trustme). A real server process serves
HTTPS; a real agent enrols and reports through it when given the CA (`--ca-file`), and is
refused with a certificate error without it. A port that is taken, TLS files that do not
load and a lone --tls-cert are bad input: exit 2 with a message that says what to change; a
console that cannot reach its database exits 3.
"""

from __future__ import annotations

import socket
import ssl
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
import trustme
from tests.e2e.fleet import DSA, build_roots, clean_env, pw
from tests.paths import BIN, PATCHWARDEN
from tests.pg import free_port

from patchwarden.agent.state import STATE_FILE
from patchwarden.core.clock import Clock
from patchwarden.protocol import v1
from patchwarden.services.feeds import import_spec
from patchwarden.storage.advisory_store import AdvisoryStore

AGENT = str(BIN / "patchwarden-agent")


@dataclass
class Pki:
    """A CA's certificate and a server certificate for 127.0.0.1 and localhost it signed."""

    ca: Path
    cert: Path
    key: Path


@pytest.fixture()
def pki(tmp_path: Path) -> Pki:
    ca = trustme.CA()
    issued = ca.issue_cert("127.0.0.1", "localhost")
    out = Pki(tmp_path / "ca.pem", tmp_path / "server.pem", tmp_path / "server.key")
    ca.cert_pem.write_to_path(str(out.ca))
    issued.private_key_pem.write_to_path(str(out.key))
    out.cert.write_bytes(b"".join(blob.bytes() for blob in issued.cert_chain_pems))
    return out


def start_server(data_dir: Path, port: int, *extra: str) -> subprocess.Popen[bytes]:
    args = [PATCHWARDEN, "server", "--data-dir", str(data_dir), "--port", str(port)]
    log = (data_dir / "server.log").open("ab")
    return subprocess.Popen([*args, "--no-scheduler", *extra], stdout=log, stderr=log)


def wait_healthy(proc: subprocess.Popen[bytes], url: str, verify: ssl.SSLContext | bool) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        assert proc.poll() is None, f"server exited {proc.returncode}"
        try:
            if httpx.get(url + "/healthz", verify=verify, timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    raise AssertionError("server did not answer /healthz within 60 s")


@pytest.fixture()
def https_console(tmp_path: Path, pki: Pki) -> Iterator[tuple[str, Path, str]]:
    """(https URL, data dir, API token) of a real console serving HTTPS with pki's cert."""
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    with AdvisoryStore.in_dir(data_dir) as store:
        import_spec(store, f"debian-tracker:{DSA}", Clock())
    env = clean_env()
    token = pw("api-token", "create", "--user", "admin", "--data-dir", str(data_dir), "--init",
               env=env).strip()  # fmt: skip
    port = free_port()
    proc = start_server(data_dir, port, "--tls-cert", str(pki.cert), "--tls-key", str(pki.key))
    url = f"https://127.0.0.1:{port}"
    try:
        wait_healthy(proc, url, ssl.create_default_context(cafile=str(pki.ca)))
        yield url, data_dir, token
    finally:
        proc.terminate()
        proc.wait(15)


def test_an_agent_enrols_and_reports_over_https_with_the_ca_and_is_refused_without(
    tmp_path: Path, pki: Pki, https_console: tuple[str, Path, str]
) -> None:
    url, data_dir, api_token = https_console
    env = clean_env()
    root = build_roots(tmp_path / "roots")["deb"]

    def enrolment_token() -> str:
        return pw("enrolment-token", "create", "--data-dir", str(data_dir), env=env).strip()

    def agent(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [AGENT, *args, "--root", str(root)], capture_output=True, text=True, timeout=300
        )

    def hosts() -> list[dict[str, object]]:
        reply = httpx.get(
            url + "/api/v1/hosts",
            headers={"Authorization": f"Bearer {api_token}"},
            verify=ssl.create_default_context(cafile=str(pki.ca)),
        )
        assert reply.status_code == 200, reply.text
        items: list[dict[str, object]] = reply.json()["items"]
        return items

    # Without the CA the agent does not trust the console and sends it nothing.
    refused = agent("enrol", "--server", url, "--token", enrolment_token(),
                    "--state-dir", str(tmp_path / "no-ca"))  # fmt: skip
    assert refused.returncode == 1
    assert "CERTIFICATE_VERIFY_FAILED" in refused.stderr, refused.stderr
    assert not (tmp_path / "no-ca" / STATE_FILE).exists()
    assert hosts() == []

    ran = agent("run", "--once", "--offline", "--server", url, "--token", enrolment_token(),
                "--state-dir", str(tmp_path / "agent"), "--ca-file", str(pki.ca))  # fmt: skip
    assert ran.returncode == 0, ran.stderr
    [host] = hosts()
    assert host["hostname"] == "deb-buster" and host["last_scan_at"]
    records = httpx.get(
        url + "/api/v1/records",
        headers={"Authorization": f"Bearer {api_token}"},
        verify=ssl.create_default_context(cafile=str(pki.ca)),
    ).json()
    assert records["total"] == 2, records

    # The same machine enrolled again (a lost state dir): the same host, not a second one.
    again = agent("enrol", "--server", url, "--token", enrolment_token(),
                  "--state-dir", str(tmp_path / "agent2"), "--ca-file", str(pki.ca))  # fmt: skip
    assert again.returncode == 0, again.stderr
    assert again.stdout.strip() == f"enrolled as host {host['id']}"
    assert [h["id"] for h in hosts()] == [host["id"]]
    ca = ssl.create_default_context(cafile=str(pki.ca))
    machine_id = (root / "etc" / "machine-id").read_text().strip()
    for mid, reenrolled in [(machine_id, True), ("f" * 32, False)]:
        body = {"token": enrolment_token(), "hostname": "deb-buster", "machine_id": mid}
        reply = httpx.post(url + v1.ENROL, json=body, verify=ca).json()
        assert reply["reenrolled"] is reenrolled
        assert (reply["host_id"] == host["id"]) is reenrolled
    assert len(hosts()) == 2

    # Plain HTTP on the HTTPS port gets no API answer.
    with pytest.raises(httpx.TransportError):
        httpx.get(url.replace("https://", "http://") + "/healthz", timeout=5)

    # A second server on the same port stops before starting, saying which address is taken.
    port = int(url.rsplit(":", 1)[1])
    second = subprocess.run(
        [PATCHWARDEN, "server", "--data-dir", str(data_dir), "--port", str(port)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert second.returncode == 2
    assert f"127.0.0.1:{port} is already in use" in second.stderr
    assert "--port" in second.stderr


def test_a_port_in_use_is_exit_2_naming_the_address(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        port = taken.getsockname()[1]
        proc = subprocess.run(
            [PATCHWARDEN, "server", "--data-dir", str(tmp_path), "--port", str(port)],
            capture_output=True,
            text=True,
            timeout=60,
        )
    assert proc.returncode == 2, proc.stderr
    assert f"error: 127.0.0.1:{port} is already in use" in proc.stderr
    assert f"--port {port + 1}" in proc.stderr
    assert not (tmp_path / "patchwarden.db").exists()  # nothing was created


def test_a_console_that_cannot_reach_its_database_exits_3(tmp_path: Path) -> None:
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))  # bound, never listening: connections are refused
        db_port = closed.getsockname()[1]
        proc = subprocess.run(
            [PATCHWARDEN, "server", "--data-dir", str(tmp_path), "--port", str(free_port())],
            capture_output=True,
            text=True,
            timeout=120,
            env=clean_env(PATCHWARDEN_DATABASE_URL=f"postgresql://pw@127.0.0.1:{db_port}/pw"),
        )
    assert proc.returncode == 3, proc.stderr
    assert "Connection refused" in proc.stderr or "connection refused" in proc.stderr


@pytest.mark.parametrize(
    "case",
    [
        "cert without key",
        "key that is not the cert's",
        "cert that is no PEM",
        "encrypted key",
        "missing file",
    ],
)
def test_tls_files_that_do_not_load_are_exit_2(tmp_path: Path, pki: Pki, case: str) -> None:
    from cryptography.hazmat.primitives import serialization

    wrong_key = tmp_path / "other.key"
    trustme.CA().issue_cert("127.0.0.1").private_key_pem.write_to_path(str(wrong_key))
    junk = tmp_path / "junk.pem"
    junk.write_text("not a certificate\n")
    encrypted = tmp_path / "encrypted.key"
    key = serialization.load_pem_private_key(pki.key.read_bytes(), password=None)
    encrypted.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.BestAvailableEncryption(b"secret"),
        )
    )
    options, expected = {
        "cert without key": (
            ["--tls-cert", str(pki.cert)],
            "--tls-cert and --tls-key go together",
        ),
        "key that is not the cert's": (
            ["--tls-cert", str(pki.cert), "--tls-key", str(wrong_key)],
            "cannot use them: the key is not the certificate's",
        ),
        "cert that is no PEM": (
            ["--tls-cert", str(junk), "--tls-key", str(pki.key)],
            f"--tls-cert {junk}: no PEM certificate in it",
        ),
        "encrypted key": (
            ["--tls-cert", str(pki.cert), "--tls-key", str(encrypted)],
            f"--tls-key {encrypted}: the key is encrypted",
        ),
        "missing file": (
            ["--tls-cert", str(tmp_path / "nope.pem"), "--tls-key", str(pki.key)],
            "nope.pem' does not exist",
        ),
    }[case]
    data_dir = tmp_path / "data"
    proc = subprocess.run(
        [PATCHWARDEN, "server", "--data-dir", str(data_dir), "--port", str(free_port()), *options],
        capture_output=True,
        text=True,
        timeout=60,
        stdin=subprocess.DEVNULL,
    )
    assert proc.returncode == 2, proc.stderr
    assert expected in proc.stderr, proc.stderr
    assert not data_dir.exists()
