"""SPEC §1.3, `glm raw`: the wire format as received, HTTP error bodies, and `--body`."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.fake_service import FakeService, RawResponse, Reply, Status, anthropic_error
from tests.helpers import Run, assert_one_error, request_body, run_in_process

PROTOCOLS = ["openai", "anthropic"]

OPENAI_BODY = (
    b'{"id":"chatcmpl-raw-1",  "object":"chat.completion","created":1700000000,'
    b'"model":"glm-5.2","choices":[{"index":0,"message":{"role":"assistant",'
    b'"content":"caf\\u00e9 \xe2\x80\x94 ok","reasoning_content":"hmm"},'
    b'"finish_reason":"stop"}],\n "usage":{"prompt_tokens":3,"completion_tokens":4,'
    b'"total_tokens":7}, "extra_field": [1.10, 2e3]}'
)
ANTHROPIC_BODY = (
    b'{"id": "msg_raw_1", "type": "message", "role": "assistant", "model": "glm-5.2",'
    b' "content": [{"type": "thinking", "thinking": "hmm", "signature": ""},'
    b' {"type": "text", "text": "caf\\u00e9"}], "stop_reason": "end_turn",'
    b' "usage": {"input_tokens": 3, "output_tokens": 4}}'
)
RAW_BODIES = {"openai": OPENAI_BODY, "anthropic": ANTHROPIC_BODY}


def raw(protocol: str, *flags: str, stdin: bytes = b"") -> Run:
    return run_in_process(["raw", "--protocol", protocol, *flags], stdin=stdin)


def body_file(tmp_path: Path, body: Any, name: str = "body.json") -> str:
    path = tmp_path / name
    path.write_bytes(body if isinstance(body, bytes) else json.dumps(body).encode())
    return str(path)


def sse(*payloads: bytes, done: bool = True) -> bytes:
    data = b"".join(b"data: " + payload + b"\n\n" for payload in payloads)
    return data + (b"data: [DONE]\n\n" if done else b"")


# --- non-streaming ----------------------------------------------------------------------


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_non_streaming_body_printed_exactly_plus_a_newline(
    glm_env: dict[str, str], service: FakeService, protocol: str
) -> None:
    service.script(RawResponse(body=RAW_BODIES[protocol]))
    result = raw(protocol, "--no-stream", "hi")
    assert result.exit_code == 0, result.stderr
    assert result.out == RAW_BODIES[protocol] + b"\n"
    assert result.stderr == ""


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_non_streaming_body_ending_in_a_newline_is_not_given_another(
    glm_env: dict[str, str], service: FakeService, protocol: str
) -> None:
    service.script(RawResponse(body=RAW_BODIES[protocol] + b"\n"))
    result = raw(protocol, "--no-stream", "hi")
    assert result.exit_code == 0, result.stderr
    assert result.out == RAW_BODIES[protocol] + b"\n"


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_non_streaming_reply_is_the_service_json(
    glm_env: dict[str, str], service: FakeService, protocol: str
) -> None:
    service.script(Reply(content="Hello raw."))
    result = raw(protocol, "--no-stream", "hi")
    assert result.exit_code == 0, result.stderr
    assert result.out.count(b"\n") == 1
    document = json.loads(result.out)
    if protocol == "openai":
        assert document["choices"][0]["message"]["content"] == "Hello raw."
    else:
        assert {"type": "text", "text": "Hello raw."} in document["content"]


# --- streaming --------------------------------------------------------------------------


def test_openai_stream_prints_each_data_payload_without_done(
    glm_env: dict[str, str], service: FakeService
) -> None:
    payloads = [
        b'{"id":"c1","choices":[{"index":0,"delta":{"role":"assistant","content":"Hel"}}]}',
        b'{"id":"c1",  "choices":[{"index":0,"delta":{"content":"lo"}}]}',
        b'{"id":"c1","choices":[{"index":0,"delta":{},"finish_reason":"stop"}],'
        b'"usage":{"prompt_tokens":1,"completion_tokens":2,"total_tokens":3}}',
    ]
    stream = b": keep-alive\n\n" + sse(*payloads)
    service.script(RawResponse(body=stream, content_type="text/event-stream"))
    result = raw("openai", "--stream", "hi")
    assert result.exit_code == 0, result.stderr
    assert result.out == b"".join(payload + b"\n" for payload in payloads)
    assert b"[DONE]" not in result.out


def test_openai_stream_from_a_reply_is_one_json_line_per_chunk(
    glm_env: dict[str, str], service: FakeService
) -> None:
    service.script(Reply(content=["Hel", "lo"], reasoning=None))
    result = raw("openai", "--stream", "hi")
    assert result.exit_code == 0, result.stderr
    chunks = [json.loads(line) for line in result.out.splitlines()]
    assert len(chunks) == 3
    assert "".join(c["choices"][0]["delta"].get("content", "") for c in chunks) == "Hello"
    assert chunks[-1]["choices"][0]["finish_reason"] == "stop"
    assert b"[DONE]" not in result.out


def test_anthropic_stream_prints_each_event_data_with_its_type(
    glm_env: dict[str, str], service: FakeService
) -> None:
    service.script(Reply(content=["Hel", "lo"], reasoning="hm"))
    result = raw("anthropic", "--stream", "hi")
    assert result.exit_code == 0, result.stderr
    events = [json.loads(line) for line in result.out.splitlines()]
    types = [event["type"] for event in events]
    assert types[0] == "message_start"
    assert types[-2:] == ["message_delta", "message_stop"]
    assert types.count("content_block_start") == 2
    texts = [
        event["delta"]["text"]
        for event in events
        if event["type"] == "content_block_delta" and event["delta"]["type"] == "text_delta"
    ]
    assert "".join(texts) == "Hello"
    assert not any(line.startswith((b"event:", b"data:")) for line in result.out.splitlines())


def test_anthropic_stream_printed_exactly(glm_env: dict[str, str], service: FakeService) -> None:
    events = [
        (
            b"message_start",
            b'{"type":"message_start","message":{"id":"msg_1","type":"message",'
            b'"role":"assistant","model":"glm-5.2","content":[],"stop_reason":null,'
            b'"usage":{"input_tokens":3,"output_tokens":1}}}',
        ),
        (
            b"content_block_start",
            b'{"type":"content_block_start","index":0,"content_block":{"type":"text","text":""}}',
        ),
        (
            b"content_block_delta",
            b'{"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"Hi"}}',
        ),
        (b"content_block_stop", b'{"type":"content_block_stop","index":0}'),
        (
            b"message_delta",
            b'{"type":"message_delta","delta":{"stop_reason":"end_turn"},'
            b'"usage":{"output_tokens":2}}',
        ),
        (b"message_stop", b'{"type":"message_stop"}'),
    ]
    stream = b"".join(b"event: " + name + b"\ndata: " + data + b"\n\n" for name, data in events)
    service.script(RawResponse(body=stream, content_type="text/event-stream"))
    result = raw("anthropic", "--stream", "hi")
    assert result.exit_code == 0, result.stderr
    assert result.out == b"".join(data + b"\n" for _, data in events)


# --- HTTP errors ------------------------------------------------------------------------


@pytest.mark.parametrize("protocol", PROTOCOLS)
@pytest.mark.parametrize("stream", ["--stream", "--no-stream"])
@pytest.mark.parametrize(("status", "code", "exit_code"), [(401, "1001", 3), (400, "1214", 2)])
def test_http_error_body_on_stdout_and_error_line_on_stderr(
    glm_env: dict[str, str],
    service: FakeService,
    protocol: str,
    stream: str,
    status: int,
    code: str,
    exit_code: int,
) -> None:
    body = (
        b'{"error": {"code": "' + code.encode() + b'", "message": "Nope, says the service"}}'
        if protocol == "openai"
        else json.dumps(
            anthropic_error(
                "authentication_error" if status == 401 else "invalid_request_error",
                "Nope, says the service",
                code,
                "req_err_1",
            )
        ).encode()
    )
    service.script(Status(status, body=body))
    result = raw(protocol, stream, "hi")
    assert result.exit_code == exit_code, result.stderr
    assert result.out == body + b"\n"
    assert_one_error(result.stderr, str(status), "Nope, says the service")
    assert len(service.requests) == 1


def test_non_json_http_error_body_printed_as_is(
    glm_env: dict[str, str], service: FakeService
) -> None:
    service.script(Status(404, body=b"<html>not here</html>\n", content_type="text/html"))
    result = raw("openai", "--no-stream", "hi")
    assert result.exit_code == 2, result.stderr
    assert result.out == b"<html>not here</html>\n"
    assert_one_error(result.stderr, "404")


# --- --body -----------------------------------------------------------------------------

OPENAI_REQUEST: dict[str, Any] = {
    "model": "glm-5.2",
    "messages": [{"role": "user", "content": "from the body"}],
    "temperature": 0.9,
    "max_tokens": 77,
}


def test_body_file_is_sent_as_is(
    glm_env: dict[str, str], service: FakeService, tmp_path: Path
) -> None:
    service.script(RawResponse(body=OPENAI_BODY))
    result = raw("openai", "--body", body_file(tmp_path, OPENAI_REQUEST))
    assert result.exit_code == 0, result.stderr
    assert request_body(service) == OPENAI_REQUEST
    assert "stream" not in request_body(service)
    assert result.out == OPENAI_BODY + b"\n"


def test_flags_override_body_fields(
    glm_env: dict[str, str], service: FakeService, tmp_path: Path
) -> None:
    service.script(Reply())
    result = raw(
        "openai",
        "--body",
        body_file(tmp_path, OPENAI_REQUEST),
        "--temperature",
        "0.3",
        "--model",
        "glm-other",
    )
    assert result.exit_code == 0, result.stderr
    assert request_body(service) == {**OPENAI_REQUEST, "temperature": 0.3, "model": "glm-other"}


def test_stream_flag_overrides_the_body(
    glm_env: dict[str, str], service: FakeService, tmp_path: Path
) -> None:
    service.script(Reply(content="streamed", reasoning=None))
    result = raw("openai", "--body", body_file(tmp_path, OPENAI_REQUEST), "--stream")
    assert result.exit_code == 0, result.stderr
    assert request_body(service) == {**OPENAI_REQUEST, "stream": True}
    assert all(
        json.loads(line)["object"] == "chat.completion.chunk" for line in result.out.splitlines()
    )


def test_body_with_stream_true_is_printed_as_a_stream(
    glm_env: dict[str, str], service: FakeService, tmp_path: Path
) -> None:
    service.script(Reply(content=["a", "b"], reasoning=None))
    result = raw("openai", "--body", body_file(tmp_path, {**OPENAI_REQUEST, "stream": True}))
    assert result.exit_code == 0, result.stderr
    assert request_body(service)["stream"] is True
    assert len(result.out.splitlines()) == 3
    assert b"[DONE]" not in result.out


def test_config_defaults_do_not_apply_to_a_body(
    glm_env: dict[str, str], service: FakeService, tmp_path: Path
) -> None:
    config = Path(glm_env["XDG_CONFIG_HOME"]) / "glm" / "config.toml"
    config.parent.mkdir(parents=True)
    config.write_text("[defaults]\ntemperature = 0.2\nmax-tokens = 500\nstream = true\n")
    request = {"model": "glm-5.2", "messages": [{"role": "user", "content": "x"}]}
    service.script(Reply())
    result = raw("openai", "--body", body_file(tmp_path, request))
    assert result.exit_code == 0, result.stderr
    assert request_body(service) == request


def test_config_defaults_do_apply_without_a_body(
    glm_env: dict[str, str], service: FakeService
) -> None:
    """The control for the test above: the config file is read."""
    config = Path(glm_env["XDG_CONFIG_HOME"]) / "glm" / "config.toml"
    config.parent.mkdir(parents=True)
    config.write_text("[defaults]\ntemperature = 0.2\n")
    service.script(Reply())
    result = raw("openai", "--no-stream", "hi")
    assert result.exit_code == 0, result.stderr
    assert request_body(service)["temperature"] == 0.2


def test_body_from_stdin(glm_env: dict[str, str], service: FakeService) -> None:
    service.script(Reply())
    result = raw("openai", "--body", "-", stdin=json.dumps(OPENAI_REQUEST).encode())
    assert result.exit_code == 0, result.stderr
    assert request_body(service) == OPENAI_REQUEST


def test_prompt_is_appended_as_a_user_message(
    glm_env: dict[str, str], service: FakeService, tmp_path: Path
) -> None:
    request = {"model": "glm-5.2", "messages": [{"role": "system", "content": "Be brief."}]}
    service.script(Reply())
    result = raw("openai", "--body", body_file(tmp_path, request), "extra", "words")
    assert result.exit_code == 0, result.stderr
    assert request_body(service)["messages"] == [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "extra words"},
    ]


def test_prompt_is_appended_to_a_body_from_stdin(
    glm_env: dict[str, str], service: FakeService
) -> None:
    request = {"model": "glm-5.2", "messages": [{"role": "system", "content": "S"}]}
    service.script(Reply())
    result = raw("openai", "--body", "-", "the question", stdin=json.dumps(request).encode())
    assert result.exit_code == 0, result.stderr
    assert request_body(service)["messages"][-1] == {"role": "user", "content": "the question"}


def test_prompt_is_appended_on_the_anthropic_wire(
    glm_env: dict[str, str], service: FakeService, tmp_path: Path
) -> None:
    request = {"model": "glm-5.2", "max_tokens": 64, "messages": []}
    service.script(Reply())
    result = raw("anthropic", "--body", body_file(tmp_path, request), "hello there")
    assert result.exit_code == 0, result.stderr
    body = request_body(service)
    assert body["max_tokens"] == 64
    assert "stream" not in body
    [message] = body["messages"]
    assert message["role"] == "user"
    content = message["content"]
    text = content if isinstance(content, str) else "".join(b["text"] for b in content)
    assert text == "hello there"


@pytest.mark.parametrize(
    "data", [b"{not json", b'{"model": "glm-5.2",}', b"", b"[1, 2]", b'"a string"']
)
def test_malformed_body_exits_2_and_sends_nothing(
    glm_env: dict[str, str], service: FakeService, tmp_path: Path, data: bytes
) -> None:
    result = raw("openai", "--body", body_file(tmp_path, data))
    assert result.exit_code == 2, result.stderr
    assert result.out == b""
    assert_one_error(result.stderr, "--body")
    assert service.requests == []


def test_malformed_body_on_stdin_exits_2(glm_env: dict[str, str], service: FakeService) -> None:
    result = raw("openai", "--body", "-", stdin=b"{oops")
    assert result.exit_code == 2, result.stderr
    assert_one_error(result.stderr)
    assert service.requests == []


def test_missing_body_file_exits_2(
    glm_env: dict[str, str], service: FakeService, tmp_path: Path
) -> None:
    result = raw("openai", "--body", str(tmp_path / "missing.json"))
    assert result.exit_code == 2, result.stderr
    assert_one_error(result.stderr, "--body")
    assert service.requests == []


def test_dash_prompt_with_body_from_stdin_exits_2(
    glm_env: dict[str, str], service: FakeService
) -> None:
    result = raw("openai", "--body", "-", "-", stdin=json.dumps(OPENAI_REQUEST).encode())
    assert result.exit_code == 2, result.stderr
    assert_one_error(result.stderr)
    assert service.requests == []
