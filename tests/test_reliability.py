"""Reliability against the fake service (SPEC §3, §3.1, §5): retries, fallback,
broken streams, timeouts and the one error line. In-process through `ask`, which also
checks that the key never appears in any output."""

from __future__ import annotations

import time
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
    anthropic_error,
    openai_error,
)
from tests.helpers import SECRET, ask, assert_one_error, closed_port

ANSWER = "Hello from the fake service."
NOW = {"Retry-After": "0"}
PROTOCOLS = ["openai", "anthropic"]
BALANCE_MESSAGE = "余额不足或无可用资源包,请充值。"  # what the service says for 1113


@pytest.fixture(autouse=True)
def _fast_backoff(monkeypatch: pytest.MonkeyPatch) -> None:
    """Backoff without Retry-After stays exponential, but starts at 10 ms here."""
    monkeypatch.setattr(retry, "INITIAL_DELAY", 0.01, raising=False)


@pytest.fixture(params=PROTOCOLS)
def protocol(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture(params=["--stream", "--no-stream"])
def stream_flag(request: pytest.FixtureRequest) -> str:
    return str(request.param)


def error_for(
    protocol: str, code: str, message: str, kind: str = "api_error", request_id: str | None = None
) -> dict[str, Any]:
    if protocol == "anthropic":
        return anthropic_error(kind, message, code, request_id)
    body = openai_error(code, message)
    if request_id is not None:
        body["request_id"] = request_id
    return body


def path_for(protocol: str) -> str:
    return "/v1/messages" if protocol == "anthropic" else "/v1/chat/completions"


def content_events_before(protocol: str, pieces: int) -> int:
    """`drop_after`/`stall_after` value for a stream cut after `pieces` content deltas
    (no reasoning): the anthropic stream opens with message_start and content_block_start."""
    return pieces + 2 if protocol == "anthropic" else pieces


# ---------------------------------------------------------------------------
# Retries on retryable statuses
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("status", [429, 503, 502, 500, 504, 408, 409, 529])
def test_retryable_status_then_success(
    glm_env: dict[str, str], service: FakeService, protocol: str, stream_flag: str, status: int
) -> None:
    service.script(Status(status, headers=NOW), Reply())
    result = ask(stream_flag, protocol=protocol)
    assert result.exit_code == 0, result.stderr
    assert result.stdout == ANSWER + "\n"
    assert result.stderr == ""
    assert len(service.requests) == 2
    assert all(r.path == path_for(protocol) for r in service.requests)


def test_two_failures_then_success_with_default_retries(
    glm_env: dict[str, str], service: FakeService, protocol: str
) -> None:
    service.script(Status(503, headers=NOW), Status(429, headers=NOW), Reply())
    result = ask(protocol=protocol)
    assert result.exit_code == 0, result.stderr
    assert result.stdout == ANSWER + "\n"
    assert len(service.requests) == 3


def test_retries_are_silent_unless_verbose(glm_env: dict[str, str], service: FakeService) -> None:
    service.script(Status(503, headers=NOW), Reply())
    result = ask("--verbose", protocol="openai")
    assert result.exit_code == 0
    assert "503" in result.stderr  # --verbose says why it retried
    assert result.stdout == ANSWER + "\n"


@pytest.mark.parametrize(
    ("status", "exit_code"), [(503, 5), (500, 5), (502, 5), (529, 5), (408, 5), (429, 4)]
)
def test_retries_exhausted(
    glm_env: dict[str, str], service: FakeService, protocol: str, status: int, exit_code: int
) -> None:
    service.script(*[Status(status, headers=NOW)] * 3)
    result = ask("--retries", "1", protocol=protocol)
    assert result.exit_code == exit_code
    assert len(service.requests) == 2
    assert result.stdout == ""
    assert_one_error(result.stderr, str(status))


def test_default_retries_make_three_attempts(
    glm_env: dict[str, str], service: FakeService, protocol: str
) -> None:
    service.script(*[Status(503, headers=NOW)] * 4)
    result = ask(protocol=protocol)
    assert result.exit_code == 5
    assert len(service.requests) == 3


def test_retries_zero_is_one_request(
    glm_env: dict[str, str], service: FakeService, protocol: str
) -> None:
    service.script(Status(503, headers=NOW), Reply())
    result = ask("--retries", "0", protocol=protocol)
    assert result.exit_code == 5
    assert len(service.requests) == 1
    assert_one_error(result.stderr, "503")


def test_retry_after_is_honoured(glm_env: dict[str, str], service: FakeService) -> None:
    service.script(Status(429, headers={"Retry-After": "1"}), Reply())
    started = time.monotonic()
    result = ask(protocol="openai")
    elapsed = time.monotonic() - started
    assert result.exit_code == 0, result.stderr
    assert len(service.requests) == 2
    assert elapsed >= 0.9


def test_retry_after_as_http_date_in_the_past_is_no_wait(
    glm_env: dict[str, str], service: FakeService
) -> None:
    service.script(Status(503, headers={"Retry-After": "Wed, 21 Oct 2015 07:28:00 GMT"}), Reply())
    started = time.monotonic()
    result = ask(protocol="openai")
    assert result.exit_code == 0, result.stderr
    assert time.monotonic() - started < 0.8
    assert len(service.requests) == 2


# ---------------------------------------------------------------------------
# Business codes and non-retryable statuses
# ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("code", "word"), [("1113", "balance"), ("1304", "daily"), ("1308", "cap"), ("1310", "cap")]
)
def test_final_quota_code_in_a_429_is_exit_4_at_once(
    glm_env: dict[str, str],
    service: FakeService,
    protocol: str,
    stream_flag: str,
    code: str,
    word: str,
) -> None:
    body = error_for(protocol, code, BALANCE_MESSAGE, "rate_limit_error")
    service.script(Status(429, body=body, headers=NOW), Reply())
    result = ask(stream_flag, protocol=protocol)
    assert result.exit_code == 4
    assert len(service.requests) == 1
    assert result.stdout == ""
    line = assert_one_error(result.stderr, "429", code, BALANCE_MESSAGE)
    assert word in line.lower()


