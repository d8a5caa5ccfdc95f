"""What the service documents say that users trip on (issue 14): reasoning tokens and
`--max-tokens`, messages the service refuses, the effort the service applies, and
GLM-5.2's output ceiling kept to GLM-5.2."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import orjson
import pytest

from glm_cli.core import service_rules
from tests.config_helpers import default_config, write
from tests.fake_service import FakeService, Reply
from tests.helpers import (
    Run,
    ask,
    assert_usage_error,
    request_body,
    run_in_process,
    sent_body,
    warnings,
)

PROTOCOLS = ["openai", "anthropic"]
STREAMS = ["--stream", "--no-stream"]


def json_file(path: Path, value: Any) -> str:
    path.write_text(json.dumps(value))
    return str(path)


def jsonl_file(path: Path, values: list[Any]) -> str:
    path.write_bytes(b"".join(orjson.dumps(value) + b"\n" for value in values))
    return str(path)


def dry_run_body(run: Run) -> dict[str, Any]:
    assert run.exit_code == 0, run.stderr
    body = json.loads(run.out)["body"]
    assert isinstance(body, dict)
    return body


# --- reasoning tokens count toward max_tokens -------------------------------------------


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_max_tokens_below_1024_with_thinking_on_warns(
    glm_env: dict[str, str], service: FakeService, protocol: str
) -> None:
    run = ask("--max-tokens", "1023", protocol=protocol)
    assert run.exit_code == 0, run.stderr
    found = warnings(run.stderr)
    assert len(found) == 1, run.stderr
    assert "--max-tokens 1023" in found[0] and "1024" in found[0] and "--no-think" in found[0]
    assert sent_body(service)["max_tokens"] == 1023


@pytest.mark.parametrize(
    "flags",
    [
        ["--max-tokens", "1024"],
        ["--max-tokens", "1023", "--no-think"],
        ["--max-tokens", "1023", "--effort", "none"],
        ["--max-tokens", "1023", "--effort", "minimal"],
        ["--max-tokens", "1023", "--quiet"],
        [],
    ],
    ids=["1024", "no-think", "effort-none", "effort-minimal", "quiet", "not-set"],
)
def test_no_max_tokens_warning(
    glm_env: dict[str, str], service: FakeService, flags: list[str]
) -> None:
    run = ask(*flags, protocol="openai")
    assert run.exit_code == 0, run.stderr
    assert warnings(run.stderr) == []


def test_max_tokens_from_defaults_warns_naming_the_key(
    glm_env: dict[str, str], service: FakeService
) -> None:
    path = write(default_config(glm_env), "[defaults]\nmax-tokens = 512\n")
    run = ask(protocol="openai")
    assert run.exit_code == 0, run.stderr
    (found,) = warnings(run.stderr)
    assert f"{path}: defaults.max-tokens 512" in found


def test_max_tokens_from_defaults_with_think_false_in_defaults_is_quiet(
    glm_env: dict[str, str], service: FakeService
) -> None:
    write(default_config(glm_env), "[defaults]\nmax-tokens = 512\nthink = false\n")
    run = ask(protocol="openai")
    assert run.exit_code == 0, run.stderr
    assert warnings(run.stderr) == []


def test_batch_warns_once_for_the_command_line_max_tokens(
    glm_env: dict[str, str], service: FakeService, tmp_path: Path
) -> None:
    path = jsonl_file(tmp_path / "in.jsonl", ["a", "b", "c"])
    run = run_in_process(["batch", "--max-tokens", "100", path])
    assert run.exit_code == 0, run.stderr
    assert len(warnings(run.stderr)) == 1, run.stderr


@pytest.mark.parametrize("protocol", PROTOCOLS)
@pytest.mark.parametrize("stream", STREAMS)
def test_length_with_only_reasoning_says_it_was_cut_off_while_thinking(
    glm_env: dict[str, str], service: FakeService, protocol: str, stream: str
) -> None:
    service.script(Reply(content="", reasoning="Let me think about this", finish_reason="length"))
    run = ask(stream, protocol=protocol)
    assert run.exit_code == 0, run.stderr  # the exit of a `length` finish, as before
    assert run.stdout == ""
    (found,) = warnings(run.stderr)
    assert "still thinking" in found
    assert "--max-tokens" in found and "--no-think" in found


def test_length_with_content_keeps_the_plain_warning(
    glm_env: dict[str, str], service: FakeService
) -> None:
    service.script(Reply(content="Cut off mid", finish_reason="length"))
    run = ask(protocol="openai")
    assert run.exit_code == 0, run.stderr
    (found,) = warnings(run.stderr)
    assert "cut off at the token limit" in found and "still thinking" not in found


def test_length_with_only_reasoning_in_ndjson_warns_too(
    glm_env: dict[str, str], service: FakeService
) -> None:
    service.script(Reply(content="", reasoning="hmm", finish_reason="length"))
    run = ask("--ndjson", protocol="openai")
    assert run.exit_code == 0, run.stderr
    assert "still thinking" in run.stderr
    assert json.loads(run.out.splitlines()[-1])["finish_reason"] == "length"


# --- messages the service refuses, checked offline --------------------------------------

ONLY_SYSTEM_AND_ASSISTANT = [
    {"role": "system", "content": "Be terse."},
    {"role": "assistant", "content": "Hello."},
]


@pytest.mark.parametrize(
    "messages",
    [ONLY_SYSTEM_AND_ASSISTANT, [{"role": "assistant", "content": "x"}], []],
    ids=["system-assistant", "assistant", "empty"],
)
def test_raw_body_with_messages_the_service_refuses_is_a_usage_error(
    glm_env: dict[str, str], service: FakeService, tmp_path: Path, messages: list[Any]
) -> None:
    body = json_file(tmp_path / "body.json", {"model": "glm-5.2", "messages": messages})
    run = run_in_process(["raw", "--body", body])
    assert_usage_error(run, service, "--body", "messages")


def test_raw_body_with_a_prompt_adds_the_user_message_and_is_sent(
    glm_env: dict[str, str], service: FakeService, tmp_path: Path
) -> None:
    given = {"model": "glm-5.2", "messages": ONLY_SYSTEM_AND_ASSISTANT}
    run = run_in_process(["raw", "--body", json_file(tmp_path / "body.json", given), "go on"])
    assert run.exit_code == 0, run.stderr
    assert sent_body(service)["messages"][-1] == {"role": "user", "content": "go on"}


def test_the_messages_rule_passes_a_tool_message_and_what_is_not_a_list() -> None:
    assert service_rules.messages_problem([{"role": "tool", "content": "42"}]) is None
    assert service_rules.messages_problem("not a list") is None


def test_batch_messages_line_of_only_system_and_assistant_is_a_bad_line(
    glm_env: dict[str, str], service: FakeService, tmp_path: Path
) -> None:
    lines = [
        {"id": "bad", "messages": ONLY_SYSTEM_AND_ASSISTANT},
        {"id": "good", "messages": [{"role": "user", "content": "hi"}]},
        {
            "custom_id": "bad-openai",
            "body": {"model": "glm-5.2", "messages": [{"role": "system", "content": "s"}]},
        },
    ]
    run = run_in_process(["batch", jsonl_file(tmp_path / "in.jsonl", lines)])
    assert run.exit_code == 7, run.stderr
    records = {r["id"]: r for r in map(orjson.loads, run.out.splitlines())}
    for bad in ("bad", "bad-openai"):
        error = records[bad]["error"]
        assert error["exit_code"] == 2 and "only system and assistant" in error["message"]
    assert records["good"]["error"] is None
    assert len(service.requests) == 1
    assert request_body(service)["messages"] == [{"role": "user", "content": "hi"}]


def test_batch_strict_refuses_such_a_line_before_sending(
    glm_env: dict[str, str], service: FakeService, tmp_path: Path
) -> None:
    path = jsonl_file(tmp_path / "in.jsonl", ["fine", {"messages": ONLY_SYSTEM_AND_ASSISTANT}])
    run = run_in_process(["batch", "--strict", path])
    assert_usage_error(run, service, "line 2", "only system and assistant")


def test_chat_file_of_only_system_and_assistant_without_a_prompt_sends_nothing(
    glm_env: dict[str, str], service: FakeService, tmp_path: Path
) -> None:
    path = jsonl_file(tmp_path / "talk.jsonl", ONLY_SYSTEM_AND_ASSISTANT)
    run = run_in_process(["chat", "--file", path])
    assert_usage_error(run, service, "prompt")


def test_chat_file_of_only_system_and_assistant_with_a_prompt_sends_a_user_message(
    glm_env: dict[str, str], service: FakeService, tmp_path: Path
) -> None:
    path = jsonl_file(tmp_path / "talk.jsonl", ONLY_SYSTEM_AND_ASSISTANT)
    run = run_in_process(["chat", "--file", path, "hi"])
    assert run.exit_code == 0, run.stderr
    messages = sent_body(service)["messages"]
    assert messages[-1] == {"role": "user", "content": "hi"}
    assert service_rules.messages_problem(messages) is None


# --- the effort the service applies, under --verbose ------------------------------------


DEFAULT_EFFORT = "max (the service's default; reasoning_effort not sent)"


@pytest.mark.parametrize(
    ("flags", "expected"),
    [
        ([], DEFAULT_EFFORT),
        (["--think"], DEFAULT_EFFORT),
        (["--effort", "max"], "max (sent as reasoning_effort max)"),
        (["--effort", "xhigh"], "xhigh (sent as reasoning_effort xhigh; the service applies max)"),
        (["--effort", "high"], "high (sent as reasoning_effort high)"),
        (
            ["--effort", "medium"],
            "medium (sent as reasoning_effort medium; the service applies high)",
        ),
        (["--effort", "low"], "low (sent as reasoning_effort low; the service applies high)"),
        (["--effort", "minimal"], "none, thinking off (sent as reasoning_effort minimal)"),
        (["--effort", "none"], "none, thinking off (sent as reasoning_effort none)"),
        (["--no-think"], "none, thinking off (sent as thinking disabled)"),
        (
            ["--no-think", "--effort", "none"],
            "none, thinking off (sent as thinking disabled and reasoning_effort none)",
        ),
    ],
)
def test_verbose_says_the_effort_the_service_applies(
    glm_env: dict[str, str], service: FakeService, flags: list[str], expected: str
) -> None:
    run = ask("--verbose", *flags, protocol="openai")
    assert run.exit_code == 0, run.stderr
    lines = [line for line in run.stderr.splitlines() if line.startswith("glm: effort:")]
    assert len(lines) == 1, run.stderr
    assert lines == [f"glm: effort: {expected}"]


def test_verbose_effort_on_the_anthropic_protocol(
    glm_env: dict[str, str], service: FakeService
) -> None:
    run = ask("--verbose", "--effort", "high", protocol="anthropic")
    assert run.exit_code == 0, run.stderr
    assert "glm: effort: thinking on; the anthropic protocol has no effort levels" in run.stderr
    run = ask("--verbose", "--effort", "none", protocol="anthropic")
    assert "glm: effort: none, thinking off (sent as thinking disabled)\n" in run.stderr


def test_no_effort_line_without_verbose(glm_env: dict[str, str], service: FakeService) -> None:
    run = ask("--effort", "xhigh", protocol="openai")
    assert run.exit_code == 0, run.stderr
    assert "effort" not in run.stderr


# --- GLM-5.2's ceiling is GLM-5.2's --------------------------------------------------------


@pytest.mark.parametrize("model", ["glm-4.6", "glm-4.5", "GLM-4.6"])
def test_other_models_max_tokens_pass_through(
    glm_env: dict[str, str], service: FakeService, model: str
) -> None:
    run = run_in_process(["ask", "-m", model, "--max-tokens", "200000", "--dry-run", "hi"])
    assert dry_run_body(run)["max_tokens"] == 200000
    assert service.requests == []


@pytest.mark.parametrize("model", ["glm-5.2", "GLM-5.2", "glm-5.2-0617", "MaaS_GLM_5.2_20260617"])
def test_glm_5_2_max_tokens_above_its_ceiling_is_a_usage_error(
    glm_env: dict[str, str], service: FakeService, model: str
) -> None:
    run = run_in_process(["ask", "-m", model, "--max-tokens", "131073", "hi"])
    assert_usage_error(run, service, "--max-tokens", "131073", "131072")


def test_glm_5_2_ceiling_itself_is_allowed(glm_env: dict[str, str], service: FakeService) -> None:
    run = run_in_process(["ask", "--max-tokens", "131072", "--dry-run", "hi"])
    assert dry_run_body(run)["max_tokens"] == 131072


def test_defaults_max_tokens_above_the_ceiling_passes_for_another_model(
    glm_env: dict[str, str], service: FakeService
) -> None:
    write(default_config(glm_env), 'model = "glm-4.6"\n[defaults]\nmax-tokens = 200000\n')
    assert dry_run_body(run_in_process(["ask", "--dry-run", "hi"]))["max_tokens"] == 200000


def test_batch_line_model_decides_the_ceiling(
    glm_env: dict[str, str], service: FakeService, tmp_path: Path
) -> None:
    lines = [
        {"id": 1, "prompt": "a", "model": "glm-4.6", "max_tokens": 200000},
        {"id": 2, "prompt": "b", "max_tokens": 200000},
    ]
    run = run_in_process(["batch", "--dry-run", jsonl_file(tmp_path / "in.jsonl", lines)])
    out = [orjson.loads(line) for line in run.out.splitlines()]
    assert out[0]["body"]["max_tokens"] == 200000
    assert "131072" in out[1]["error"]["message"]
    assert service.requests == []


def test_raw_body_model_decides_the_ceiling(
    glm_env: dict[str, str], service: FakeService, tmp_path: Path
) -> None:
    given = {"model": "glm-4.6", "messages": [{"role": "user", "content": "x"}]}
    body = json_file(tmp_path / "body.json", given)
    run = run_in_process(["raw", "--body", body, "--max-tokens", "200000", "--dry-run"])
    assert dry_run_body(run)["max_tokens"] == 200000


@pytest.mark.parametrize(
    ("model", "is_5_2"),
    [
        ("glm-5.2", True),
        ("GLM-5.2", True),
        ("glm-5.2-0617", True),
        ("MaaS_GLM_5.2_20260617", True),
        ("glm-5.20", False),
        ("glm-5.1", False),
        ("glm-4.6", False),
        ("my-glm-5.2x", False),
    ],
)
def test_which_models_are_glm_5_2(model: str, is_5_2: bool) -> None:
    assert service_rules.is_glm_5_2(model) is is_5_2
