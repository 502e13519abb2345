"""The console's scan memory cap on the agent's side (R-D3): every jobs poll may carry it; the
agent checks it like any console input, keeps it for its next scans (on disk, so the next run
starts with it), lets its own config or command line win, and ignores a bad one without
dropping the jobs that came with it. The console is a stdlib HTTP server on loopback."""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from patchwarden.agent import console_cap, memcap
from patchwarden.agent import main as agent_main
from patchwarden.agent.client import ConsoleClient
from patchwarden.agent.main import Agent
from patchwarden.protocol import v1


class FakeConsole(ThreadingHTTPServer):
    """Answers jobs polls with `answer`; keeps the job results and counts polls."""

    answer: dict[str, Any]
    results: list[dict[str, Any]]
    polls: int


class Handler(BaseHTTPRequestHandler):
    server: FakeConsole

    def _send(self, data: dict[str, Any]) -> None:
        body = json.dumps(data).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self) -> None:  # noqa: N802 (http.server's name)
        assert self.path.startswith(v1.JOBS)
        self.server.polls += 1
        answer, self.server.answer = self.server.answer, {"jobs": []}
        self._send(answer)

    def do_POST(self) -> None:  # noqa: N802
        body = self.rfile.read(int(self.headers["Content-Length"]))
        if self.path.endswith("/result"):
            self.server.results.append(json.loads(body))
        self._send({"inventory_id": 1})

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
        pass


@pytest.fixture
def console() -> Iterator[FakeConsole]:
    server = FakeConsole(("127.0.0.1", 0), Handler)
    server.answer, server.results, server.polls = {"jobs": []}, [], 0
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


def agent(console: FakeConsole, state: Path, local: int | None = None) -> Agent:
    url = f"http://127.0.0.1:{console.server_address[1]}"
    return Agent(state, ConsoleClient(url, "host-1", "secret"), memory_cap_mb=local)


BAD_JOB = {"job_id": 7, "kind": "reformat", "params": {}}


@pytest.mark.parametrize(
    ("data", "cap"),
    [
        pytest.param({"jobs": []}, None, id="older console: none"),
        pytest.param({"memory_cap_mb": 0}, 0, id="no cap"),
        pytest.param({"memory_cap_mb": 16}, 16, id="least"),
        pytest.param({"memory_cap_mb": 65536}, 65536, id="most"),
    ],
)
def test_caps_a_poll_may_carry(data: dict[str, Any], cap: int | None) -> None:
    assert v1.memory_cap_from_response(data) == cap


@pytest.mark.parametrize(
    "value",
    [15, 1, -1, 65537, 64.0, "64", True, None, [64], 10**30],
    ids=["15", "1", "negative", "huge", "float", "string", "true", "null", "list", "10^30"],
)
def test_bad_caps_are_protocol_errors(value: Any) -> None:
    with pytest.raises(v1.ProtocolError, match=r"memory_cap_mb must be 0 or 16\.\.65536, not"):
        v1.memory_cap_from_response({"memory_cap_mb": value})


def test_an_older_agent_reads_the_jobs_and_ignores_the_cap() -> None:
    # What agents before the field call on the poll answer.
    answer = {"jobs": [{"job_id": 1, "kind": "scan", "params": {}}], "memory_cap_mb": 64}
    assert [a.kind for a in v1.jobs_from_response(answer)] == ["scan"]
    actions, rejected = v1.parse_jobs(answer)
    assert ([a.job_id for a in actions], rejected) == ([1], [])


def test_the_consoles_cap_is_kept_for_the_next_scans_and_runs(
    console: FakeConsole, tmp_path: Path
) -> None:
    first = agent(console, tmp_path)
    assert first.memory_cap_mb == memcap.DEFAULT_CAP_MB  # nothing heard yet
    console.answer = {"jobs": [], "memory_cap_mb": 64}
    first.process_jobs()
    assert first.memory_cap_mb == 64
    assert agent(console, tmp_path).memory_cap_mb == 64  # the next run starts with it
    assert (tmp_path / console_cap.FILE).stat().st_mode & 0o077 == 0
    # An older console sends none: the agent keeps what it has.
    first.process_jobs()
    assert first.memory_cap_mb == 64
    console.answer = {"jobs": [], "memory_cap_mb": 0}
    first.process_jobs()
    assert (first.memory_cap_mb, agent(console, tmp_path).memory_cap_mb) == (0, 0)


def test_a_local_cap_wins_over_the_consoles(console: FakeConsole, tmp_path: Path) -> None:
    local = agent(console, tmp_path, local=300)
    console.answer = {"jobs": [], "memory_cap_mb": 16}
    local.process_jobs()
    assert local.memory_cap_mb == 300
    assert agent(console, tmp_path, local=0).memory_cap_mb == 0  # 0 set locally: no cap
    assert agent(console, tmp_path).memory_cap_mb == 16  # without one, the console's


def test_a_bad_cap_is_logged_and_ignored_and_its_jobs_still_answered(
    console: FakeConsole, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    a = agent(console, tmp_path)
    console.answer = {"jobs": [], "memory_cap_mb": 64}
    a.process_jobs()
    caplog.set_level(logging.ERROR, logger="patchwarden.agent")
    console.answer = {"jobs": [BAD_JOB], "memory_cap_mb": 8}
    assert a.process_jobs() == 1
    assert a.memory_cap_mb == 64 and console_cap.load(tmp_path) == 64
    assert "console sent an invalid memory cap, keeping 64 MB: memory_cap_mb must be" in (
        caplog.text
    )
    assert [(r["job_id"], r["ok"]) for r in console.results] == [(7, False)]


def test_a_damaged_cap_file_falls_back_to_the_default(tmp_path: Path) -> None:
    for text in ("{broken", "[64]", '{"memory_cap_mb": 3}', '{"memory_cap_mb": "64"}'):
        (tmp_path / console_cap.FILE).write_text(text)
        assert console_cap.load(tmp_path) is None, text


def test_a_run_whose_scan_hits_the_cap_still_polls_for_a_new_one(
    console: FakeConsole, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    console_cap.save(tmp_path, 16)  # an earlier run heard it
    a = agent(console, tmp_path)

    def killed(self: Agent) -> Any:
        raise memcap.CapExceeded(memcap.cap_event(self.memory_cap_mb))

    monkeypatch.setattr(Agent, "collect", killed)
    console.answer = {"jobs": [], "memory_cap_mb": 512}
    with pytest.raises(memcap.CapExceeded, match="scan exceeded memory cap 16 MB"):
        a.run_once()
    assert console.polls == 1 and a.memory_cap_mb == 512


def test_the_help_says_the_local_cap_wins(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        agent_main.main(["run", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert "Set here or in the config it wins over the console's setting" in text
