"""SPEC §2.1 and api/002: the Anthropic protocol, `/v1/messages`.

Request encoding (system, max_tokens, sampling, stop sequences, thinking, what has no
field), response decoding (blocks, stop reasons, stop sequences), the stream (pings,
unknown blocks and events, tool input fragments, endings, `error` events) and errors.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.fake_service import FakeService, RawResponse, Reply, Status, anthropic_error
from tests.helpers import SECRET, ask, assert_one_error, run_in_process, sent_body, warnings

STREAMS = ["--stream", "--no-stream"]
BASE_KEYS = {"model", "messages", "max_tokens", "stream"}
MESSAGES = "/v1/messages"  # the path of every request here


def ndjson(text: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in text.splitlines()]


def joined(records: list[dict[str, Any]], kind: str) -> str:
    return "".join(r["text"] for r in records if r["type"] == kind)


def sse(*events: dict[str, Any]) -> bytes:
    """An Anthropic event stream: each event named by its data's `type`."""
    return b"".join(
        f"event: {event['type']}\ndata: {json.dumps(event)}\n\n".encode() for event in events
    )


MESSAGE_START = {
    "type": "message_start",
    "message": {
        "id": "msg_hand_1",
        "type": "message",
        "role": "assistant",
        "model": "glm-5.2",
        "content": [],
        "stop_reason": None,
        "usage": {"input_tokens": 5, "output_tokens": 1},
    },
}


def text_block(index: int, *pieces: str) -> list[dict[str, Any]]:
    return [
        {
            "type": "content_block_start",
            "index": index,
            "content_block": {"type": "text", "text": ""},
        },
        *(
            {
                "type": "content_block_delta",
                "index": index,
                "delta": {"type": "text_delta", "text": piece},
            }
            for piece in pieces
        ),
        {"type": "content_block_stop", "index": index},
    ]


def message_end(stop_reason: str = "end_turn", stop: bool = True) -> list[dict[str, Any]]:
    end: list[dict[str, Any]] = [
        {
            "type": "message_delta",
            "delta": {"stop_reason": stop_reason},
            "usage": {"output_tokens": 9},
        },
    ]
    return [*end, {"type": "message_stop"}] if stop else end


def stream_reply(*events: dict[str, Any]) -> RawResponse:
    return RawResponse(body=sse(*events), content_type="text/event-stream")


# --- request encoding -------------------------------------------------------------------


def test_plain_request_has_only_the_required_fields(
    glm_env: dict[str, str], service: FakeService
) -> None:
    result = ask(protocol="anthropic")
    assert result.exit_code == 0, result.stderr
    body = sent_body(service, MESSAGES)
    assert set(body) == BASE_KEYS
    assert body["model"] == "glm-5.2"
    assert body["max_tokens"] == 8192
    assert body["stream"] is True
    assert [m["role"] for m in body["messages"]] == ["user"]
    headers = service.requests[0].headers
    assert headers["Authorization"] == f"Bearer {SECRET}"
    assert headers["Content-Type"].startswith("application/json")


def test_system_goes_top_level(glm_env: dict[str, str], service: FakeService) -> None:
    result = ask("--system", "You are terse.", protocol="anthropic", prompt="What is 2+2?")
    assert result.exit_code == 0, result.stderr
    body = sent_body(service, MESSAGES)
    assert body["system"] == "You are terse."
    [message] = body["messages"]
    assert message["role"] == "user"
    content = message["content"]
    text = content if isinstance(content, str) else "".join(b["text"] for b in content)
    assert text == "What is 2+2?"
    assert "You are terse." not in json.dumps(body["messages"])


@pytest.mark.parametrize("value", ["1", "100", "131072"])
def test_max_tokens_set(glm_env: dict[str, str], service: FakeService, value: str) -> None:
    result = ask("--max-tokens", value, protocol="anthropic")
    assert result.exit_code == 0, result.stderr
    body = sent_body(service, MESSAGES)
    assert body["max_tokens"] == int(value)
    assert set(body) == BASE_KEYS


