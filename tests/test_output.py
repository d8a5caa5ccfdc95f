"""SPEC §1.3, output of `glm ask`: text, reasoning, NDJSON, usage, sources, tool calls,
finish reasons, failures and `--dry-run`, the same whichever protocol and whether or not
the request streamed.

glm runs in process with its own stdout and stderr (an `Env` of byte buffers), so what
it writes is never mixed with anything else the process prints.
"""

from __future__ import annotations

import json
import os
import re
from typing import Any

import pytest

from tests.fake_service import FakeService, RawResponse, Reply, Status
from tests.helpers import SECRET, Run, ask, assert_one_error, run_in_process, warnings

PROTOCOLS = ["openai", "anthropic"]
STREAMS = ["--stream", "--no-stream"]
ESCAPE = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")
DONE_KEYS = {"type", "finish_reason", "stop_sequence", "usage", "id", "model", "request_id"}
USAGE_KEYS = {
    "prompt_tokens",
    "completion_tokens",
    "reasoning_tokens",
    "cached_tokens",
    "total_tokens",
}
ERROR_KEYS = {"type", "exit_code", "message", "status", "code"}


def lines(text: str) -> list[dict[str, Any]]:
    assert text.endswith("\n") or text == "", repr(text)
    return [json.loads(line) for line in text.splitlines()]


