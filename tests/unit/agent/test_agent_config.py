"""The agent's config file: validation, and command-line flags winning over it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from patchwarden.agent import main as agent_main
from patchwarden.agent.state import StateError


def test_missing_config_is_empty(tmp_path):
    assert agent_main.load_config(tmp_path / "none.json") == {}


@pytest.mark.parametrize(
    ("content", "message"),
    [
        pytest.param("{not json", "unreadable agent config", id="sad path: not JSON"),
        pytest.param("[1, 2]", "must be a JSON object", id="sad path: not an object"),
        pytest.param(
            '{"shell": "rm -rf /"}', "unknown setting 'shell'", id="sad path: unknown key"
        ),
        pytest.param('{"interval": "soon"}', "'interval' has the wrong type", id="sad path: type"),
    ],
)
def test_bad_config_is_a_clear_error(tmp_path, content, message):
    path = tmp_path / "agent.json"
    path.write_text(content)
    with pytest.raises(StateError, match=message):
        agent_main.load_config(path)


def test_flags_win_over_config(tmp_path):
    config = tmp_path / "agent.json"
    config.write_text(json.dumps({"server": "http://cfg:1", "interval": 60, "state_dir": "/s"}))
    parser = agent_main._parser()
    args = parser.parse_args(["run", "--config", str(config), "--server", "http://flag:2"])
    agent_main.apply_config(args, vars(parser.parse_args(["run"])))
    assert args.server == "http://flag:2"
    assert args.interval == 60 and args.state_dir == Path("/s")


def test_missing_state_and_no_token_is_exit_2(tmp_path, capsys):
    rc = agent_main.main(
        [
            "run",
            "--once",
            "--config",
            str(tmp_path / "none.json"),
            "--state-dir",
            str(tmp_path / "state"),
        ]
    )
    assert rc == 2 and "not enrolled" in capsys.readouterr().err
