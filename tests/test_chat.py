"""SPEC §1.4, `glm chat` from scripts: sessions in the SQLite store, JSONL files, the
session commands (--list, --show, --delete, --reset), --system and --max-history, what
is sent back (no earlier reasoning, tool messages kept, Anthropic alternation), and
that a failed, filtered or interrupted exchange appends nothing.

Most runs are in process (fast); continuity is also checked across real processes.
"""

from __future__ import annotations

import itertools
import json
import re
import shlex
import signal
import sqlite3
import stat
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from glm_cli.history.schema import SCHEMA_VERSION
from tests.fake_service import FakeService, Reply, Status
from tests.helpers import (
    SECRET,
    Run,
    assert_one_error,
    run_glm,
    run_in_process,
    stored_messages,
)

ANSWER = "Hello from the fake service."
ISO_UTC = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ")


def chat(*args: str, stdin: bytes = b"") -> Run:
    return run_in_process(["chat", *args], stdin=stdin)


def ok(*args: str, stdin: bytes = b"") -> Run:
    run = chat(*args, stdin=stdin)
    assert run.exit_code == 0, run.stderr
    return run


def messages(service: FakeService, index: int = -1) -> list[dict[str, Any]]:
    body = service.requests[index].json
    assert isinstance(body, dict)
    return list(body["messages"])


def exchange(user: str, answer: str = ANSWER) -> list[dict[str, Any]]:
    return [{"role": "user", "content": user}, {"role": "assistant", "content": answer}]


def store_path(env: dict[str, str]) -> Path:
    return Path(env["GLM_HOME"]) / "glm.db"


def show(name: str = "default") -> list[dict[str, Any]]:
    run = ok("--show", name, "--ndjson")
    return [json.loads(line) for line in run.stdout.splitlines()]


# --- sessions -----------------------------------------------------------------------------


def test_a_prompt_continues_the_default_session(
    glm_env: dict[str, str], service: FakeService
) -> None:
    service.script(Reply(content="first"), Reply(content="second"))
    assert ok("hello").stdout == "first\n"
    assert ok("again").stdout == "second\n"
    assert messages(service, 0) == [{"role": "user", "content": "hello"}]
    assert messages(service, 1) == [
        *exchange("hello", "first"),
        {"role": "user", "content": "again"},
    ]
    assert show() == [*exchange("hello", "first"), *exchange("again", "second")]


def test_continuity_across_processes(glm_env: dict[str, str], service: FakeService) -> None:
    service.script(Reply(content="one"), Reply(content="two"))
    first = run_glm(["chat", "--session", "work", "hello"], glm_env)
    assert first.returncode == 0, first.stderr
    second = run_glm(["chat", "--session", "work"], glm_env, input=b"and now?\n")
    assert second.returncode == 0, second.stderr
    assert second.stdout == b"two\n"
    assert messages(service, 1) == [
        *exchange("hello", "one"),
        {"role": "user", "content": "and now?"},
    ]


def test_sessions_are_separate(glm_env: dict[str, str], service: FakeService) -> None:
    ok("--session", "a", "in a")
    ok("--session", "b", "in b")
    assert messages(service) == [{"role": "user", "content": "in b"}]


def test_stdin_is_part_of_the_prompt(glm_env: dict[str, str], service: FakeService) -> None:
    ok("--session", "s", "summarise:", stdin=b"some text\n")
    assert show("s")[0] == {"role": "user", "content": "summarise:\n\nsome text"}


def test_list_prints_name_count_and_last_used(
    glm_env: dict[str, str], service: FakeService
) -> None:
    assert ok("--list").stdout == ""
    ok("--session", "zeta", "hi")
    ok("hi")
    ok("hi again")
    lines = ok("--list").stdout.splitlines()
    assert [line.split("\t")[:2] for line in lines] == [["default", "4"], ["zeta", "2"]]
    for line in lines:
        assert ISO_UTC.fullmatch(line.split("\t")[2]), line


def test_show_prints_a_transcript(glm_env: dict[str, str], service: FakeService) -> None:
    service.script(Reply(content="Hi there.", reasoning="private thoughts"))
    ok("--system", "Be terse.", "hello")
    assert ok("--show", "default").stdout == (
        "[system]\nBe terse.\n\n[user]\nhello\n\n[assistant]\nHi there.\n"
    )