@pytest.mark.parametrize(
    ("flags", "field", "value"),
    [
        (["--temperature", "0.3"], "temperature", 0.3),
        (["--temperature", "0"], "temperature", 0),
        (["--temperature", "1"], "temperature", 1),
        (["--top-p", "0.5"], "top_p", 0.5),
        (["--top-p", "0"], "top_p", 0),
        (["--top-p", "1"], "top_p", 1),
        (["--top-k", "10"], "top_k", 10),
        (["--top-k", "0"], "top_k", 0),
    ],
)
def test_sampling_fields(
    glm_env: dict[str, str], service: FakeService, flags: list[str], field: str, value: float
) -> None:
    result = ask(*flags, protocol="anthropic")
    assert result.exit_code == 0, result.stderr
    body = sent_body(service, MESSAGES)
    assert set(body) == BASE_KEYS | {field}
    assert body[field] == value
    assert not isinstance(body[field], bool)
    if field == "top_k":
        assert isinstance(body[field], int)


def test_top_p_zero_is_refused_on_openai_only(
    glm_env: dict[str, str], service: FakeService
) -> None:
    """The control for `--top-p 0` above: the same flag is a usage error on OpenAI."""
    result = run_in_process(["ask", "--protocol", "openai", "--top-p", "0", "hi"])
    assert result.exit_code == 2, result.stderr
    assert_one_error(result.stderr, "--top-p")
    assert service.requests == []


@pytest.mark.parametrize("value", ["-1", "1.5", "x"])
def test_bad_top_k_is_a_usage_error(
    glm_env: dict[str, str], service: FakeService, value: str
) -> None:
    result = ask("--top-k", value, protocol="anthropic")
    assert result.exit_code == 2, result.stderr
    assert_one_error(result.stderr, "--top-k")
    assert service.requests == []


@pytest.mark.parametrize("stops", [["END"], ["END", "\n\nHuman:"]])
def test_stop_becomes_stop_sequences(
    glm_env: dict[str, str], service: FakeService, stops: list[str]
) -> None:
    flags = [part for stop in stops for part in ("--stop", stop)]
    result = ask(*flags, protocol="anthropic")
    assert result.exit_code == 0, result.stderr
    body = sent_body(service, MESSAGES)
    assert body["stop_sequences"] == stops
    assert "stop" not in body
    assert set(body) == BASE_KEYS | {"stop_sequences"}


@pytest.mark.parametrize(
    ("flags", "thinking"),
    [
        (["--think"], {"type": "enabled"}),
        (["--no-think"], {"type": "disabled"}),
        (["--effort", "none"], {"type": "disabled"}),
        (["--effort", "minimal"], {"type": "disabled"}),
        (["--no-think", "--effort", "none"], {"type": "disabled"}),
    ],
)
def test_thinking_toggle(
    glm_env: dict[str, str], service: FakeService, flags: list[str], thinking: dict[str, str]
) -> None:
    result = ask(*flags, protocol="anthropic")
    assert result.exit_code == 0, result.stderr
    body = sent_body(service, MESSAGES)
    assert body["thinking"] == thinking
    assert set(body) == BASE_KEYS | {"thinking"}
    assert result.stderr == ""


@pytest.mark.parametrize("effort", ["high", "max", "xhigh", "medium", "low"])
def test_other_efforts_warn_and_send_nothing(
    glm_env: dict[str, str], service: FakeService, effort: str
) -> None:
    result = ask("--effort", effort, protocol="anthropic")
    assert result.exit_code == 0, result.stderr
    body = sent_body(service, MESSAGES)
    assert set(body) == BASE_KEYS
    assert len(warnings(result.stderr)) == 1, result.stderr
    assert "effort" in warnings(result.stderr)[0]


