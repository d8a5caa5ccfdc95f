"""A server written to misbehave (SPEC §3.2), continued: an echoed key, escape
sequences for the terminal, errors that name the URL and the attempts, and usage in
OpenAI-compatible streams."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from glm_cli.core import retry
from tests.fake_service import FakeService, RawResponse, Reply, Status
from tests.fake_service.steps import KEY
from tests.helpers import assert_one_error
from tests.hostile import run

NOW = {"Retry-After": "0"}


@pytest.fixture(autouse=True)
def _fast_backoff(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(retry, "INITIAL_DELAY", 0.01, raising=False)


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
    service.script(
        Reply(
            reasoning=EVIL,
            content="",
            finish_reason="tool_calls",
            web_search=[{"title": EVIL, "link": "https://x/\x1b[2K"}],
            tool_calls=[{"id": "c1", "name": "f\x9b2J", "arguments": "{}"}],
        )
    )
    done = run(["ask", "--show-thinking", "--sources", "hi"], stdout_tty=True, stderr_tty=True)
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
        stdin=subprocess.DEVNULL,
        stdout=terminal,
        stderr=terminal,
        env=env,
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
    glm_env: dict[str, str],
    service: FakeService,
    fallback_service: FakeService,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("GLM_BASE_URL")  # a base URL of one's own has no fallback
    config = tmp_path / "config.toml"
    config.write_text(
        "[providers.twin]\n"
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
    config.write_text(f'[providers.local]\nurl = "{service.url}/v1/chat/completions"\n{extra}')
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


def test_a_usage_only_final_chunk_is_read(glm_env: dict[str, str], service: FakeService) -> None:
    chunks = [
        {
            "choices": [{"index": 0, "delta": {"content": "Hi"}, "finish_reason": None}],
            "usage": None,
        },
        {"choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}], "usage": None},
        {"choices": [], "usage": {"prompt_tokens": 3, "completion_tokens": 4, "total_tokens": 7}},
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