def normalize(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Consecutive content (or reasoning) lines joined into one line."""
    out: list[dict[str, Any]] = []
    for record in records:
        kind = record.get("type")
        if kind in ("content", "reasoning") and out and out[-1].get("type") == kind:
            out[-1] = {**out[-1], "text": out[-1]["text"] + record["text"]}
        else:
            out.append(dict(record))
    return out


def shape(records: list[dict[str, Any]]) -> list[tuple[str, frozenset[str]]]:
    return [(record["type"], frozenset(record)) for record in records]


def wire_path(protocol: str) -> str:
    return "/v1/messages" if protocol == "anthropic" else "/v1/chat/completions"


# --- text mode --------------------------------------------------------------------------


@pytest.mark.parametrize("protocol", PROTOCOLS)
@pytest.mark.parametrize("stream", STREAMS)
@pytest.mark.parametrize(
    ("content", "expected"),
    [
        ("a\n", "a\n"),
        ("a", "a\n"),
        ("", ""),
        (["Hel", "lo, ", "wor", "ld"], "Hello, world\n"),
        ("two\nlines\n", "two\nlines\n"),
        ("ends in two\n\n", "ends in two\n\n"),
    ],
)
def test_text_prints_only_the_content_with_one_final_newline(
    glm_env: dict[str, str],
    service: FakeService,
    protocol: str,
    stream: str,
    content: str | list[str],
    expected: str,
) -> None:
    service.script(Reply(content=content, reasoning="a secret chain of thought"))
    result = ask(stream, protocol=protocol)
    assert result.exit_code == 0, result.stderr
    assert result.stdout == expected
    assert result.stderr == ""
    assert len(service.requests) == 1
    assert service.requests[0].path == wire_path(protocol)


@pytest.mark.parametrize("protocol", PROTOCOLS)
@pytest.mark.parametrize("stream", STREAMS)
def test_unicode_content_is_written_as_utf8(
    glm_env: dict[str, str], service: FakeService, protocol: str, stream: str
) -> None:
    service.script(Reply(content="héllo — 世界 🙂", chunk_size=1))
    result = ask(stream, protocol=protocol)
    assert result.exit_code == 0, result.stderr
    assert result.stdout == "héllo — 世界 🙂\n"


@pytest.mark.parametrize("protocol", PROTOCOLS)
@pytest.mark.parametrize("stream", STREAMS)
def test_reasoning_never_reaches_stdout(
    glm_env: dict[str, str], service: FakeService, protocol: str, stream: str
) -> None:
    service.script(Reply(content="The answer.", reasoning="HIDDEN-REASONING-TEXT"))
    result = ask(stream, protocol=protocol)
    assert result.exit_code == 0, result.stderr
    assert result.stdout == "The answer.\n"
    assert "HIDDEN" not in result.stdout
    assert "HIDDEN" not in result.stderr


@pytest.mark.parametrize("protocol", PROTOCOLS)
@pytest.mark.parametrize("stream", STREAMS)
def test_show_thinking_writes_plain_reasoning_to_stderr_off_a_terminal(
    glm_env: dict[str, str], service: FakeService, protocol: str, stream: str
) -> None:
    service.script(Reply(content="The answer.", reasoning="Weighing the options carefully."))
    result = ask(stream, "--show-thinking", protocol=protocol)
    assert result.exit_code == 0, result.stderr
    assert result.stdout == "The answer.\n"
    assert "Weighing the options carefully." in result.stderr
    assert "\x1b" not in result.stderr
    assert "Weighing" not in result.stdout


@pytest.mark.parametrize("protocol", PROTOCOLS)
@pytest.mark.parametrize("stream", STREAMS)
def test_show_thinking_is_dim_on_a_terminal(
    glm_env: dict[str, str], service: FakeService, protocol: str, stream: str
) -> None:
    service.script(Reply(content="The answer.", reasoning="Weighing the options carefully."))
    environ = {**os.environ, "TERM": "xterm-256color"}
    result = ask(stream, "--show-thinking", protocol=protocol, stderr_tty=True, environ=environ)
    assert result.exit_code == 0, result.stderr
    assert result.stdout == "The answer.\n"
    assert "\x1b[2m" in result.stderr
    assert "Weighing the options carefully." in ESCAPE.sub("", result.stderr)
    assert "\x1b" not in result.stdout


@pytest.mark.parametrize("protocol", PROTOCOLS)
@pytest.mark.parametrize("stream", STREAMS)
def test_show_thinking_has_no_escape_codes_with_no_color(
    glm_env: dict[str, str], service: FakeService, protocol: str, stream: str
) -> None:
    service.script(Reply(content="The answer.", reasoning="Weighing the options carefully."))
    environ = {**os.environ, "TERM": "xterm-256color", "NO_COLOR": "1"}
    result = ask(stream, "--show-thinking", protocol=protocol, stderr_tty=True, environ=environ)
    assert result.exit_code == 0, result.stderr
    assert "Weighing the options carefully." in result.stderr
    assert "\x1b" not in result.stderr


@pytest.mark.parametrize("stream", STREAMS)
def test_show_thinking_without_reasoning_leaves_stderr_empty(
    glm_env: dict[str, str], service: FakeService, stream: str
) -> None:
    service.script(Reply(content="Just this.", reasoning=None))
    result = ask(stream, "--show-thinking", protocol="openai")
    assert result.exit_code == 0, result.stderr
    assert result.stdout == "Just this.\n"
    assert result.stderr.strip() == ""


# --- NDJSON -----------------------------------------------------------------------------

TOOL_REPLY = Reply(
    content=["Let me ", "check the ", "weather."],
    reasoning=["The user ", "wants weather."],
    tool_calls=[
        {
            "id": "call_weather_1",
            "name": "get_weather",
            "arguments": '{"city": "Paris", "days": 3}',
        },
        {"id": "call_time_2", "name": "get_time", "arguments": '{"tz": "Europe/Paris"}'},
    ],
    finish_reason="tool_calls",
    id="resp-fixed-id",
    model="glm-5.2",
)

EXPECTED_TOOL_LINES: list[dict[str, Any]] = [
    {"type": "reasoning", "text": "The user wants weather."},
    {"type": "content", "text": "Let me check the weather."},
    {
        "type": "tool_call",
        "id": "call_weather_1",
        "name": "get_weather",
        "arguments": {"city": "Paris", "days": 3},
    },
    {
        "type": "tool_call",
        "id": "call_time_2",
        "name": "get_time",
        "arguments": {"tz": "Europe/Paris"},
    },
]


@pytest.mark.parametrize("protocol", PROTOCOLS)
@pytest.mark.parametrize("stream", STREAMS)
def test_ndjson_lines_for_reasoning_content_tool_calls_and_done(
    glm_env: dict[str, str], service: FakeService, protocol: str, stream: str
) -> None:
    service.script(TOOL_REPLY)
    result = ask(stream, "--ndjson", protocol=protocol)
    assert result.exit_code == 0, result.stderr
    assert result.stderr == ""
    records = normalize(lines(result.stdout))
    assert records[:-1] == EXPECTED_TOOL_LINES
    done = records[-1]
    assert set(done) == DONE_KEYS
    assert done["type"] == "done"
    assert done["finish_reason"] == "tool_calls"
    assert done["stop_sequence"] is None
    assert done["id"] == "resp-fixed-id"
    assert done["model"] == "glm-5.2"
    assert set(done["usage"]) == USAGE_KEYS
    assert done["usage"]["prompt_tokens"] == 12
    assert done["usage"]["completion_tokens"] == 34
    assert done["usage"]["cached_tokens"] == 2
    assert done["usage"]["total_tokens"] == 46


def test_ndjson_is_the_same_whatever_the_protocol_and_streaming(
    glm_env: dict[str, str], service: FakeService
) -> None:
    """Same kinds of line, same keys, same joined text in all four combinations."""
    outputs: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for protocol in PROTOCOLS:
        for stream in STREAMS:
            service.script(TOOL_REPLY)
            result = ask(stream, "--ndjson", protocol=protocol)
            assert result.exit_code == 0, (protocol, stream, result.stderr)
            outputs[protocol, stream] = normalize(lines(result.stdout))
    reference = outputs["openai", "--no-stream"]
    for combination, records in outputs.items():
        assert shape(records) == shape(reference), combination
        assert [r for r in records if r["type"] != "done"] == [
            r for r in reference if r["type"] != "done"
        ], combination
        assert set(records[-1]["usage"]) == USAGE_KEYS, combination
        assert records[-1]["finish_reason"] == "tool_calls", combination


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_ndjson_done_is_the_same_streamed_or_not(
    glm_env: dict[str, str], service: FakeService, protocol: str
) -> None:
    dones = []
    for stream in STREAMS:
        service.script(Reply(content="ok", id="same-id-123"))
        result = ask(stream, "--ndjson", protocol=protocol)
        assert result.exit_code == 0, result.stderr
        dones.append(lines(result.stdout)[-1])
    assert dones[0] == dones[1]


@pytest.mark.parametrize("protocol", PROTOCOLS)
@pytest.mark.parametrize("stream", STREAMS)
def test_ndjson_content_lines_join_to_the_answer(
    glm_env: dict[str, str], service: FakeService, protocol: str, stream: str
) -> None:
    text = "A longer answer, cut into many small pieces when streamed.\nSecond line."
    service.script(Reply(content=text, chunk_size=5))
    result = ask(stream, "--ndjson", protocol=protocol)
    assert result.exit_code == 0, result.stderr
    records = lines(result.stdout)
    assert "".join(r["text"] for r in records if r["type"] == "content") == text
    assert {r["type"] for r in records} <= {"reasoning", "content", "done"}
    assert records[-1]["type"] == "done"
    if stream == "--stream":
        assert sum(r["type"] == "content" for r in records) > 1


@pytest.mark.parametrize("stream", STREAMS)
@pytest.mark.parametrize(
    ("arguments", "expected"),
    [
        ("{not json", "{not json"),
        ('{"a": ', '{"a": '),
        ("", ""),
        ("[1, 2]", [1, 2]),
        ('"text"', "text"),
    ],
)
def test_ndjson_tool_call_arguments_kept_as_a_string_when_not_json(
    glm_env: dict[str, str], service: FakeService, stream: str, arguments: str, expected: Any
) -> None:
    service.script(
        Reply(
            content="",
            tool_calls=[{"id": "call_1", "name": "f", "arguments": arguments}],
            finish_reason="tool_calls",
        )
    )
    result = ask(stream, "--ndjson", protocol="openai")
    assert result.exit_code == 0, result.stderr
    calls = [r for r in lines(result.stdout) if r["type"] == "tool_call"]
    assert calls == [{"type": "tool_call", "id": "call_1", "name": "f", "arguments": expected}]


SEARCH_RESULTS = [
    {
        "icon": "https://example.com/icon.png",
        "title": "Paris weather today",
        "link": "https://weather.example.com/paris",
        "media": "Example Weather",
        "publish_date": "2026-01-02",
        "content": "Sunny, 21 degrees.",
        "refer": "ref_1",
    },
    {
        "icon": "",
        "title": "Second source",
        "link": "https://news.example.org/item/2",
        "media": "News",
        "publish_date": "2026-01-01",
        "content": "More.",
        "refer": "ref_2",
    },
]


@pytest.mark.parametrize("stream", STREAMS)
def test_ndjson_web_search_line(glm_env: dict[str, str], service: FakeService, stream: str) -> None:
    service.script(Reply(content="Sunny.", web_search=SEARCH_RESULTS))
    result = ask(stream, "--ndjson", protocol="openai")
    assert result.exit_code == 0, result.stderr
    records = lines(result.stdout)
    searches = [r for r in records if r["type"] == "web_search"]
    assert searches == [{"type": "web_search", "results": SEARCH_RESULTS}]
    assert records[-1]["type"] == "done"


@pytest.mark.parametrize("protocol", PROTOCOLS)
@pytest.mark.parametrize("stream", STREAMS)
def test_ndjson_done_has_nulls_for_what_the_service_did_not_give(
    glm_env: dict[str, str], service: FakeService, protocol: str, stream: str
) -> None:
    service.script(Reply(content="ok", usage=None))
    result = ask(stream, "--ndjson", protocol=protocol)
    assert result.exit_code == 0, result.stderr
    done = lines(result.stdout)[-1]
    assert set(done) == DONE_KEYS
    assert done["usage"] == dict.fromkeys(USAGE_KEYS)
    assert done["stop_sequence"] is None
    assert done["request_id"] is None
    assert done["finish_reason"] == "stop"
    assert isinstance(done["id"], str)
    assert done["model"] == "glm-5.2"


@pytest.mark.parametrize("stream", STREAMS)
def test_ndjson_done_carries_the_request_id_and_reasoning_tokens(
    glm_env: dict[str, str], service: FakeService, stream: str
) -> None:
    service.script(Reply(content="ok", request_id="req-from-service-42"))
    result = ask(stream, "--ndjson", protocol="openai")
    assert result.exit_code == 0, result.stderr
    done = lines(result.stdout)[-1]
    assert done["request_id"] == "req-from-service-42"
    assert done["usage"] == {
        "prompt_tokens": 12,
        "completion_tokens": 34,
        "reasoning_tokens": 5,
        "cached_tokens": 2,
        "total_tokens": 46,
    }


# --- usage and sources ------------------------------------------------------------------

USAGE = {
    "prompt_tokens": 101,
    "completion_tokens": 202,
    "reasoning_tokens": 33,
    "cached_tokens": 44,
    "total_tokens": 303,
}


@pytest.mark.parametrize("protocol", PROTOCOLS)
@pytest.mark.parametrize("stream", STREAMS)
def test_usage_goes_to_stderr(
    glm_env: dict[str, str], service: FakeService, protocol: str, stream: str
) -> None:
    service.script(Reply(content="Answer.", usage=USAGE))
    result = ask(stream, "--usage", protocol=protocol)
    assert result.exit_code == 0, result.stderr
    assert result.stdout == "Answer.\n"
    for name, value in (("prompt", 101), ("completion", 202), ("cached", 44), ("total", 303)):
        assert re.search(rf"{name}\D*{value}\b", result.stderr), (name, result.stderr)
    if protocol == "openai":
        assert re.search(r"reasoning\D*33\b", result.stderr), result.stderr
    assert "glm: error" not in result.stderr


@pytest.mark.parametrize("stream", STREAMS)
def test_sources_print_title_and_link_on_stderr_after_the_answer(
    glm_env: dict[str, str], service: FakeService, stream: str
) -> None:
    service.script(Reply(content="It is sunny in Paris.", web_search=SEARCH_RESULTS))
    result = ask(stream, "--sources", protocol="openai", shared=True)
    assert result.exit_code == 0, result.stdout
    answer = result.stdout.index("It is sunny in Paris.\n")
    for source in SEARCH_RESULTS:
        assert source["title"] in result.stdout
        assert source["link"] in result.stdout
        assert result.stdout.index(source["title"]) > answer
        assert result.stdout.index(source["link"]) > answer


@pytest.mark.parametrize("stream", STREAMS)
def test_sources_stay_off_stdout(
    glm_env: dict[str, str], service: FakeService, stream: str
) -> None:
    service.script(Reply(content="It is sunny in Paris.", web_search=SEARCH_RESULTS))
    result = ask(stream, "--sources", protocol="openai")
    assert result.exit_code == 0, result.stderr
    assert result.stdout == "It is sunny in Paris.\n"
    assert "Paris weather today" in result.stderr
    assert "https://weather.example.com/paris" in result.stderr


@pytest.mark.parametrize("stream", STREAMS)
def test_no_sources_without_the_flag(
    glm_env: dict[str, str], service: FakeService, stream: str
) -> None:
    service.script(Reply(content="It is sunny in Paris.", web_search=SEARCH_RESULTS))
    result = ask(stream, protocol="openai")
    assert result.exit_code == 0, result.stderr
    assert result.stdout == "It is sunny in Paris.\n"
    assert result.stderr == ""


def _chunk(delta: dict[str, Any], **extra: Any) -> bytes:
    body = {
        "id": "c-1",
        "object": "chat.completion.chunk",
        "created": 1,
        "model": "glm-5.2",
        "choices": [{"index": 0, "delta": delta, **extra.pop("choice", {})}],
        **extra,
    }
    return b"data: " + json.dumps(body).encode() + b"\n\n"


def test_sources_arriving_in_the_last_chunk_of_a_stream(
    glm_env: dict[str, str], service: FakeService
) -> None:
    stream = (
        _chunk({"role": "assistant", "content": "Sunny"})
        + _chunk({"content": " today."})
        + _chunk({}, choice={"finish_reason": "stop"}, web_search=SEARCH_RESULTS[:1])
        + b"data: [DONE]\n\n"
    )
    service.script(RawResponse(body=stream, content_type="text/event-stream"))
    result = ask("--stream", "--sources", protocol="openai")
    assert result.exit_code == 0, result.stderr
    assert result.stdout == "Sunny today.\n"
    assert "Paris weather today" in result.stderr
    assert "https://weather.example.com/paris" in result.stderr


# --- tool calls in text mode ------------------------------------------------------------


@pytest.mark.parametrize("protocol", PROTOCOLS)
@pytest.mark.parametrize("stream", STREAMS)
def test_text_mode_tool_calls_are_json_lines_after_the_text(
    glm_env: dict[str, str], service: FakeService, protocol: str, stream: str
) -> None:
    service.script(TOOL_REPLY)
    result = ask(stream, protocol=protocol)
    assert result.exit_code == 0, result.stderr
    text, *calls = result.stdout.splitlines()
    assert text == "Let me check the weather."
    assert result.stdout.endswith("\n")
    objects = [json.loads(line) for line in calls]
    assert [set(o) for o in objects] == [{"id", "name", "arguments"}] * 2
    assert [(o["id"], o["name"]) for o in objects] == [
        ("call_weather_1", "get_weather"),
        ("call_time_2", "get_time"),
    ]
    arguments = [
        json.loads(o["arguments"]) if isinstance(o["arguments"], str) else o["arguments"]
        for o in objects
    ]
    assert arguments == [{"city": "Paris", "days": 3}, {"tz": "Europe/Paris"}]
    assert result.stderr == ""


@pytest.mark.parametrize("protocol", PROTOCOLS)
@pytest.mark.parametrize("stream", STREAMS)
def test_text_mode_tool_call_without_text_prints_only_the_call(
    glm_env: dict[str, str], service: FakeService, protocol: str, stream: str
) -> None:
    service.script(
        Reply(
            content="",
            tool_calls=[{"id": "call_x", "name": "lookup", "arguments": '{"q": "glm"}'}],
            finish_reason="tool_calls",
        )
    )
    result = ask(stream, protocol=protocol)
    assert result.exit_code == 0, result.stderr
    output = result.stdout.splitlines()
    assert len(output) == 1
    call = json.loads(output[0])
    assert (call["id"], call["name"]) == ("call_x", "lookup")


# --- finish reasons ---------------------------------------------------------------------


@pytest.mark.parametrize("protocol", PROTOCOLS)
@pytest.mark.parametrize("stream", STREAMS)
def test_finish_reason_length_warns_and_exits_0(
    glm_env: dict[str, str], service: FakeService, protocol: str, stream: str
) -> None:
    service.script(Reply(content="Cut off mid", finish_reason="length"))
    result = ask(stream, protocol=protocol)
    assert result.exit_code == 0, result.stderr
    assert result.stdout == "Cut off mid\n"
    assert len(warnings(result.stderr)) == 1, result.stderr
    assert "glm: error" not in result.stderr


@pytest.mark.parametrize("stream", STREAMS)
def test_finish_reason_length_warning_silenced_by_quiet(
    glm_env: dict[str, str], service: FakeService, stream: str
) -> None:
    service.script(Reply(content="Cut off mid", finish_reason="length"))
    result = ask(stream, "--quiet", protocol="openai")
    assert result.exit_code == 0, result.stderr
    assert result.stdout == "Cut off mid\n"
    assert result.stderr == ""


@pytest.mark.parametrize("stream", STREAMS)
@pytest.mark.parametrize("reason", ["sensitive", "content_filter"])
def test_filtered_answer_exits_6_naming_role_and_level(
    glm_env: dict[str, str], service: FakeService, stream: str, reason: str
) -> None:
    service.script(
        Reply(
            content="partial",
            finish_reason=reason,
            content_filter=[{"role": "assistant", "level": 2}],
        )
    )
    result = ask(stream, protocol="openai")
    assert result.exit_code == 6, result.stderr
    line = assert_one_error(result.stderr, "assistant")
    assert re.search(r"level\W*2\b", line), line
    assert len(service.requests) == 1


@pytest.mark.parametrize("stream", STREAMS)
def test_network_error_finish_exits_5(
    glm_env: dict[str, str], service: FakeService, stream: str
) -> None:
    service.script(Reply(content="partial", finish_reason="network_error"))
    result = ask(stream, protocol="openai")
    assert result.exit_code == 5, result.stderr
    assert_one_error(result.stderr)


@pytest.mark.parametrize("stream", STREAMS)
def test_content_filter_on_a_normal_answer_is_ignored(
    glm_env: dict[str, str], service: FakeService, stream: str
) -> None:
    service.script(
        Reply(
            content="A fine answer.",
            content_filter=[{"role": "user", "level": 3}, {"role": "assistant", "level": 3}],
        )
    )
    result = ask(stream, protocol="openai")
    assert result.exit_code == 0, result.stderr
    assert result.stdout == "A fine answer.\n"
    assert result.stderr == ""


@pytest.mark.parametrize("stream", STREAMS)
def test_unknown_finish_reason_passes_through(
    glm_env: dict[str, str], service: FakeService, stream: str
) -> None:
    service.script(Reply(content="ok", finish_reason="model_context_window_exceeded"))
    result = ask(stream, "--ndjson", protocol="openai")
    assert lines(result.stdout)[-1]["finish_reason"] == "model_context_window_exceeded"


# --- failures in NDJSON -----------------------------------------------------------------


def assert_error_line(result: Run, exit_code: int) -> dict[str, Any]:
    assert result.exit_code == exit_code, result.stderr
    records = lines(result.stdout)
    last = records[-1]
    assert last["type"] == "error"
    assert set(last) == ERROR_KEYS
    assert last["exit_code"] == exit_code
    assert isinstance(last["message"], str) and last["message"]
    assert all(record["type"] != "error" for record in records[:-1])
    assert_one_error(result.stderr)
    return last


@pytest.mark.parametrize("stream", STREAMS)
def test_ndjson_filtered_answer_ends_with_an_error_line(
    glm_env: dict[str, str], service: FakeService, stream: str
) -> None:
    service.script(
        Reply(
            content="partial",
            finish_reason="sensitive",
            content_filter=[{"role": "assistant", "level": 1}],
        )
    )
    result = ask(stream, "--ndjson", protocol="openai")
    assert_error_line(result, 6)


@pytest.mark.parametrize("stream", STREAMS)
def test_ndjson_network_error_ends_with_an_error_line(
    glm_env: dict[str, str], service: FakeService, stream: str
) -> None:
    service.script(Reply(content="partial", finish_reason="network_error"))
    result = ask(stream, "--ndjson", protocol="openai")
    assert_error_line(result, 5)


@pytest.mark.parametrize("protocol", PROTOCOLS)
@pytest.mark.parametrize("stream", STREAMS)
def test_ndjson_http_error_is_an_error_line(
    glm_env: dict[str, str], service: FakeService, protocol: str, stream: str
) -> None:
    service.script(Status(401))
    result = ask(stream, "--ndjson", protocol=protocol)
    error = assert_error_line(result, 3)
    assert error["status"] == 401
    assert error["code"] == "1001"
    assert len(service.requests) == 1


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_ndjson_truncated_stream_ends_with_an_error_line(
    glm_env: dict[str, str], service: FakeService, protocol: str
) -> None:
    service.script(Reply(content="partial answer", truncate_before_finish=True))
    result = ask("--stream", "--ndjson", "--retries", "0", protocol=protocol)
    assert_error_line(result, 5)
    assert any(r["type"] == "content" for r in lines(result.stdout))


@pytest.mark.parametrize("protocol", PROTOCOLS)
@pytest.mark.parametrize("stream", STREAMS)
def test_text_mode_failure_keeps_stdout_clean(
    glm_env: dict[str, str], service: FakeService, protocol: str, stream: str
) -> None:
    service.script(Status(400))
    result = ask(stream, protocol=protocol)
    assert result.exit_code == 2, result.stderr
    assert result.stdout == ""
    assert_one_error(result.stderr, "400")


# --- dry run ----------------------------------------------------------------------------


@pytest.mark.parametrize("protocol", PROTOCOLS)
@pytest.mark.parametrize("stream", STREAMS)
def test_dry_run_prints_the_request_and_sends_nothing(
    glm_env: dict[str, str], service: FakeService, protocol: str, stream: str
) -> None:
    result = ask(
        stream, "--dry-run", "--temperature", "0.3", protocol=protocol, prompt="dry question"
    )
    assert result.exit_code == 0, result.stderr
    assert service.requests == []
    assert SECRET not in result.stdout + result.stderr
    document = json.loads(result.stdout)
    assert set(document) == {"method", "url", "headers", "body"}
    assert document["method"] == "POST"
    assert document["url"] == service.url + wire_path(protocol)
    headers = {name.lower(): value for name, value in document["headers"].items()}
    assert headers["authorization"] == "Bearer ***"
    assert headers["content-type"].startswith("application/json")
    body = document["body"]
    assert body["model"] == "glm-5.2"
    assert body["temperature"] == 0.3
    assert body["stream"] is (stream == "--stream")
    assert body["messages"][-1]["role"] == "user"
    assert "dry question" in json.dumps(body["messages"][-1])


def test_dry_run_without_a_key_has_no_authorization(
    glm_env: dict[str, str], service: FakeService, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("GLM_API_KEY")
    result = run_in_process(["ask", "--dry-run", "hi"])
    assert result.exit_code == 0, result.stderr
    assert service.requests == []
    headers = {name.lower() for name in json.loads(result.stdout)["headers"]}
    assert "authorization" not in headers
