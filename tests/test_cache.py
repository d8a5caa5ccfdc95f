"""SPEC §7.2, `--cache`: byte-identical replay in every mode with no request sent, the
canonical key, TTL, --refresh, --no-cache touching nothing, what is never stored, and a
hit that needs no key and never imports httpx."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from glm_cli.history.cache import cache_key
from glm_cli.settings.config import store_path
from tests.fake_service import FakeService, Reply, Status
from tests.helpers import Run, run_in_process

MODES = {
    "text": ["ask", "--cache", "hi"],
    "ndjson": ["ask", "--cache", "--ndjson", "hi"],
    "no-stream": ["ask", "--cache", "--no-stream", "hi"],
    "json": ["json", "--cache", "give json"],
    "json-ndjson": ["json", "--cache", "--ndjson", "give json"],
    "raw": ["raw", "--cache", "--no-stream", "hi"],
    "raw-stream": ["raw", "--cache", "--stream", "hi"],
    "chat": ["chat", "--cache", "--session", "c", "--reset", "hi"],
}


def glm(*args: str) -> Run:
    return run_in_process(list(args))


def reply() -> Reply:
    return Reply(content=['{"a": ', "1.50, ", '"b": [1, 2]}'], reasoning="r")


@pytest.mark.parametrize("mode", sorted(MODES))
def test_a_hit_replays_the_same_stdout_and_sends_nothing(
    glm_env: dict[str, str], service: FakeService, mode: str
) -> None:
    service.script(reply())
    first = glm(*MODES[mode])
    assert first.exit_code == 0, first.stderr
    assert len(service.requests) == 1
    second = glm(*MODES[mode], "--verbose")
    assert second.exit_code == 0, second.stderr
    assert second.out == first.out
    assert "(cached)" in second.stderr
    assert len(service.requests) == 1


def test_a_hit_needs_no_key_no_httpx_and_no_typer(
    glm_env: dict[str, str], service: FakeService
) -> None:
    service.script(reply())
    assert glm("ask", "--cache", "hi").exit_code == 0
    env = {k: v for k, v in glm_env.items() if k != "GLM_API_KEY"}
    code = (
        "import sys, runpy\n"
        "sys.argv = ['glm', 'ask', '--cache', 'hi']\n"
        "try:\n    runpy.run_module('glm_cli', run_name='__main__')\n"
        "except SystemExit as e:\n    assert not e.code, e.code\n"
        "assert 'httpx' not in sys.modules, 'httpx imported'\n"
        "assert 'typer' not in sys.modules, 'typer imported'\n"
    )
    run = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True)
    assert run.returncode == 0, run.stderr
    assert run.stdout == b'{"a": 1.50, "b": [1, 2]}\n'
    assert len(service.requests) == 1


def test_the_key_ignores_order_number_spelling_and_request_id() -> None:
    url = "http://x/v1/chat/completions"
    a = cache_key("openai", url, {"model": "m", "temperature": 1, "request_id": "r1"})
    b = cache_key("openai", url, {"temperature": 1.0, "model": "m", "request_id": "r2"})
    assert a == b
    assert a == cache_key("openai", url, {"model": "m", "temperature": 1e0})
    assert a != cache_key("openai", url, {"model": "m", "temperature": 0.5})
    assert a != cache_key("anthropic", url, {"model": "m", "temperature": 1})
    assert a != cache_key("openai", url + "/", {"model": "m", "temperature": 1})


def test_a_changed_parameter_or_url_misses(
    glm_env: dict[str, str], service: FakeService, tmp_path: Path
) -> None:
    service.script(Reply(), Reply(), Reply(), Reply())
    glm("ask", "--cache", "hi")
    glm("ask", "--cache", "--temperature", "0.5", "hi")
    glm("ask", "--cache", "--protocol", "anthropic", "hi")
    glm("ask", "--cache", "--base-url", service.url.replace("127.0.0.1", "localhost"), "hi")
    assert len(service.requests) == 4
    glm("ask", "--cache", "--request-id", "other-id-1", "hi")
    assert len(service.requests) == 4


def test_ttl_and_refresh(glm_env: dict[str, str], service: FakeService) -> None:
    import sqlite3

    service.script(Reply(content="old"), Reply(content="new"), Reply(content="newer"))
    assert glm("ask", "--cache", "hi").stdout == "old\n"
    db = sqlite3.connect(store_path(glm_env))
    db.execute("UPDATE cache SET time = '2000-01-01T00:00:00Z'")
    db.commit()
    db.close()
    assert glm("ask", "--cache", "hi").stdout == "old\n"  # no TTL: still a hit
    assert glm("ask", "--cache", "--cache-ttl", "1h", "hi").stdout == "new\n"
    assert glm("ask", "--cache", "--refresh", "hi").stdout == "newer\n"
    assert glm("ask", "--cache", "hi").stdout == "newer\n"
    assert len(service.requests) == 3
    assert glm("ask", "--cache", "--cache-ttl", "soon", "hi").exit_code == 2


def test_no_cache_neither_reads_nor_writes(glm_env: dict[str, str], service: FakeService) -> None:
    service.script(Reply(), Reply())
    glm("ask", "--cache", "hi")
    path = store_path(glm_env)
    before = {p.name: p.read_bytes() for p in path.parent.iterdir()}
    assert glm("ask", "--no-cache", "--no-log", "hi").exit_code == 0
    assert {p.name: p.read_bytes() for p in path.parent.iterdir()} == before
    assert len(service.requests) == 2


@pytest.mark.parametrize("how", ["env", "config"])
def test_cache_from_env_or_config(
    glm_env: dict[str, str], service: FakeService, monkeypatch: pytest.MonkeyPatch, how: str
) -> None:
    if how == "env":
        monkeypatch.setenv("GLM_CACHE", "1")
    else:
        config = Path(glm_env["XDG_CONFIG_HOME"]) / "glm" / "config.toml"
        config.parent.mkdir(parents=True)
        config.write_text("cache = true\n")
    service.script(Reply())
    glm("ask", "hi")
    glm("ask", "hi")
    assert len(service.requests) == 1
    glm("ask", "--no-cache", "hi")
    assert len(service.requests) == 2


@pytest.mark.parametrize(
    "step",
    [
        Status(500),
        Reply(finish_reason="sensitive", content_filter=[{"role": "assistant", "level": 1}]),
        Reply(content=["partial ", "answer"], truncate_before_finish=True),
        Reply(finish_reason="length"),
    ],
    ids=["error", "filtered", "interrupted", "length"],
)
def test_failures_filtered_and_cut_answers_are_never_cached(
    glm_env: dict[str, str], service: FakeService, step: Any
) -> None:
    service.script(step, step, step, Reply(content="good"))
    glm("ask", "--cache", "--retries", "0", "hi")
    sent = len(service.requests)
    glm("ask", "--cache", "--retries", "0", "hi")
    assert len(service.requests) == sent + 1


def test_invalid_json_is_not_cached(glm_env: dict[str, str], service: FakeService) -> None:
    service.script(Reply(content="not json"), Reply(content="[1]"))
    assert glm("json", "--cache", "j").exit_code == 6
    assert glm("json", "--cache", "j").stdout == "[1]\n"
    assert len(service.requests) == 2


def test_a_tool_loop_that_ran_a_command_is_not_cached(
    glm_env: dict[str, str], service: FakeService, tmp_path: Path
) -> None:
    tool = tmp_path / "t.json"
    tool.write_text(
        '{"type": "function", "function": {"name": "f", "parameters": '
        '{"type": "object", "properties": {}}}}'
    )
    call = {"id": "c1", "name": "f", "arguments": "{}"}
    service.script(
        Reply(content="", tool_calls=[call], finish_reason="tool_calls"),
        Reply(content="done"),
        Reply(content="", tool_calls=[call], finish_reason="tool_calls"),
        Reply(content="done"),
    )
    args = ["ask", "--cache", "--tool", str(tool), "--tool-cmd", "f=true", "hi"]
    assert glm(*args).exit_code == 0
    assert glm(*args).exit_code == 0
    assert len(service.requests) == 4