def test_show_ndjson_round_trips_through_a_file(
    glm_env: dict[str, str], service: FakeService, tmp_path: Path
) -> None:
    ok("--system", "Be terse.", "hello")
    dump = ok("--show", "default", "--ndjson").out
    assert json.loads(dump.splitlines()[0]) == {"role": "system", "content": "Be terse."}
    path = tmp_path / "copy.jsonl"
    path.write_bytes(dump)
    ok("--file", str(path), "more")
    assert messages(service) == [
        {"role": "system", "content": "Be terse."},
        *exchange("hello"),
        {"role": "user", "content": "more"},
    ]


def test_delete_removes_a_session(glm_env: dict[str, str], service: FakeService) -> None:
    ok("--session", "gone", "hi")
    assert ok("--delete", "gone").stdout == ""
    assert ok("--list").stdout == ""


@pytest.mark.parametrize("flag", ["--show", "--delete"])
def test_an_unknown_session_is_exit_2(
    glm_env: dict[str, str], service: FakeService, flag: str
) -> None:
    run = chat(flag, "nope")
    assert run.exit_code == 2
    assert_one_error(run.stderr, "nope", "no such session")
    ok("hi")
    run = chat(flag, "nope")
    assert run.exit_code == 2
    assert len(service.requests) == 1


def test_reset_without_a_prompt_only_empties(glm_env: dict[str, str], service: FakeService) -> None:
    ok("--session", "s", "--system", "S", "hi")
    run = ok("--session", "s", "--reset")
    assert run.stdout == "" and run.stderr == ""
    assert show("s") == []
    assert len(service.requests) == 1
    ok("--session", "s", "fresh")
    assert messages(service) == [{"role": "user", "content": "fresh"}]


def test_reset_with_a_prompt_starts_over(glm_env: dict[str, str], service: FakeService) -> None:
    ok("hi")
    ok("--reset", "new start")
    assert messages(service) == [{"role": "user", "content": "new start"}]
    assert show() == exchange("new start")


def test_a_session_remembers_its_system_prompt_until_replaced(
    glm_env: dict[str, str], service: FakeService
) -> None:
    ok("--system", "First.", "one")
    ok("two")
    assert messages(service)[0] == {"role": "system", "content": "First."}
    ok("--system", "Second.", "three")
    ok("four")
    assert messages(service)[0] == {"role": "system", "content": "Second."}
    assert show()[0] == {"role": "system", "content": "Second."}


def test_max_history_sends_only_the_last_messages(
    glm_env: dict[str, str], service: FakeService
) -> None:
    ok("--system", "S", "one")
    ok("two")
    ok("--max-history", "2", "three")
    assert messages(service) == [
        {"role": "system", "content": "S"},
        *exchange("two"),
        {"role": "user", "content": "three"},
    ]
    ok("--max-history", "0", "four")
    assert messages(service) == [
        {"role": "system", "content": "S"},
        {"role": "user", "content": "four"},
    ]
    # a window that would open on an answer starts at the next question instead
    ok("--max-history", "3", "five")
    assert messages(service)[1:] == [*exchange("four"), {"role": "user", "content": "five"}]
    assert len(show()) == 1 + 10  # the store keeps everything


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (["--session", "a", "--file", "b.jsonl", "hi"], "--session and --file"),
        (["--max-history", "-1", "hi"], "--max-history"),
        (["--max-history", "1.5", "hi"], "--max-history"),
        (["--max-history", "many", "hi"], "--max-history"),
        (["--list", "--session", "a"], "--list"),
        (["--list", "hi"], "--list takes no prompt"),
        (["--show", "a", "--delete", "a"], "cannot be combined"),
        (["--delete", "a", "--file", "x.jsonl"], "--delete"),
        (["--session", "tab\there", "hi"], "--session"),
        (["--session", "", "hi"], "--session"),
        (["--file", "", "hi"], "--file"),
        (["--file", "/no/such/dir/c.jsonl", "hi"], "no such directory"),
    ],
)
def test_bad_chat_flags_are_exit_2_before_any_request(
    glm_env: dict[str, str], service: FakeService, args: list[str], fragment: str
) -> None:
    run = chat(*args)
    assert run.exit_code == 2, run.stderr
    assert_one_error(run.stderr, fragment)
    assert service.requests == []


