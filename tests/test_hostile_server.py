"""A server written to misbehave (SPEC §3.2): retries that must not duplicate output,
exact numbers, SSE by the standard, refusals and several choices (the rest is in
test_hostile_output.py)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from glm_cli.core import retry
from tests.fake_service import FakeService, RawResponse, Reply
from tests.helpers import assert_one_error
from tests.hostile import run

PROTOCOLS = ["openai", "anthropic"]
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
    service.script(Reply(web_search=results, drop_after=1), Reply(web_search=results))
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
        Reply(
            content="",
            reasoning=None,
            web_search=results,
            finish_reason="tool_calls",
            tool_calls=[{"id": "c1", "name": "weather", "arguments": "{}"}],
        ),
        Reply(reasoning=None, drop_after=1),
        Reply(reasoning=None),
    )
    spec = (
        '{"type": "function", "function": {"name": "weather", '
        '"parameters": {"type": "object", "properties": {}}}}'
    )
    tools = tmp_path / "tools.json"
    tools.write_text(f"[{spec}]")
    done = run(
        [
            "ask",
            "--sources",
            "--tool",
            str(tools),
            "--tool-cmd",
            f"weather={tool}",
            "hi",
        ]
    )
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
        + EXACT_ARGUMENTS
        + '}],"stop_reason":"tool_use","usage":{}}'
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
