"""The fault matrix of issue 7 (SPEC §3, §3.1, §5): protocol × stream × fault.

Every case runs `glm ask` in this process against the fake service and asserts the
same five things: the exit code, exactly one `glm: error:` line on stderr (none on
success) and nothing else there, no traceback, the elapsed time bounded, and stdout
exactly the part of the answer that arrived before the fault — never repeated.
Where SPEC §3 decides how many requests are made (retried or not), that is checked
too. The closing note of issue 7 quotes the table `fault_table()` builds from it.

Finer points of single faults (the error line's request id, the fallback order,
`--debug`) live in tests/test_reliability.py; this module is the systematic sweep.
"""

from __future__ import annotations

import json
import socket
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from email.utils import formatdate
from pathlib import Path
from typing import Any

import pytest

from glm_cli.core import retry
from tests.fake_service import (
    Drop,
    FakeService,
    RawResponse,
    Reply,
    Stall,
    Status,
    Step,
    anthropic_error,
    openai_error,
)
from tests.helpers import SECRET, Run, error_lines, run_in_process

PROTOCOLS = ("openai", "anthropic")
PIECES = ["Hel", "lo ", "wor", "ld, ", "this ", "is ", "long."]
ANSWER = "".join(PIECES)
NOW = {"Retry-After": "0"}
BOUND = 5.0  # seconds: a generous bound on every case
HUGE = 50 * 1024 * 1024


@pytest.fixture(autouse=True)
def _fast_backoff(monkeypatch: pytest.MonkeyPatch) -> None:
    """Backoff without Retry-After stays exponential, but starts at 10 ms here."""
    monkeypatch.setattr(retry, "INITIAL_DELAY", 0.01)


def content_events_before(protocol: str, pieces: int) -> int:
    """The stream event index after `pieces` content deltas (no reasoning): the
    Anthropic stream opens with message_start and content_block_start."""
    return pieces + 2 if protocol == "anthropic" else pieces


def reply(**kwargs: Any) -> Reply:
    return Reply(content=PIECES, reasoning=None, **kwargs)


def error_body(protocol: str, code: str, message: str, kind: str) -> dict[str, Any]:
    if protocol == "anthropic":
        return anthropic_error(kind, message, code)
    return openai_error(code, message)


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def api_path(protocol: str) -> str:
    return "/v1/messages" if protocol == "anthropic" else "/v1/chat/completions"


def whole_pieces_prefix(text: str) -> bool:
    """A proper, non-empty prefix of the answer made of whole stream deltas."""
    pieces = [f"w{i:02d} " for i in range(60)]
    joined = ""
    for piece in pieces[:-1]:
        joined += piece
        if text == joined:
            return True
    return False


@dataclass
class Case:
    """What one fault does to one protocol and stream mode, and what glm must do."""

    exit_code: int
    steps: list[Step] = field(default_factory=list)
    stdout: str | Callable[[str], bool] = ""
    requests: int | None = None
    """Requests the service must see (None: SPEC does not decide it)."""
    args: list[str] = field(default_factory=list)
    fragments: tuple[str, ...] = ()
    min_elapsed: float = 0.0
    max_elapsed: float = BOUND
    endpoints: str = "service"
    """`service`; `refused` (a closed port); `fallback` (an own provider: primary
    refused, fallback the second fake service); `both-down` (both refused)."""
    fallback_steps: list[Step] = field(default_factory=list)
    fallback_requests: int | None = None


Fault = Callable[[str, bool], Case | None]
FAULTS: dict[str, Fault] = {}


def fault(name: str) -> Callable[[Fault], Fault]:
    def register(function: Fault) -> Fault:
        FAULTS[name] = function
        return function

    return register


SUCCESS = ANSWER + "\n"

# --- HTTP statuses ------------------------------------------------------------------


@fault("429 Retry-After seconds")
def _(protocol: str, stream: bool) -> Case | None:
    if (protocol, stream) != ("openai", True):  # one case that really waits
        return None
    return Case(
        0, [Status(429, headers={"Retry-After": "1"}), reply()], SUCCESS, 2, min_elapsed=0.9
    )


@fault("429 Retry-After HTTP date")
def _(protocol: str, stream: bool) -> Case | None:
    if (protocol, stream) != ("anthropic", False):  # one case that may wait up to 1 s
        return None
    date = formatdate(time.time() + 1, usegmt=True)
    return Case(0, [Status(429, headers={"Retry-After": date}), reply()], SUCCESS, 2)