def test_an_empty_prompt_is_a_usage_error(glm_env: dict[str, str], service: FakeService) -> None:
    run = chat()
    assert run.exit_code == 2
    assert_one_error(run.stderr, "empty prompt")
    assert service.requests == []


# --- what goes back, what is kept ---------------------------------------------------------


def test_reasoning_is_neither_kept_nor_sent_back(
    glm_env: dict[str, str], service: FakeService
) -> None:
    service.script(Reply(content="answer", reasoning="secret reasoning"))
    ok("--show-thinking", "hi")
    ok("more")
    assert "secret reasoning" not in json.dumps(messages(service))
    # the session keeps no reasoning; the log of exchanges does (SPEC §7.1)
    with sqlite3.connect(store_path(glm_env)) as db:
        bodies = [body for (body,) in db.execute("SELECT body FROM messages")]
    db.close()
    assert bodies and "secret reasoning" not in json.dumps(bodies)


def test_ndjson_output_is_that_of_ask(glm_env: dict[str, str], service: FakeService) -> None:
    run = ok("--ndjson", "hi")
    kinds = [json.loads(line)["type"] for line in run.stdout.splitlines()]
    assert kinds[-1] == "done" and "content" in kinds
    assert show() == exchange("hi")


def test_dry_run_sends_and_keeps_nothing(glm_env: dict[str, str], service: FakeService) -> None:
    ok("hi")
    run = ok("--dry-run", "--reset", "again")
    assert json.loads(run.stdout)["body"]["messages"] == [{"role": "user", "content": "again"}]
    assert len(service.requests) == 1
    assert show() == exchange("hi")


@pytest.mark.parametrize("protocol", ["openai", "anthropic"])
@pytest.mark.parametrize(
    ("step", "code"),
    [
        (Status(500), 5),
        (Status(400), 2),
        (Reply(finish_reason="sensitive", content_filter=[{"role": "assistant", "level": 1}]), 6),
        (Reply(content=["partial ", "answer"], truncate_before_finish=True), 5),
        (Reply(content=["partial ", "answer"], drop_after=2), 5),
    ],
)
def test_a_failed_exchange_appends_nothing(
    glm_env: dict[str, str],
    service: FakeService,
    tmp_path: Path,
    protocol: str,
    step: Any,
    code: int,
) -> None:
    if protocol == "anthropic" and isinstance(step, Reply) and step.content_filter:
        step = Reply(finish_reason="sensitive")
    ok("--protocol", protocol, "hi")
    path = tmp_path / "c.jsonl"
    ok("--protocol", protocol, "--file", str(path), "hi")
    before = path.read_bytes()
    for where in (["--session", "default"], ["--file", str(path)]):
        service.script(step)
        run = chat("--protocol", protocol, "--retries", "0", *where, "again")
        assert run.exit_code == code, run.stderr
    assert show() == exchange("hi")
    assert path.read_bytes() == before


def test_the_api_key_is_never_stored(
    glm_env: dict[str, str], service: FakeService, tmp_path: Path
) -> None:
    path = tmp_path / "c.jsonl"
    ok("hi")
    ok("--file", str(path), "hi")
    for file in [path, *store_path(glm_env).parent.iterdir()]:
        assert SECRET.encode() not in file.read_bytes(), file


# --- the store ------------------------------------------------------------------------------


def test_the_store_is_private_and_versioned(glm_env: dict[str, str], service: FakeService) -> None:
    ok("hi")
    path = store_path(glm_env)
    for file in path.parent.iterdir():
        assert stat.S_IMODE(file.stat().st_mode) == 0o600, file
    with sqlite3.connect(path) as db:
        assert db.execute("PRAGMA journal_mode").fetchone() == ("wal",)
        assert db.execute("PRAGMA user_version").fetchone() == (SCHEMA_VERSION,)
    db.close()


