"""SPEC §1.2, request flags: every range check at its edges, through the CLI.

Just inside a limit the request reaches the fake service with the exact wire field and
value (and nothing else the user did not set); just outside it, glm exits 2 with one
`glm: error:` line naming the flag and the value, and nothing reaches the service.
"""

from __future__ import annotations

import pytest

from glm_cli.core.validate import EFFORTS
from tests.fake_service import FakeService, Reply
from tests.helpers import ask, assert_usage_error, invoke, sent_body, warnings

BASE_KEYS = {"model", "messages", "stream"}


def same_number(actual: object, expected: float) -> bool:
    return isinstance(actual, int | float) and not isinstance(actual, bool) and actual == expected


# --- just inside: the exact field and value on the wire --------------------------------


@pytest.mark.parametrize(
    ("flag", "field", "text", "value"),
    [
        ("--temperature", "temperature", "0", 0.0),
        ("--temperature", "temperature", "1", 1.0),
        ("--temperature", "temperature", "0.5", 0.5),
        ("--temperature", "temperature", "0.10", 0.1),
        ("--temperature", "temperature", "5e-1", 0.5),
        ("--temperature", "temperature", "1.00", 1.0),
        ("--temperature", "temperature", "0.01", 0.01),
        ("--temperature", "temperature", "0.99", 0.99),
        ("-t", "temperature", "0.7", 0.7),
        ("--top-p", "top_p", "0.01", 0.01),
        ("--top-p", "top_p", "1", 1.0),
        ("--top-p", "top_p", "0.95", 0.95),
        ("--top-p", "top_p", "1e-2", 0.01),
    ],
)
def test_two_decimal_numbers_inside_the_range_are_sent(
    glm_env: dict[str, str], service: FakeService, flag: str, field: str, text: str, value: float
) -> None:
    result = ask(flag, text)
    assert result.exit_code == 0, result.stderr
    assert result.stderr == ""
    body = sent_body(service)
    assert set(body) == BASE_KEYS | {field}
    assert same_number(body[field], value), body[field]


@pytest.mark.parametrize("text", ["1", "131072", "8192"])
def test_max_tokens_inside_the_range_is_sent(
    glm_env: dict[str, str], service: FakeService, text: str
) -> None:
    result = ask(f"--max-tokens={text}")
    assert result.exit_code == 0, result.stderr
    body = sent_body(service)
    assert set(body) == BASE_KEYS | {"max_tokens"}
    assert body["max_tokens"] == int(text)
    assert type(body["max_tokens"]) is int


@pytest.mark.parametrize(
    ("flag", "field", "length"),
    [
        ("--request-id", "request_id", 6),
        ("--request-id", "request_id", 64),
        ("--user-id", "user_id", 6),
        ("--user-id", "user_id", 128),
    ],
)
def test_ids_at_their_length_limits_are_sent(
    glm_env: dict[str, str], service: FakeService, flag: str, field: str, length: int
) -> None:
    value = ("id-" + "x" * length)[:length]
    result = ask(flag, value)
    assert result.exit_code == 0, result.stderr
    body = sent_body(service)
    assert set(body) == BASE_KEYS | {field}
    assert body[field] == value


@pytest.mark.parametrize("effort", EFFORTS)
def test_each_effort_is_sent(glm_env: dict[str, str], service: FakeService, effort: str) -> None:
    result = ask("--effort", effort)
    assert result.exit_code == 0, result.stderr
    body = sent_body(service)
    assert set(body) == BASE_KEYS | {"reasoning_effort"}
    assert body["reasoning_effort"] == effort


def test_all_seven_efforts_are_accepted() -> None:
    assert set(EFFORTS) == {"max", "xhigh", "high", "medium", "low", "minimal", "none"}


@pytest.mark.parametrize(("flag", "kind"), [("--think", "enabled"), ("--no-think", "disabled")])
def test_think_sends_the_thinking_type(
    glm_env: dict[str, str], service: FakeService, flag: str, kind: str
) -> None:
    result = ask(flag)
    assert result.exit_code == 0, result.stderr
    body = sent_body(service)
    assert set(body) == BASE_KEYS | {"thinking"}
    assert body["thinking"] == {"type": kind}


@pytest.mark.parametrize(
    ("flags", "thinking", "effort"),
    [
        (["--think", "--effort", "high"], "enabled", "high"),
        (["--think", "--effort", "max"], "enabled", "max"),
        (["--no-think", "--effort", "none"], "disabled", "none"),
        (["--no-think", "--effort", "minimal"], "disabled", "minimal"),
    ],
)
def test_think_agreeing_with_effort_is_sent(
    glm_env: dict[str, str], service: FakeService, flags: list[str], thinking: str, effort: str
) -> None:
    result = ask(*flags)
    assert result.exit_code == 0, result.stderr
    body = sent_body(service)
    assert body["thinking"] == {"type": thinking}
    assert body["reasoning_effort"] == effort


def test_greedy_sends_do_sample_false(glm_env: dict[str, str], service: FakeService) -> None:
    result = ask("--greedy")
    assert result.exit_code == 0, result.stderr
    body = sent_body(service)
    assert set(body) == BASE_KEYS | {"do_sample"}
    assert body["do_sample"] is False