@pytest.mark.parametrize(
    ("flags", "name"),
    [(["--greedy"], "greedy"), (["--request-id", "req-123456-abc"], "request-id")],
)
def test_flags_without_a_field_warn_and_send_nothing(
    glm_env: dict[str, str], service: FakeService, flags: list[str], name: str
) -> None:
    result = ask(*flags, protocol="anthropic")
    assert result.exit_code == 0, result.stderr
    body = sent_body(service, MESSAGES)
    assert set(body) == BASE_KEYS
    assert "req-123456-abc" not in json.dumps(body)
    lines = warnings(result.stderr)
    assert len(lines) == 1, result.stderr
    assert name in lines[0]


def test_warnings_silenced_by_quiet(glm_env: dict[str, str], service: FakeService) -> None:
    result = ask("--quiet", "--greedy", "--effort", "high", protocol="anthropic")
    assert result.exit_code == 0, result.stderr
    assert set(sent_body(service, MESSAGES)) == BASE_KEYS
    assert result.stderr == ""


def test_user_id_goes_to_metadata(glm_env: dict[str, str], service: FakeService) -> None:
    result = ask("--user-id", "user-123456", protocol="anthropic")
    assert result.exit_code == 0, result.stderr
    body = sent_body(service, MESSAGES)
    assert body["metadata"] == {"user_id": "user-123456"}
    assert "user_id" not in body
    assert set(body) == BASE_KEYS | {"metadata"}


@pytest.mark.parametrize("stream", STREAMS)
def test_stream_flag(glm_env: dict[str, str], service: FakeService, stream: str) -> None:
    result = ask(stream, protocol="anthropic")
    assert result.exit_code == 0, result.stderr
    assert sent_body(service, MESSAGES)["stream"] is (stream == "--stream")


# --- response decoding ------------------------------------------------------------------


@pytest.mark.parametrize("stream", STREAMS)
def test_thinking_text_and_tool_use_blocks(
    glm_env: dict[str, str], service: FakeService, stream: str
) -> None:
    service.script(
        Reply(
            reasoning="Need the weather.",
            content="Checking.",
            tool_calls=[{"id": "toolu_01", "name": "get_weather", "arguments": '{"city": "Oslo"}'}],
            finish_reason="tool_calls",
        )
    )
    result = ask(stream, "--ndjson", protocol="anthropic")
    assert result.exit_code == 0, result.stderr
    records = ndjson(result.stdout)
    assert joined(records, "reasoning") == "Need the weather."
    assert joined(records, "content") == "Checking."
    calls = [r for r in records if r["type"] == "tool_call"]
    assert calls == [
        {
            "type": "tool_call",
            "id": "toolu_01",
            "name": "get_weather",
            "arguments": {"city": "Oslo"},
        }
    ]
    assert records[-1]["type"] == "done"
    assert records[-1]["finish_reason"] == "tool_calls"


@pytest.mark.parametrize("stream", STREAMS)
def test_text_mode_prints_only_the_text_block(
    glm_env: dict[str, str], service: FakeService, stream: str
) -> None:
    service.script(Reply(reasoning="thinking hard", content="The answer is 4."))
    result = ask(stream, protocol="anthropic")
    assert result.exit_code == 0, result.stderr
    assert result.stdout == "The answer is 4.\n"
    assert result.stderr == ""


@pytest.mark.parametrize("stream", STREAMS)
@pytest.mark.parametrize(
    ("stop_reason", "finish_reason"),
    [("end_turn", "stop"), ("max_tokens", "length"), ("tool_use", "tool_calls")],
)
def test_stop_reasons_become_neutral_finish_reasons(
    glm_env: dict[str, str],
    service: FakeService,
    stream: str,
    stop_reason: str,
    finish_reason: str,
) -> None:
    service.script(Reply(content="text", anthropic_stop_reason=stop_reason))
    result = ask(stream, "--ndjson", protocol="anthropic")
    assert result.exit_code == 0, result.stderr
    done = ndjson(result.stdout)[-1]
    assert done["type"] == "done"
    assert done["finish_reason"] == finish_reason
    assert done["stop_sequence"] is None
    if finish_reason == "length":
        assert len(warnings(result.stderr)) == 1
    else:
        assert result.stderr == ""


