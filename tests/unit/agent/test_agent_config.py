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


@pytest.mark.parametrize(
    ("content", "message"),
    [
        pytest.param('{"exec": "ssh"}', "setting 'exec' must be one of", id="sad path: exec mode"),
        pytest.param(
            '{"proxy": "http://proxy:3128; rm -rf /"}',
            "setting 'proxy' must be an http:// or https:// URL",
            id="sad path: proxy with shell text",
        ),
        pytest.param('{"fix_timeout": 0}', "'fix_timeout' must be within", id="sad path: timeout"),
        pytest.param(
            '{"fix_timeout": true}', "'fix_timeout' has the wrong type", id="sad path: bool"
        ),
        pytest.param('{"min_free_bytes": -1}', "must not be negative", id="sad path: threshold"),
    ],
)
def test_bad_remediation_settings_are_clear_errors(tmp_path, content, message):
    path = tmp_path / "agent.json"
    path.write_text(content)
    with pytest.raises(StateError, match=message):
        agent_main.load_config(path)


def test_remediation_settings_reach_the_agent(tmp_path):
    config = tmp_path / "agent.json"
    config.write_text(
        json.dumps({"exec": "chroot", "proxy": "http://proxy.example:3128", "min_free_bytes": 1024})
    )
    parser = agent_main._parser()
    args = parser.parse_args(["run", "--config", str(config), "--fix-timeout", "60"])
    agent_main.apply_config(args, agent_main._defaults(parser, "run"))
    assert (args.exec, args.proxy, args.min_free_bytes, args.fix_timeout) == (
        "chroot",
        "http://proxy.example:3128",
        1024,
        60.0,
    )


def test_local_fix_needs_name_equals_version(tmp_path, capsys):
    rc = agent_main.main(
        ["fix", "--config", str(tmp_path / "none.json"), "--root", str(tmp_path), "libssl3"]
    )
    assert rc == 2 and "'libssl3' is not NAME=VERSION" in capsys.readouterr().err


def test_local_fix_on_a_root_it_cannot_run_commands_on_says_so(tmp_path, capsys):
    rc = agent_main.main(
        ["fix", "--config", str(tmp_path / "none.json"), "--root", str(tmp_path),
         "--state-dir", str(tmp_path / "state"), "--dry-run", "libssl3=3.0.22-1~deb12u2"]
    )  # fmt: skip
    assert rc == 1
    details = json.loads(capsys.readouterr().out)
    assert details["error"]["code"] == "not_supported"
    assert "--exec chroot" in details["error"]["message"]


def test_bad_proxy_option_is_exit_2(tmp_path, capsys):
    rc = agent_main.main(
        ["inventory", "--config", str(tmp_path / "none.json"), "--root", str(tmp_path),
         "--proxy", "ftp://x"]
    )  # fmt: skip
    assert rc == 2 and "option 'proxy' must be an http://" in capsys.readouterr().err
