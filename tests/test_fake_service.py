"""The fake GLM service itself, driven with plain http.client (not the client's httpx)."""

from __future__ import annotations

import http.client
import json
import os
import re
import select
import socket
import time
from typing import Any
from urllib.parse import urlsplit

import pytest

from tests.fake_service import (
    Drop,
    FakeService,
    RawResponse,
    Reply,
    Stall,
    Status,
    anthropic_error,
    openai_error,
)

OPENAI = "/v1/chat/completions"
ANTHROPIC = "/v1/messages"
CHAT = {"model": "glm-5.2", "messages": [{"role": "user", "content": "Hi"}]}
MESSAGES = {**CHAT, "max_tokens": 1024}
KEY = {"Authorization": "Bearer sk-test", "Content-Type": "application/json"}


class Answer:
    def __init__(self, response: http.client.HTTPResponse) -> None:
        self.status = response.status
        self.headers = response.headers
        self.body = response.read()

    def json(self) -> Any:
        return json.loads(self.body)

    def events(self) -> list[tuple[str | None, str]]:
        """(event, data) pairs of an SSE body, whatever its line ending."""
        pairs = []
        for block in re.split(r"(?:\r\n|\r|\n){2}", self.body.decode()):
            fields = dict(line.split(": ", 1) for line in re.split(r"\r\n|\r|\n", block) if line)
            if "data" in fields:
                pairs.append((fields.get("event"), fields["data"]))
        return pairs

    def chunks(self) -> list[dict[str, Any]]:
        return [json.loads(data) for _, data in self.events() if data != "[DONE]"]


def connect(service: FakeService, timeout: float = 5) -> http.client.HTTPConnection:
    address = urlsplit(service.url)
    assert address.hostname is not None
    return http.client.HTTPConnection(address.hostname, address.port, timeout=timeout)


def post(
    service: FakeService,
    path: str = OPENAI,
    body: Any = CHAT,
    headers: dict[str, str] | None = None,
    method: str = "POST",
) -> Answer:
    connection = connect(service)
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    connection.request(method, path, body=data, headers=KEY if headers is None else headers)
    answer = Answer(connection.getresponse())
    connection.close()
    return answer


def test_default_reply_and_recording(service: FakeService) -> None:
    answer = post(service, body={**CHAT, "request_id": "req-123456"})
    assert answer.status == 200
    assert answer.headers["Content-Length"] == str(len(answer.body))
    body = answer.json()
    assert body["object"] == "chat.completion"
    assert body["request_id"] == "req-123456"
    message = body["choices"][0]["message"]
    assert message["content"] == "Hello from the fake service."
    assert message["reasoning_content"] == "Let me think."
    assert body["usage"] == {
        "prompt_tokens": 12,
        "completion_tokens": 34,
        "total_tokens": 46,
        "prompt_tokens_details": {"cached_tokens": 2},
        "completion_tokens_details": {"reasoning_tokens": 5},
    }
    [request] = service.requests
    assert (request.method, request.path) == ("POST", OPENAI)
    assert request.headers["authorization"] == request.headers["Authorization"] == "Bearer sk-test"
    assert request.json == {**CHAT, "request_id": "req-123456"}
    assert json.loads(request.body) == request.json


@pytest.mark.parametrize(
    ("path", "body", "field"),
    [
        (OPENAI, {**CHAT, "temperature": 0.125}, "temperature"),
        (OPENAI, {**CHAT, "top_p": 0}, "top_p"),
        (OPENAI, {**CHAT, "max_tokens": True}, "max_tokens"),
        (OPENAI, {**CHAT, "stop": ["a", "b", "c", "d", "e"]}, "stop"),
        (OPENAI, {**CHAT, "thinking": {"type": "enabled", "budget_tokens": 9}}, "thinking"),
        (OPENAI, {**CHAT, "top_k": 3}, "top_k"),
        (OPENAI, {**CHAT, "messages": [{"role": "system", "content": "x"}]}, "messages"),
        (
            OPENAI,
            {**CHAT, "tools": [{"type": "function", "function": {"name": "a b"}}]},
            "tools[0]",
        ),
        (OPENAI, {**CHAT, "request_id": "abc"}, "request_id"),
        (ANTHROPIC, CHAT, "max_tokens"),
        (ANTHROPIC, {**MESSAGES, "top_p": 1.5}, "top_p"),
        (ANTHROPIC, {**MESSAGES, "messages": [{"role": "assistant", "content": "x"}]}, "role"),
        (ANTHROPIC, {**MESSAGES, "response_format": {"type": "text"}}, "response_format"),
        (ANTHROPIC, {**MESSAGES, "metadata": {"user_id": "u-123456", "x": 1}}, "metadata.x"),
    ],
)
def test_invalid_request_is_400_and_keeps_the_step(
    service: FakeService, path: str, body: dict[str, Any], field: str
) -> None:
    service.script(Status(503))
    answer = post(service, path, body)
    assert answer.status == 400
    error = answer.json()["error"]
    assert error["code"] == "1214"
    assert field in error["message"]
    if path == ANTHROPIC:
        assert answer.json()["type"] == "error"
        assert error["type"] == "invalid_request_error"
    assert service.pending == 1
    assert post(service, path, MESSAGES).status == 503