@pytest.mark.parametrize("code", ["1302", "1303"])
def test_concurrency_and_frequency_limits_are_retried(
    glm_env: dict[str, str], service: FakeService, protocol: str, code: str
) -> None:
    body = error_for(protocol, code, "Too many requests", "rate_limit_error")
    service.script(Status(429, body=body, headers=NOW), Reply())
    result = ask(protocol=protocol)
    assert result.exit_code == 0, result.stderr
    assert len(service.requests) == 2


@pytest.mark.parametrize(
    ("status", "exit_code"),
    [(401, 3), (403, 3), (404, 2), (405, 2), (413, 2), (422, 2), (402, 4)],
)
def test_non_retryable_status(
    glm_env: dict[str, str],
    service: FakeService,
    protocol: str,
    stream_flag: str,
    status: int,
    exit_code: int,
) -> None:
    service.script(Status(status, headers=NOW), Reply())
    result = ask(stream_flag, protocol=protocol)
    assert result.exit_code == exit_code
    assert len(service.requests) == 1
    assert result.stdout == ""
    assert_one_error(result.stderr, str(status))


def test_400_carries_the_services_message(
    glm_env: dict[str, str], service: FakeService, protocol: str
) -> None:
    message = "temperature must be between 0 and 1"
    body = error_for(protocol, "1214", message, "invalid_request_error")
    service.script(Status(400, body=body))
    result = ask(protocol=protocol)
    assert result.exit_code == 2
    assert len(service.requests) == 1
    assert_one_error(result.stderr, "400", message, "1214")


def test_status_with_a_non_json_body_is_classified_by_status(
    glm_env: dict[str, str], service: FakeService
) -> None:
    service.script(Status(403, body=b"Forbidden\n", content_type="text/plain"))
    result = ask(protocol="openai")
    assert result.exit_code == 3
    assert_one_error(result.stderr, "403")