@pytest.mark.parametrize("count", [1, 2, 3, 4])
def test_stop_sequences_are_all_sent(
    glm_env: dict[str, str], service: FakeService, count: int
) -> None:
    stops = [f"END{i}" for i in range(count)]
    flags = [part for stop in stops for part in ("--stop", stop)]
    result = ask(*flags)
    assert result.exit_code == 0, result.stderr
    body = sent_body(service)
    assert set(body) == BASE_KEYS | {"stop"}
    assert body["stop"] == stops
    told = warnings(result.stderr)
    if count == 1:
        assert result.stderr == ""
    else:
        assert len(told) == 1, result.stderr
        assert "one" in told[0], told[0]


def test_quiet_silences_the_stop_warning(glm_env: dict[str, str], service: FakeService) -> None:
    result = ask("--quiet", "--stop", "a", "--stop", "b")
    assert result.exit_code == 0, result.stderr
    assert result.stderr == ""
    assert sent_body(service)["stop"] == ["a", "b"]


# --- what is sent when nothing is set ----------------------------------------------------


def test_plain_ask_sends_only_model_messages_stream(
    glm_env: dict[str, str], service: FakeService
) -> None:
    result = ask()
    assert result.exit_code == 0, result.stderr
    body = sent_body(service)
    assert set(body) == BASE_KEYS
    assert body["model"] == "glm-5.2"
    assert body["stream"] is True
    assert body["messages"] == [{"role": "user", "content": "hi"}]


def test_no_stream_sends_stream_false(glm_env: dict[str, str], service: FakeService) -> None:
    result = ask("--no-stream")
    assert result.exit_code == 0, result.stderr
    assert result.stdout == "Hello from the fake service.\n"
    body = sent_body(service)
    assert set(body) == BASE_KEYS
    assert body["stream"] is False


def test_stream_flag_sends_stream_true(glm_env: dict[str, str], service: FakeService) -> None:
    result = ask("--stream")
    assert result.exit_code == 0, result.stderr
    assert sent_body(service)["stream"] is True


@pytest.mark.parametrize("flags", [["--model", "x"], ["-m", "x"], ["--model=x"]])
def test_model_flag_is_sent(
    glm_env: dict[str, str], service: FakeService, flags: list[str]
) -> None:
    result = ask(*flags)
    assert result.exit_code == 0, result.stderr
    body = sent_body(service)
    assert set(body) == BASE_KEYS
    assert body["model"] == "x"


def test_all_flags_together(glm_env: dict[str, str], service: FakeService) -> None:
    result = ask(
        "--temperature",
        "0.2",
        "--top-p",
        "0.9",
        "--max-tokens",
        "64",
        "--effort",
        "low",
        "--think",
        "--greedy",
        "--stop",
        "STOP",
        "--request-id",
        "req-123456",
        "--user-id",
        "user-123456",
        "--no-stream",
        "--model",
        "glm-x",
    )
    assert result.exit_code == 0, result.stderr
    body = sent_body(service)
    assert body == {
        "model": "glm-x",
        "messages": [{"role": "user", "content": "hi"}],
        "stream": False,
        "temperature": 0.2,
        "top_p": 0.9,
        "max_tokens": 64,
        "reasoning_effort": "low",
        "thinking": {"type": "enabled"},
        "do_sample": False,
        "stop": ["STOP"],
        "request_id": "req-123456",
        "user_id": "user-123456",
    }


# --- just outside: exit 2, one error line naming flag and value, nothing sent ----------------


@pytest.mark.parametrize(
    "text",
    [
        "-0.01",
        "1.01",
        "0.125",
        "nan",
        "NaN",
        "inf",
        "-inf",
        "Infinity",
        "abc",
        "1_0",
        "0x1",
        "0.5.1",
        "1,5",
        "2",
    ],
)
def test_temperature_outside_is_rejected(
    glm_env: dict[str, str], service: FakeService, text: str
) -> None:
    assert_usage_error(ask(f"--temperature={text}"), service, "--temperature", text)


def test_temperature_empty_is_rejected(glm_env: dict[str, str], service: FakeService) -> None:
    assert_usage_error(ask("--temperature="), service, "--temperature")


@pytest.mark.parametrize("text", ["0", "0.001", "0.009", "1.01", "0.015", "nan", "-0.5"])
def test_top_p_outside_is_rejected(
    glm_env: dict[str, str], service: FakeService, text: str
) -> None:
    assert_usage_error(ask(f"--top-p={text}"), service, "--top-p", text)


@pytest.mark.parametrize(
    "text", ["0", "131073", "1.0", "1_000", "-1", "+5", "1e3", "abc", " 5", "١٢"]
)
def test_max_tokens_outside_is_rejected(
    glm_env: dict[str, str], service: FakeService, text: str
) -> None:
    assert_usage_error(ask(f"--max-tokens={text}"), service, "--max-tokens", text.strip())


