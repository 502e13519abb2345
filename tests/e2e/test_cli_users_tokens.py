"""`patchwarden users` and `api-token` on SQLite and PostgreSQL: no console database is created
without --init, tokens expire, are listed without secrets and revoked, roles change (never
leaving no owner); and the data directory the commands and the server create is 0700 with
0600 database files (-wal and -shm included, while the server runs)."""

from __future__ import annotations

import os
import stat
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import inspect
from tests.e2e.fleet import clean_env
from tests.paths import CORPUS, PATCHWARDEN
from tests.pg import free_port

from patchwarden.server.app import create_app
from patchwarden.server.config import ServerConfig
from patchwarden.storage.db import describe, make_engine

KEV = CORPUS / "advisories" / "cisa-kev" / "known_exploited_vulnerabilities.json"


def run(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [PATCHWARDEN, *args], capture_output=True, text=True, env=env, timeout=120
    )


def ok(*args: str, env: dict[str, str]) -> str:
    proc = run(*args, env=env)
    assert proc.returncode == 0, (args, proc.stderr)
    return proc.stdout


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture(autouse=True)
def usual_umask() -> Iterator[None]:
    """Commands inherit the common umask: without our care their files would be 0644."""
    old = os.umask(0o022)
    yield
    os.umask(old)


def has_console_schema(url: str) -> bool:
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            return inspect(conn).has_table("alembic_version")
    finally:
        engine.dispose()


def test_token_commands_create_no_database_without_init(db_url: str, tmp_path: Path) -> None:
    data_dir = tmp_path / "forgotten"
    env = clean_env(PATCHWARDEN_DATABASE_URL=db_url)
    for args in (
        ("api-token", "create", "--user", "alice"),
        ("enrolment-token", "create"),
        ("users", "add", "alice"),
        ("users", "list"),
        ("api-token", "list"),
    ):
        proc = run(*args, "--data-dir", str(data_dir), env=env)
        assert proc.returncode == 2, (args, proc.stdout, proc.stderr)
        assert f"no console database at {describe(db_url)}" in " ".join(proc.stderr.split())
        assert "--init" in proc.stderr and proc.stdout == ""
    assert not data_dir.exists()
    assert not has_console_schema(db_url)
    token = ok(
        "api-token", "create", "--user", "alice", "--init", "--data-dir", str(data_dir), env=env
    )
    assert token.startswith("pwa_") and has_console_schema(db_url)


def test_users_and_tokens_from_the_cli_to_the_api(db_url: str, tmp_path: Path) -> None:
    env = clean_env(PATCHWARDEN_DATABASE_URL=db_url)
    dd = ("--data-dir", str(tmp_path))
    alice = ok("api-token", "create", "--user", "alice", "--init", *dd, env=env).strip()
    assert ok("users", "add", "bob", "--role", "admin", *dd, env=env).strip() == (
        "added user bob (admin)"
    )
    bob = ok("api-token", "create", "--user", "bob", "--expires-in", "0", *dd, env=env).strip()
    vera = run("api-token", "create", "--user", "vera", *dd, env=env)
    assert "new user vera (viewer)" in vera.stderr
    listing = ok("api-token", "list", *dd, env=env)
    lines = listing.splitlines()
    assert lines[0].split() == ["ID", "USER", "CREATED", "LAST", "USED", "EXPIRES"]
    assert [line.split()[:2] for line in lines[1:]] == [["1", "alice"], ["2", "bob"], ["3", "vera"]]
    assert lines[1].endswith("UTC") and lines[2].endswith("never")  # expires: 90 days, never
    for secret in (alice, bob, vera.stdout.strip()):
        assert secret not in listing
    assert ok("users", "list", *dd, env=env).split() == [
        "NAME", "ROLE", "alice", "owner", "bob", "admin", "vera", "viewer"
    ]  # fmt: skip
    # The last owner stays.
    for args in (("users", "set-role", "alice", "admin"), ("users", "remove", "alice")):
        proc = run(*args, *dd, env=env)
        assert proc.returncode == 2 and "last owner" in proc.stderr, proc.stderr
    proc = run("api-token", "create", "--user", "x", "--expires-in", "-1", *dd, env=env)
    assert proc.returncode == 2 and "--expires-in" in proc.stderr
    # What the console makes of them.
    config = ServerConfig(data_dir=tmp_path, database_url=db_url, scheduler=False)
    with TestClient(create_app(config)) as client:

        def call(token: str, method: str = "GET", path: str = "/api/v1/hosts", **kw: Any) -> Any:
            return client.request(method, path, headers={"Authorization": f"Bearer {token}"}, **kw)

        assert call(alice).status_code == 200
        viewer = call(vera.stdout.strip(), "PUT", "/api/v1/settings", json={})
        assert viewer.status_code == 403
        assert ok("users", "set-role", "vera", "admin", *dd, env=env).strip() == "vera is now admin"
        assert call(vera.stdout.strip(), "PUT", "/api/v1/settings", json={}).status_code == 200
        assert ok("api-token", "revoke", "2", *dd, env=env).strip() == "revoked API token 2 of bob"
        reply = call(bob)
        assert (reply.status_code, reply.json()["detail"]) == (401, "unknown API token")
        proc = run("api-token", "revoke", "2", *dd, env=env)
        assert proc.returncode == 2 and "no API token 2" in proc.stderr
        ok("users", "remove", "vera", *dd, env=env)
        assert call(vera.stdout.strip()).status_code == 401
    listed = ok("api-token", "list", *dd, env=env).splitlines()
    assert [line.split()[:2] for line in listed[1:]] == [["1", "alice"]]
    assert listed[1].endswith("UTC")