def test_auth_business_code_wins_over_status(glm_env: dict[str, str], service: FakeService) -> None:
    service.script(Status(400, body=openai_error("1002", "Invalid API key")))
    result = ask(protocol="openai")
    assert result.exit_code == 3
    assert_one_error(result.stderr, "Invalid API key", "1002")


# ---------------------------------------------------------------------------
# The error line: status, message, code, request id
# ---------------------------------------------------------------------------


def test_error_line_has_status_message_code_and_response_request_id(
    glm_env: dict[str, str], service: FakeService, protocol: str
) -> None:
    body = error_for(protocol, "1261", "Prompt too long", "invalid_request_error", "req-from-svc")
    service.script(Status(413, body=body))
    result = ask(protocol=protocol)
    assert result.exit_code == 2
    assert_one_error(result.stderr, "413", "Prompt too long", "1261", "req-from-svc")


def test_error_line_has_request_id_from_response_header(
    glm_env: dict[str, str], service: FakeService
) -> None:
    service.script(
        Status(
            404,
            body=openai_error("1211", "Model not found"),
            headers={"X-Request-Id": "hdr-req-4242"},
        )
    )
    result = ask(protocol="openai")
    assert result.exit_code == 2
    assert_one_error(result.stderr, "404", "Model not found", "1211", "hdr-req-4242")


def test_error_line_falls_back_to_the_sent_request_id(
    glm_env: dict[str, str], service: FakeService
) -> None:
    service.script(Status(400, body=openai_error("1214", "bad parameter")))
    result = ask("--request-id", "mine-123456", protocol="openai")
    assert result.exit_code == 2
    assert service.requests[0].json["request_id"] == "mine-123456"
    assert_one_error(result.stderr, "400", "bad parameter", "1214", "mine-123456")


def test_response_request_id_beats_the_sent_one(
    glm_env: dict[str, str], service: FakeService
) -> None:
    body = error_for("openai", "1214", "bad parameter", request_id="theirs-999")
    service.script(Status(400, body=body))
    result = ask("--request-id", "mine-123456", protocol="openai")
    line = assert_one_error(result.stderr, "theirs-999")
    assert "mine-123456" not in line


def test_html_error_page_is_one_line_without_html(
    glm_env: dict[str, str], service: FakeService
) -> None:
    page = b"<html><head><title>502 Bad Gateway</title></head><body><h1>502 Bad Gateway</h1>"
    page += b"<hr><center>nginx</center>" + b"<p>filler</p>" * 200 + b"</body></html>"
    service.script(Status(502, body=page, content_type="text/html"))
    result = ask("--retries", "0", protocol="openai")
    assert result.exit_code == 5
    assert_one_error(result.stderr, "502")
    assert len(result.stderr.splitlines()) == 1
    assert len(result.stderr) < 400  # at most an excerpt, never the page
    assert "filler" not in result.stderr and "</body>" not in result.stderr
    assert result.stdout == ""


@pytest.mark.parametrize(
    "body", [b"not json at all", b"", b"[1, 2, 3]", b'{"unexpected": true}'], ids=repr
)
def test_200_with_a_body_that_is_not_the_expected_json_is_exit_5(
    glm_env: dict[str, str], service: FakeService, protocol: str, body: bytes
) -> None:
    service.script(*[RawResponse(200, body)] * 3)
    result = ask("--no-stream", protocol=protocol)
    assert result.exit_code == 5
    assert_one_error(result.stderr)
    assert result.stdout == ""


def test_200_html_to_a_stream_request_is_exit_5(
    glm_env: dict[str, str], service: FakeService, protocol: str
) -> None:
    page = b"<html><body>Welcome to the captive portal</body></html>"
    service.script(*[RawResponse(200, page, content_type="text/html")] * 3)
    result = ask("--stream", protocol=protocol)
    assert result.exit_code == 5
    assert_one_error(result.stderr)
    assert len(result.stderr) < 400  # at most an excerpt of the page
    assert result.stdout == ""


# ---------------------------------------------------------------------------
# Connection failures and fallback
# ---------------------------------------------------------------------------


