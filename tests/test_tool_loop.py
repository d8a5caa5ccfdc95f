"""The tool loop (issue 5): `--tool-cmd NAME=COMMAND` runs a real local command
(`tests/tools/echo_tool.py`, run with this Python) when the model calls NAME, and sends
its output back, on both protocols, streamed or not.

Covered: the wire shape of the tool results (the assistant's tool calls and reasoning,
then `tool` messages or `tool_result` blocks), a failing command, a timeout, a command
that cannot start, the round limit (exit 6), a tool without a command ending the loop,
`--tool-confirm` with and without a terminal, and that nothing the model writes ever
reaches a shell. The fake service refuses a request whose tool calls are not answered
one for one, so every later request here is also checked for that.
"""

from __future__ import annotations

import io
import json
import os
import shlex
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from glm_cli.cli.job import Job
from glm_cli.core.messages import ChatRequest, Content, Done, Event, Message, ToolCall
from glm_cli.engine import tool_runner
from glm_cli.engine.tool_loop import Turn, for_next_turn
from glm_cli.output.terminal import Console, Env
from glm_cli.wire import get_protocol
from tests.fake_service import FakeService, Reply
from tests.helpers import ask, assert_one_error, run_glm, run_in_process

PROTOCOLS = ["openai", "anthropic"]
STREAMS = ["--stream", "--no-stream"]
ECHO_TOOL = Path(__file__).parent / "tools" / "echo_tool.py"

WEATHER = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "The weather in a city",
        "parameters": {
            "type": "object",
            "properties": {"city": {"type": "string"}},
            "required": ["city"],
        },
    },
}
LOOKUP = {"name": "lookup", "parameters": {"type": "object", "properties": {}}}


def command(*args: str) -> str:
    """The --tool-cmd text that runs the test tool with `args`."""
    return shlex.join([sys.executable, str(ECHO_TOOL), *args])


def call(id_: str, arguments: str, name: str = "get_weather") -> dict[str, str]:
    return {"id": id_, "name": name, "arguments": arguments}


def asks(*calls: dict[str, str], reasoning: str | None = None, **kwargs: Any) -> Reply:
    """A reply that asks for tools."""
    kwargs.setdefault("content", "")
    return Reply(reasoning=reasoning, tool_calls=list(calls), finish_reason="tool_calls", **kwargs)


@pytest.fixture
def tools(tmp_path: Path) -> list[str]:
    """--tool flags for get_weather and lookup."""
    path = tmp_path / "tools.json"
    path.write_text(json.dumps([WEATHER, LOOKUP]))
    return ["--tool", str(path)]