@pytest.mark.parametrize("stream", STREAMS)
def test_done_has_id_model_and_usage(
    glm_env: dict[str, str], service: FakeService, stream: str
) -> None:
    service.script(
        Reply(
            content="x",
            id="msg_abc",
            model="glm-5.2-served",
            usage={"prompt_tokens": 7, "completion_tokens": 11, "cached_tokens": 3},
        )
    )
    result = ask(stream, "--ndjson", protocol="anthropic")
    assert result.exit_code == 0, result.stderr
    done = ndjson(result.stdout)[-1]
    assert done["id"] == "msg_abc"
    assert done["model"] == "glm-5.2-served"
    assert done["usage"]["prompt_tokens"] == 7
    assert done["usage"]["completion_tokens"] == 11
    assert done["usage"]["cached_tokens"] == 3


@pytest.mark.parametrize("stream", STREAMS)
@pytest.mark.parametrize("stop_reason", ["stop_sequence", "end_turn"])
def test_a_stop_sequence_sent_by_the_server_is_kept(
    glm_env: dict[str, str], service: FakeService, stream: str, stop_reason: str
) -> None:
    service.script(
        Reply(content="one two", stop_sequence="THREE", anthropic_stop_reason=stop_reason)
    )
    result = ask(stream, "--ndjson", "--stop", "THREE", protocol="anthropic")
    assert result.exit_code == 0, result.stderr
    done = ndjson(result.stdout)[-1]
    assert done["finish_reason"] == "stop"
    assert done["stop_sequence"] == "THREE"


@pytest.mark.parametrize("stream", STREAMS)
def test_no_stop_sequence_is_invented(
    glm_env: dict[str, str], service: FakeService, stream: str
) -> None:
    """GLM reports a hit stop sequence as a plain end_turn with no stop_sequence field."""
    service.script(Reply(content="one two", anthropic_stop_reason="end_turn"))
    result = ask(stream, "--ndjson", "--stop", "THREE", protocol="anthropic")
    assert result.exit_code == 0, result.stderr
    assert sent_body(service, MESSAGES)["stop_sequences"] == ["THREE"]
    done = ndjson(result.stdout)[-1]
    assert done["finish_reason"] == "stop"
    assert done["stop_sequence"] is None


def test_unknown_block_types_skipped_in_a_whole_message(
    glm_env: dict[str, str], service: FakeService
) -> None:
    body = {
        "id": "msg_1",
        "type": "message",
        "role": "assistant",
        "model": "glm-5.2",
        "content": [
            {"type": "redacted_thinking", "data": "opaque"},
            {"type": "text", "text": "Visible."},
            {"type": "server_tool_use", "id": "srv_1", "name": "x", "input": {}},
        ],
        "stop_reason": "end_turn",
        "usage": {"input_tokens": 1, "output_tokens": 2},
    }
    service.script(RawResponse(body=json.dumps(body).encode()))
    result = ask("--no-stream", "--ndjson", protocol="anthropic")
    assert result.exit_code == 0, result.stderr
    records = ndjson(result.stdout)
    assert [r["type"] for r in records] == ["content", "done"]
    assert records[0]["text"] == "Visible."


# --- streaming --------------------------------------------------------------------------


def test_pings_are_ignored(glm_env: dict[str, str], service: FakeService) -> None:
    service.script(Reply(content=["Pinged ", "but ", "fine."], ping=True))
    result = ask("--stream", "--ndjson", protocol="anthropic")
    assert result.exit_code == 0, result.stderr
    records = ndjson(result.stdout)
    assert joined(records, "content") == "Pinged but fine."
    assert {r["type"] for r in records} == {"reasoning", "content", "done"}


