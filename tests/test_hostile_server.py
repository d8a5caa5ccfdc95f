"""A server written to misbehave (SPEC §3.2): retries that must not duplicate output,
exact numbers, SSE by the standard, refusals, several choices, an echoed key, escape
sequences for the terminal, and the error that names the URL and the attempts."""

from __future__ import annotations

import io
import json
import os
from pathlib import Path
from typing import Any

import pytest

from glm_cli import retry
from glm_cli.terminal import Env
from tests.fake_service import FakeService, RawResponse, Reply, Status
from tests.fake_service.steps import KEY
from tests.helpers import SECRET, Run, assert_one_error, invoke

PROTOCOLS = ["openai", "anthropic"]
NOW = {"Retry-After": "0"}
BIG = "123456789012345678901234567890"
LONG = "0.12345678901234567890123456789"
EXACT_ARGUMENTS = f'{{"n": {BIG}, "x": {LONG}, "s": "a b"}}'
EXACT_JSON = f'{{"n":{BIG},"x":{LONG},"s":"a b"}}'


@pytest.fixture(autouse=True)
def _fast_backoff(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(retry, "INITIAL_DELAY", 0.01, raising=False)


@pytest.fixture(params=PROTOCOLS)
def protocol(request: pytest.FixtureRequest) -> str:
    return str(request.param)


def run(
    args: list[str], *, stdout_tty: bool = False, stderr_tty: bool = False,
    environ: dict[str, str] | None = None,
) -> Run:
    """glm in process with its own buffers, stdout and stderr terminals or not; the key
    never appears in what it writes."""
    out, err = io.BytesIO(), io.BytesIO()
    env = Env(
        stdin=io.BytesIO(b""), stdout=out, stderr=err, stdin_isatty=False,
        stdout_isatty=stdout_tty, stderr_isatty=stderr_tty,
        environ={**os.environ, "NO_COLOR": "1", **(environ or {})},
    )
    result = invoke(args, obj=env)
    done = Run(result.exit_code, out.getvalue(), err.getvalue().decode())
    assert SECRET.encode() not in done.out, done.out
    assert SECRET not in done.stderr, done.stderr
    return done


def tool_reply(protocol: str, **kwargs: Any) -> Reply:
    call = {"id": "call_1", "name": "weather", "arguments": '{"city":"Paris"}'}  # one delta
    return Reply(
        content="", reasoning=None, tool_calls=[call], finish_reason="tool_calls", **kwargs
    )


def ndjson(out: bytes) -> list[dict[str, Any]]:
    return [json.loads(line) for line in out.splitlines()]


# --- a retry starts every renderer afresh ------------------------------------------------


def test_a_retry_after_a_tool_block_prints_the_call_once(
    glm_env: dict[str, str], service: FakeService, protocol: str
) -> None:
    # Anthropic: message_start, block start, delta, block stop (the call is complete),
    # drop; OpenAI: the call's first delta, drop
    drop = 4 if protocol == "anthropic" else 1
    service.script(tool_reply(protocol, drop_after=drop), tool_reply(protocol))
    done = run(["ask", "--protocol", protocol, "hi"])
    assert done.exit_code == 0, done.stderr
    assert done.stdout.count('"call_1"') == 1, done.stdout
    assert len(service.requests) == 2


def test_ndjson_after_a_tool_block_is_never_retried_nor_duplicated(
    glm_env: dict[str, str], service: FakeService
) -> None:
    service.script(tool_reply("anthropic", drop_after=4), tool_reply("anthropic"))
    done = run(["ask", "--protocol", "anthropic", "--ndjson", "hi"])
    lines = ndjson(done.out)
    assert [line["type"] for line in lines] == ["tool_call", "error"]
    assert done.exit_code == 5 and len(service.requests) == 1


def test_a_retry_after_web_search_results_lists_the_sources_once(
    glm_env: dict[str, str], service: FakeService
) -> None:
    results = [{"title": "Paris", "link": "https://example.com/paris"}]
    service.script(
        Reply(web_search=results, drop_after=1), Reply(web_search=results)
    )
    done = run(["ask", "--sources", "hi"])
    assert done.exit_code == 0, done.stderr
    assert "[1] Paris https://example.com/paris" in done.stderr
    assert "[2]" not in done.stderr


def test_a_retry_under_markdown_shows_only_the_second_answer(
    glm_env: dict[str, str], service: FakeService, protocol: str
) -> None:
    first = Reply(content=["First ", "attempt."], reasoning=None, truncate_before_finish=True)
    service.script(first, Reply(content="Second answer.", reasoning=None))
    done = run(["ask", "--protocol", protocol, "--markdown", "hi"], stdout_tty=True)
    assert done.exit_code == 0, done.stderr
    assert "Second answer." in done.stdout
    assert "First" not in done.stdout


def test_a_retry_under_the_tool_loop_keeps_earlier_rounds_sources(
    glm_env: dict[str, str], service: FakeService, tmp_path: Path
) -> None:
    results = [{"title": "Round one", "link": "https://example.com/1"}]
    tool = tmp_path / "weather.sh"
    tool.write_text("#!/bin/sh\necho sunny\n")
    tool.chmod(0o755)
    service.script(
        Reply(content="", reasoning=None, web_search=results, finish_reason="tool_calls",
              tool_calls=[{"id": "c1", "name": "weather", "arguments": "{}"}]),
        Reply(reasoning=None, drop_after=1),
        Reply(reasoning=None),
    )
    spec = (
        '{"type": "function", "function": {"name": "weather", '
        '"parameters": {"type": "object", "properties": {}}}}'
    )
    tools = tmp_path / "tools.json"
    tools.write_text(f"[{spec}]")
    done = run([
        "ask", "--sources", "--tool", str(tools), "--tool-cmd", f"weather={tool}", "hi",
    ])
    assert done.exit_code == 0, done.stderr
    assert "[1] Round one" in done.stderr and "[2]" not in done.stderr


# --- exact numbers -----------------------------------------------------------------------


@pytest.mark.parametrize("stream", ["--stream", "--no-stream"])
def test_tool_call_arguments_keep_every_digit(
    glm_env: dict[str, str], service: FakeService, protocol: str, stream: str
) -> None:
    arguments = EXACT_ARGUMENTS
    expected = EXACT_JSON
    if protocol == "anthropic" and stream == "--no-stream":
        # the fake service sends `input` as an object it parsed: integers stay exact
        arguments, expected = f'{{"n": {BIG}}}', f'{{"n":{BIG}}}'
    call = {"id": "call_1", "name": "f", "arguments": arguments}
    for mode in ([], ["--ndjson"]):
        service.script(Reply(content="", tool_calls=[call], finish_reason="tool_calls"))
        done = run(["ask", "--protocol", protocol, stream, *mode, "hi"])
        assert done.exit_code == 0, done.stderr
        assert f'"arguments":{expected}' in done.stdout, done.stdout


def test_an_anthropic_body_keeps_long_decimals_in_tool_input(
    glm_env: dict[str, str], service: FakeService
) -> None:
    body = (
        '{"id":"msg_1","type":"message","role":"assistant","model":"glm-5.2",'
        '"content":[{"type":"tool_use","id":"t1","name":"f","input":'
        + EXACT_ARGUMENTS + '}],"stop_reason":"tool_use","usage":{}}'
    )
    service.script(RawResponse(body=body.encode()))
    done = run(["ask", "--protocol", "anthropic", "--no-stream", "hi"])
    assert f'"arguments":{EXACT_JSON}' in done.stdout, done.stdout


def test_chat_show_keeps_every_digit(glm_env: dict[str, str], service: FakeService) -> None:
    call = {"id": "call_1", "name": "f", "arguments": EXACT_ARGUMENTS}
    service.script(Reply(content="", tool_calls=[call], finish_reason="tool_calls"))
    assert run(["chat", "--session", "exact", "hi"]).exit_code == 0
    shown = run(["chat", "--show", "exact"])
    assert f'"arguments":{EXACT_JSON}' in shown.stdout, shown.stdout


# --- SSE as the standard says --------------------------------------------------------------


def test_a_leading_bom_does_not_lose_the_first_event(
    glm_env: dict[str, str], service: FakeService
) -> None:
    service.script(Reply(content=["Hi", " there."], reasoning=None, bom=True))
    done = run(["ask", "hi"])
    assert done.stdout == "Hi there.\n", done.stderr


def test_a_leading_bom_keeps_the_anthropic_message_start(
    glm_env: dict[str, str], service: FakeService
) -> None:
    service.script(Reply(id="msg_bom", bom=True))
    done = run(["ask", "--protocol", "anthropic", "--ndjson", "hi"])
    assert ndjson(done.out)[-1]["id"] == "msg_bom", done.stdout


def test_raw_stream_prints_a_multi_line_event_on_one_line(
    glm_env: dict[str, str], service: FakeService, protocol: str
) -> None:
    service.script(Reply(multiline_data=True, reasoning=None, content=["a", "b"]))
    done = run(["raw", "--protocol", protocol, "--stream", "hi"])
    assert done.exit_code == 0, done.stderr
    lines = done.stdout.splitlines()
    values = [json.loads(line) for line in lines]  # every line is a whole event
    events = 3 if protocol == "openai" else 7  # [DONE] is not printed
    assert len(values) == events, done.stdout


def test_media_types_are_compared_case_insensitively(
    glm_env: dict[str, str], service: FakeService
) -> None:
    chunk = {"choices": [{"index": 0, "delta": {"content": "Hi"}, "finish_reason": "stop"}]}
    sse = f"data: {json.dumps(chunk)}\n\ndata: [DONE]\n\n".encode()
    service.script(RawResponse(body=sse, content_type="Text/Event-Stream; charset=UTF-8"))
    assert run(["ask", "hi"]).stdout == "Hi\n"
    body = {"choices": [{"index": 0, "message": {"content": "Yo"}, "finish_reason": "stop"}]}
    service.script(RawResponse(body=json.dumps(body).encode(), content_type="Application/JSON"))
    done = run(["ask", "--stream", "hi"])
    assert done.stdout == "Yo\n", done.stderr


# --- refusals --------------------------------------------------------------------------------


@pytest.mark.parametrize("stream", ["--stream", "--no-stream"])
def test_an_openai_refusal_is_exit_6_with_its_text(
    glm_env: dict[str, str], service: FakeService, stream: str
) -> None:
    service.script(Reply(content="", reasoning=None, refusal=["I can't ", "help with that."]))
    done = run(["ask", stream, "hi"])
    assert done.exit_code == 6
    assert done.stdout == ""
    assert_one_error(done.stderr, "refused", "I can't help with that.")


@pytest.mark.parametrize("stream", ["--stream", "--no-stream"])
def test_an_anthropic_refusal_is_exit_6_with_its_explanation(
    glm_env: dict[str, str], service: FakeService, stream: str
) -> None:
    details = {"type": "refusal", "category": "cyber", "explanation": "Not something I do."}
    service.script(
        Reply(content="", reasoning=None, anthropic_stop_reason="refusal", stop_details=details)
    )
    done = run(["ask", "--protocol", "anthropic", stream, "hi"])
    assert done.exit_code == 6
    assert_one_error(done.stderr, "refused", "Not something I do.", "cyber")


def test_a_refusal_in_ndjson_is_a_done_line_then_an_error_line(
    glm_env: dict[str, str], service: FakeService, protocol: str
) -> None:
    if protocol == "openai":
        service.script(Reply(content="", reasoning=None, refusal="No."))
    else:
        service.script(Reply(content="", reasoning=None, anthropic_stop_reason="refusal"))
    done = run(["ask", "--protocol", protocol, "--ndjson", "hi"])
    lines = ndjson(done.out)
    assert [line["type"] for line in lines] == ["done", "error"]
    assert lines[0]["finish_reason"] == "refusal"
    assert lines[1]["exit_code"] == 6 and done.exit_code == 6


def test_a_refusal_is_not_stored_by_chat(glm_env: dict[str, str], service: FakeService) -> None:
    service.script(Reply(content="", reasoning=None, refusal="No."))
    assert run(["chat", "--session", "refused", "hi"]).exit_code == 6
    assert run(["chat", "--show", "refused"]).exit_code == 2


# --- only choice 0 -----------------------------------------------------------------------------


@pytest.mark.parametrize("stream", ["--stream", "--no-stream"])
def test_only_choice_zero_is_read(
    glm_env: dict[str, str], service: FakeService, stream: str
) -> None:
    service.script(
        Reply(content=["Zero", " here."], reasoning=None, extra_choices=["One.", "Two."])
    )
    done = run(["ask", stream, "hi"])
    assert done.exit_code == 0, done.stderr
    assert done.stdout == "Zero here.\n"


# --- the key is masked wherever it comes back ----------------------------------------------------


def test_an_echoed_key_in_an_error_body_and_header_is_masked(
    glm_env: dict[str, str], service: FakeService
) -> None:
    body = {"error": {"code": "1214", "message": f"bad request for key {KEY}"}}
    service.script(Status(400, body=body, headers={"X-Echo": KEY, "x-request-id": KEY}))
    done = run(["ask", "--debug", "hi"])  # `run` asserts the key appears nowhere
    assert done.exit_code == 2
    assert "bad request for key ***" in done.stderr
    assert "x-echo: ***" in done.stderr.lower()
    assert "glm: debug: < {" in done.stderr  # the error body is logged too


def test_raw_masks_the_key_in_error_and_success_bodies(
    glm_env: dict[str, str], service: FakeService
) -> None:
    service.script(Status(401, body={"error": {"message": f"key {KEY} refused"}}))
    done = run(["raw", "hi"])
    assert done.exit_code == 3 and b"key *** refused" in done.out
    service.script(Reply(content=f"the key is {KEY}"))
    done = run(["raw", "--no-stream", "hi"])
    assert done.exit_code == 0 and b"the key is ***" in done.out
    service.script(Reply(content=["the key ", f"is {KEY}"]))
    done = run(["raw", "--stream", "hi"])
    assert done.exit_code == 0 and b"is ***" in done.out


def test_an_echoed_key_in_a_stream_error_and_retry_note_is_masked(
    glm_env: dict[str, str], service: FakeService
) -> None:
    service.script(
        Status(503, body={"error": {"message": f"busy {KEY}"}}, headers=NOW),
        Reply(error_after=1, error={"code": "1234", "message": f"lost {KEY}"}),
    )
    done = run(["ask", "--verbose", "hi"])
    assert "busy ***" in done.stderr and "lost ***" in done.stderr


# --- the terminal is not the network's ------------------------------------------------------------

EVIL = "a\x1b]52;c;aGk=\x07b\x9b2J\rc"
SHOWN = "a\\x1b]52;c;aGk=\\x07b\\x9b2J\\x0dc"


def test_control_characters_in_the_answer_are_escaped_on_a_terminal_only(
    glm_env: dict[str, str], service: FakeService
) -> None:
    service.script(Reply(content=EVIL, reasoning=None))
    assert run(["ask", "hi"], stdout_tty=True).stdout == SHOWN + "\n"
    service.script(Reply(content=EVIL, reasoning=None))
    assert run(["ask", "hi"]).stdout == EVIL + "\n"  # a pipe gets the bytes unchanged


def test_reasoning_sources_and_tool_names_are_escaped_on_a_terminal(
    glm_env: dict[str, str], service: FakeService
) -> None:
    service.script(Reply(
        reasoning=EVIL, content="", finish_reason="tool_calls",
        web_search=[{"title": EVIL, "link": "https://x/\x1b[2K"}],
        tool_calls=[{"id": "c1", "name": "f\x9b2J", "arguments": "{}"}],
    ))
    done = run(
        ["ask", "--show-thinking", "--sources", "hi"], stdout_tty=True, stderr_tty=True
    )
    assert "\x1b" not in done.stderr and "\x9b" not in done.stderr and "\x07" not in done.stderr
    assert SHOWN in done.stderr and "https://x/\\x1b[2K" in done.stderr
    assert "\x9b" not in done.stdout and '"name":"f\\u009b2J"' in done.stdout
    assert json.loads(done.stdout)["name"] == "f\x9b2J"  # still the same JSON


def test_debug_headers_are_escaped_on_a_terminal(
    glm_env: dict[str, str], service: FakeService
) -> None:
    service.script(Reply(headers={"X-Evil": "\x9b2J"}))
    done = run(["ask", "--debug", "hi"], stderr_tty=True)
    assert "glm: debug: < x-evil: \\x9b2J" in done.stderr


def test_escape_sequences_never_reach_a_real_terminal(
    glm_env: dict[str, str], service: FakeService
) -> None:
    import pty
    import subprocess
    import sys

    service.script(Reply(content=EVIL, reasoning=EVIL))
    controller, terminal = pty.openpty()
    env = {**glm_env, "TERM": "dumb"}  # no spinner, no colour: any ESC is the server's
    process = subprocess.Popen(
        [sys.executable, "-m", "glm_cli", "ask", "--show-thinking", "hi"],
        stdin=subprocess.DEVNULL, stdout=terminal, stderr=terminal, env=env,
    )
    os.close(terminal)
    seen = b""
    while True:
        try:
            data = os.read(controller, 4096)
        except OSError:  # EIO: the other side closed
            break
        if not data:
            break
        seen += data
    os.close(controller)
    assert process.wait(timeout=30) == 0
    assert b"\x1b" not in seen and b"\x07" not in seen and b"\xc2\x9b" not in seen
    assert seen.count(SHOWN.encode()) == 2, seen


# --- errors that help -----------------------------------------------------------------------


def test_a_404_names_the_url_and_a_doubled_v1(
    glm_env: dict[str, str], service: FakeService
) -> None:
    done = run(["ask", "--base-url", service.url + "/v1", "hi"])
    assert done.exit_code == 2
    assert_one_error(
        done.stderr, f"at {service.url}/v1/v1/chat/completions", "drop the trailing /v1"
    )


def test_the_last_error_says_how_many_attempts_and_the_fallback(
    glm_env: dict[str, str], service: FakeService, fallback_service: FakeService,
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("GLM_BASE_URL")  # a base URL of one's own has no fallback
    config = tmp_path / "config.toml"
    config.write_text(
        '[providers.twin]\n'
        f'url = "{service.url}/v1/chat/completions"\n'
        f'fallback_url = "{fallback_service.url}/v1/chat/completions"\n'
    )
    for svc in (service, fallback_service):
        svc.script(*[Status(503, headers=NOW)] * 3)
    done = run(["ask", "--config", str(config), "--provider", "twin", "hi"])
    assert done.exit_code == 5
    assert_one_error(
        done.stderr, "after 3 attempts", f"fallback {fallback_service.url}", "tried too"
    )


# --- usage in OpenAI-compatible streams -------------------------------------------------------


def answer_stream() -> RawResponse:
    """A stream that skips the fake's checks (which, like the GLM documents, know no
    `stream_options`): an own provider's server."""
    chunk = {"choices": [{"index": 0, "delta": {"content": "Hi"}, "finish_reason": "stop"}]}
    sse = f"data: {json.dumps(chunk)}\n\ndata: [DONE]\n\n".encode()
    return RawResponse(body=sse, content_type="text/event-stream")


def answer_body() -> RawResponse:
    body = {"choices": [{"index": 0, "message": {"content": "Hi"}, "finish_reason": "stop"}]}
    return RawResponse(body=json.dumps(body).encode())


def own_provider(tmp_path: Path, service: FakeService, extra: str = "") -> list[str]:
    config = tmp_path / "config.toml"
    config.write_text(
        f'[providers.local]\nurl = "{service.url}/v1/chat/completions"\n{extra}'
    )
    return ["--config", str(config), "--provider", "local"]


def test_stream_usage_is_asked_for_when_shown_on_own_providers_only(
    glm_env: dict[str, str], service: FakeService, tmp_path: Path
) -> None:
    own = own_provider(tmp_path, service)
    cases = [
        ([*own, "--usage"], True),
        ([*own, "--ndjson"], True),
        (own, False),
        ([*own, "--usage", "--no-stream"], False),
        (["--usage"], False),  # the built-in provider (at GLM_BASE_URL)
    ]
    for args, wanted in cases:
        service.reset()
        service.script(answer_stream() if "--no-stream" not in args else answer_body())
        assert run(["ask", *args, "hi"]).exit_code == 0
        sent = service.requests[0].json
        assert ("stream_options" in sent) is wanted, args
        if wanted:
            assert sent["stream_options"] == {"include_usage": True}
    service.reset()
    service.script(answer_stream())
    off = own_provider(tmp_path, service, "stream_usage = false\n")
    assert run(["ask", *off, "--usage", "hi"]).exit_code == 0
    assert "stream_options" not in service.requests[0].json


def test_stream_usage_must_be_a_boolean(
    glm_env: dict[str, str], service: FakeService, tmp_path: Path
) -> None:
    done = run(["ask", *own_provider(tmp_path, service, 'stream_usage = "yes"\n'), "hi"])
    assert done.exit_code == 2
    assert_one_error(done.stderr, "providers.local.stream_usage", "true or false")


def test_a_usage_only_final_chunk_is_read(
    glm_env: dict[str, str], service: FakeService
) -> None:
    chunks = [
        {"choices": [{"index": 0, "delta": {"content": "Hi"}, "finish_reason": None}],
         "usage": None},
        {"choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}], "usage": None},
        {"choices": [], "usage": {"prompt_tokens": 3, "completion_tokens": 4,
                                  "total_tokens": 7}},
    ]
    sse = "".join(f"data: {json.dumps(c)}\n\n" for c in chunks) + "data: [DONE]\n\n"
    service.script(RawResponse(body=sse.encode(), content_type="text/event-stream"))
    done = run(["ask", "--usage", "hi"])
    assert done.stdout == "Hi\n"
    assert "prompt_tokens=3 completion_tokens=4" in done.stderr and "total_tokens=7" in done.stderr



def test_glm_json_escapes_c1_controls_on_a_terminal_only(
    glm_env: dict[str, str], service: FakeService
) -> None:
    answer = '{"t": "a\x9b2Jb"}'
    service.script(Reply(content=answer, reasoning=None))
    shown = run(["json", "hi"], stdout_tty=True)
    assert shown.out == b'{"t":"a\\u009b2Jb"}\n', shown.stderr
    service.script(Reply(content=answer, reasoning=None))
    assert run(["json", "hi"]).out == '{"t":"a\x9b2Jb"}\n'.encode()
