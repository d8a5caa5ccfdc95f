"""SPEC §2: the configuration file: where it is found, what it may hold, and how a
malformed one is reported; its defaults stand in for flags."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.config_helpers import (
    default_config,
    glm,
    model_sent,
    write,
)
from tests.fake_service import FakeService
from tests.helpers import assert_usage_error

# --- where the config file is ------------------------------------------------------------


@pytest.mark.parametrize(
    ("flag", "env", "expected"),
    [
        (True, True, "from-flag"),
        (False, True, "from-glm-config"),
        (False, False, "from-xdg"),
    ],
)
def test_config_location_precedence(
    glm_env: dict[str, str],
    service: FakeService,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    flag: bool,
    env: bool,
    expected: str,
) -> None:
    write(default_config(glm_env), 'model = "from-xdg"\n')
    flag_path = write(tmp_path / "flag.toml", 'model = "from-flag"\n')
    env_path = write(tmp_path / "env.toml", 'model = "from-glm-config"\n')
    if env:
        monkeypatch.setenv("GLM_CONFIG", str(env_path))
    args = ["ask", "--config", str(flag_path), "hi"] if flag else ["ask", "hi"]
    result = glm(*args)
    assert result.exit_code == 0, result.stderr
    assert model_sent(service) == expected


def test_config_in_home_dot_config_without_xdg(
    glm_env: dict[str, str], service: FakeService, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("XDG_CONFIG_HOME")
    write(Path(glm_env["HOME"]) / ".config" / "glm" / "config.toml", 'model = "from-home"\n')
    result = glm("ask", "hi")
    assert result.exit_code == 0, result.stderr
    assert model_sent(service) == "from-home"


def test_xdg_config_home_moves_the_config(
    glm_env: dict[str, str],
    service: FakeService,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    write(Path(glm_env["HOME"]) / ".config" / "glm" / "config.toml", 'model = "from-home"\n')
    write(tmp_path / "xdg" / "glm" / "config.toml", 'model = "from-xdg"\n')
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg"))
    result = glm("ask", "hi")
    assert result.exit_code == 0, result.stderr
    assert model_sent(service) == "from-xdg"


def test_glm_home_does_not_move_the_config(glm_env: dict[str, str], service: FakeService) -> None:
    write(Path(glm_env["GLM_HOME"]) / "config.toml", 'model = "from-glm-home"\n')
    result = glm("ask", "hi")
    assert result.exit_code == 0, result.stderr
    assert model_sent(service) == "glm-5.2"


def test_missing_named_config_is_a_usage_error(
    glm_env: dict[str, str], service: FakeService, tmp_path: Path
) -> None:
    path = tmp_path / "nowhere.toml"
    assert_usage_error(glm("ask", "--config", str(path), "hi"), service, str(path))


# --- what the config file may hold -------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "line"),
    [
        ('model = "x"\nprovider = \n', 2),
        ('model = "x"\n\n[defaults\neffort = "high"\n', 3),
        ('model = "unterminated\n', 1),
        ('model = "a"\nmodel = "b"\n', 2),
    ],
)
def test_malformed_toml_names_the_file_and_the_line(
    glm_env: dict[str, str], service: FakeService, text: str, line: int
) -> None:
    path = write(default_config(glm_env), text)
    message = assert_usage_error(glm("ask", "hi"), service, str(path))
    assert re.search(rf"line {line}\b", message), message


@pytest.mark.parametrize(
    ("text", "key"),
    [
        ('colour = "blue"\n', "colour"),
        ("[defaults]\nfrobnicate = 1\n", "defaults.frobnicate"),
        ('[defaults]\nmodel = "glm-5.2"\n', "defaults.model"),
        ('[defaults]\nprovider = "evolink"\n', "defaults.provider"),
        ("[defaults]\ntemperature = 2\n", "defaults.temperature"),
        ("[defaults]\ntemperature = 0.125\n", "defaults.temperature"),
        ('[defaults]\ntemperature = "hot"\n', "defaults.temperature"),
        ("[defaults]\ntop-p = 0.001\n", "defaults.top-p"),
        ("[defaults]\nmax-tokens = 0\n", "defaults.max-tokens"),
        ("[defaults]\nmax-tokens = 131073\n", "defaults.max-tokens"),
        ('[defaults]\neffort = "extreme"\n', "defaults.effort"),
        ('[defaults]\nthink = "yes"\n', "defaults.think"),
        ('[defaults]\nstream = "no"\n', "defaults.stream"),
        ('[defaults]\nuser-id = "abc"\n', "defaults.user-id"),
        (
            '[providers.local]\nurl = "http://127.0.0.1:1/v1/chat/completions"\ncolour = "x"\n',
            "providers.local.colour",
        ),
        (
            '[providers.local]\nurl = "http://127.0.0.1:1/v1/chat/completions"\n'
            'protocol = "grpc"\n',
            "providers.local.protocol",
        ),
    ],
)
def test_bad_config_key_names_the_file_and_the_key(
    glm_env: dict[str, str], service: FakeService, text: str, key: str
) -> None:
    path = write(default_config(glm_env), text)
    assert_usage_error(glm("ask", "hi"), service, str(path), key)


def test_defaults_supply_flags(glm_env: dict[str, str], service: FakeService) -> None:
    write(
        default_config(glm_env),
        "[defaults]\n"
        "temperature = 0.2\n"
        "top-p = 0.9\n"
        'effort = "high"\n'
        "think = true\n"
        "max-tokens = 100\n"
        'stop = ["END"]\n'
        "greedy = true\n"
        'user-id = "user-123456"\n'
        "stream = false\n",
    )
    result = glm("ask", "hi")
    assert result.exit_code == 0, result.stderr
    assert service.requests[0].json == {
        "model": "glm-5.2",
        "messages": [{"role": "user", "content": "hi"}],
        "stream": False,
        "temperature": 0.2,
        "top_p": 0.9,
        "reasoning_effort": "high",
        "thinking": {"type": "enabled"},
        "max_tokens": 100,
        "stop": ["END"],
        "do_sample": False,
        "user_id": "user-123456",
    }


def test_command_line_flags_beat_defaults(glm_env: dict[str, str], service: FakeService) -> None:
    write(
        default_config(glm_env),
        "[defaults]\n"
        "temperature = 0.2\n"
        'effort = "high"\n'
        "think = true\n"
        "max-tokens = 100\n"
        'stop = ["END"]\n'
        "stream = false\n",
    )
    result = glm(
        "ask",
        "--temperature",
        "0.7",
        "--effort",
        "low",
        "--max-tokens",
        "5",
        "--stop",
        "HALT",
        "--stream",
        "hi",
    )
    assert result.exit_code == 0, result.stderr
    body = service.requests[0].json
    assert body["temperature"] == 0.7
    assert body["reasoning_effort"] == "low"
    assert body["thinking"] == {"type": "enabled"}
    assert body["max_tokens"] == 5
    assert body["stop"] == ["HALT"]
    assert body["stream"] is True


@pytest.mark.parametrize(
    ("default", "flag", "kind"),
    [("true", "--no-think", "disabled"), ("false", "--think", "enabled")],
)
def test_think_flag_beats_the_think_default(
    glm_env: dict[str, str], service: FakeService, default: str, flag: str, kind: str
) -> None:
    write(default_config(glm_env), f"[defaults]\nthink = {default}\n")
    result = glm("ask", flag, "hi")
    assert result.exit_code == 0, result.stderr
    assert service.requests[0].json["thinking"] == {"type": kind}


def test_no_stream_default_beaten_by_stream_flag(
    glm_env: dict[str, str], service: FakeService
) -> None:
    write(default_config(glm_env), "[defaults]\nstream = false\n")
    assert glm("ask", "hi").exit_code == 0
    assert glm("ask", "--stream", "hi").exit_code == 0
    assert [request.json["stream"] for request in service.requests] == [False, True]
