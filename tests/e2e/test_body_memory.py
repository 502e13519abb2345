"""What the review's amplification probes cost a real `patchwarden server` (issue 9): its peak
resident memory (VmHWM from /proc) may grow by at most 64 MB over all of them, on SQLite and
PostgreSQL, and each probe is answered with the refusal it deserves.

Probes: a 60 KB gzip body inflating to 60 MB of `{}` without credentials (401: the body is
never read) and with them (413 once 16 MB are inflated); 200 MB sent chunked (413 after 8 MB:
the rest is drained, not kept); the same announced by Content-Length (413 before reading);
`[` x 1000 on every JSON endpoint (400). The figures are printed.
"""

from __future__ import annotations

import socket
import time
import zlib
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from tests.e2e.live_console import LiveConsole, live_console, vm_hwm

from patchwarden.protocol import v1

pytestmark = pytest.mark.slow

BUDGET = 64 * 1024 * 1024
"""Most the server's peak RSS may grow over all the probes."""
MB = 1024 * 1024


def bomb() -> bytes:
    """About 60 KB of gzip inflating to 60 MB of `[{},{},…]`."""
    z = zlib.compressobj(9, zlib.DEFLATED, 31)
    piece = b"{}," * MB
    parts = [z.compress(b"[")] + [z.compress(piece) for _ in range(20)]
    return b"".join([*parts, z.compress(b"{}]"), z.flush()])


def chunked(total: int) -> Iterator[bytes]:
    """`total` bytes in 1 MB chunks (no Content-Length: Transfer-Encoding chunked)."""
    chunk = b"0," * (MB // 2)
    for _ in range(total // len(chunk)):
        yield chunk


@pytest.fixture
def live(db_url: str, tmp_path: Path) -> Iterator[LiveConsole]:
    """A console process on each backend."""
    with live_console(tmp_path, db_url) as console:
        yield console


def test_amplification_probes_stay_within_64_mb(
    live: LiveConsole, capsys: pytest.CaptureFixture[str]
) -> None:
    gz = bomb()
    assert len(gz) < 70_000
    agent = live.agent_headers()
    bearer = live.bearer_headers()
    deep = b"[" * 1000 + b"]" * 1000
    with httpx.Client(base_url=live.url, timeout=120) as http:
        # Warm-up: every path the probes take, with bodies that pass, so the baseline holds
        # the imports, caches and threads a working console has anyway.
        for _ in range(3):
            r = http.post(v1.INVENTORY, content=live.upload_body(),
                          headers={**agent, "Content-Encoding": "gzip"})  # fmt: skip
            assert r.status_code == 200, r.text
        assert http.get("/api/v1/records", headers=bearer).status_code == 200
        assert http.post(v1.INVENTORY, content=b"[1]" * 10, headers=agent).status_code == 400
        assert http.post(v1.HEARTBEAT, headers=agent).status_code == 200
        baseline = vm_hwm(live.pid)

        probes = [
            ("gzip bomb, no credentials", v1.INVENTORY, {"Content-Encoding": "gzip"}, gz, 401),
            ("gzip bomb, wrong secret", v1.INVENTORY,
             {"Content-Encoding": "gzip", "Authorization": v1.auth_header(live.host_id, "x")},
             gz, 401),
            ("gzip bomb, agent", v1.INVENTORY, {**agent, "Content-Encoding": "gzip"}, gz, 413),
            ("gzip bomb, job result", v1.JOB_RESULT.format(job_id=1),
             {**agent, "Content-Encoding": "gzip"}, gz, 413),
            ("gzip bomb, actions", "/api/v1/actions", {**bearer, "Content-Encoding": "gzip"},
             gz, 413),
            ("200 MB chunked, agent", v1.INVENTORY, agent, None, 413),
            ("200 MB chunked, no credentials", v1.INVENTORY, {}, None, 401),
            ("200 MB announced", v1.INVENTORY, {**agent, "Content-Length": str(200 * MB)},
             b"", 413),
            ("deep nesting, enrol", v1.ENROL, {}, deep, 400),
            ("deep nesting, inventory", v1.INVENTORY, agent, deep, 400),
            ("deep nesting, job result", v1.JOB_RESULT.format(job_id=1), agent, deep, 400),
            ("deep nesting, settings", "/api/v1/settings", bearer, deep, 400),
        ]  # fmt: skip
        lines = [f"server VmHWM after warm-up: {baseline / MB:.1f} MB"]
        for label, path, headers, body, status in probes:
            start = time.perf_counter()
            if label == "200 MB announced":
                reply = _announced(live.url + path, headers)
            else:
                method = "PUT" if path.endswith("settings") else "POST"
                content = chunked(200 * MB) if body is None else body
                reply = http.request(method, path, content=content, headers=headers)
            took = time.perf_counter() - start
            assert reply.status_code == status, (label, reply.status_code, reply.text)
            peak = vm_hwm(live.pid)
            lines.append(
                f"{label:<32} {reply.status_code} in {took:5.2f} s; VmHWM "
                f"{peak / MB:7.1f} MB (+{(peak - baseline) / MB:5.1f}): {reply.json()['detail']}"
            )
    grown = vm_hwm(live.pid) - baseline
    lines.append(f"peak growth over all probes: {grown / MB:.1f} MB (budget {BUDGET // MB} MB)")
    with capsys.disabled():
        print("\n" + "\n".join(lines))
    assert grown <= BUDGET, "\n".join(lines)


def _announced(url: str, headers: dict[str, str]) -> httpx.Response:
    """Announce a 200 MB body, send its first megabyte and read the answer (a raw socket:
    an HTTP client would insist on sending what it announced)."""
    parsed = httpx.URL(url)
    head = [f"POST {parsed.raw_path.decode()} HTTP/1.1", f"Host: {parsed.host}:{parsed.port}"]
    head += [f"{k}: {v}" for k, v in headers.items()]
    with socket.create_connection((parsed.host, parsed.port or 80), timeout=30) as sock:
        sock.sendall(("\r\n".join(head) + "\r\n\r\n").encode() + b"0" * MB)
        received = b""
        while b"\r\n\r\n" not in received or not _complete(received):
            data = sock.recv(65536)
            if not data:
                break
            received += data
    status_line, _, rest = received.partition(b"\r\n")
    header_block, _, body = rest.partition(b"\r\n\r\n")
    return httpx.Response(int(status_line.split()[1]), content=body)


def _complete(received: bytes) -> bool:
    """Whether `received` holds a whole response with a Content-Length body."""
    head, _, body = received.partition(b"\r\n\r\n")
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            return len(body) >= int(value)
    return False