@pytest.fixture
def log(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Where the test tool records each run (argv and stdin), one JSON line each."""
    path = tmp_path / "runs.jsonl"
    monkeypatch.setenv("ECHO_TOOL_LOG", str(path))
    return path


def runs(log: Path) -> list[dict[str, Any]]:
    if not log.exists():
        return []
    return [json.loads(line) for line in log.read_text().splitlines()]


def tool_messages(body: dict[str, Any]) -> list[dict[str, Any]]:
    return [m for m in body["messages"] if m["role"] == "tool"]


def tool_results(body: dict[str, Any]) -> list[dict[str, Any]]:
    """The tool results of a request, either protocol, as {id, content}."""
    if "system" in body or any(isinstance(m["content"], list) for m in body["messages"]):
        return [
            {"id": block["tool_use_id"], "content": block["content"]}
            for message in body["messages"]
            if isinstance(message["content"], list)
            for block in message["content"]
            if block["type"] == "tool_result"
        ]
    return [{"id": m["tool_call_id"], "content": m["content"]} for m in tool_messages(body)]


# --- a full loop, and the wire shape of what goes back --------------------------------------


@pytest.mark.parametrize("stream", STREAMS)
def test_two_rounds_openai_wire_shape(
    glm_env: dict[str, str], service: FakeService, tools: list[str], stream: str
) -> None:
    service.script(
        asks(call("call_1", '{"city": "Oslo"}'), reasoning="I need Oslo."),
        asks(call("call_2", '{"city":"Bergen"}'), reasoning="Now Bergen."),
        Reply(content="Sunny in both.", reasoning="Done."),
    )
    result = ask(
        stream, *tools, "--tool-cmd", f"get_weather={command('weather')}", prompt="Weather?"
    )
    assert result.exit_code == 0, result.stderr
    assert result.stdout == "Sunny in both.\n"
    assert result.stderr == ""
    bodies = [request.json for request in service.requests]
    assert len(bodies) == 3
    first_round = [
        {"role": "user", "content": "Weather?"},
        {
            "role": "assistant",
            "content": None,
            "reasoning_content": "I need Oslo.",
            "tool_calls": [
                {
                    "id": "call_1",
                    "type": "function",
                    "function": {"name": "get_weather", "arguments": '{"city": "Oslo"}'},
                }
            ],
        },
        {"role": "tool", "tool_call_id": "call_1", "content": "sunny in Oslo"},
    ]
    assert bodies[1]["messages"] == first_round
    assert bodies[2]["messages"] == [
        *first_round,
        {
            "role": "assistant",
            "content": None,
            "reasoning_content": "Now Bergen.",
            "tool_calls": [
                {
                    "id": "call_2",
                    "type": "function",
                    "function": {"name": "get_weather", "arguments": '{"city":"Bergen"}'},
                }
            ],
        },
        {"role": "tool", "tool_call_id": "call_2", "content": "sunny in Bergen"},
    ]
    assert all(body["tools"] == bodies[0]["tools"] for body in bodies)
    assert all(body["stream"] is (stream == "--stream") for body in bodies)


@pytest.mark.parametrize("stream", STREAMS)
def test_two_rounds_anthropic_wire_shape(
    glm_env: dict[str, str], service: FakeService, tools: list[str], stream: str
) -> None:
    service.script(
        asks(call("toolu_1", '{"city": "Oslo"}'), reasoning="I need Oslo."),
        asks(call("toolu_2", '{"city": "Bergen"}')),
        Reply(content="Sunny in both."),
    )
    result = ask(
        stream,
        *tools,
        "--tool-cmd",
        f"get_weather={command('weather')}",
        protocol="anthropic",
        prompt="Weather?",
    )
    assert result.exit_code == 0, result.stderr
    assert result.stdout == "Sunny in both.\n"
    bodies = [request.json for request in service.requests]
    assert len(bodies) == 3
    first_round = [
        {"role": "user", "content": "Weather?"},
        {
            "role": "assistant",
            "content": [
                {"type": "thinking", "thinking": "I need Oslo.", "signature": ""},
                {
                    "type": "tool_use",
                    "id": "toolu_1",
                    "name": "get_weather",
                    "input": {"city": "Oslo"},
                },
            ],
        },
        {
            "role": "user",
            "content": [
                {"type": "tool_result", "tool_use_id": "toolu_1", "content": "sunny in Oslo"},
            ],
        },
    ]
    assert bodies[1]["messages"] == first_round
    assert bodies[2]["messages"] == [
        *first_round,
        {
            "role": "assistant",
            "content": [
                {
                    "type": "tool_use",
                    "id": "toolu_2",
                    "name": "get_weather",
                    "input": {"city": "Bergen"},
                },
            ],
        },
        {
            "role": "user",
            "content": [
                {"type": "tool_result", "tool_use_id": "toolu_2", "content": "sunny in Bergen"},
            ],
        },
    ]
    assert bodies[2]["tools"][0]["name"] == "get_weather"


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_several_calls_in_one_round_each_get_a_result(
    glm_env: dict[str, str], service: FakeService, tools: list[str], protocol: str, log: Path
) -> None:
    service.script(
        asks(call("c1", '{"city": "Oslo"}'), call("c2", '{"city": "Rome"}')),
        Reply(content="Both sunny."),
    )
    result = ask(*tools, "--tool-cmd", f"get_weather={command('weather')}", protocol=protocol)
    assert result.exit_code == 0, result.stderr
    assert tool_results(service.requests[1].json) == [
        {"id": "c1", "content": "sunny in Oslo"},
        {"id": "c2", "content": "sunny in Rome"},
    ]
    assert [run["stdin"] for run in runs(log)] == ['{"city":"Oslo"}\n', '{"city":"Rome"}\n']


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_ndjson_shows_reasoning_of_every_round_but_only_the_final_answer(
    glm_env: dict[str, str], service: FakeService, tools: list[str], protocol: str
) -> None:
    service.script(
        Reply(
            content="Let me look.",
            reasoning="Round one.",
            finish_reason="tool_calls",
            tool_calls=[call("c1", '{"city": "Oslo"}')],
        ),
        Reply(content="Sunny.", reasoning="Round two."),
    )
    result = ask(
        "--ndjson", *tools, "--tool-cmd", f"get_weather={command('weather')}", protocol=protocol
    )
    assert result.exit_code == 0, result.stderr
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    kinds = [line["type"] for line in lines]
    assert "tool_call" not in kinds
    assert "".join(line["text"] for line in lines if line["type"] == "reasoning") == (
        "Round one.Round two."
    )
    assert "".join(line["text"] for line in lines if line["type"] == "content") == "Sunny."
    assert kinds[-1] == "done" and kinds.count("done") == 1
    assert lines[-1]["finish_reason"] == "stop"
    assert lines[-1]["usage"]["prompt_tokens"] == 24  # both rounds added up
    assert lines[-1]["usage"]["completion_tokens"] == 68


def test_verbose_shows_each_call_and_its_result_size(
    glm_env: dict[str, str], service: FakeService, tools: list[str]
) -> None:
    service.script(
        Reply(
            content="Looking.",
            reasoning=None,
            finish_reason="tool_calls",
            tool_calls=[call("c1", '{"city": "Oslo"}')],
        ),
        Reply(content="Sunny."),
    )
    result = ask("--verbose", *tools, "--tool-cmd", f"get_weather={command('weather')}")
    assert result.exit_code == 0, result.stderr
    assert result.stdout == "Sunny.\n"
    assert 'glm: tool call get_weather (c1): {"city": "Oslo"}' in result.stderr
    assert "glm: tool get_weather: 13 bytes of result" in result.stderr
    assert "not printed: 'Looking.'" in result.stderr


def test_usage_adds_up_every_round(
    glm_env: dict[str, str], service: FakeService, tools: list[str]
) -> None:
    service.script(
        asks(call("c1", "{}"), usage={"prompt_tokens": 10, "completion_tokens": 1}),
        Reply(content="ok", usage={"prompt_tokens": 20, "completion_tokens": 2}),
    )
    result = ask("--usage", *tools, "--tool-cmd", f"get_weather={command()}")
    assert result.exit_code == 0, result.stderr
    assert (
        "prompt_tokens=30 completion_tokens=3 reasoning_tokens=- cached_tokens=- "
        "total_tokens=-" in result.stderr
    )


def test_json_command_runs_the_loop(
    glm_env: dict[str, str], service: FakeService, tools: list[str]
) -> None:
    service.script(
        Reply(
            content="One moment.",
            finish_reason="tool_calls",
            tool_calls=[call("c1", '{"city": "Oslo"}')],
        ),
        Reply(content='{"city": "Oslo", "sky": "sunny"}'),
    )
    result = run_in_process(
        ["json", *tools, "--tool-cmd", f"get_weather={command('weather')}", "weather as json"]
    )
    assert result.exit_code == 0, result.stderr
    assert result.stdout == '{"city":"Oslo","sky":"sunny"}\n'
    assert tool_results(service.requests[1].json) == [{"id": "c1", "content": "sunny in Oslo"}]
    assert service.requests[1].json["response_format"] == {"type": "json_object"}


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_a_retried_round_starts_over(
    glm_env: dict[str, str],
    service: FakeService,
    tools: list[str],
    protocol: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from glm_cli.core import retry

    monkeypatch.setattr(retry, "INITIAL_DELAY", 0.01, raising=False)
    service.script(
        asks(call("c1", '{"city": "Oslo"}'), content=["Let ", "me ", "see."], drop_after=3),
        asks(call("c1", '{"city": "Oslo"}')),
        Reply(content=["Sun", "ny ", "there."], reasoning=None, drop_after=3),
        Reply(content="Sunny there.", reasoning=None),
    )
    result = ask(
        "--stream", *tools, "--tool-cmd", f"get_weather={command('weather')}", protocol=protocol
    )
    assert result.exit_code == 0, result.stderr
    assert result.stdout == "Sunny there.\n"
    assert len(service.requests) == 4
    assert tool_results(service.requests[2].json) == [{"id": "c1", "content": "sunny in Oslo"}]


def test_a_call_without_an_id_gets_one(
    glm_env: dict[str, str], service: FakeService, tools: list[str]
) -> None:
    service.script(
        asks({"name": "get_weather", "arguments": '{"city": "Oslo"}'}, tool_call_without_id=True),
        Reply(content="ok"),
    )
    result = ask("--stream", *tools, "--tool-cmd", f"get_weather={command('weather')}")
    assert result.exit_code == 0, result.stderr
    sent = service.requests[1].json["messages"]
    assert sent[1]["tool_calls"][0]["id"] == sent[2]["tool_call_id"] == "call_glm_1_1"


# --- failures become results for the model ---------------------------------------------------


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_a_failing_command_gives_the_model_an_error_result(
    glm_env: dict[str, str], service: FakeService, tools: list[str], protocol: str
) -> None:
    service.script(asks(call("c1", "{}")), Reply(content="The tool failed."))
    result = ask(*tools, "--tool-cmd", f"get_weather={command('fail')}", protocol=protocol)
    assert result.exit_code == 0, result.stderr
    assert result.stdout == "The tool failed.\n"
    assert "boom\n" in result.stderr  # the command's stderr passes through
    assert "glm: warning: tool get_weather: exited with status 3" in result.stderr
    assert tool_results(service.requests[1].json) == [
        {"id": "c1", "content": "error: exited with status 3\npartial"}
    ]


def test_a_timeout_gives_the_model_an_error_result(
    glm_env: dict[str, str], service: FakeService, tools: list[str]
) -> None:
    service.script(asks(call("c1", "{}")), Reply(content="Too slow."))
    started = time.monotonic()
    result = ask(
        *tools, "--tool-timeout", "0.3", "--tool-cmd", f"get_weather={command('sleep', '30')}"
    )
    assert time.monotonic() - started < 10
    assert result.exit_code == 0, result.stderr
    assert result.stdout == "Too slow.\n"
    assert tool_results(service.requests[1].json) == [
        {"id": "c1", "content": "error: timed out after 0.3 s (--tool-timeout)"}
    ]


def test_max_time_bounds_the_whole_loop_and_ends_the_command(
    glm_env: dict[str, str], service: FakeService, tools: list[str]
) -> None:
    service.script(asks(call("c1", "{}")), Reply(content="never"))
    started = time.monotonic()
    result = ask(*tools, "--max-time", "0.5", "--tool-cmd", f"get_weather={command('sleep', '30')}")
    assert time.monotonic() - started < 10
    assert result.exit_code == 5
    assert_one_error(result.stderr, "--max-time")
    assert len(service.requests) == 1


@pytest.mark.parametrize(
    ("make_command", "fragment"),
    [
        (lambda tmp: "/nonexistent/glm-tool", "cannot start '/nonexistent/glm-tool'"),
        (lambda tmp: str(tmp), "cannot start"),  # a directory
    ],
)
def test_a_command_that_cannot_start_gives_an_error_result(
    glm_env: dict[str, str],
    service: FakeService,
    tools: list[str],
    tmp_path: Path,
    make_command: Any,
    fragment: str,
) -> None:
    service.script(asks(call("c1", "{}")), Reply(content="No tool."))
    result = ask(*tools, "--tool-cmd", f"get_weather={make_command(tmp_path)}")
    assert result.exit_code == 0, result.stderr
    content = tool_results(service.requests[1].json)[0]["content"]
    assert content.startswith("error: ") and fragment in content
    assert "glm: warning: tool get_weather: cannot start" in result.stderr


def test_arguments_that_are_not_json_are_not_run(
    glm_env: dict[str, str], service: FakeService, tools: list[str], log: Path
) -> None:
    service.script(asks(call("c1", '{"city": ')), Reply(content="Sorry."))
    result = ask(*tools, "--tool-cmd", f"get_weather={command()}")
    assert result.exit_code == 0, result.stderr
    assert runs(log) == []
    assert tool_results(service.requests[1].json)[0]["content"].startswith(
        "error: the arguments are not valid JSON"
    )


def test_empty_arguments_are_an_empty_object(
    glm_env: dict[str, str], service: FakeService, tools: list[str], log: Path
) -> None:
    service.script(asks(call("c1", "")), Reply(content="ok"))
    assert ask(*tools, "--tool-cmd", f"get_weather={command()}").exit_code == 0
    assert runs(log) == [{"argv": [], "stdin": "{}\n"}]


# --- the round limit -------------------------------------------------------------------------


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_round_limit_is_exit_6(
    glm_env: dict[str, str], service: FakeService, tools: list[str], protocol: str, log: Path
) -> None:
    service.script(*(asks(call(f"c{i}", "{}")) for i in range(3)), Reply(content="never"))
    result = ask(
        *tools,
        "--max-tool-rounds",
        "2",
        "--tool-cmd",
        f"get_weather={command()}",
        protocol=protocol,
    )
    assert result.exit_code == 6
    assert_one_error(result.stderr, "still asks for tools after 2 rounds", "--max-tool-rounds 2")
    assert result.stdout == ""
    assert len(service.requests) == 3
    assert len(runs(log)) == 2


def test_default_round_limit_is_8(
    glm_env: dict[str, str], service: FakeService, tools: list[str], log: Path
) -> None:
    service.script(*(asks(call(f"c{i}", "{}")) for i in range(9)), Reply(content="never"))
    result = ask("--ndjson", *tools, "--tool-cmd", f"get_weather={command()}")
    assert result.exit_code == 6
    assert len(runs(log)) == 8
    assert len(service.requests) == 9
    last = json.loads(result.stdout.splitlines()[-1])
    assert last["type"] == "error" and last["exit_code"] == 6


def test_the_last_allowed_round_may_still_answer(
    glm_env: dict[str, str], service: FakeService, tools: list[str]
) -> None:
    service.script(asks(call("c1", "{}")), Reply(content="Answer."))
    result = ask(*tools, "--max-tool-rounds", "1", "--tool-cmd", f"get_weather={command()}")
    assert result.exit_code == 0, result.stderr
    assert result.stdout == "Answer.\n"


# --- a tool without a command ends the loop --------------------------------------------------


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_a_tool_without_a_command_stops_the_loop(
    glm_env: dict[str, str], service: FakeService, tools: list[str], protocol: str, log: Path
) -> None:
    service.script(asks(call("c1", '{"q": 1}', "lookup")), Reply(content="never"))
    result = ask(*tools, "--tool-cmd", f"get_weather={command()}", protocol=protocol)
    assert result.exit_code == 0, result.stderr
    assert result.stdout == '{"id":"c1","name":"lookup","arguments":{"q":1}}\n'
    assert len(service.requests) == 1
    assert runs(log) == []


def test_a_mixed_round_runs_nothing_and_prints_every_call(
    glm_env: dict[str, str], service: FakeService, tools: list[str], log: Path
) -> None:
    service.script(asks(call("c1", '{"city": "Oslo"}'), call("c2", "{}", "lookup")))
    result = ask("--ndjson", *tools, "--tool-cmd", f"get_weather={command()}")
    assert result.exit_code == 0, result.stderr
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    assert [line["id"] for line in lines if line["type"] == "tool_call"] == ["c1", "c2"]
    assert lines[-1]["finish_reason"] == "tool_calls"
    assert runs(log) == []


def test_after_a_round_a_call_without_a_command_is_printed(
    glm_env: dict[str, str], service: FakeService, tools: list[str], log: Path
) -> None:
    service.script(
        asks(call("c1", '{"city": "Oslo"}')),
        Reply(
            content="Now a lookup.",
            reasoning=None,
            finish_reason="tool_calls",
            tool_calls=[call("c2", "{}", "lookup")],
        ),
    )
    result = ask(*tools, "--tool-cmd", f"get_weather={command('weather')}")
    assert result.exit_code == 0, result.stderr
    assert result.stdout == 'Now a lookup.\n{"id":"c2","name":"lookup","arguments":{}}\n'
    assert len(runs(log)) == 1


# --- --tool-confirm --------------------------------------------------------------------------


def test_tool_confirm_without_a_terminal_is_not_confirmed(
    glm_env: dict[str, str], service: FakeService, tools: list[str], log: Path
) -> None:
    service.script(asks(call("c1", '{"city": "Oslo"}')), Reply(content="Not allowed."))
    env = {**glm_env, "ECHO_TOOL_LOG": str(log)}
    result = run_glm(
        ["ask", *tools, "--tool-confirm", "--tool-cmd", f"get_weather={command('weather')}", "hi"],
        env,
        start_new_session=True,
    )  # a new session has no terminal
    assert result.returncode == 0, result.stderr
    assert result.stdout == b"Not allowed.\n"
    assert b"--tool-confirm: no terminal to ask on" in result.stderr
    assert runs(log) == []
    content = tool_results(service.requests[1].json)[0]["content"]
    assert content.startswith("error: not confirmed")


class FakeTerminal:
    def __init__(self, answer: bytes) -> None:
        self.answer = answer
        self.asked = b""

    def write(self, data: bytes) -> int:
        self.asked += data
        return len(data)

    def readline(self) -> bytes:
        return self.answer

    def __enter__(self) -> FakeTerminal:
        return self

    def __exit__(self, *exc: object) -> None:
        return None


@pytest.mark.parametrize(
    ("answer", "ran"),
    [(b"y\n", True), (b"YES\n", True), (b"n\n", False), (b"\n", False), (b"", False)],
)
def test_tool_confirm_asks_on_the_terminal(
    glm_env: dict[str, str],
    service: FakeService,
    tools: list[str],
    log: Path,
    monkeypatch: pytest.MonkeyPatch,
    answer: bytes,
    ran: bool,
) -> None:
    terminal = FakeTerminal(answer)
    monkeypatch.setattr(tool_runner, "open_terminal", lambda: terminal)
    service.script(asks(call("c1", '{"city": "Oslo"}')), Reply(content="ok"))
    result = ask(*tools, "--tool-confirm", "--tool-cmd", f"get_weather={command('weather')}")
    assert result.exit_code == 0, result.stderr
    assert b"run get_weather" in terminal.asked and b'{"city":"Oslo"}' in terminal.asked
    assert terminal.asked.endswith(b"[y/N] ")
    assert (len(runs(log)) == 1) is ran
    content = tool_results(service.requests[1].json)[0]["content"]
    assert content == (
        "sunny in Oslo" if ran else "error: not confirmed: the user declined to run this tool"
    )


# --- nothing from the model reaches a shell ---------------------------------------------------


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_model_text_never_reaches_a_shell(
    glm_env: dict[str, str],
    service: FakeService,
    tools: list[str],
    tmp_path: Path,
    log: Path,
    protocol: str,
) -> None:
    marker = tmp_path / "pwned"
    victim = tmp_path / "victim"
    victim.mkdir()
    hostile = (
        f"$(touch {marker}); rm -rf {victim}; `touch {marker}2` | touch {marker}3 "
        f"&& touch {marker}4 > {marker}5 \n touch {marker}6"
    )
    arguments = json.dumps({"city": hostile, "x": "'\"; touch " + str(marker) + "7"})
    service.script(asks(call("c1", arguments)), Reply(content="ok"))
    # the user's own command holds shell syntax too: it is split, never interpreted
    user_command = command("echo") + f" ';' touch {marker}8 '$(touch {marker}9)'"
    result = ask(*tools, "--tool-cmd", f"get_weather={user_command}", protocol=protocol)
    assert result.exit_code == 0, result.stderr
    assert victim.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        ["victim", "runs.jsonl", "tools.json", "home", "glm-home"]  # glm-home: the log
    )
    [run] = runs(log)
    assert run["argv"] == ["echo", ";", "touch", f"{marker}8", f"$(touch {marker}9)"]
    assert json.loads(run["stdin"]) == json.loads(arguments)
    assert run["stdin"].endswith("\n") and run["stdin"].count("\n") == 1


def test_a_hostile_tool_name_is_only_printed(
    glm_env: dict[str, str], service: FakeService, tools: list[str], tmp_path: Path, log: Path
) -> None:
    name = f"get_weather; touch {tmp_path}/pwned"
    service.script(asks(call("c1", "{}", name)))
    result = ask(*tools, "--tool-cmd", f"get_weather={command()}")
    assert result.exit_code == 0
    assert json.loads(result.stdout)["name"] == name
    assert not (tmp_path / "pwned").exists()
    assert runs(log) == []


# --- in a pipe, as a real process ---------------------------------------------------------------


def test_a_tool_loop_in_a_pipe(
    glm_env: dict[str, str], service: FakeService, tools: list[str], log: Path
) -> None:
    service.script(
        asks(call("c1", '{"city": "Oslo"}')), asks(call("c2", "{}")), Reply(content="Oslo: sunny.")
    )
    env = {**glm_env, "ECHO_TOOL_LOG": str(log)}
    result = run_glm(
        ["ask", *tools, "--tool-cmd", f"get_weather={command('fail')}", "-"],
        env,
        input=b"What is the weather in Oslo?\n",
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout == b"Oslo: sunny.\n"
    assert result.stderr.count(b"boom\n") == 2  # straight to glm's own stderr
    assert len(runs(log)) == 2
    assert service.requests[0].json["messages"][0]["content"] == "What is the weather in Oslo?"


# --- the interface `glm chat` uses ------------------------------------------------------------


def _job(given: dict[str, Any]) -> Job:
    env = Env(
        stdin=None,
        stdout=io.BytesIO(),
        stderr=io.BytesIO(),
        stdin_isatty=False,
        stdout_isatty=False,
        stderr_isatty=False,
        environ=dict(os.environ),
    )
    return Job.prepare(given, env, Console(env))


def _turn(job: Job, request: ChatRequest) -> tuple[list[Message], list[Event]]:
    """One turn, its events pulled to the end: (what it added, the events)."""
    with job.client() as client:
        turn = Turn(
            client, request, job.deadline, job.tools(request.params), job.console, job.env.stderr
        )
        events = [event for batch in turn for event in batch]
    return turn.added, events


def test_a_turn_returns_the_messages_it_added(
    glm_env: dict[str, str], service: FakeService, tools: list[str]
) -> None:
    service.script(
        asks(call("c1", '{"city": "Oslo"}'), reasoning="Think."),
        Reply(content="Sunny.", reasoning="Again."),
    )
    job = _job({"tool": [tools[1]], "tool_cmd": [f"get_weather={command('weather')}"]})
    request = job.chat_request("Weather?")
    added, events = _turn(job, request)
    assert added == [
        {
            "role": "assistant",
            "content": None,
            "reasoning_content": "Think.",
            "tool_calls": [
                {
                    "id": "c1",
                    "type": "function",
                    "function": {"name": "get_weather", "arguments": '{"city": "Oslo"}'},
                }
            ],
        },
        {"role": "tool", "tool_call_id": "c1", "content": "sunny in Oslo"},
        {"role": "assistant", "content": "Sunny.", "reasoning_content": "Again."},
    ]
    assert request.messages == [{"role": "user", "content": "Weather?"}]  # not changed
    assert "".join(e.text for e in events if isinstance(e, Content)) == "Sunny."
    assert not any(isinstance(e, ToolCall) for e in events)
    assert [type(e) for e in events].count(Done) == 1


def test_a_turn_without_tools_is_one_plain_exchange(
    glm_env: dict[str, str], service: FakeService
) -> None:
    service.script(Reply(content=["Hel", "lo"], reasoning=None))
    job = _job({})
    added, events = _turn(job, job.chat_request("hi"))
    assert added == [{"role": "assistant", "content": "Hello"}]
    assert [e.text for e in events if isinstance(e, Content)] == ["Hel", "lo"]


def test_for_next_turn_drops_reasoning_and_unanswered_calls() -> None:
    calls = [
        {"id": "a", "type": "function", "function": {"name": "f", "arguments": "{}"}},
        {"id": "b", "type": "function", "function": {"name": "g", "arguments": "{}"}},
    ]
    messages = [
        {"role": "assistant", "content": None, "reasoning_content": "r", "tool_calls": calls},
        {"role": "tool", "tool_call_id": "a", "content": "x"},
        {"role": "assistant", "content": None, "tool_calls": calls[1:]},
        {"role": "assistant", "content": "done", "reasoning_content": "r2"},
    ]
    assert for_next_turn(messages) == [
        {"role": "assistant", "content": None, "tool_calls": calls[:1]},
        {"role": "tool", "tool_call_id": "a", "content": "x"},
        {"role": "assistant", "content": ""},
        {"role": "assistant", "content": "done"},
    ]
    assert messages[0]["reasoning_content"] == "r"  # the input is left alone


# --- the fake service holds glm to the rules ------------------------------------------------------


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_the_service_refuses_unanswered_tool_calls(
    glm_env: dict[str, str], service: FakeService, protocol: str
) -> None:
    unanswered = [
        {"role": "user", "content": "hi"},
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [
                {"id": "c1", "type": "function", "function": {"name": "f", "arguments": "{}"}}
            ],
        },
        {"role": "user", "content": "and?"},
    ]
    wrong_id = [*unanswered[:2], {"role": "tool", "tool_call_id": "c9", "content": "x"}]
    for messages in (unanswered, wrong_id):
        body = get_protocol(protocol).encode(ChatRequest("glm-5.2", messages, stream=False)).body
        path = "/v1/messages" if protocol == "anthropic" else "/v1/chat/completions"
        response = httpx.post(service.url + path, json=body, headers={"Authorization": "Bearer k"})
        assert response.status_code == 400, response.text
        assert "c1" in response.text or "c9" in response.text