def write_config(tmp_path: Path, protocol: str, url: str, fallback_url: str) -> str:
    path = tmp_path / "config.toml"
    path.write_text(
        "[providers.local]\n"
        f'protocol = "{protocol}"\n'
        f'url = "{url}"\n'
        f'fallback_url = "{fallback_url}"\n'
    )
    return str(path)


def test_connection_refused_is_exit_5_with_one_line(glm_env: dict[str, str], protocol: str) -> None:
    url = f"http://127.0.0.1:{closed_port()}"
    result = ask("--base-url", url, protocol=protocol)
    assert result.exit_code == 5
    assert result.stdout == ""
    assert_one_error(result.stderr)


def test_drop_before_headers_is_retried(
    glm_env: dict[str, str], service: FakeService, protocol: str, stream_flag: str
) -> None:
    service.script(Drop(), Reply())
    result = ask(stream_flag, protocol=protocol)
    assert result.exit_code == 0, result.stderr
    assert result.stdout == ANSWER + "\n"
    assert len(service.requests) == 2


def test_fallback_after_connection_refused(
    no_base_url: None, fallback_service: FakeService, tmp_path: Path, protocol: str
) -> None:
    path = path_for(protocol)
    config = write_config(
        tmp_path, protocol, f"http://127.0.0.1:{closed_port()}{path}", fallback_service.url + path
    )
    result = ask("--config", config, "--provider", "local", protocol=protocol)
    assert result.exit_code == 0, result.stderr
    assert result.stdout == ANSWER + "\n"
    assert len(fallback_service.requests) == 1
    assert fallback_service.requests[0].path == path


def test_fallback_after_a_drop(
    no_base_url: None,
    service: FakeService,
    fallback_service: FakeService,
    tmp_path: Path,
    protocol: str,
) -> None:
    path = path_for(protocol)
    config = write_config(tmp_path, protocol, service.url + path, fallback_service.url + path)
    service.script(Drop(), Reply(content="from the primary"))
    fallback_service.script(Reply(content="from the fallback"))
    result = ask("--config", config, "--provider", "local", protocol=protocol)
    assert result.exit_code == 0, result.stderr
    assert result.stdout == "from the fallback\n"
    assert (len(service.requests), len(fallback_service.requests)) == (1, 1)


def test_fallback_after_a_5xx(
    no_base_url: None, service: FakeService, fallback_service: FakeService, tmp_path: Path
) -> None:
    path = path_for("openai")
    config = write_config(tmp_path, "openai", service.url + path, fallback_service.url + path)
    service.script(Status(503, headers=NOW), Reply(content="from the primary"))
    fallback_service.script(Reply(content="from the fallback"))
    result = ask("--config", config, "--provider", "local", protocol="openai")
    assert result.exit_code == 0, result.stderr
    assert result.stdout == "from the fallback\n"


def test_no_fallback_after_a_429(
    no_base_url: None, service: FakeService, fallback_service: FakeService, tmp_path: Path
) -> None:
    path = path_for("openai")
    config = write_config(tmp_path, "openai", service.url + path, fallback_service.url + path)
    service.script(Status(429, headers=NOW), Reply(content="from the primary"))
    result = ask("--config", config, "--provider", "local", protocol="openai")
    assert result.exit_code == 0, result.stderr
    assert result.stdout == "from the primary\n"
    assert fallback_service.requests == []


def test_both_endpoints_down_is_exit_5(no_base_url: None, tmp_path: Path, protocol: str) -> None:
    path = path_for(protocol)
    config = write_config(
        tmp_path,
        protocol,
        f"http://127.0.0.1:{closed_port()}{path}",
        f"http://127.0.0.1:{closed_port()}{path}",
    )
    result = ask("--config", config, "--provider", "local", protocol=protocol)
    assert result.exit_code == 5
    assert result.stdout == ""
    assert_one_error(result.stderr)