@fault("429 without Retry-After, every attempt")
def _(protocol: str, stream: bool) -> Case:
    return Case(4, [Status(429)] * 3, "", 3, fragments=("429",))


@fault("429 then success")
def _(protocol: str, stream: bool) -> Case:
    return Case(0, [Status(429, headers=NOW), reply()], SUCCESS, 2)


@fault("429 with code 1113 (balance)")
def _(protocol: str, stream: bool) -> Case:
    body = error_body(protocol, "1113", "余额不足或无可用资源包,请充值。", "rate_limit_error")
    return Case(
        4,
        [Status(429, body=body, headers=NOW), reply()],
        "",
        1,
        fragments=("429", "1113", "balance", "余额不足"),
    )


@fault("401")
def _(protocol: str, stream: bool) -> Case:
    return Case(3, [Status(401), reply()], "", 1, fragments=("401",))


@fault("403")
def _(protocol: str, stream: bool) -> Case:
    return Case(3, [Status(403), reply()], "", 1, fragments=("403",))


@fault("400 with the service's message")
def _(protocol: str, stream: bool) -> Case:
    message = "temperature must be between 0 and 1"
    body = error_body(protocol, "1214", message, "invalid_request_error")
    return Case(2, [Status(400, body=body), reply()], "", 1, fragments=("400", message))


@fault("400 with a message over several lines, with escape codes")
def _(protocol: str, stream: bool) -> Case:
    message = "bad field\nsee the docs\r\n\x1b[31mat https://example.com\x1b[0m"
    body = error_body(protocol, "1214", message, "invalid_request_error")
    return Case(
        2,
        [Status(400, body=body)],
        "",
        1,
        fragments=("bad field see the docs \\x1b[31mat https://example.com",),
    )


@fault("402")
def _(protocol: str, stream: bool) -> Case:
    body = error_body(protocol, "402", "Payment required", "billing_error")
    return Case(4, [Status(402, body=body), reply()], "", 1, fragments=("402",))


@fault("404")
def _(protocol: str, stream: bool) -> Case:
    return Case(2, [Status(404), reply()], "", 1, fragments=("404",))


for _status in (408, 500, 502, 503):

    def _exhausted(protocol: str, stream: bool, status: int = _status) -> Case:
        return Case(5, [Status(status, headers=NOW)] * 3, "", 3, fragments=(str(status),))

    fault(f"{_status} on every attempt")(_exhausted)


@fault("504 then success")
def _(protocol: str, stream: bool) -> Case:
    return Case(0, [Status(504, headers=NOW), reply()], SUCCESS, 2)


@fault("HTML error page with a 502")
def _(protocol: str, stream: bool) -> Case:
    page = b"<html><head><title>502 Bad Gateway</title></head><body><h1>502 Bad Gateway</h1>"
    page += b"<p>filler</p>" * 200 + b"</body></html>"
    return Case(
        5,
        [Status(502, body=page, content_type="text/html", headers=NOW)] * 3,
        "",
        3,
        fragments=("502",),
    )


# --- Business codes of SPEC §5, each with the status the service uses ---------------

# code -> (HTTP status, exit code, requests made with the default 2 retries)
BUSINESS: dict[str, tuple[int, int, int]] = {
    **{code: (401, 3, 1) for code in ("1000", "1001", "1002", "1003", "1004")},
    "1113": (429, 4, 1),
    "1304": (429, 4, 1),
    "1308": (429, 4, 1),
    "1310": (429, 4, 1),
    "1302": (429, 4, 3),
    "1303": (429, 4, 3),
    "1211": (400, 2, 1),
    "1214": (400, 2, 1),
    "1261": (400, 2, 1),
    "1301": (400, 6, 1),
    "1312": (429, 5, 3),
}
KINDS = {401: "authentication_error", 429: "rate_limit_error", 400: "invalid_request_error"}

for _code, (_status, _exit, _requests) in BUSINESS.items():

    def _business(
        protocol: str,
        stream: bool,
        code: str = _code,
        status: int = _status,
        exit_code: int = _exit,
        requests: int = _requests,
    ) -> Case:
        message = f"the service says {code}"
        body = error_body(protocol, code, message, KINDS[status])
        steps: list[Step] = [Status(status, body=body, headers=NOW)] * requests + [reply()]
        return Case(exit_code, steps, "", requests, fragments=(str(status), code, message))

    fault(f"code {_code} in a {_status}")(_business)