def test_unknown_blocks_and_events_in_a_stream_are_skipped(
    glm_env: dict[str, str], service: FakeService
) -> None:
    service.script(
        stream_reply(
            MESSAGE_START,
            {"type": "ping"},
            {
                "type": "content_block_start",
                "index": 0,
                "content_block": {"type": "redacted_thinking", "data": "opaque"},
            },
            {
                "type": "content_block_delta",
                "index": 0,
                "delta": {"type": "mystery_delta", "stuff": "ignored"},
            },
            {"type": "content_block_stop", "index": 0},
            {"type": "some_future_event", "payload": {"x": 1}},
            *text_block(1, "Still ", "here."),
            *message_end(),
        )
    )
    result = ask("--stream", "--ndjson", protocol="anthropic")
    assert result.exit_code == 0, result.stderr
    records = ndjson(result.stdout)
    assert [r["type"] for r in records] == ["content", "content", "done"]
    assert joined(records, "content") == "Still here."
    assert "opaque" not in result.stdout


def test_signature_delta_is_ignored(glm_env: dict[str, str], service: FakeService) -> None:
    service.script(
        stream_reply(
            MESSAGE_START,
            {
                "type": "content_block_start",
                "index": 0,
                "content_block": {"type": "thinking", "thinking": "", "signature": ""},
            },
            {
                "type": "content_block_delta",
                "index": 0,
                "delta": {"type": "thinking_delta", "thinking": "Hmm."},
            },
            {
                "type": "content_block_delta",
                "index": 0,
                "delta": {"type": "signature_delta", "signature": "SIGNATURE-BLOB-123"},
            },
            {"type": "content_block_stop", "index": 0},
            *text_block(1, "Done."),
            *message_end(),
        )
    )
    result = ask("--stream", "--ndjson", protocol="anthropic")
    assert result.exit_code == 0, result.stderr
    records = ndjson(result.stdout)
    assert [r["type"] for r in records] == ["reasoning", "content", "done"]
    assert "SIGNATURE-BLOB-123" not in result.stdout + result.stderr


@pytest.mark.parametrize("chunk_size", [1, 3, 7])
def test_input_json_delta_fragments_make_one_tool_call(
    glm_env: dict[str, str], service: FakeService, chunk_size: int
) -> None:
    arguments = '{"city": "São Paulo", "days": 3, "units": ["C", "F"]}'
    service.script(
        Reply(
            content="",
            reasoning=None,
            tool_calls=[{"id": "toolu_frag", "name": "forecast", "arguments": arguments}],
            finish_reason="tool_calls",
            chunk_size=chunk_size,
        )
    )
    result = ask("--stream", "--ndjson", protocol="anthropic")
    assert result.exit_code == 0, result.stderr
    calls = [r for r in ndjson(result.stdout) if r["type"] == "tool_call"]
    assert calls == [
        {
            "type": "tool_call",
            "id": "toolu_frag",
            "name": "forecast",
            "arguments": json.loads(arguments),
        }
    ]


def test_two_streamed_tool_calls_stay_apart(glm_env: dict[str, str], service: FakeService) -> None:
    service.script(
        Reply(
            content="",
            reasoning=None,
            chunk_size=2,
            finish_reason="tool_calls",
            tool_calls=[
                {"id": "toolu_a", "name": "first", "arguments": '{"n": 1}'},
                {"id": "toolu_b", "name": "second", "arguments": '{"n": 2}'},
            ],
        )
    )
    result = ask("--stream", protocol="anthropic")
    assert result.exit_code == 0, result.stderr
    calls = [json.loads(line) for line in result.stdout.splitlines()]
    assert [(c["id"], c["name"]) for c in calls] == [("toolu_a", "first"), ("toolu_b", "second")]
    assert [
        json.loads(c["arguments"]) if isinstance(c["arguments"], str) else c["arguments"]
        for c in calls
    ] == [{"n": 1}, {"n": 2}]


def test_message_delta_then_close_without_message_stop_is_a_success(
    glm_env: dict[str, str], service: FakeService
) -> None:
    service.script(Reply(content="Complete answer.", omit_done=True))
    result = ask("--stream", protocol="anthropic")
    assert result.exit_code == 0, result.stderr
    assert result.stdout == "Complete answer.\n"
    assert result.stderr == ""