def test_refusals_before_validation(service: FakeService) -> None:
    service.script(Status(500))
    assert post(service, headers={"Content-Type": "application/json"}).json() == openai_error(
        "1001", "Authorization header missing or empty: expected 'Bearer <API key>'"
    )
    wrong_type = post(service, headers={**KEY, "Content-Type": "text/plain"})
    assert (wrong_type.status, "Content-Type" in wrong_type.json()["error"]["message"]) == (
        400,
        True,
    )
    assert post(service, body=b"{'not': json}").status == 400
    assert post(service, "/v1/completions").status == 404
    not_allowed = post(service, method="GET", body=b"")
    assert (not_allowed.status, not_allowed.headers["Allow"]) == (405, "POST")
    unauthorised = post(service, ANTHROPIC, MESSAGES, headers={"Content-Type": "application/json"})
    assert unauthorised.status == 401
    assert unauthorised.json()["error"]["type"] == "authentication_error"
    assert service.pending == 1
    assert len(service.requests) == 6


def test_openai_stream(service: FakeService) -> None:
    call = {"id": "call_1", "name": "get_weather", "arguments": '{"city": "Paris"}'}
    service.script(
        Reply(tool_calls=[call], finish_reason="tool_calls", web_search=[{"title": "t"}]),
        Reply(tool_calls=[call], tool_call_without_id=True, finish_in_last_tool_chunk=False),
    )
    answer = post(service, body={**CHAT, "stream": True})
    assert answer.headers["Transfer-Encoding"] == "chunked"
    assert answer.headers["Content-Type"] == "text/event-stream"
    assert answer.events()[-1] == (None, "[DONE]")
    chunks = answer.chunks()
    deltas = [chunk["choices"][0]["delta"] for chunk in chunks]
    assert deltas[0]["role"] == "assistant"
    assert chunks[0]["web_search"] == [{"title": "t"}]
    assert "".join(d.get("reasoning_content", "") for d in deltas) == "Let me think."
    assert "".join(d.get("content", "") for d in deltas) == "Hello from the fake service."
    calls = [c for d in deltas for c in d.get("tool_calls", [])]
    assert calls[0] == {
        "index": 0,
        "id": "call_1",
        "type": "function",
        "function": {"name": "get_weather", "arguments": ""},
    }
    assert "".join(c["function"]["arguments"] for c in calls) == call["arguments"]
    last = chunks[-1]
    assert last["choices"][0]["finish_reason"] == "tool_calls"
    assert last["choices"][0]["delta"]["tool_calls"] == [calls[-1]]
    assert last["usage"]["total_tokens"] == 46

    deltas = [
        c["choices"][0]["delta"] for c in post(service, body={**CHAT, "stream": True}).chunks()
    ]
    assert all("id" not in c for d in deltas for c in d.get("tool_calls", []))
    assert deltas[-1] == {}


