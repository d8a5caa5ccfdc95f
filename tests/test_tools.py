"""Tools (issue 5, SPEC §1.2, §1.3, §3, §5): what each tool flag puts on the wire on each
protocol, every way a tool file or flag can be wrong (exit 2, nothing sent), streamed
tool calls assembled on both protocols, MCP calls, and web-search results.

The tool loop itself (`--tool-cmd`) is in test_tool_loop.py.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.fake_service import FakeService, RawResponse, Reply
from tests.helpers import ask, assert_one_error, run_in_process

PROTOCOLS = ["openai", "anthropic"]
STREAMS = ["--stream", "--no-stream"]

WEATHER_PARAMETERS = {
    "type": "object",
    "properties": {"city": {"type": "string"}},
    "required": ["city"],
}
WEATHER = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "The weather in a city",
        "parameters": WEATHER_PARAMETERS,
    },
}


def write(tmp_path: Path, data: Any, name: str = "tools.json") -> str:
    path = tmp_path / name
    path.write_bytes(data if isinstance(data, bytes) else json.dumps(data).encode())
    return str(path)


def records(text: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in text.splitlines()]


def tool_calls(text: str) -> list[dict[str, Any]]:
    return [r for r in records(text) if r["type"] == "tool_call"]


# --- wire shapes: function tools ----------------------------------------------------------


def test_function_tool_files_on_the_openai_wire(
    glm_env: dict[str, str], service: FakeService, tmp_path: Path
) -> None:
    one = write(tmp_path, WEATHER, "one.json")
    bare = write(tmp_path, {"name": "get_time", "description": "Now"}, "bare.json")
    listed = write(
        tmp_path,
        [
            {"type": "function", "function": {"name": "a-1"}},
            {"name": "b_2", "parameters": {"type": "object", "properties": {}}},
        ],
        "list.json",
    )
    service.script(Reply(content="ok"))
    result = ask("--tool", one, "--tool", bare, "--tool", listed)
    assert result.exit_code == 0, result.stderr
    assert result.stdout == "ok\n"
    assert service.requests[0].json["tools"] == [
        WEATHER,
        {"type": "function", "function": {"name": "get_time", "description": "Now"}},
        {"type": "function", "function": {"name": "a-1"}},
        {
            "type": "function",
            "function": {"name": "b_2", "parameters": {"type": "object", "properties": {}}},
        },
    ]


def test_function_tool_files_on_the_anthropic_wire(
    glm_env: dict[str, str], service: FakeService, tmp_path: Path
) -> None:
    one = write(tmp_path, WEATHER, "one.json")
    bare = write(tmp_path, {"name": "get_time"}, "bare.json")
    service.script(Reply(content="ok"))
    result = ask("--tool", one, "--tool", bare, protocol="anthropic")
    assert result.exit_code == 0, result.stderr
    assert service.requests[0].json["tools"] == [
        {
            "name": "get_weather",
            "description": "The weather in a city",
            "input_schema": WEATHER_PARAMETERS,
        },
        {"name": "get_time", "input_schema": {"type": "object", "properties": {}}},
    ]


def test_128_tools_in_one_file_are_fine(glm_env: dict[str, str], tmp_path: Path) -> None:
    path = write(tmp_path, [{"name": f"t{i}"} for i in range(128)])
    result = ask("--tool", path, "--dry-run")
    assert result.exit_code == 0, result.stderr
    assert len(json.loads(result.stdout)["body"]["tools"]) == 128


# --- wire shapes: web search, retrieval, MCP ----------------------------------------------


def test_web_search_on_the_wire(glm_env: dict[str, str], service: FakeService) -> None:
    service.script(Reply(content="ok"))
    assert ask("--web-search").exit_code == 0
    assert service.requests[0].json["tools"] == [
        {"type": "web_search", "web_search": {"enable": True, "search_result": True}}
    ]


def test_web_search_options_are_typed(glm_env: dict[str, str], service: FakeService) -> None:
    service.script(Reply(content="ok"))
    options = [
        "count=5",
        "search_result=false",
        "search_engine=search_pro",
        "search_recency_filter=oneWeek",
        "search_domain_filter=example.com",
        "content_size=high",
        "require_search=true",
        "search_intent=false",
        "result_sequence=after",
        "search_query=glm = a model",
        "search_prompt=Cite {x}",
    ]
    flags = [part for option in options for part in ("--web-search-opt", option)]
    result = ask("--web-search", *flags)
    assert result.exit_code == 0, result.stderr
    assert service.requests[0].json["tools"] == [
        {
            "type": "web_search",
            "web_search": {
                "enable": True,
                "search_result": False,
                "count": 5,
                "search_engine": "search_pro",
                "search_recency_filter": "oneWeek",
                "search_domain_filter": "example.com",
                "content_size": "high",
                "require_search": True,
                "search_intent": False,
                "result_sequence": "after",
                "search_query": "glm = a model",
                "search_prompt": "Cite {x}",
            },
        }
    ]


def test_retrieval_on_the_wire(glm_env: dict[str, str], service: FakeService) -> None:
    service.script(Reply(content="ok"), Reply(content="ok"))
    assert ask("--retrieval", "kb-123").exit_code == 0
    template = "Answer from {{knowledge}} the question {{question}}"
    assert ask("--retrieval", "kb-123", "--retrieval-template", template).exit_code == 0
    assert service.requests[0].json["tools"] == [
        {"type": "retrieval", "retrieval": {"knowledge_id": "kb-123"}}
    ]
    assert service.requests[1].json["tools"] == [
        {"type": "retrieval", "retrieval": {"knowledge_id": "kb-123", "prompt_template": template}}
    ]


def test_mcp_on_the_wire(glm_env: dict[str, str], service: FakeService) -> None:
    service.script(Reply(content="ok"), Reply(content="ok"))
    assert ask("--mcp", "deepwiki").exit_code == 0
    result = ask(
        "--mcp",
        "docs=https://mcp.example.com/mcp",
        "--mcp",
        "hosted",
        "--mcp-header",
        "docs:Authorization=Bearer abc=1",
        "--mcp-header",
        "docs:X-Team=glm",
        "--mcp-transport",
        "streamable-http",
    )
    assert result.exit_code == 0, result.stderr
    assert service.requests[0].json["tools"] == [
        {"type": "mcp", "mcp": {"server_label": "deepwiki"}}
    ]
    assert service.requests[1].json["tools"] == [
        {
            "type": "mcp",
            "mcp": {
                "server_label": "docs",
                "server_url": "https://mcp.example.com/mcp",
                "transport_type": "streamable-http",
                "headers": {"Authorization": "Bearer abc=1", "X-Team": "glm"},
            },
        },
        {"type": "mcp", "mcp": {"server_label": "hosted", "transport_type": "streamable-http"}},
    ]


def test_every_kind_together_in_order(
    glm_env: dict[str, str], service: FakeService, tmp_path: Path
) -> None:
    service.script(Reply(content="ok"))
    result = ask(
        "--mcp", "m", "--retrieval", "kb", "--web-search", "--tool", write(tmp_path, WEATHER)
    )
    assert result.exit_code == 0, result.stderr
    kinds = [tool["type"] for tool in service.requests[0].json["tools"]]
    assert kinds == ["function", "web_search", "retrieval", "mcp"]


def test_raw_takes_the_tool_flags(
    glm_env: dict[str, str], service: FakeService, tmp_path: Path
) -> None:
    service.script(Reply(content="ok"))
    result = run_in_process(
        ["raw", "--no-stream", "--tool", write(tmp_path, WEATHER), "--web-search", "hi"]
    )
    assert result.exit_code == 0, result.stderr
    assert [t["type"] for t in service.requests[0].json["tools"]] == ["function", "web_search"]


@pytest.mark.parametrize(
    ("flags", "flag"),
    [
        (["--web-search"], "--web-search"),
        (["--retrieval", "kb-1"], "--retrieval"),
        (["--mcp", "deepwiki"], "--mcp"),
    ],
)
@pytest.mark.parametrize("command", ["ask", "json", "raw"])
def test_openai_only_tools_are_usage_errors_on_anthropic(
    glm_env: dict[str, str], service: FakeService, flags: list[str], flag: str, command: str
) -> None:
    result = run_in_process([command, "--protocol", "anthropic", *flags, "hi"])
    assert result.exit_code == 2
    line = assert_one_error(result.stderr, flag, "openai-protocol", "anthropic")
    assert "--protocol openai" in line
    assert result.stdout == ""
    assert service.requests == []


# --- bad tool files -------------------------------------------------------------------------

BAD_FILES: list[tuple[str, Any, str]] = [
    ("malformed", b'{"name": "f",', "not valid JSON"),
    ("nan", b'{"name": "f", "parameters": {"type": "object", "default": NaN}}', "not valid JSON"),
    ("not-utf8", b'{"name": "\xff"}', "not valid UTF-8"),
    ("number", 5, "must be a JSON object"),
    ("empty-list", [], "holds no tools"),
    ("no-name-bare", {"description": "x"}, "has no name"),
    ("no-name-wrapped", {"type": "function", "function": {"description": "x"}}, "has no name"),
    ("function-not-object", {"type": "function", "function": "f"}, "must be an object"),
    ("name-space", {"name": "get weather"}, "1-64 characters"),
    ("name-long", {"name": "x" * 65}, "1-64 characters"),
    ("name-empty", {"name": ""}, "1-64 characters"),
    ("name-number", {"name": 5}, "1-64 characters"),
    ("name-unicode", {"name": "météo"}, "1-64 characters"),
    ("parameters-list", {"name": "f", "parameters": [1]}, "JSON Schema object"),
    ("parameters-text", {"name": "f", "parameters": "{}"}, "JSON Schema object"),
    (
        "parameters-string-type",
        {"name": "f", "parameters": {"type": "string"}},
        "JSON Schema object",
    ),
    ("parameters-no-type", {"name": "f", "parameters": {"properties": {}}}, "JSON Schema object"),
    (
        "parameters-bad-schema",
        {"name": "f", "parameters": {"type": "object", "properties": 5}},
        "not a valid JSON Schema",
    ),
    ("description-number", {"name": "f", "description": 5}, "description must be text"),
    ("duplicate", [{"name": "f"}, {"name": "g"}, {"name": "f"}], "duplicate tool name 'f'"),
    ("other-kind", {"type": "web_search", "web_search": {"enable": True}}, "--web-search"),
    ("unknown-field", {"name": "f", "strict": True}, "unknown field 'strict'"),
    (
        "unknown-outer-field",
        {"type": "function", "function": {"name": "f"}, "extra": 1},
        "unknown field 'extra'",
    ),
    ("too-many", [{"name": f"t{i}"} for i in range(129)], "more than 128"),
]


@pytest.mark.parametrize(
    ("data", "fragment"), [(d, f) for _, d, f in BAD_FILES], ids=[name for name, _, _ in BAD_FILES]
)
@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_bad_tool_file_is_exit_2_naming_the_file(
    glm_env: dict[str, str],
    service: FakeService,
    tmp_path: Path,
    data: Any,
    fragment: str,
    protocol: str,
) -> None:
    path = write(tmp_path, data, "bad-tools.json")
    result = ask("--tool", path, protocol=protocol)
    assert result.exit_code == 2, result.stderr
    assert_one_error(result.stderr, "--tool", "bad-tools.json", fragment)
    assert result.stdout == ""
    assert service.requests == []


def test_missing_tool_file(glm_env: dict[str, str], service: FakeService, tmp_path: Path) -> None:
    result = ask("--tool", str(tmp_path / "nope.json"))
    assert result.exit_code == 2
    assert_one_error(result.stderr, "--tool", "nope.json", "No such file")
    assert service.requests == []


def test_duplicate_names_across_files_name_both(
    glm_env: dict[str, str], service: FakeService, tmp_path: Path
) -> None:
    first = write(tmp_path, WEATHER, "first.json")
    second = write(tmp_path, {"name": "get_weather"}, "second.json")
    result = ask("--tool", first, "--tool", second)
    assert result.exit_code == 2
    assert_one_error(
        result.stderr, "second.json", "duplicate tool name 'get_weather'", "first.json"
    )
    assert service.requests == []


@pytest.mark.parametrize(
    "extra",
    [["--web-search"], ["--mcp", "a"], ["--retrieval", "kb"]],
)
def test_more_than_128_tools_in_all_counts_every_kind(
    glm_env: dict[str, str], service: FakeService, tmp_path: Path, extra: list[str]
) -> None:
    path = write(tmp_path, [{"name": f"t{i}"} for i in range(128)])
    result = ask("--tool", path, *extra)
    assert result.exit_code == 2
    assert_one_error(result.stderr, "129 tools", "at most 128")
    assert service.requests == []


def test_128_tools_split_over_files_and_flags(
    glm_env: dict[str, str], service: FakeService, tmp_path: Path
) -> None:
    first = write(tmp_path, [{"name": f"a{i}"} for i in range(100)], "a.json")
    second = write(tmp_path, [{"name": f"b{i}"} for i in range(27)], "b.json")
    ok = ask("--tool", first, "--tool", second, "--web-search", "--dry-run")
    assert ok.exit_code == 0, ok.stderr
    too_many = ask("--tool", first, "--tool", second, "--web-search", "--mcp", "m")
    assert too_many.exit_code == 2
    assert_one_error(too_many.stderr, "129 tools")
    assert service.requests == []


# --- bad tool flags -------------------------------------------------------------------------

BAD_FLAGS: list[tuple[list[str], list[str]]] = [
    (["--web-search-opt", "count=5"], ["--web-search-opt", "needs --web-search"]),
    (["--web-search", "--web-search-opt", "colour=red"], ["colour=red", "unknown key"]),
    (["--web-search", "--web-search-opt", "count"], ["KEY=VALUE"]),
    (["--web-search", "--web-search-opt", "=5"], ["KEY=VALUE"]),
    (["--web-search", "--web-search-opt", "count=abc"], ["count 'abc'", "whole number"]),
    (["--web-search", "--web-search-opt", "count=0"], ["whole number from 1 to 50"]),
    (["--web-search", "--web-search-opt", "count=51"], ["whole number from 1 to 50"]),
    (["--web-search", "--web-search-opt", "count=5.0"], ["whole number"]),
    (["--web-search", "--web-search-opt", "search_result=yes"], ["true or false"]),
    (["--web-search", "--web-search-opt", "search_recency_filter=lastWeek"], ["oneDay, oneWeek"]),
    (["--web-search", "--web-search-opt", "content_size=low"], ["medium, high"]),
    (["--web-search", "--web-search-opt", "result_sequence=middle"], ["before, after"]),
    (["--web-search", "--web-search-opt", "search_engine="], ["must not be empty"]),
    (["--web-search", "--web-search-opt", "enable=false"], ["unknown key"]),
    (
        ["--web-search", "--web-search-opt", "count=1", "--web-search-opt", "count=2"],
        ["count given twice"],
    ),
    (["--retrieval-template", "x"], ["--retrieval-template", "needs --retrieval"]),
    (["--retrieval", ""], ["--retrieval", "must not be empty"]),
    (["--retrieval", "kb", "--retrieval-template", " "], ["--retrieval-template", "empty"]),
    (["--mcp-header", "a:X=1"], ["--mcp-header", "needs --mcp"]),
    (["--mcp-transport", "sse"], ["--mcp-transport", "needs --mcp"]),
    (["--mcp", "a", "--mcp-transport", "websocket"], ["--mcp-transport", "sse, streamable-http"]),
    (["--mcp", "a=ftp://example.com"], ["--mcp", "http://"]),
    (["--mcp", "=https://example.com"], ["--mcp", "label must be non-empty"]),
    (["--mcp", "a:b"], ["--mcp", "without ':'"]),
    (["--mcp", "a", "--mcp", "a=https://x.example"], ["label 'a' given twice"]),
    (["--mcp", "a", "--mcp-header", "b:X=1"], ["no --mcp server is labelled 'b'"]),
    (["--mcp", "a", "--mcp-header", "a-X=1"], ["LABEL:NAME=VALUE"]),
    (["--mcp", "a", "--mcp-header", "a:X"], ["LABEL:NAME=VALUE"]),
    (["--mcp", "a", "--mcp-header", "a:=1"], ["LABEL:NAME=VALUE"]),
    (["--tool-cmd", "get_weather=echo"], ["--tool-cmd", "no --tool file defines"]),
    (["--max-tool-rounds", "0"], ["--max-tool-rounds", "whole number"]),
    (["--max-tool-rounds", "two"], ["--max-tool-rounds", "whole number"]),
    (["--tool-timeout", "0"], ["--tool-timeout", "positive number of seconds"]),
    (["--tool-timeout", "-1"], ["--tool-timeout", "positive number of seconds"]),
    (["--tool-timeout", "soon"], ["--tool-timeout", "positive number of seconds"]),
]


@pytest.mark.parametrize(("flags", "fragments"), BAD_FLAGS)
def test_bad_tool_flag_is_exit_2_and_nothing_is_sent(
    glm_env: dict[str, str], service: FakeService, flags: list[str], fragments: list[str]
) -> None:
    result = ask(*flags)
    assert result.exit_code == 2, result.stderr
    assert_one_error(result.stderr, *fragments)
    assert service.requests == []


BAD_TOOL_CMDS: list[tuple[list[str], list[str]]] = [
    (["--tool-cmd", "nope=echo"], ["no --tool file defines a function named 'nope'"]),
    (["--tool-cmd", "get_weather"], ["NAME=COMMAND"]),
    (["--tool-cmd", "=echo"], ["NAME=COMMAND"]),
    (["--tool-cmd", "get_weather="], ["the command is empty"]),
    (["--tool-cmd", "get_weather=   "], ["the command is empty"]),
    (["--tool-cmd", "get_weather=echo 'unclosed"], ["cannot split the command"]),
    (
        ["--tool-cmd", "get_weather=echo", "--tool-cmd", "get_weather=cat"],
        ["already has a command"],
    ),
]


@pytest.mark.parametrize(("flags", "fragments"), BAD_TOOL_CMDS)
@pytest.mark.parametrize("command", ["ask", "json"])
def test_bad_tool_cmd_is_exit_2_and_nothing_is_sent(
    glm_env: dict[str, str],
    service: FakeService,
    tmp_path: Path,
    flags: list[str],
    fragments: list[str],
    command: str,
) -> None:
    result = run_in_process([command, "--tool", write(tmp_path, WEATHER), *flags, "hi"])
    assert result.exit_code == 2, result.stderr
    assert_one_error(result.stderr, "--tool-cmd", *fragments)
    assert service.requests == []


def test_checks_happen_in_a_dry_run_too(glm_env: dict[str, str], tmp_path: Path) -> None:
    result = ask("--tool", write(tmp_path, {"name": "bad name"}), "--dry-run")
    assert result.exit_code == 2
    assert result.stdout == ""


# --- tool calls in answers: text and NDJSON -------------------------------------------------

CALL = {"id": "call_1", "name": "get_weather", "arguments": '{"city": "Oslo", "days": 3}'}


@pytest.mark.parametrize("protocol", PROTOCOLS)
@pytest.mark.parametrize("stream", STREAMS)
def test_text_mode_prints_each_call_as_a_json_line_after_the_text(
    glm_env: dict[str, str], service: FakeService, protocol: str, stream: str
) -> None:
    second = {"id": "call_2", "name": "get_time", "arguments": "{}"}
    service.script(
        Reply(content="Checking.", tool_calls=[CALL, second], finish_reason="tool_calls")
    )
    result = ask(stream, protocol=protocol)
    assert result.exit_code == 0, result.stderr
    assert result.stdout.splitlines() == [
        "Checking.",
        '{"id":"call_1","name":"get_weather","arguments":{"city":"Oslo","days":3}}',
        '{"id":"call_2","name":"get_time","arguments":{}}',
    ]
    assert result.stderr == ""


@pytest.mark.parametrize("stream", STREAMS)
def test_text_mode_keeps_arguments_that_are_not_json_and_warns(
    glm_env: dict[str, str], service: FakeService, stream: str
) -> None:
    service.script(
        Reply(
            content="",
            tool_calls=[
                {"id": "call_1", "name": "f", "arguments": '{"city": "Os'},
                {"id": "call_2", "name": "g", "arguments": '"just a string"'},
            ],
            finish_reason="tool_calls",
        )
    )
    result = ask(stream)
    assert result.exit_code == 0
    assert records(result.stdout) == [
        {"id": "call_1", "name": "f", "arguments": '{"city": "Os'},
        {"id": "call_2", "name": "g", "arguments": "just a string"},
    ]
    warnings = [line for line in result.stderr.splitlines() if "warning" in line]
    assert len(warnings) == 1
    assert "call_1" in warnings[0] and "not valid JSON" in warnings[0]


def test_quiet_silences_the_arguments_warning(
    glm_env: dict[str, str], service: FakeService
) -> None:
    service.script(
        Reply(
            content="",
            tool_calls=[{"id": "c", "name": "f", "arguments": "{"}],
            finish_reason="tool_calls",
        )
    )
    result = ask("-q")
    assert result.exit_code == 0
    assert result.stderr == ""


# --- streamed tool-call assembly --------------------------------------------------------------


@pytest.mark.parametrize("protocol", PROTOCOLS)
@pytest.mark.parametrize("chunk_size", [1, 2, 7])
def test_split_arguments_are_joined(
    glm_env: dict[str, str], service: FakeService, protocol: str, chunk_size: int
) -> None:
    arguments = '{"city": "Zürich", "note": "a \\"quoted\\" word", "n": [1, 2.50]}'
    service.script(
        Reply(
            content="",
            reasoning=None,
            chunk_size=chunk_size,
            tool_calls=[{"id": "c1", "name": "f", "arguments": arguments}],
            finish_reason="tool_calls",
        )
    )
    result = ask("--stream", "--ndjson", protocol=protocol)
    assert result.exit_code == 0, result.stderr
    assert tool_calls(result.stdout) == [
        {"type": "tool_call", "id": "c1", "name": "f", "arguments": json.loads(arguments)}
    ]
    assert records(result.stdout)[-1]["finish_reason"] == "tool_calls"


@pytest.mark.parametrize("finish_in_last_chunk", [True, False])
def test_openai_missing_id_and_finish_in_the_last_delta_chunk(
    glm_env: dict[str, str], service: FakeService, finish_in_last_chunk: bool
) -> None:
    service.script(
        Reply(
            content="",
            chunk_size=3,
            tool_call_without_id=True,
            finish_in_last_tool_chunk=finish_in_last_chunk,
            finish_reason="tool_calls",
            tool_calls=[{"name": "f", "arguments": '{"a": 1}'}, {"name": "g", "arguments": "{}"}],
        )
    )
    result = ask("--stream", "--ndjson")
    assert result.exit_code == 0, result.stderr
    assert tool_calls(result.stdout) == [
        {"type": "tool_call", "id": None, "name": "f", "arguments": {"a": 1}},
        {"type": "tool_call", "id": None, "name": "g", "arguments": {}},
    ]


def _sse(*chunks: dict[str, Any]) -> bytes:
    body = b"".join(b"data: " + json.dumps(chunk).encode() + b"\n\n" for chunk in chunks)
    return body + b"data: [DONE]\n\n"


def _chunk(delta: dict[str, Any], finish: str | None = None, **extra: Any) -> dict[str, Any]:
    return {
        "id": "chatcmpl-1",
        "model": "glm-5.2",
        "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
        **extra,
    }


def _call_delta(index: int, **fields: Any) -> dict[str, Any]:
    return {"tool_calls": [{"index": index, **fields}]}


def test_openai_interleaved_deltas_by_index_and_finish_with_the_last_fragment(
    glm_env: dict[str, str], service: FakeService
) -> None:
    stream = _sse(
        _chunk({"role": "assistant", "content": "Two calls."}),
        _chunk(
            _call_delta(
                0, id="call_a", type="function", function={"name": "first", "arguments": ""}
            )
        ),
        _chunk(_call_delta(1, type="function", function={"name": "second", "arguments": '{"b"'})),
        _chunk(_call_delta(0, function={"arguments": '{"a": '})),
        _chunk(_call_delta(1, id="call_b", function={"arguments": ": 2}"})),
        _chunk(_call_delta(0, function={"arguments": "1}"}), "tool_calls"),
    )
    service.script(RawResponse(body=stream, content_type="text/event-stream"))
    result = ask("--stream")
    assert result.exit_code == 0, result.stderr
    assert result.stdout.splitlines() == [
        "Two calls.",
        '{"id":"call_a","name":"first","arguments":{"a":1}}',
        '{"id":"call_b","name":"second","arguments":{"b":2}}',
    ]


def test_openai_call_arriving_whole_in_the_finish_chunk(
    glm_env: dict[str, str], service: FakeService
) -> None:
    stream = _sse(
        _chunk(
            _call_delta(
                0, id="c", type="function", function={"name": "f", "arguments": '{"x": true}'}
            ),
            "tool_calls",
        )
    )
    service.script(RawResponse(body=stream, content_type="text/event-stream"))
    result = ask("--stream", "--ndjson")
    assert result.exit_code == 0, result.stderr
    assert tool_calls(result.stdout) == [
        {"type": "tool_call", "id": "c", "name": "f", "arguments": {"x": True}}
    ]


def _anthropic_sse(*events: dict[str, Any]) -> bytes:
    return b"".join(
        f"event: {event['type']}\ndata: {json.dumps(event)}\n\n".encode() for event in events
    )


MESSAGE_START = {
    "type": "message_start",
    "message": {
        "id": "msg_1",
        "type": "message",
        "role": "assistant",
        "model": "glm-5.2",
        "content": [],
        "stop_reason": None,
        "usage": {"input_tokens": 3, "output_tokens": 1},
    },
}
TOOL_USE_STOP = {
    "type": "message_delta",
    "delta": {"stop_reason": "tool_use"},
    "usage": {"output_tokens": 9},
}


def _input_delta(index: int, text: str) -> dict[str, Any]:
    return {
        "type": "content_block_delta",
        "index": index,
        "delta": {"type": "input_json_delta", "partial_json": text},
    }


def test_anthropic_tool_use_without_id_and_without_block_stop(
    glm_env: dict[str, str], service: FakeService
) -> None:
    stream = _anthropic_sse(
        MESSAGE_START,
        {
            "type": "content_block_start",
            "index": 0,
            "content_block": {"type": "tool_use", "id": "toolu_1", "name": "first", "input": {}},
        },
        _input_delta(0, '{"a"'),
        {
            "type": "content_block_start",
            "index": 1,
            "content_block": {"type": "tool_use", "name": "second", "input": {}},
        },
        _input_delta(1, '{"b": '),
        _input_delta(0, ": 1}"),
        {"type": "content_block_stop", "index": 0},
        _input_delta(1, "2}"),
        TOOL_USE_STOP,
        {"type": "message_stop"},
    )
    service.script(RawResponse(body=stream, content_type="text/event-stream"))
    result = ask("--stream", "--ndjson", protocol="anthropic")
    assert result.exit_code == 0, result.stderr
    assert tool_calls(result.stdout) == [
        {"type": "tool_call", "id": "toolu_1", "name": "first", "arguments": {"a": 1}},
        {"type": "tool_call", "id": None, "name": "second", "arguments": {"b": 2}},
    ]
    assert records(result.stdout)[-1]["finish_reason"] == "tool_calls"


def test_anthropic_tool_use_with_its_input_in_the_start_block(
    glm_env: dict[str, str], service: FakeService
) -> None:
    stream = _anthropic_sse(
        MESSAGE_START,
        {
            "type": "content_block_start",
            "index": 0,
            "content_block": {
                "type": "tool_use",
                "id": "toolu_9",
                "name": "f",
                "input": {"whole": [1, 2]},
            },
        },
        {"type": "content_block_stop", "index": 0},
        TOOL_USE_STOP,
    )
    service.script(RawResponse(body=stream, content_type="text/event-stream"))
    result = ask("--stream", protocol="anthropic")
    assert result.exit_code == 0, result.stderr
    assert records(result.stdout) == [
        {"id": "toolu_9", "name": "f", "arguments": {"whole": [1, 2]}}
    ]


# --- MCP calls --------------------------------------------------------------------------------

MCP_CALL = {
    "type": "mcp",
    "id": "mcp_1",
    "mcp": {
        "id": "mcp_1",
        "type": "mcp_call",
        "server_label": "deepwiki",
        "name": "ask_question",
        "arguments": '{"repo": "glm"}',
        "output": "It is a CLI.",
        "error": "",
    },
}


@pytest.mark.parametrize("stream", STREAMS)
def test_mcp_calls_are_reported_as_such(
    glm_env: dict[str, str], service: FakeService, stream: str
) -> None:
    service.script(
        Reply(content="Done.", tool_calls=[MCP_CALL]), Reply(content="Done.", tool_calls=[MCP_CALL])
    )
    text = ask(stream, "--mcp", "deepwiki")
    ndjson = ask(stream, "--mcp", "deepwiki", "--ndjson")
    assert text.exit_code == ndjson.exit_code == 0, text.stderr + ndjson.stderr
    assert text.stdout.splitlines()[0] == "Done."
    assert records("\n".join(text.stdout.splitlines()[1:])) == [
        {
            "id": "mcp_1",
            "name": "ask_question",
            "arguments": {"repo": "glm"},
            "type": "mcp",
            "mcp": MCP_CALL["mcp"],
        }
    ]
    assert tool_calls(ndjson.stdout) == [
        {
            "type": "tool_call",
            "id": "mcp_1",
            "name": "ask_question",
            "arguments": {"repo": "glm"},
            "mcp": MCP_CALL["mcp"],
        }
    ]


# --- web search results -----------------------------------------------------------------------

RESULTS = [
    {
        "icon": "https://a.example/i.png",
        "title": "Oslo weather",
        "link": "https://a.example/oslo",
        "media": "A",
        "publish_date": "2026-01-02",
        "content": "Sunny",
        "refer": "ref_1",
    },
    {"title": "Untitled link", "link": "https://b.example/"},
]


@pytest.mark.parametrize("stream", STREAMS)
def test_web_search_results_are_an_ndjson_event(
    glm_env: dict[str, str], service: FakeService, stream: str
) -> None:
    service.script(Reply(content="Sunny.", web_search=RESULTS))
    result = ask(stream, "--web-search", "--ndjson")
    assert result.exit_code == 0, result.stderr
    assert [r for r in records(result.stdout) if r["type"] == "web_search"] == [
        {"type": "web_search", "results": RESULTS}
    ]


@pytest.mark.parametrize("stream", STREAMS)
def test_sources_print_title_and_link_to_stderr_after_the_answer(
    glm_env: dict[str, str], service: FakeService, stream: str
) -> None:
    service.script(Reply(content="Sunny.", web_search=RESULTS))
    result = run_in_process(["ask", stream, "--web-search", "--sources", "hi"], shared=True)
    assert result.exit_code == 0
    assert result.stdout == (
        "Sunny.\n[1] Oslo weather https://a.example/oslo\n[2] Untitled link https://b.example/\n"
    )


def test_sources_off_by_default_and_results_in_any_chunk(
    glm_env: dict[str, str], service: FakeService
) -> None:
    stream = _sse(
        _chunk({"content": "Sun"}),
        _chunk({"content": "ny."}),
        _chunk({}, "stop", web_search=RESULTS[:1]),
    )
    service.script(
        RawResponse(body=stream, content_type="text/event-stream"),
        RawResponse(body=stream, content_type="text/event-stream"),
    )
    quiet = ask("--stream")
    told = ask("--stream", "--sources")
    assert quiet.stdout == told.stdout == "Sunny.\n"
    assert quiet.stderr == ""
    assert told.stderr == "[1] Oslo weather https://a.example/oslo\n"


# --- start-up cost --------------------------------------------------------------------------

_PROBE = """
import atexit, sys
sys.argv = ["glm", *{args!r}]
@atexit.register
def report():
    sys.stderr.write("SHLEX=" + str("shlex" in sys.modules) + "\\n")
from glm_cli.__main__ import main
main()
"""


@pytest.mark.parametrize("args", [["--help"], ["ask", "--help"], ["ask", "--dry-run", "hi"]])
def test_shlex_is_loaded_only_when_tools_run(glm_env: dict[str, str], args: list[str]) -> None:
    result = subprocess.run(
        [sys.executable, "-c", _PROBE.format(args=args)],
        env=glm_env,
        capture_output=True,
        timeout=30,
        stdin=subprocess.DEVNULL,
    )
    assert result.returncode == 0, result.stderr
    assert b"SHLEX=False" in result.stderr