def test_hand_made_stream_without_message_stop_is_a_success(
    glm_env: dict[str, str], service: FakeService
) -> None:
    service.script(stream_reply(MESSAGE_START, *text_block(0, "ok"), *message_end(stop=False)))
    result = ask("--stream", "--ndjson", protocol="anthropic")
    assert result.exit_code == 0, result.stderr
    assert ndjson(result.stdout)[-1]["finish_reason"] == "stop"


def test_stream_ending_before_a_stop_reason_exits_5(
    glm_env: dict[str, str], service: FakeService
) -> None:
    service.script(Reply(content="Cut short", truncate_before_finish=True))
    result = ask("--stream", "--retries", "0", protocol="anthropic")
    assert result.exit_code == 5, result.stderr
    assert_one_error(result.stderr)


def test_message_delta_without_stop_reason_is_not_an_end(
    glm_env: dict[str, str], service: FakeService
) -> None:
    service.script(
        stream_reply(
            MESSAGE_START,
            *text_block(0, "partial"),
            {"type": "message_delta", "delta": {}, "usage": {"output_tokens": 3}},
        )
    )
    result = ask("--stream", "--retries", "0", protocol="anthropic")
    assert result.exit_code == 5, result.stderr
    assert_one_error(result.stderr)


@pytest.mark.parametrize(
    ("kind", "exit_code"),
    [
        ("rate_limit_error", 4),
        ("authentication_error", 3),
        ("permission_error", 3),
        ("invalid_request_error", 2),
        ("overloaded_error", 5),
        ("api_error", 5),
        ("something_new_error", 5),
    ],
)
def test_error_event_exits_by_its_type(
    glm_env: dict[str, str], service: FakeService, kind: str, exit_code: int
) -> None:
    service.script(
        Reply(
            content=["Some ", "text"],
            error_after=4,
            error={"type": kind, "message": f"stream says {kind}"},
        )
    )
    result = ask("--stream", "--retries", "0", protocol="anthropic")
    assert result.exit_code == exit_code, result.stderr
    assert_one_error(result.stderr, f"stream says {kind}")


def test_error_event_in_ndjson_ends_with_an_error_line(
    glm_env: dict[str, str], service: FakeService
) -> None:
    service.script(
        Reply(
            content="x",
            error_after=2,
            error={"type": "rate_limit_error", "message": "slow down"},
        )
    )
    result = ask("--stream", "--ndjson", "--retries", "0", protocol="anthropic")
    assert result.exit_code == 4, result.stderr
    last = ndjson(result.stdout)[-1]
    assert last["type"] == "error"
    assert last["exit_code"] == 4


# --- errors -----------------------------------------------------------------------------


@pytest.mark.parametrize("stream", STREAMS)
@pytest.mark.parametrize(
    ("status", "kind", "exit_code"),
    [
        (400, "invalid_request_error", 2),
        (401, "authentication_error", 3),
        (403, "permission_error", 3),
        (404, "not_found_error", 2),
    ],
)
def test_error_body_is_one_line_with_the_message(
    glm_env: dict[str, str],
    service: FakeService,
    stream: str,
    status: int,
    kind: str,
    exit_code: int,
) -> None:
    message = f"the service explains {kind}"
    service.script(Status(status, body=anthropic_error(kind, message, request_id="req_srv_77")))
    result = ask(stream, protocol="anthropic")
    assert result.exit_code == exit_code, result.stderr
    assert result.stdout == ""
    line = assert_one_error(result.stderr, message, str(status))
    assert "req_srv_77" in line
    assert SECRET not in result.stderr
    assert len(service.requests) == 1


@pytest.mark.parametrize("stream", STREAMS)
def test_balance_exhausted_429_exits_4_without_retry(
    glm_env: dict[str, str], service: FakeService, stream: str
) -> None:
    body = anthropic_error("rate_limit_error", "Insufficient balance", code="1113")
    service.script(Status(429, body=body), Status(429, body=body), Status(429, body=body))
    result = ask(stream, protocol="anthropic")
    assert result.exit_code == 4, result.stderr
    assert_one_error(result.stderr, "Insufficient balance", "1113")
    assert len(service.requests) == 1