def test_both_endpoints_failing_alternate_then_exit_5(
    no_base_url: None, service: FakeService, fallback_service: FakeService, tmp_path: Path
) -> None:
    path = path_for("openai")
    config = write_config(tmp_path, "openai", service.url + path, fallback_service.url + path)
    service.script(*[Status(503, headers=NOW)] * 3)
    fallback_service.script(*[Status(502, headers=NOW)] * 3)
    result = ask("--config", config, "--provider", "local", protocol="openai")
    assert result.exit_code == 5
    assert (len(service.requests), len(fallback_service.requests)) == (2, 1)
    assert_one_error(result.stderr)


def test_base_url_has_no_fallback(
    glm_env: dict[str, str], fallback_service: FakeService, tmp_path: Path
) -> None:
    path = path_for("openai")
    config = write_config(
        tmp_path, "openai", fallback_service.url + path, fallback_service.url + path
    )
    dead = f"http://127.0.0.1:{closed_port()}"
    result = ask("--config", config, "--provider", "local", "--base-url", dead, protocol="openai")
    assert result.exit_code == 5
    assert fallback_service.requests == []
    assert_one_error(result.stderr)


# ---------------------------------------------------------------------------
# Broken streams
# ---------------------------------------------------------------------------

PIECES = ["Hel", "lo ", "wor", "ld, ", "this ", "is ", "long."]


def test_stream_dropped_after_content_is_not_retried(
    glm_env: dict[str, str], service: FakeService, protocol: str
) -> None:
    cut = content_events_before(protocol, 3)
    service.script(Reply(content=PIECES, reasoning=None, drop_after=cut), Reply())
    result = ask("--stream", protocol=protocol)
    assert result.exit_code == 5
    assert result.stdout == "Hello wor"
    assert len(service.requests) == 1
    assert_one_error(result.stderr)


def test_stream_dropped_before_any_content_is_retried(
    glm_env: dict[str, str], service: FakeService, protocol: str
) -> None:
    service.script(Reply(content=PIECES, reasoning=None, drop_after=0), Reply())
    result = ask("--stream", protocol=protocol)
    assert result.exit_code == 0, result.stderr
    assert result.stdout == ANSWER + "\n"
    assert len(service.requests) == 2


def test_stream_dropped_during_reasoning_is_retried(
    glm_env: dict[str, str], service: FakeService, protocol: str
) -> None:
    # Reasoning does not reach stdout, so nothing has been written yet.
    cut = 3 if protocol == "anthropic" else 1
    service.script(Reply(reasoning=["Hmm, ", "let me see."], drop_after=cut), Reply())
    result = ask("--stream", protocol=protocol)
    assert result.exit_code == 0, result.stderr
    assert result.stdout == ANSWER + "\n"
    assert len(service.requests) == 2


def test_whole_response_dropped_mid_body_is_retried(
    glm_env: dict[str, str], service: FakeService, protocol: str
) -> None:
    service.script(Reply(drop_after=20), Reply())
    result = ask("--no-stream", protocol=protocol)
    assert result.exit_code == 0, result.stderr
    assert result.stdout == ANSWER + "\n"
    assert len(service.requests) == 2


def test_stream_without_final_chunk_is_exit_5(
    glm_env: dict[str, str], service: FakeService, protocol: str
) -> None:
    service.script(Reply(content=PIECES, reasoning=None, truncate_before_finish=True), Reply())
    result = ask("--stream", protocol=protocol)
    assert result.exit_code == 5
    assert result.stdout == "".join(PIECES)
    assert len(service.requests) == 1
    assert_one_error(result.stderr)


def test_final_chunk_without_end_marker_is_success(
    glm_env: dict[str, str], service: FakeService, protocol: str
) -> None:
    service.script(Reply(content=PIECES, reasoning=None, omit_done=True))
    result = ask("--stream", protocol=protocol)
    assert result.exit_code == 0, result.stderr
    assert result.stdout == "".join(PIECES) + "\n"
    assert result.stderr == ""