def test_anthropic_stream_and_message(service: FakeService) -> None:
    call = {"id": "toolu_1", "name": "get_weather", "arguments": '{"city": "Paris"}'}
    service.script(
        Reply(tool_calls=[call], finish_reason="tool_calls", chunk_size=5),
        Reply(finish_reason="length", stop_sequence="END"),
    )
    events = post(service, ANTHROPIC, {**MESSAGES, "stream": True}).events()
    kinds = [kind for kind, _ in events]
    assert kinds[0] == "message_start"
    assert kinds[-2:] == ["message_delta", "message_stop"]
    data = [json.loads(payload) for _, payload in events]
    assert all(kind == item["type"] for kind, item in zip(kinds, data, strict=True))
    starts = [
        item["content_block"]["type"] for item in data if item["type"] == "content_block_start"
    ]
    assert starts == ["thinking", "text", "tool_use"]
    deltas = [item["delta"] for item in data if item["type"] == "content_block_delta"]
    assert "".join(d.get("text", "") for d in deltas) == "Hello from the fake service."
    assert "".join(d.get("partial_json", "") for d in deltas) == call["arguments"]
    assert data[0]["message"]["usage"]["input_tokens"] == 12
    assert data[-2]["delta"] == {"stop_reason": "tool_use"}
    assert data[-2]["usage"] == {"output_tokens": 34}

    message = post(service, ANTHROPIC, MESSAGES).json()
    assert [block["type"] for block in message["content"]] == ["thinking", "text"]
    assert (message["stop_reason"], message["stop_sequence"]) == ("max_tokens", "END")
    assert message["usage"] == {
        "input_tokens": 12,
        "output_tokens": 34,
        "cache_read_input_tokens": 2,
    }


@pytest.mark.parametrize("newline", ["\n", "\r\n", "\r"])
def test_stream_framing(service: FakeService, newline: str) -> None:
    service.script(Reply(content=["a", "b"], reasoning=None, newline=newline, ping=True))
    raw = post(service, body={**CHAT, "stream": True}).body.decode()
    assert raw.startswith("data: {") and f": keep-alive{newline * 2}" in raw
    assert raw.endswith(f"data: [DONE]{newline * 2}")
    assert newline == "\r\n" or "\r\n" not in raw


def test_stream_faults(service: FakeService) -> None:
    service.script(
        Reply(omit_done=True),
        Reply(truncate_before_finish=True),
        Reply(malformed_at=1),
        Reply(error_after=2),
        Reply(error_after=1, error={"type": "rate_limit_error", "message": "slow down"}),
    )
    stream = {**CHAT, "stream": True}
    omitted = post(service, body=stream).events()
    assert "[DONE]" not in [data for _, data in omitted]
    assert json.loads(omitted[-1][1])["choices"][0]["finish_reason"] == "stop"
    truncated = post(service, body=stream).chunks()
    assert all("finish_reason" not in chunk["choices"][0] for chunk in truncated)
    assert post(service, body=stream).events()[1] == (None, "{not json")
    assert post(service, body=stream).chunks()[-1] == openai_error("1234", "Network error")
    kind, data = post(service, ANTHROPIC, {**MESSAGES, "stream": True}).events()[-1]
    assert kind == "error"
    assert json.loads(data) == anthropic_error("rate_limit_error", "slow down")


def test_drop_after_is_an_incomplete_body(service: FakeService) -> None:
    service.script(Reply(drop_after=2))
    connection = connect(service)
    connection.request("POST", OPENAI, body=json.dumps({**CHAT, "stream": True}), headers=KEY)
    response = connection.getresponse()
    with pytest.raises(http.client.IncompleteRead) as caught:
        response.read()
    assert caught.value.partial.count(b"data: ") == 2


def test_drop_resets_before_any_response(service: FakeService) -> None:
    service.script(Drop(), Reply(content="after"))
    connection = connect(service)
    connection.request("POST", OPENAI, body=b"not even json", headers={})
    with pytest.raises((ConnectionResetError, http.client.RemoteDisconnected)):
        connection.getresponse()
    assert post(service).json()["choices"][0]["message"]["content"] == "after"
    assert [r.body for r in service.requests] == [b"not even json", json.dumps(CHAT).encode()]


def test_stall_times_out_the_client_and_notices_it_left(service: FakeService) -> None:
    service.script(Stall(30))
    connection = connect(service, timeout=0.2)
    connection.request("POST", OPENAI, body=json.dumps(CHAT), headers=KEY)
    with pytest.raises(TimeoutError):
        connection.getresponse()
    connection.close()
    assert service.disconnected.wait(2)