def test_the_store_follows_xdg_data_home_without_glm_home(
    glm_env: dict[str, str], service: FakeService, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("GLM_HOME")
    ok("hi")
    assert (Path(glm_env["XDG_DATA_HOME"]) / "glm" / "glm.db").exists()
    assert not Path(glm_env["GLM_HOME"]).exists()


def test_list_does_not_create_a_store(glm_env: dict[str, str], service: FakeService) -> None:
    ok("--list")
    assert not store_path(glm_env).exists()


def test_a_store_from_a_newer_glm_is_refused(glm_env: dict[str, str], service: FakeService) -> None:
    ok("hi")
    with sqlite3.connect(store_path(glm_env)) as db:
        db.execute("PRAGMA user_version = 99")
    db.close()
    run = chat("again")
    assert run.exit_code == 2
    assert_one_error(run.stderr, "schema version 99")
    assert len(service.requests) == 1


def test_a_file_that_is_not_a_store_is_exit_2(
    glm_env: dict[str, str], service: FakeService
) -> None:
    path = store_path(glm_env)
    path.parent.mkdir(parents=True)
    path.write_bytes(b"this is not a database, not at all" * 100)
    run = chat("hi")
    assert run.exit_code == 2
    assert_one_error(run.stderr, str(path))
    assert service.requests == []


# --- conversation files ------------------------------------------------------------------------


def test_a_file_is_created_and_continued(
    glm_env: dict[str, str], service: FakeService, tmp_path: Path
) -> None:
    path = tmp_path / "talk.jsonl"
    service.script(Reply(content="one"), Reply(content="two"))
    first = run_glm(["chat", "--file", str(path), "--system", "Be kind.", "hello"], glm_env)
    assert first.returncode == 0, first.stderr
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    second = run_glm(["chat", "--file", str(path), "next"], glm_env)
    assert second.returncode == 0, second.stderr
    assert messages(service, 1) == [
        {"role": "system", "content": "Be kind."},
        *exchange("hello", "one"),
        {"role": "user", "content": "next"},
    ]
    lines = [json.loads(line) for line in path.read_text().splitlines()]
    assert lines == [
        {"role": "system", "content": "Be kind."},
        *exchange("hello", "one"),
        *exchange("next", "two"),
    ]
    assert stored_messages(store_path(glm_env)) == 0  # files do not touch the sessions


def test_a_file_reset_empties_it(
    glm_env: dict[str, str], service: FakeService, tmp_path: Path
) -> None:
    path = tmp_path / "talk.jsonl"
    ok("--file", str(path), "hello")
    ok("--file", str(path), "--reset")
    assert path.read_bytes() == b""
    ok("--file", str(path), "--reset", "--system", "New.")
    assert path.read_text() == '{"role":"system","content":"New."}\n'


def test_a_last_line_without_newline_is_not_glued_to(
    glm_env: dict[str, str], service: FakeService, tmp_path: Path
) -> None:
    path = tmp_path / "talk.jsonl"
    path.write_text('{"role":"user","content":"hand"}\n{"role":"assistant","content":"written"}')
    ok("--file", str(path), "next")
    lines = [json.loads(line) for line in path.read_text().splitlines()]
    assert lines == [*exchange("hand", "written"), *exchange("next")]


@pytest.mark.parametrize(
    ("content", "line", "fragment"),
    [
        (b'{"role":"user","content":"ok"}\n{"role": "user", "content": \n', 2, "not valid JSON"),
        (b'{"role":"user","content":"ok"}\n\n[1, 2]\n', 3, "JSON object"),
        (b'{"role":"robot","content":"x"}\n', 1, "role"),
        (b'{"role":"user"}\n', 1, "content"),
        (b'{"role":"tool","content":"x"}\n', 1, "tool_call_id"),
        (b'{"role":"user","content":"\xff"}\n', 1, "UTF-8"),
    ],
)
def test_a_malformed_line_is_a_usage_error_and_the_file_is_untouched(
    glm_env: dict[str, str],
    service: FakeService,
    tmp_path: Path,
    content: bytes,
    line: int,
    fragment: str,
) -> None:
    path = tmp_path / "bad.jsonl"
    path.write_bytes(content)
    before = path.stat()
    run = chat("--file", str(path), "hi")
    assert run.exit_code == 2
    assert_one_error(run.stderr, f"line {line}", fragment, str(path))
    assert path.read_bytes() == content
    assert path.stat().st_mtime_ns == before.st_mtime_ns
    assert service.requests == []


# --- tools and the Anthropic protocol ------------------------------------------------------------

TOOL_HISTORY = [
    {"role": "user", "content": "weather in Paris?"},
    {
        "role": "assistant",
        "content": None,
        "reasoning_content": "I should call it.",
        "tool_calls": [
            {
                "id": "call_1",
                "type": "function",
                "function": {"name": "weather", "arguments": '{"city": "Paris"}'},
            }
        ],
    },
    {"role": "tool", "tool_call_id": "call_1", "content": "sunny"},
    {"role": "assistant", "content": "It is sunny."},
    {"role": "user", "content": "and a call nobody answered"},
    {
        "role": "assistant",
        "content": "calling",
        "tool_calls": [
            {"id": "call_2", "type": "function", "function": {"name": "weather", "arguments": "{}"}}
        ],
    },
]


def _tool_file(tmp_path: Path) -> Path:
    path = tmp_path / "tools.jsonl"
    path.write_text("".join(json.dumps(m) + "\n" for m in TOOL_HISTORY))
    return path


def test_tool_messages_are_kept_on_the_openai_protocol(
    glm_env: dict[str, str], service: FakeService, tmp_path: Path
) -> None:
    ok("--file", str(_tool_file(tmp_path)), "thanks")
    sent = messages(service)
    assert sent[1] == {**{k: v for k, v in TOOL_HISTORY[1].items() if k != "reasoning_content"}}
    assert sent[2] == TOOL_HISTORY[2]
    assert sent[5] == {"role": "assistant", "content": "calling"}  # the unanswered call is left out
    assert "reasoning_content" not in json.dumps(sent)


def test_history_alternates_on_the_anthropic_protocol(
    glm_env: dict[str, str], service: FakeService, tmp_path: Path
) -> None:
    ok("--protocol", "anthropic", "--system", "S", "one")
    ok("--protocol", "anthropic", "two")
    body = service.requests[-1].json
    assert service.requests[-1].path == "/v1/messages"
    assert body["system"] == "S"
    assert [m["role"] for m in body["messages"]] == ["user", "assistant", "user"]
    ok("--protocol", "anthropic", "--file", str(_tool_file(tmp_path)), "thanks")
    sent = service.requests[-1].json["messages"]
    roles = [m["role"] for m in sent]
    assert all(a != b for a, b in itertools.pairwise(roles)), roles
    assert roles[0] == "user" and roles[-1] == "user"
    blocks = [b for m in sent if isinstance(m["content"], list) for b in m["content"]]
    use = {"type": "tool_use", "id": "call_1", "name": "weather", "input": {"city": "Paris"}}
    assert use in blocks
    assert any(b.get("type") == "tool_result" and b.get("tool_use_id") == "call_1" for b in blocks)


def test_an_unanswered_tool_call_is_kept_but_not_sent(
    glm_env: dict[str, str], service: FakeService
) -> None:
    call = {"id": "call_9", "name": "lookup", "arguments": '{"q": 1}'}
    service.script(Reply(content="", tool_calls=[call], finish_reason="tool_calls"))
    run = ok("look it up")
    assert json.loads(run.stdout.splitlines()[-1])["name"] == "lookup"
    stored = show()[1]
    assert stored["tool_calls"][0]["function"]["name"] == "lookup"
    ok("never mind")
    assert messages(service) == [
        {"role": "user", "content": "look it up"},
        {"role": "user", "content": "never mind"},
    ]


def test_show_prints_tool_calls_as_ask_does(glm_env: dict[str, str], service: FakeService) -> None:
    call = {"id": "call_9", "name": "lookup", "arguments": '{"q": 1}'}
    service.script(Reply(content="Let me look.", tool_calls=[call], finish_reason="tool_calls"))
    ok("look it up")
    assert ok("--show", "default").stdout == (
        "[user]\nlook it up\n\n[assistant]\nLet me look.\n"
        '{"id":"call_9","name":"lookup","arguments":{"q":1}}\n'
    )


@pytest.mark.parametrize("protocol", ["openai", "anthropic"])
def test_a_tool_loop_exchange_is_kept_whole_and_sent_back(
    glm_env: dict[str, str], service: FakeService, tmp_path: Path, protocol: str
) -> None:
    tools = tmp_path / "weather.json"
    tools.write_text(
        json.dumps(
            {
                "type": "function",
                "function": {
                    "name": "get_weather",
                    "parameters": {"type": "object", "properties": {}},
                },
            }
        )
    )
    runner = shlex.join([sys.executable, "-c", "print('sunny')"])
    call = {"id": "call_w", "name": "get_weather", "arguments": '{"city": "Paris"}'}
    service.script(
        Reply(
            content="",
            reasoning="I need the weather.",
            tool_calls=[call],
            finish_reason="tool_calls",
        ),
        Reply(content="It is sunny."),
    )
    flags = ["--protocol", protocol, "--tool", str(tools)]
    ok(*flags, "--tool-cmd", f"get_weather={runner}", "Weather in Paris?")
    stored = show()
    assert [m["role"] for m in stored] == ["user", "assistant", "tool", "assistant"]
    assert stored[1]["tool_calls"][0]["id"] == "call_w"
    assert stored[2] == {"role": "tool", "content": "sunny\n", "tool_call_id": "call_w"}
    assert "reasoning_content" not in json.dumps(stored)
    ok(*flags, "thanks")
    body = service.requests[-1].json
    assert "I need the weather." not in json.dumps(body)
    if protocol == "openai":
        assert [m["role"] for m in body["messages"]] == [
            "user",
            "assistant",
            "tool",
            "assistant",
            "user",
        ]
    else:
        roles = [m["role"] for m in body["messages"]]
        assert roles == ["user", "assistant", "user", "assistant", "user"]
        assert body["messages"][2]["content"][0]["type"] == "tool_result"


def test_an_interrupted_exchange_appends_nothing(
    glm_env: dict[str, str], service: FakeService
) -> None:
    ok("hi")
    service.script(Reply(content=[f"p{i:03d} " for i in range(300)], chunk_delay=0.02))
    process = subprocess.Popen(
        [sys.executable, "-m", "glm_cli", "chat", "go on"],
        env=glm_env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        assert process.stdout is not None
        assert process.stdout.read(5) == b"p000 "  # the answer is streaming
        process.send_signal(signal.SIGINT)
        assert process.wait(30) == -signal.SIGINT  # died by SIGINT (a shell shows 130)
    finally:
        process.kill()
        process.communicate()
    assert show() == exchange("hi")


# --- start-up --------------------------------------------------------------------------------

_PROBE = """
import atexit, sys
sys.argv = ["glm", *{args!r}]
@atexit.register
def report():
    heavy = ("httpx", "orjson", "sqlite3", "readline", "glm_cli.history.store",
             "glm_cli.commands.interactive")
    sys.stderr.write("LOADED=" + ",".join(sorted(m for m in heavy if m in sys.modules)) + "\\n")
from glm_cli.__main__ import main
main()
"""


@pytest.mark.parametrize("args", [["--help"], ["chat", "--help"]])
def test_help_loads_neither_the_store_nor_readline(
    glm_env: dict[str, str], args: list[str]
) -> None:
    result = subprocess.run(
        [sys.executable, "-c", _PROBE.format(args=args)],
        env=glm_env,
        capture_output=True,
        timeout=30,
    )
    assert result.returncode == 0, result.stderr
    assert b"LOADED=\n" in result.stderr, result.stderr
    if args[0] == "chat":
        for flag in (b"--session", b"--file", b"--max-history", b"--list", b"--show"):
            assert flag in result.stdout


def test_script_mode_loads_the_store_but_not_readline(
    glm_env: dict[str, str], service: FakeService
) -> None:
    result = subprocess.run(
        [sys.executable, "-c", _PROBE.format(args=["chat", "hi"])],
        env=glm_env,
        capture_output=True,
        timeout=30,
        stdin=subprocess.DEVNULL,
    )
    assert result.returncode == 0, result.stderr
    assert b"glm_cli.history.store" in result.stderr and b"readline" not in result.stderr