# --- The network ----------------------------------------------------------------------


@fault("connection refused")
def _(protocol: str, stream: bool) -> Case:
    return Case(5, endpoints="refused")


@fault("reset before headers, every attempt")
def _(protocol: str, stream: bool) -> Case:
    return Case(5, [Drop()] * 3, "", 3)


@fault("reset before headers, then success")
def _(protocol: str, stream: bool) -> Case:
    return Case(0, [Drop(), reply()], SUCCESS, 2)


@fault("reset (RST) mid-stream")
def _(protocol: str, stream: bool) -> Case:
    if stream:  # after output: never retried
        cut = content_events_before(protocol, 2)
        return Case(5, [reply(drop_after=cut, drop_with_reset=True), reply()], "Hello ", 1)
    # mid-body, nothing written yet: retried
    return Case(5, [reply(drop_after=20, drop_with_reset=True)] * 3, "", 3)


@fault("connection closed (FIN) mid-stream")
def _(protocol: str, stream: bool) -> Case:
    if stream:
        cut = content_events_before(protocol, 2)
        return Case(5, [reply(drop_after=cut), reply()], "Hello ", 1)
    return Case(5, [reply(drop_after=20)] * 3, "", 3)


@fault("primary down, fallback up")
def _(protocol: str, stream: bool) -> Case:
    return Case(
        0, stdout=SUCCESS, endpoints="fallback", fallback_steps=[reply()], fallback_requests=1
    )


@fault("primary and fallback down")
def _(protocol: str, stream: bool) -> Case:
    return Case(5, endpoints="both-down")


# --- Broken streams and bodies --------------------------------------------------------


@fault("stream without a final chunk")
def _(protocol: str, stream: bool) -> Case | None:
    if not stream:
        return None
    return Case(5, [reply(truncate_before_finish=True), reply()], ANSWER, 1)


@fault("stream without [DONE] / message_stop")
def _(protocol: str, stream: bool) -> Case | None:
    if not stream:
        return None
    return Case(0, [reply(omit_done=True)], SUCCESS, 1)


@fault("malformed JSON chunk")
def _(protocol: str, stream: bool) -> Case | None:
    if not stream:
        return None
    cut = content_events_before(protocol, 2)
    return Case(5, [reply(malformed_at=cut), reply()], "Hello ", 1, fragments=("malformed",))


@fault("error object inside the stream")
def _(protocol: str, stream: bool) -> Case:
    error = {"code": "1214", "message": "Bad parameter in flight"}
    if not stream:  # the same object as a 200 body
        return Case(
            2,
            [RawResponse(200, json_bytes({"error": error}))],
            "",
            1,
            fragments=("Bad parameter in flight", "1214"),
        )
    # `data: {"error": ...}` with no event name, on either protocol
    events = [*stream_prefix(protocol, 2), b'data: {"error": ' + json_bytes(error) + b"}\n\n"]
    return Case(
        2, [sse_response(events)], "Hello ", 1, fragments=("Bad parameter in flight", "1214")
    )


@fault("Anthropic error event")
def _(protocol: str, stream: bool) -> Case | None:
    if protocol != "anthropic" or not stream:
        return None
    error = {"type": "overloaded_error", "message": "Overloaded right now"}
    cut = content_events_before(protocol, 2)
    return Case(
        5,
        [reply(error_after=cut, error=error), reply()],
        "Hello ",
        1,
        fragments=("Overloaded right now",),
    )


@fault("stall mid-stream past --timeout")
def _(protocol: str, stream: bool) -> Case:
    if stream:
        cut = content_events_before(protocol, 2)
        steps: list[Step] = [reply(stall_after=cut, stall_seconds=10), reply()]
        return Case(
            5, steps, "Hello ", 1, args=["--timeout", "0.15"], min_elapsed=0.12, max_elapsed=2.5
        )
    return Case(
        5,
        [reply(stall_after=20, stall_seconds=10)],
        "",
        1,
        args=["--timeout", "0.15", "--retries", "0"],
        min_elapsed=0.12,
        max_elapsed=2.5,
    )