@pytest.mark.parametrize("at", ["first", "middle"])
def test_malformed_chunk_is_exit_5(
    glm_env: dict[str, str], service: FakeService, protocol: str, at: str
) -> None:
    index = 0 if at == "first" else content_events_before(protocol, 2)
    service.script(*[Reply(content=PIECES, reasoning=None, malformed_at=index)] * 3)
    result = ask("--stream", protocol=protocol)
    assert result.exit_code == 5
    assert_one_error(result.stderr)
    if at == "middle":
        assert result.stdout == "Hello "
        assert len(service.requests) == 1


@pytest.mark.parametrize(
    ("protocol", "error", "exit_code", "message"),
    [
        ("openai", {"code": "1113", "message": BALANCE_MESSAGE}, 4, BALANCE_MESSAGE),
        ("openai", {"code": "1302", "message": "Too many requests"}, 4, "Too many requests"),
        ("openai", {"code": "1001", "message": "Token expired"}, 3, "Token expired"),
        ("openai", {"code": "1214", "message": "Bad parameter"}, 2, "Bad parameter"),
        ("openai", {"code": "9999", "message": "Something odd"}, 5, "Something odd"),
        ("openai", {"code": "1234", "message": "Network error"}, 5, "Network error"),
        ("anthropic", {"type": "rate_limit_error", "message": "Slow down"}, 4, "Slow down"),
        (
            "anthropic",
            {"type": "rate_limit_error", "message": BALANCE_MESSAGE, "code": "1113"},
            4,
            BALANCE_MESSAGE,
        ),
        ("anthropic", {"type": "authentication_error", "message": "Bad key"}, 3, "Bad key"),
        ("anthropic", {"type": "permission_error", "message": "Not allowed"}, 3, "Not allowed"),
        ("anthropic", {"type": "invalid_request_error", "message": "Bad field"}, 2, "Bad field"),
        ("anthropic", {"type": "overloaded_error", "message": "Overloaded"}, 5, "Overloaded"),
        ("anthropic", {"type": "mystery_error", "message": "Something odd"}, 5, "Something odd"),
    ],
)
def test_error_inside_the_stream_is_classified(
    glm_env: dict[str, str],
    service: FakeService,
    protocol: str,
    error: dict[str, Any],
    exit_code: int,
    message: str,
) -> None:
    cut = content_events_before(protocol, 2)
    service.script(Reply(content=PIECES, reasoning=None, error_after=cut, error=error))
    result = ask("--stream", protocol=protocol)
    assert result.exit_code == exit_code, result.stderr
    assert result.stdout == "Hello "
    assert len(service.requests) == 1
    assert_one_error(result.stderr, message)


def test_balance_error_at_stream_start_is_not_retried(
    glm_env: dict[str, str], service: FakeService, protocol: str
) -> None:
    error = {"code": "1113", "message": BALANCE_MESSAGE}
    if protocol == "anthropic":
        error["type"] = "rate_limit_error"
    service.script(Reply(error_after=0, error=error), Reply())
    result = ask("--stream", protocol=protocol)
    assert result.exit_code == 4
    assert len(service.requests) == 1
    assert result.stdout == ""
    line = assert_one_error(result.stderr, BALANCE_MESSAGE, "1113")
    assert "balance" in line.lower()


def test_network_error_finish_reason_is_exit_5(
    glm_env: dict[str, str], service: FakeService
) -> None:
    service.script(Reply(content="partial", reasoning=None, finish_reason="network_error"))
    result = ask("--stream", protocol="openai")
    assert result.exit_code == 5
    assert_one_error(result.stderr)


# ---------------------------------------------------------------------------
# Timeouts and --max-time
# ---------------------------------------------------------------------------


def test_stall_before_headers_past_timeout_is_exit_5(
    glm_env: dict[str, str], service: FakeService
) -> None:
    service.script(Stall(10))
    started = time.monotonic()
    result = ask("--timeout", "0.3", "--retries", "0", protocol="openai")
    assert time.monotonic() - started < 3
    assert result.exit_code == 5
    assert len(service.requests) == 1
    assert_one_error(result.stderr)


