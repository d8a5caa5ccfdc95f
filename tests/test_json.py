"""SPEC §1.3, `glm json`: JSON mode on both wires, the system hint, printing the model's
JSON exactly, fences, invalid answers, and `--schema` with its one repair retry."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest

from tests.fake_service import FakeService, Reply, Stall
from tests.helpers import Run, assert_one_error, request_body, run_in_process

PROTOCOLS = ["openai", "anthropic"]
STREAMS = ["--stream", "--no-stream"]

SCHEMA = {
    "type": "object",
    "properties": {"name": {"type": "string"}, "age": {"type": "integer"}},
    "required": ["name"],
    "additionalProperties": False,
}


def glm_json(protocol: str, *flags: str, prompt: str = "list two colours") -> Run:
    return run_in_process(["json", "--protocol", protocol, *flags, prompt])


def system_text(body: dict[str, Any]) -> str | None:
    """The system prompt as text, on either wire (None when there is none)."""
    if "system" in body:
        system = body["system"]
        if isinstance(system, list):
            return "\n".join(block["text"] for block in system)
        assert isinstance(system, str)
        return system
    systems = [m["content"] for m in body["messages"] if m["role"] == "system"]
    assert len(systems) <= 1
    return systems[0] if systems else None


def content_text(message: dict[str, Any]) -> str:
    content = message["content"]
    if isinstance(content, str):
        return content
    return "\n".join(
        block.get("text", "") if isinstance(block, dict) else str(block) for block in content
    )


def write_schema(tmp_path: Path, schema: Any = SCHEMA, name: str = "schema.json") -> str:
    path = tmp_path / name
    path.write_text(schema if isinstance(schema, str) else json.dumps(schema))
    return str(path)


# --- the request ------------------------------------------------------------------------


def test_openai_wire_has_response_format_json_object(
    glm_env: dict[str, str], service: FakeService
) -> None:
    service.script(Reply(content='{"colours": ["red", "blue"]}'))
    result = glm_json("openai")
    assert result.exit_code == 0, result.stderr
    body = request_body(service)
    assert service.requests[0].path == "/v1/chat/completions"
    assert body["response_format"] == {"type": "json_object"}


def test_anthropic_wire_has_no_response_format_but_a_json_system_prompt(
    glm_env: dict[str, str], service: FakeService
) -> None:
    service.script(Reply(content='{"colours": ["red", "blue"]}'))
    result = glm_json("anthropic")
    assert result.exit_code == 0, result.stderr
    body = request_body(service)
    assert service.requests[0].path == "/v1/messages"
    assert "response_format" not in body
    system = system_text(body)
    assert system is not None and "json" in system.lower()
    assert all(m["role"] != "system" for m in body["messages"])


def test_anthropic_json_instruction_keeps_the_users_system_prompt(
    glm_env: dict[str, str], service: FakeService
) -> None:
    service.script(Reply(content="{}"))
    result = glm_json("anthropic", "--system", "You are a librarian.")
    assert result.exit_code == 0, result.stderr
    system = system_text(request_body(service))
    assert system is not None
    assert "You are a librarian." in system
    assert "json" in system.lower()


def test_openai_hint_added_when_nothing_mentions_json(
    glm_env: dict[str, str], service: FakeService
) -> None:
    service.script(Reply(content="{}"))
    result = glm_json("openai", prompt="list two colours")
    assert result.exit_code == 0, result.stderr
    body = request_body(service)
    system = system_text(body)
    assert system is not None and "json" in system.lower()
    assert body["messages"][0]["role"] == "system"
    assert body["messages"][-1] == {"role": "user", "content": "list two colours"}


@pytest.mark.parametrize("prompt", ["give me json", "Reply as JSON please", "a Json object"])
def test_openai_no_hint_when_the_prompt_mentions_json(
    glm_env: dict[str, str], service: FakeService, prompt: str
) -> None:
    service.script(Reply(content="{}"))
    result = glm_json("openai", prompt=prompt)
    assert result.exit_code == 0, result.stderr
    body = request_body(service)
    assert system_text(body) is None
    assert body["messages"] == [{"role": "user", "content": prompt}]


@pytest.mark.parametrize("system", ["Answer in JSON.", "you speak json", "Output: jSoN"])
def test_openai_no_hint_when_the_system_prompt_mentions_json(
    glm_env: dict[str, str], service: FakeService, system: str
) -> None:
    service.script(Reply(content="{}"))
    result = glm_json("openai", "--system", system)
    assert result.exit_code == 0, result.stderr
    assert system_text(request_body(service)) == system


def test_openai_hint_added_to_a_system_prompt_without_json(
    glm_env: dict[str, str], service: FakeService
) -> None:
    service.script(Reply(content="{}"))
    result = glm_json("openai", "--system", "Be terse.")
    assert result.exit_code == 0, result.stderr
    system = system_text(request_body(service))
    assert system is not None
    assert "Be terse." in system
    assert "json" in system.lower()


# --- printing ---------------------------------------------------------------------------


@pytest.mark.parametrize("protocol", PROTOCOLS)
@pytest.mark.parametrize("stream", STREAMS)
def test_output_is_one_line(
    glm_env: dict[str, str], service: FakeService, protocol: str, stream: str
) -> None:
    answer = '{\n  "name": "Ada Lovelace",\n  "tags": [1, 2,\n 3],\n  "nested": {"a b": "c  d"}\n}'
    service.script(Reply(content=answer, chunk_size=4))
    result = glm_json(protocol, stream)
    assert result.exit_code == 0, result.stderr
    assert result.stdout.endswith("\n")
    assert result.stdout.count("\n") == 1
    assert json.loads(result.stdout) == json.loads(answer)
    assert "Ada Lovelace" in result.stdout
    assert "c  d" in result.stdout
    assert result.stderr == ""


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_pretty_indents(glm_env: dict[str, str], service: FakeService, protocol: str) -> None:
    answer = '{"name": "Ada", "tags": [1, 2], "nested": {"k": null}}'
    service.script(Reply(content=answer))
    result = glm_json(protocol, "--pretty")
    assert result.exit_code == 0, result.stderr
    output = result.stdout.splitlines()
    assert len(output) > 3
    assert any(line.startswith((" ", "\t")) for line in output)
    assert json.loads(result.stdout) == json.loads(answer)


@pytest.mark.parametrize("protocol", PROTOCOLS)
@pytest.mark.parametrize("stream", STREAMS)
@pytest.mark.parametrize("pretty", [False, True])
def test_big_integers_and_long_decimals_are_printed_exactly(
    glm_env: dict[str, str], service: FakeService, protocol: str, stream: str, pretty: bool
) -> None:
    answer = (
        '{"big": 123456789012345678901234567890, "long": 0.1000000000000000000001,'
        ' "neg": -98765432109876543210.000000000000000000001, "exp": 1.5e+300}'
    )
    service.script(Reply(content=answer, chunk_size=3))
    result = glm_json(protocol, stream, *(["--pretty"] if pretty else []))
    assert result.exit_code == 0, result.stderr
    for number in (
        "123456789012345678901234567890",
        "0.1000000000000000000001",
        "-98765432109876543210.000000000000000000001",
        "1.5e+300",
    ):
        assert number in result.stdout, (number, result.stdout)


@pytest.mark.parametrize("protocol", PROTOCOLS)
@pytest.mark.parametrize(
    ("answer", "value"),
    [
        ("42", 42),
        ("123456789012345678901234567890", 123456789012345678901234567890),
        ('"just a string"', "just a string"),
        ("[1, 2, 3]", [1, 2, 3]),
        ('[{"a": 1}, "x"]', [{"a": 1}, "x"]),
        ("true", True),
        ("null", None),
    ],
)
def test_any_json_value_is_accepted(
    glm_env: dict[str, str], service: FakeService, protocol: str, answer: str, value: Any
) -> None:
    service.script(Reply(content=answer))
    result = glm_json(protocol)
    assert result.exit_code == 0, result.stderr
    assert result.stdout.count("\n") == 1
    assert json.loads(result.stdout) == value


@pytest.mark.parametrize("protocol", PROTOCOLS)
@pytest.mark.parametrize(
    "answer",
    [
        '```json\n{"a": 1, "b": [true]}\n```',
        '```\n{"a": 1, "b": [true]}\n```',
        '```json\n{"a": 1, "b": [true]}\n```\n',
        '\n```JSON\n{"a": 1,\n "b": [true]}\n```',
        'Here is the object:\n\n```json\n{"a": 1, "b": [true]}\n```\n\nAnything else?',
        'Sure.\r\n~~~\r\n{"a": 1, "b": [true]}\r\n~~~\r\n',
    ],
)
def test_a_fenced_answer_is_unwrapped(
    glm_env: dict[str, str], service: FakeService, protocol: str, answer: str
) -> None:
    service.script(Reply(content=answer))
    result = glm_json(protocol)
    assert result.exit_code == 0, result.stderr
    assert "```" not in result.stdout
    assert result.stdout.count("\n") == 1
    assert json.loads(result.stdout) == {"a": 1, "b": [True]}


@pytest.mark.parametrize("protocol", PROTOCOLS)
@pytest.mark.parametrize("stream", STREAMS)
@pytest.mark.parametrize(
    "answer",
    [
        "Sure! Here it is: {name: Ada}",
        '{"a": 1',
        '{"a": NaN}',
        '{"a": 1} trailing words',
        "",
        'Two:\n```json\n{"a": 1}\n```\nand\n```json\n{"b": 2}\n```',
        'Python:\n```python\n{"a": 1}\n```',
    ],
)
def test_not_json_exits_6_with_the_raw_text_and_no_retry(
    glm_env: dict[str, str], service: FakeService, protocol: str, stream: str, answer: str
) -> None:
    service.script(Reply(content=answer), Reply(content='{"ok": true}'))
    result = glm_json(protocol, stream)
    assert result.exit_code == 6, result.stderr
    assert result.stdout == ""
    assert_one_error(result.stderr)
    assert answer in result.stderr
    assert len(service.requests) == 1


# --- --schema ---------------------------------------------------------------------------


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_schema_goes_into_the_system_prompt(
    glm_env: dict[str, str], service: FakeService, protocol: str, tmp_path: Path
) -> None:
    service.script(Reply(content='{"name": "Ada"}'))
    result = glm_json(protocol, "--schema", write_schema(tmp_path))
    assert result.exit_code == 0, result.stderr
    assert json.loads(result.stdout) == {"name": "Ada"}
    system = system_text(request_body(service))
    assert system is not None
    assert '"required"' in system
    assert '"additionalProperties"' in system
    assert len(service.requests) == 1


@pytest.mark.parametrize("protocol", PROTOCOLS)
@pytest.mark.parametrize("stream", STREAMS)
def test_failing_answer_is_retried_once_with_the_error(
    glm_env: dict[str, str], service: FakeService, protocol: str, stream: str, tmp_path: Path
) -> None:
    first = '{"age": 36}'
    service.script(Reply(content=first), Reply(content='{"name": "Ada", "age": 36}'))
    result = glm_json(protocol, stream, "--schema", write_schema(tmp_path), prompt="who?")
    assert result.exit_code == 0, result.stderr
    assert json.loads(result.stdout) == {"name": "Ada", "age": 36}
    assert len(service.requests) == 2
    original, repair = request_body(service, 0), request_body(service, 1)
    assert repair["messages"][: len(original["messages"])] == original["messages"]
    assistant, user = repair["messages"][-2:]
    assert assistant["role"] == "assistant"
    assert content_text(assistant) == first
    assert user["role"] == "user"
    assert "'name' is a required property" in content_text(user)
    assert system_text(repair) == system_text(original)


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_second_failure_exits_6_with_the_validation_error(
    glm_env: dict[str, str], service: FakeService, protocol: str, tmp_path: Path
) -> None:
    service.script(
        Reply(content='{"age": 36}'),
        Reply(content='{"name": 7}'),
        Reply(content='{"name": "Ada"}'),
    )
    result = glm_json(protocol, "--schema", write_schema(tmp_path))
    assert result.exit_code == 6, result.stderr
    assert result.stdout == ""
    assert_one_error(result.stderr, "is not of type 'string'")
    assert len(service.requests) == 2


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_repair_answer_that_is_not_json_exits_6(
    glm_env: dict[str, str], service: FakeService, protocol: str, tmp_path: Path
) -> None:
    service.script(Reply(content='{"age": 36}'), Reply(content="sorry, no"))
    result = glm_json(protocol, "--schema", write_schema(tmp_path))
    assert result.exit_code == 6, result.stderr
    assert result.stdout == ""
    assert len(service.requests) == 2


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_passing_answer_is_printed_without_a_retry(
    glm_env: dict[str, str], service: FakeService, protocol: str, tmp_path: Path
) -> None:
    service.script(Reply(content='```json\n{"name": "Ada", "age": 36}\n```'))
    result = glm_json(protocol, "--schema", write_schema(tmp_path))
    assert result.exit_code == 0, result.stderr
    assert json.loads(result.stdout) == {"name": "Ada", "age": 36}
    assert len(service.requests) == 1
    assert result.stderr == ""


@pytest.mark.parametrize(
    "schema",
    [
        {"type": 12},
        {"type": "object", "required": "name"},
        "{not json",
        "[1, 2]",
    ],
)
def test_invalid_schema_file_exits_2_and_sends_nothing(
    glm_env: dict[str, str], service: FakeService, tmp_path: Path, schema: Any
) -> None:
    result = glm_json("openai", "--schema", write_schema(tmp_path, schema))
    assert result.exit_code == 2, result.stderr
    assert result.stdout == ""
    assert_one_error(result.stderr, "--schema")
    assert service.requests == []


def test_missing_schema_file_exits_2_and_sends_nothing(
    glm_env: dict[str, str], service: FakeService, tmp_path: Path
) -> None:
    result = glm_json("openai", "--schema", str(tmp_path / "nope.json"))
    assert result.exit_code == 2, result.stderr
    assert_one_error(result.stderr, "--schema")
    assert service.requests == []


# --- --ndjson ---------------------------------------------------------------------------


def ndjson(text: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in text.splitlines()]


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_ndjson_valid_answer(glm_env: dict[str, str], service: FakeService, protocol: str) -> None:
    service.script(Reply(content='{"a": 1}'))
    result = glm_json(protocol, "--ndjson")
    assert result.exit_code == 0, result.stderr
    records = ndjson(result.stdout)
    text = "".join(r["text"] for r in records if r["type"] == "content")
    assert json.loads(text) == {"a": 1}
    assert records[-1]["type"] == "done"


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_ndjson_still_validates_json(
    glm_env: dict[str, str], service: FakeService, protocol: str
) -> None:
    service.script(Reply(content="not json at all"))
    result = glm_json(protocol, "--ndjson")
    assert result.exit_code == 6, result.stderr
    records = ndjson(result.stdout)
    assert records[-1]["type"] == "error"
    assert records[-1]["exit_code"] == 6
    assert_one_error(result.stderr)
    assert len(service.requests) == 1


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_ndjson_still_validates_the_schema(
    glm_env: dict[str, str], service: FakeService, protocol: str, tmp_path: Path
) -> None:
    service.script(Reply(content='{"age": 1}'), Reply(content='{"age": 2}'))
    result = glm_json(protocol, "--ndjson", "--schema", write_schema(tmp_path))
    assert result.exit_code == 6, result.stderr
    records = ndjson(result.stdout)
    assert records[-1]["type"] == "error"
    assert records[-1]["exit_code"] == 6
    assert len(service.requests) == 2


def test_max_time_bounds_the_answer_and_its_repair_together(
    glm_env: dict[str, str], service: FakeService, tmp_path: Path
) -> None:
    """One --max-time for the whole run: the repair request does not get a fresh one."""
    max_time, first_takes = 3.0, 2.0
    service.script(
        Reply(
            content=['{"age"', ": 36}"], reasoning=None, stall_after=1, stall_seconds=first_takes
        ),
        Stall(60),  # the repair: never answered in time
    )
    schema = write_schema(tmp_path)
    started = time.monotonic()
    result = glm_json("openai", "--max-time", str(max_time), "--retries", "0", "--schema", schema)
    elapsed = time.monotonic() - started
    assert result.exit_code == 5, result.stderr
    assert_one_error(result.stderr, "--max-time")
    assert len(service.requests) == 2  # the repair was sent, and cut by the same budget
    assert elapsed < max_time + 1.2, elapsed  # a fresh budget would take first_takes more