@fault("slow but steady stream within --timeout")
def _(protocol: str, stream: bool) -> Case | None:
    if not stream:
        return None
    pieces = [f"s{i} " for i in range(6)]  # 0.32 s in all, never 0.2 s of silence
    steps: list[Step] = [Reply(content=pieces, reasoning=None, chunk_delay=0.04)]
    return Case(
        0,
        steps,
        "".join(pieces) + "\n",
        1,
        args=["--timeout", "0.2", "--retries", "0"],
        min_elapsed=0.2,
    )


@fault("slow stream cut by --max-time")
def _(protocol: str, stream: bool) -> Case:
    if stream:
        pieces = [f"w{i:02d} " for i in range(60)]
        steps: list[Step] = [Reply(content=pieces, reasoning=None, chunk_delay=0.05)]
        return Case(
            5,
            steps,
            whole_pieces_prefix,
            1,
            args=["--max-time", "0.2"],
            fragments=("--max-time",),
            min_elapsed=0.18,
            max_elapsed=2.5,
        )
    return Case(
        5,
        [Stall(10)],
        "",
        1,
        args=["--max-time", "0.2"],
        fragments=("--max-time",),
        min_elapsed=0.18,
        max_elapsed=2.5,
    )


@fault("200 with a non-JSON body")
def _(protocol: str, stream: bool) -> Case:
    # a 2xx body is not retried: only connection errors, timeouts and statuses are
    return Case(5, [RawResponse(200, b"not json at all", content_type="text/plain")] * 3, "", 1)


@fault("body that is not UTF-8")
def _(protocol: str, stream: bool) -> Case:
    if stream:
        bad = [*stream_prefix(protocol, 2), delta_event(protocol, "\udcff")]
        return Case(5, [sse_response(bad), reply()], "Hello ", 1)
    body = raw_json(whole_body(protocol, "\udcff"))
    return Case(5, [RawResponse(200, body)] * 3, "", 1)


@fault("huge (50 MB) answer")
def _(protocol: str, stream: bool) -> Case | None:
    if stream:
        return None
    head, tail = whole_body_parts(protocol)  # the 50 MB are generated as they are sent
    huge = RawResponse(200, head, body_size=len(head) + HUGE + len(tail), tail=tail)
    return Case(0, [huge], huge_answer, 1, max_elapsed=15.0)


def huge_answer(out: str) -> bool:
    return len(out) == HUGE + 1 and out.count("x") == HUGE and out.endswith("\n")


# --- Building wire bytes for the cases the scripted Reply cannot express ---------------


def json_bytes(value: Any) -> bytes:
    return json.dumps(value, separators=(",", ":")).encode()


def delta_event(protocol: str, text: str) -> bytes:
    if protocol == "anthropic":
        data = {
            "type": "content_block_delta",
            "index": 0,
            "delta": {"type": "text_delta", "text": text},
        }
        return b"event: content_block_delta\ndata: " + raw_json(data) + b"\n\n"
    chunk = {"id": "c1", "model": "glm-5.2", "choices": [{"index": 0, "delta": {"content": text}}]}
    return b"data: " + raw_json(chunk) + b"\n\n"


def raw_json(value: Any) -> bytes:
    """JSON with strings left unescaped, so a lone surrogate becomes a raw 0xFF byte."""
    text = json.dumps(value, separators=(",", ":"), ensure_ascii=False)
    return text.encode("utf-8", "surrogateescape")


def stream_prefix(protocol: str, pieces: int) -> list[bytes]:
    """The opening events of a stream and the first `pieces` content deltas."""
    events: list[bytes] = []
    if protocol == "anthropic":
        start = {
            "type": "message_start",
            "message": {
                "id": "msg_1",
                "type": "message",
                "role": "assistant",
                "model": "glm-5.2",
                "content": [],
                "stop_reason": None,
            },
        }
        block = {
            "type": "content_block_start",
            "index": 0,
            "content_block": {"type": "text", "text": ""},
        }
        events += [
            b"event: message_start\ndata: " + raw_json(start) + b"\n\n",
            b"event: content_block_start\ndata: " + raw_json(block) + b"\n\n",
        ]
    return events + [delta_event(protocol, piece) for piece in PIECES[:pieces]]


def sse_response(events: list[bytes]) -> RawResponse:
    return RawResponse(200, b"".join(events), content_type="text/event-stream")