def test_stall_before_headers_is_retried(glm_env: dict[str, str], service: FakeService) -> None:
    service.script(Stall(10), Reply())
    result = ask("--timeout", "0.3", protocol="openai")
    assert result.exit_code == 0, result.stderr
    assert result.stdout == ANSWER + "\n"
    assert len(service.requests) == 2


def test_stall_mid_stream_after_content_is_exit_5_not_retried(
    glm_env: dict[str, str], service: FakeService, protocol: str
) -> None:
    cut = content_events_before(protocol, 2)
    service.script(
        Reply(content=PIECES, reasoning=None, stall_after=cut, stall_seconds=10), Reply()
    )
    started = time.monotonic()
    result = ask("--stream", "--timeout", "0.3", protocol=protocol)
    assert time.monotonic() - started < 3
    assert result.exit_code == 5
    assert result.stdout == "Hello "
    assert len(service.requests) == 1
    assert_one_error(result.stderr)


def test_slow_but_steady_stream_is_not_a_timeout(
    glm_env: dict[str, str], service: FakeService
) -> None:
    pieces = [f"w{i} " for i in range(8)]
    service.script(Reply(content=pieces, reasoning=None, chunk_delay=0.1))
    started = time.monotonic()
    result = ask("--stream", "--timeout", "0.5", "--retries", "0", protocol="openai")
    assert result.exit_code == 0, result.stderr
    assert time.monotonic() - started > 0.5  # longer than the timeout in all
    assert result.stdout == "".join(pieces) + "\n"


def test_max_time_bounds_the_whole_run(glm_env: dict[str, str], service: FakeService) -> None:
    service.script(Reply(content=[f"w{i} " for i in range(60)], reasoning=None, chunk_delay=0.1))
    started = time.monotonic()
    result = ask("--stream", "--max-time", "0.5", protocol="openai")
    elapsed = time.monotonic() - started
    assert result.exit_code == 5
    assert 0.4 <= elapsed < 2.5
    assert_one_error(result.stderr, "--max-time")
    assert len(service.requests) == 1
    assert result.stdout.startswith("w0 ")


def test_max_time_includes_retry_waits(glm_env: dict[str, str], service: FakeService) -> None:
    service.script(Status(503, headers={"Retry-After": "5"}), Reply())
    started = time.monotonic()
    result = ask("--max-time", "0.5", protocol="openai")
    assert time.monotonic() - started < 2.5
    assert result.exit_code == 5
    assert_one_error(result.stderr, "--max-time")


# ---------------------------------------------------------------------------
# --debug and the key
# ---------------------------------------------------------------------------


def test_debug_shows_traceback_and_redacted_exchange(
    glm_env: dict[str, str], service: FakeService, protocol: str
) -> None:
    service.script(Status(400, body=error_for(protocol, "1214", "bad parameter")))
    result = ask("--debug", protocol=protocol, sys_streams=True)  # where the traceback goes
    assert result.exit_code == 2
    assert "Traceback" in result.stderr
    assert "Bearer ***" in result.stderr
    assert "400" in result.stderr
    assert SECRET not in result.stderr
    assert sum(line.startswith("glm: error:") for line in result.stderr.splitlines()) == 1


def test_no_traceback_without_debug(glm_env: dict[str, str], service: FakeService) -> None:
    service.script(Status(400))
    result = ask(protocol="openai")
    assert "Traceback" not in result.stderr
    assert "Bearer" not in result.stderr


def test_key_is_sent_but_never_shown(
    glm_env: dict[str, str], service: FakeService, protocol: str
) -> None:
    service.script(Reply(), Status(401), Reply(drop_after=1), Status(500), Status(500))
    outputs = []
    for args in (["--debug"], ["--debug"], ["--debug", "--verbose"], ["--dry-run"]):
        result = ask(*args, "--retries", "1", protocol=protocol, sys_streams=True)
        outputs.append(result.stdout + result.stderr)
    assert service.requests[0].headers["authorization"] == f"Bearer {SECRET}"
    assert all(SECRET not in text for text in outputs)
    assert all(SECRET[4:] not in text for text in outputs)  # not even a part of it