def test_stall_after_ends_on_reset_then_the_stream_continues(service: FakeService) -> None:
    service.script(Reply(stall_after=1, stall_seconds=30))
    address = urlsplit(service.url)
    body = json.dumps({**CHAT, "stream": True}).encode()
    head = f"POST {OPENAI} HTTP/1.1\r\nHost: x\r\nContent-Length: {len(body)}\r\n"
    head += "".join(f"{name}: {value}\r\n" for name, value in KEY.items())
    with socket.create_connection((address.hostname, address.port), timeout=5) as sock:
        sock.sendall(head.encode() + b"\r\n" + body)
        received = b""
        while b"data: " not in received:
            received += sock.recv(65536)
        assert not select.select([sock], [], [], 0.2)[0]  # stalled after the first event
        started = time.monotonic()
        service.reset()
        while not received.endswith(b"0\r\n\r\n"):
            received += sock.recv(65536)
    assert time.monotonic() - started < 1
    assert received.endswith(b"data: [DONE]\n\n\r\n0\r\n\r\n")


def test_slow_stream_notices_a_client_that_hangs_up(service: FakeService) -> None:
    service.script(Reply(content=["x"] * 200, chunk_delay=0.01))
    connection = connect(service)
    connection.request("POST", OPENAI, body=json.dumps({**CHAT, "stream": True}), headers=KEY)
    connection.getresponse().read1()
    connection.sock.shutdown(socket.SHUT_RDWR)
    connection.close()
    assert service.disconnected.wait(2)


def test_status_with_retry_after_and_default_bodies(service: FakeService) -> None:
    service.script(
        Status(429, headers={"Retry-After": "3"}),
        Status(529),
        Status(429, body=openai_error("1113", "Insufficient balance")),
        Status(502, body=b"<html>Bad gateway</html>", content_type="text/html"),
    )
    limited = post(service)
    assert (limited.status, limited.headers["Retry-After"]) == (429, "3")
    assert limited.json() == openai_error("1302", "Too many concurrent requests")
    overloaded = post(service, ANTHROPIC, MESSAGES)
    assert overloaded.status == 529
    assert overloaded.json()["error"] == {
        "type": "overloaded_error",
        "message": "Model overloaded, please try again later",
        "code": "1312",
    }
    assert post(service).json()["error"]["code"] == "1113"
    gateway = post(service)
    assert (gateway.headers["Content-Type"], gateway.body) == (
        "text/html",
        b"<html>Bad gateway</html>",
    )


def test_raw_response_bypasses_checks_and_can_be_huge(service: FakeService) -> None:
    size = 20 * 1024 * 1024 + 3
    service.script(
        RawResponse(body=b"\xff\xfe not utf-8", content_type="text/plain"),
        RawResponse(body=b"[", body_size=size, fill=b"1,"),
    )
    odd = post(service, "/anywhere", b"", headers={})
    assert (odd.status, odd.body) == (200, b"\xff\xfe not utf-8")
    huge = post(service)
    assert len(huge.body) == size
    assert huge.body[:5] == b"[1,1,"


def test_fallback_is_independent(service: FakeService, fallback_service: FakeService) -> None:
    assert service.url != fallback_service.url
    service.script(Status(503))
    fallback_service.script(Reply(content="from the fallback"))
    assert post(service).status == 503
    fallback = post(fallback_service, "/v1/ai/my-endpoint/chat/completions")
    assert fallback.json()["choices"][0]["message"]["content"] == "from the fallback"
    assert len(service.requests) == len(fallback_service.requests) == 1


def test_glm_env_isolates_a_run(glm_env: dict[str, str], service: FakeService) -> None:
    assert glm_env["GLM_BASE_URL"] == os.environ["GLM_BASE_URL"] == service.url
    assert glm_env["GLM_API_KEY"] == "sk-test-secret-key-0123456789"
    assert os.path.isdir(glm_env["HOME"])
    for name in ("XDG_CONFIG_HOME", "XDG_DATA_HOME", "GLM_HOME"):
        assert glm_env[name].startswith(os.path.dirname(glm_env["HOME"]))
    assert not {"NO_COLOR", "EVOLINK_API_KEY", "HTTPS_PROXY", "https_proxy"} & set(glm_env)
    assert not [name for name in glm_env if name.startswith("CLOUDSWAY_")]