def test_commands_create_a_private_data_dir(tmp_path: Path) -> None:
    env = clean_env()
    tokens_dir, feeds_dir, scan_dir = tmp_path / "t", tmp_path / "f", tmp_path / "s"
    ok("enrolment-token", "create", "--init", "--data-dir", str(tokens_dir), env=env)
    ok("feeds", "import", f"kev:{KEV}", "--data-dir", str(feeds_dir), env=env)
    root = tmp_path / "root"
    (root / "etc").mkdir(parents=True)
    (root / "etc/os-release").write_text('ID=debian\nVERSION_ID="12"\n')
    scan = run("scan", "--offline", "--root", str(root), "--data-dir", str(scan_dir), env=env)
    assert scan.returncode in (0, 1), scan.stderr
    for d in (tokens_dir, feeds_dir, scan_dir):
        assert mode(d) == 0o700, d
    for f in (tokens_dir / "patchwarden.db", feeds_dir / "advisories.db"):
        assert mode(f) == 0o600, f


def test_the_server_keeps_its_files_private_and_throttles_as_told(tmp_path: Path) -> None:
    data_dir = tmp_path / "console"
    port = free_port()
    env = clean_env()
    bad = run("server", "--data-dir", str(data_dir), "--trusted-proxy", "proxy.lan", env=env)
    assert bad.returncode == 2 and "--trusted-proxy" in bad.stderr, bad.stderr
    assert not data_dir.exists()
    server = subprocess.Popen(
        [PATCHWARDEN, "server", "--data-dir", str(data_dir), "--port", str(port),
         "--no-scheduler", "--auth-failures", "3", "--auth-lockout-max", "30"],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert server.poll() is None and time.monotonic() < deadline, server.stderr
            time.sleep(0.1)
        token = ok("enrolment-token", "create", "--data-dir", str(data_dir), env=env).strip()
        reply = httpx.post(
            f"http://127.0.0.1:{port}/api/agent/v1/enrol",
            json={"token": token, "hostname": "h"},
            timeout=10,
        )
        assert reply.status_code == 200, reply.text
        db = data_dir / "patchwarden.db"
        files = [db, Path(f"{db}-wal"), Path(f"{db}-shm"), data_dir / "advisories.db"]
        assert {p.name: mode(p) for p in files} == {p.name: 0o600 for p in files}
        assert mode(data_dir) == 0o700
        # Over real HTTP: the third failure locks the loopback address out, for 30 s at most.
        wrong = {"Authorization": "Bearer pwa_wrong"}
        url = f"http://127.0.0.1:{port}/api/v1/hosts"
        codes = [httpx.get(url, headers=wrong, timeout=10).status_code for _ in range(4)]
        assert codes == [401, 401, 401, 429]
        locked = httpx.get(url, timeout=10)
        assert locked.status_code == 429 and locked.headers["retry-after"] == "30"
    finally:
        server.terminate()
        server.wait(timeout=10)


def test_the_cli_offers_the_services_roles_and_token_limits() -> None:
    # The CLI repeats them so that `--help` need not import the services.
    from patchwarden.cli import console_commands, users_command
    from patchwarden.services import users
    from patchwarden.services.ports import Role

    assert tuple(r.value for r in Role) == users_command.ROLES
    assert (console_commands.DEFAULT_TOKEN_DAYS, console_commands.MAX_TOKEN_DAYS) == (
        users.DEFAULT_TOKEN_DAYS,
        users.MAX_TOKEN_DAYS,
    )