def whole_body(protocol: str, text: str) -> dict[str, Any]:
    if protocol == "anthropic":
        return {
            "id": "msg_1",
            "type": "message",
            "role": "assistant",
            "model": "glm-5.2",
            "content": [{"type": "text", "text": text}],
            "stop_reason": "end_turn",
        }
    return {
        "id": "c1",
        "object": "chat.completion",
        "model": "glm-5.2",
        "choices": [
            {"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}
        ],
    }


def whole_body_parts(protocol: str) -> tuple[bytes, bytes]:
    """A whole response body split around its content string."""
    marker = "@@CONTENT@@"
    head, tail = json_bytes(whole_body(protocol, marker)).split(marker.encode())
    return head, tail


# --- The matrix -----------------------------------------------------------------------


def _cases() -> Iterator[Any]:
    for name, make in FAULTS.items():
        for protocol in PROTOCOLS:
            for stream in (True, False):
                if make(protocol, stream) is not None:
                    mode = "stream" if stream else "no-stream"
                    yield pytest.param(name, protocol, stream, id=f"{protocol}-{mode}-{name}")


def write_provider(tmp_path: Path, protocol: str, url: str, fallback_url: str) -> str:
    path = tmp_path / "config.toml"
    path.write_text(
        f'[providers.local]\nprotocol = "{protocol}"\nurl = "{url}"\n'
        f'fallback_url = "{fallback_url}"\n'
    )
    return str(path)


def endpoint_args(
    case: Case,
    protocol: str,
    service: FakeService,
    fallback: FakeService,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> list[str]:
    path = api_path(protocol)
    dead = f"http://127.0.0.1:{closed_port()}"
    if case.endpoints == "refused":
        return ["--base-url", dead]
    if case.endpoints in ("fallback", "both-down"):
        monkeypatch.delenv("GLM_BASE_URL")
        second = (
            fallback.url if case.endpoints == "fallback" else f"http://127.0.0.1:{closed_port()}"
        )
        config = write_provider(tmp_path, protocol, dead + path, second + path)
        return ["--config", config, "--provider", "local"]
    return []


@pytest.mark.parametrize(("name", "protocol", "stream"), list(_cases()))
def test_fault(
    glm_env: dict[str, str],
    service: FakeService,
    fallback_service: FakeService,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    name: str,
    protocol: str,
    stream: bool,
) -> None:
    case = FAULTS[name](protocol, stream)
    assert case is not None
    service.script(*case.steps)
    fallback_service.script(*case.fallback_steps)
    args = [
        "ask",
        "--protocol",
        protocol,
        "--stream" if stream else "--no-stream",
        *endpoint_args(case, protocol, service, fallback_service, tmp_path, monkeypatch),
        *case.args,
        "hello",
    ]
    started = time.monotonic()
    result = run_in_process(args)
    elapsed = time.monotonic() - started
    check(case, result, elapsed)
    if case.requests is not None and case.endpoints == "service":
        assert len(service.requests) == case.requests, service.requests
    if case.fallback_requests is not None:
        assert len(fallback_service.requests) == case.fallback_requests


def check(case: Case, result: Run, elapsed: float) -> None:
    stderr = result.stderr
    assert "Traceback" not in stderr, stderr
    assert "\x1b" not in stderr, stderr  # a service's escape codes never reach a terminal
    assert result.exit_code == case.exit_code, stderr
    lines = error_lines(stderr)
    if case.exit_code == 0:
        assert stderr == "", stderr
    else:
        assert len(lines) == 1, stderr
        assert stderr.splitlines() == lines, stderr  # the one line and nothing else
        assert len(lines[0]) < 400, lines[0]  # never a whole body
        for fragment in case.fragments:
            assert fragment in lines[0], (fragment, lines[0])
    out = result.out.decode("utf-8")
    if callable(case.stdout):
        assert case.stdout(out), out
    else:
        assert out == case.stdout
    assert case.min_elapsed <= elapsed < case.max_elapsed, elapsed
    assert SECRET not in result.stdout + stderr


# --- The table for the closing note -------------------------------------------------


def fault_table() -> list[tuple[str, str, str, int]]:
    """(fault, protocol, stream mode, exit code) for every case of the matrix."""
    rows = []
    for name, make in FAULTS.items():
        for protocol in PROTOCOLS:
            for stream in (True, False):
                case = make(protocol, stream)
                if case is not None:
                    rows.append(
                        (name, protocol, "stream" if stream else "no-stream", case.exit_code)
                    )
    return rows