@pytest.mark.parametrize(
    ("flag", "length"),
    [("--request-id", 5), ("--request-id", 65), ("--user-id", 5), ("--user-id", 129)],
)
def test_ids_outside_their_length_limits_are_rejected(
    glm_env: dict[str, str], service: FakeService, flag: str, length: int
) -> None:
    value = "i" * length
    assert_usage_error(ask(flag, value), service, flag, value)


@pytest.mark.parametrize("flag", ["--request-id", "--user-id"])
def test_empty_ids_are_rejected(glm_env: dict[str, str], service: FakeService, flag: str) -> None:
    assert_usage_error(ask(f"{flag}="), service, flag)


@pytest.mark.parametrize("effort", ["extreme", "", "ultra"])
def test_unknown_effort_is_rejected(
    glm_env: dict[str, str], service: FakeService, effort: str
) -> None:
    line = assert_usage_error(ask(f"--effort={effort}"), service, "--effort", effort)
    assert "xhigh" in line  # says what is allowed


def test_empty_stop_is_rejected(glm_env: dict[str, str], service: FakeService) -> None:
    assert_usage_error(ask("--stop", "a", "--stop="), service, "--stop")


def test_five_stops_are_rejected(glm_env: dict[str, str], service: FakeService) -> None:
    flags = [part for i in range(5) for part in ("--stop", f"s{i}")]
    assert_usage_error(ask(*flags), service, "--stop", "4")


@pytest.mark.parametrize("value", ["", "   "])
def test_empty_model_is_rejected(glm_env: dict[str, str], service: FakeService, value: str) -> None:
    assert_usage_error(ask(f"--model={value}"), service, "--model")


@pytest.mark.parametrize(
    ("flags", "fragments"),
    [
        (["--think", "--effort", "none"], ("--think", "none")),
        (["--think", "--effort", "minimal"], ("--think", "minimal")),
        (["--no-think", "--effort", "high"], ("--no-think", "high")),
        (["--no-think", "--effort", "low"], ("--no-think", "low")),
        (["--no-think", "--effort", "max"], ("--no-think", "max")),
    ],
)
def test_think_contradicting_effort_is_rejected(
    glm_env: dict[str, str], service: FakeService, flags: list[str], fragments: tuple[str, ...]
) -> None:
    assert_usage_error(ask(*flags), service, *fragments)


@pytest.mark.parametrize("value", ["5", "0"])
def test_top_k_on_the_openai_protocol_is_rejected(
    glm_env: dict[str, str], service: FakeService, value: str
) -> None:
    assert_usage_error(ask("--top-k", value), service, "--top-k")


def test_a_bad_flag_among_good_ones_still_sends_nothing(
    glm_env: dict[str, str], service: FakeService
) -> None:
    result = ask("--temperature", "0.5", "--max-tokens", "10", "--top-p", "1.5")
    assert_usage_error(result, service, "--top-p", "1.5")


# --- the Anthropic protocol's own ranges --------------------------------------------------


def test_anthropic_allows_top_p_zero(glm_env: dict[str, str], service: FakeService) -> None:
    result = ask("--protocol", "anthropic", "--top-p", "0")
    assert result.exit_code == 0, result.stderr
    body = sent_body(service)
    assert service.requests[0].path == "/v1/messages"
    assert same_number(body["top_p"], 0.0)


@pytest.mark.parametrize("value", ["0", "40"])
def test_anthropic_sends_top_k(glm_env: dict[str, str], service: FakeService, value: str) -> None:
    result = ask("--protocol", "anthropic", "--top-k", value)
    assert result.exit_code == 0, result.stderr
    assert sent_body(service)["top_k"] == int(value)


@pytest.mark.parametrize("value", ["-1", "1.5", "abc"])
def test_anthropic_rejects_a_bad_top_k(
    glm_env: dict[str, str], service: FakeService, value: str
) -> None:
    assert_usage_error(
        ask("--protocol", "anthropic", f"--top-k={value}"), service, "--top-k", value
    )


# --- the same checks in the other request commands ---------------------------------------


@pytest.mark.parametrize("command", ["ask", "json", "raw"])
def test_every_request_command_sends_the_flags(
    glm_env: dict[str, str], service: FakeService, command: str
) -> None:
    service.script(Reply(content='{"ok": true}'))
    result = invoke(
        [command, "--max-tokens", "7", "--temperature", "0.3", "--effort", "low", "hi"],
        input=b"",
    )
    assert result.exit_code == 0, result.stderr
    body = sent_body(service)
    assert body["max_tokens"] == 7
    assert same_number(body["temperature"], 0.3)
    assert body["reasoning_effort"] == "low"


@pytest.mark.parametrize("command", ["ask", "json", "raw"])
@pytest.mark.parametrize(
    ("flags", "fragments"),
    [
        (["--temperature", "1.01"], ("--temperature", "1.01")),
        (["--max-tokens", "131073"], ("--max-tokens", "131073")),
        (["--effort", "extreme"], ("--effort", "extreme")),
    ],
)
def test_every_request_command_checks_the_flags(
    glm_env: dict[str, str],
    service: FakeService,
    command: str,
    flags: list[str],
    fragments: tuple[str, ...],
) -> None:
    assert_usage_error(invoke([command, *flags, "hi"], input=b""), service, *fragments)
