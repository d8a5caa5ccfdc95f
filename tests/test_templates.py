"""SPEC §9, templates: `-T NAME|PATH` and `-p KEY=VALUE` against the fake service, the
precedence flag > template > `[defaults]`, stdin left alone without `{input}`, a batch
line's `params`, and `glm templates list|show|path`. Every refused input is exit 2 with
one error line, and nothing reaches the service."""

from __future__ import annotations

import os
import subprocess
import time
from pathlib import Path
from typing import Any

import orjson
import pytest

from glm_cli.core.errors import UsageError
from glm_cli.settings import templates
from tests.fake_service import FakeService, Reply
from tests.helpers import (
    Run,
    assert_usage_error,
    glm_command,
    request_body,
    run_in_process,
    sent_body,
    warnings,
)

REVIEW = """\
system = "You review {lang} code."
prompt = "Review this {lang} code; answer in {{short}} form:\\n\\n{input}"
temperature = 0.3
max-tokens = 1500
"""


def folder() -> Path:
    return Path(os.environ["XDG_CONFIG_HOME"]) / "glm" / "templates"


def template(name: str, text: str) -> Path:
    path = folder() / f"{name}.toml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def glm(*args: str, stdin: bytes = b"") -> Run:
    return run_in_process(list(args), stdin=stdin)


def user_content(service: FakeService) -> str:
    messages = sent_body(service)["messages"]
    assert messages[-1]["role"] == "user"
    content = messages[-1]["content"]
    assert isinstance(content, str)
    return content


def system_content(body: dict[str, Any]) -> str | None:
    first = body["messages"][0]
    return first["content"] if first["role"] == "system" else None


# --- units: filling -----------------------------------------------------------------------


def test_fill_replaces_placeholders_and_double_braces() -> None:
    text = templates.fill("{a}-{{a}}-}}{{-{b_c-1}", {"a": "1", "b_c-1": "2"}, "t")
    assert text == "1-{a}-}{-2"


@pytest.mark.parametrize("text", ["{ x }", "{1a}", "a { b", "a } b", '{"json": 1}', "{}"])
def test_a_brace_that_is_no_placeholder_is_literal(text: str) -> None:
    assert templates.fill(text, {}, "t") == text


def test_filled_values_are_never_read_again() -> None:
    assert templates.fill("{a} {input}", {"a": "{input}"}, "t", "{a} }}") == "{input} {a} }}"


def test_a_missing_parameter_is_named() -> None:
    with pytest.raises(UsageError, match=r"missing parameter \{lang\}"):
        templates.fill("{lang}", {}, "t")


@pytest.mark.parametrize("item", ["novalue", "=x", "1a=x", "a b=x", "input=x"])
def test_bad_params_are_refused(item: str) -> None:
    with pytest.raises(UsageError, match="--param"):
        templates.parse_params([item])


def test_params_keep_everything_after_the_first_equals_and_the_last_wins() -> None:
    assert templates.parse_params(["a=1=2", "b=", "a=3"]) == {"a": "3", "b": ""}


def test_a_value_with_a_slash_or_toml_suffix_is_a_path(tmp_path: Path) -> None:
    env = {"XDG_CONFIG_HOME": str(tmp_path)}
    assert templates.template_path("a/b", env) == Path("a/b")
    assert templates.template_path("x.toml", env) == Path("x.toml")
    assert templates.template_path("x", env) == tmp_path / "glm" / "templates" / "x.toml"
    for bad in ("", ".hidden", "a\nb"):
        with pytest.raises(UsageError, match="not a template name"):
            templates.template_path(bad, env)


# --- the prompt ---------------------------------------------------------------------------


def test_the_prompt_goes_where_input_is(glm_env: dict[str, str], service: FakeService) -> None:
    template("review", REVIEW)
    run = glm("ask", "-T", "review", "-p", "lang=python", "def f(): {return}")
    assert run.exit_code == 0, run.stderr
    body = sent_body(service)
    assert system_content(body) == "You review python code."
    assert user_content(service) == (
        "Review this python code; answer in {short} form:\n\ndef f(): {return}"
    )
    assert body["temperature"] == 0.3
    assert body["max_tokens"] == 1500
    assert warnings(run.stderr) == []


HAIKU = 'prompt = "Write a haiku about {topic}."\n'


@pytest.mark.parametrize(
    ("text", "args", "stdin", "expected"),
    [
        pytest.param(
            HAIKU,
            ["-p", "topic=rain", "in", "{Kyoto}"],
            b"piped, never read",
            "Write a haiku about rain.\n\nin {Kyoto}",
            id="no-input-prompt-after-a-blank-line",
        ),
        pytest.param(
            HAIKU,
            ["-p", "topic=rain"],
            b"piped, never read",
            "Write a haiku about rain.",
            id="no-input-no-prompt",
        ),
        pytest.param(
            'prompt = "Haiku:"\n',
            ["about", "-"],
            b"{snow}\n",
            "Haiku:\n\nabout {snow}",
            id="no-input-dash-reads-stdin",
        ),
        pytest.param(
            'prompt = "<{input}>"\n',
            ["--prompt-file", "NOTES", "arg {x}"],
            b"stdin {{y}} {\n",
            "<arg {x}\n\nfile {lang} }}\n\nstdin {{y}} {>",
            id="input-args-files-stdin-verbatim",
        ),
    ],
)
def test_the_prompt_with_a_template(
    glm_env: dict[str, str],
    service: FakeService,
    tmp_path: Path,
    text: str,
    args: list[str],
    stdin: bytes,
    expected: str,
) -> None:
    template("t", text)
    notes = tmp_path / "notes.txt"
    notes.write_text("file {lang} }}\n", encoding="utf-8")
    args = [str(notes) if arg == "NOTES" else arg for arg in args]
    run = glm("ask", "-T", "t", *args, stdin=stdin)
    assert run.exit_code == 0, run.stderr
    assert user_content(service) == expected


def test_a_template_given_by_path(
    glm_env: dict[str, str], service: FakeService, tmp_path: Path
) -> None:
    path = tmp_path / "mine.toml"
    path.write_text('prompt = "Q: {input}"\nmodel = "glm-from-template"\n', encoding="utf-8")
    run = glm("ask", "-T", str(path), "why")
    assert run.exit_code == 0, run.stderr
    assert user_content(service) == "Q: why"
    assert sent_body(service)["model"] == "glm-from-template"


def test_a_template_fills_glm_json_with_its_schema(
    glm_env: dict[str, str], service: FakeService
) -> None:
    service.responder = lambda incoming: _reply('{"n": 1}')
    template(
        "count",
        'prompt = "Count {input}"\n[schema]\ntype = "object"\nrequired = ["n"]\n',
    )
    run = glm("json", "-T", "count", "sheep")
    assert run.exit_code == 0, run.stderr
    assert run.stdout == '{"n":1}\n'
    system = system_content(sent_body(service))
    assert system is not None and '"required":["n"]' in system


def _reply(text: str) -> Reply:
    return Reply(content=text)


def test_extract_in_a_template_prints_the_code_block(
    glm_env: dict[str, str], service: FakeService
) -> None:
    service.responder = lambda incoming: _reply("Here:\n```py\nx = 1\n```\n```sh\nls\n```\n")
    template("code", 'extract = "last"\n')
    run = glm("ask", "-T", "code", "hi")
    assert run.exit_code == 0, run.stderr
    assert run.stdout == "ls\n"
    service.reset()
    service.responder = lambda incoming: _reply("Here:\n```py\nx = 1\n```\n```sh\nls\n```\n")
    run = glm("ask", "-T", "code", "-x", "hi")  # the command line's choice wins
    assert run.stdout == "x = 1\n"


def test_an_unused_param_is_a_warning(glm_env: dict[str, str], service: FakeService) -> None:
    template("plain", 'prompt = "{input}"\n')
    run = glm("ask", "-T", "plain", "-p", "colour=red", "hi")
    assert run.exit_code == 0, run.stderr
    assert any("colour" in line for line in warnings(run.stderr))


# --- precedence ---------------------------------------------------------------------------


def test_flags_beat_the_template_which_beats_defaults(
    glm_env: dict[str, str], service: FakeService
) -> None:
    config = Path(os.environ["XDG_CONFIG_HOME"]) / "glm" / "config.toml"
    config.parent.mkdir(parents=True, exist_ok=True)
    config.write_text(
        '[defaults]\ntemperature = 0.9\nmax-tokens = 900\ntop-p = 0.5\nsystem = "from defaults"\n',
        encoding="utf-8",
    )
    template(
        "t",
        'model = "glm-t"\nsystem = "from template"\ntemperature = 0.3\nmax-tokens = 300\n',
    )
    assert glm("ask", "-T", "t", "hi").exit_code == 0
    body = request_body(service)
    assert (body["model"], system_content(body)) == ("glm-t", "from template")
    assert (body["temperature"], body["max_tokens"], body["top_p"]) == (0.3, 300, 0.5)
    service.reset()
    flags = ["-m", "glm-flag", "-s", "from flag", "-t", "0.1", "--max-tokens", "10"]
    run = glm("ask", "-T", "t", *flags, "hi")
    assert run.exit_code == 0, run.stderr
    body = request_body(service)
    assert (body["model"], system_content(body)) == ("glm-flag", "from flag")
    assert (body["temperature"], body["max_tokens"]) == (0.1, 10)


def test_the_template_model_beats_glm_model(
    glm_env: dict[str, str], service: FakeService, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GLM_MODEL", "glm-env")
    template("t", 'model = "glm-t"\n')
    assert glm("ask", "-T", "t", "hi").exit_code == 0
    assert sent_body(service)["model"] == "glm-t"


def test_a_template_system_is_text_not_a_file(
    glm_env: dict[str, str], service: FakeService
) -> None:
    template("t", 'system = "@notes.txt"\n')
    assert glm("ask", "-T", "t", "hi").exit_code == 0
    assert system_content(sent_body(service)) == "@notes.txt"


# --- refused ------------------------------------------------------------------------------


def test_a_missing_parameter_is_exit_2(glm_env: dict[str, str], service: FakeService) -> None:
    template("review", REVIEW)
    assert_usage_error(glm("ask", "-T", "review", "x"), service, "{lang}", "review.toml")


def test_a_missing_template_is_exit_2(glm_env: dict[str, str], service: FakeService) -> None:
    assert_usage_error(glm("ask", "-T", "nowhere", "x"), service, "nowhere", "not found")


@pytest.mark.parametrize(
    ("text", "fragments"),
    [
        ('colour = "red"\n', ("colour", "unknown key")),
        ("model = 'x'\n[defaults]\n", ("defaults", "unknown key")),
        ("temperature = 3\n", ("temperature",)),
        ("max-tokens = 0\n", ("max-tokens",)),
        ("prompt = 3\n", ("prompt", "text")),
        ('model = ""\n', ("model",)),
        ('system = "{input}"\n', ("system", "{input}")),
        ("extract = 1\n", ("extract",)),
        ("schema = 1\n", ("schema",)),
        ('prompt = "unclosed\n', ("malformed TOML",)),
    ],
)
def test_a_bad_template_is_exit_2_naming_file_and_key(
    glm_env: dict[str, str], service: FakeService, text: str, fragments: tuple[str, ...]
) -> None:
    template("bad", text)
    assert_usage_error(glm("ask", "-T", "bad", "x"), service, "bad.toml", *fragments)


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (["-p", "a=1"], "--template"),
        (["-T", "plain", "-p", "novalue"], "novalue"),
        (["-T", "plain", "-p", "input=x"], "{input}"),
        (["-T", ".hidden"], "not a template name"),
    ],
)
def test_bad_template_flags_are_exit_2(
    glm_env: dict[str, str], service: FakeService, args: list[str], fragment: str
) -> None:
    template("plain", 'prompt = "{input}"\n')
    assert_usage_error(glm("ask", *args, "x"), service, fragment)


def test_a_dry_run_fails_alike(glm_env: dict[str, str], service: FakeService) -> None:
    template("review", REVIEW)
    assert_usage_error(glm("ask", "--dry-run", "-T", "review", "x"), service, "{lang}")


# --- stdin is not read without {input} ----------------------------------------------------


def test_no_stdin_is_read_without_input_even_from_an_open_pipe(
    glm_env: dict[str, str], service: FakeService
) -> None:
    """A pipe that never closes: reading it would hang glm; it must answer and exit."""
    template("haiku", 'prompt = "Write a haiku."\n')
    process = subprocess.Popen(
        glm_command("ask", "-T", "haiku"),
        env=glm_env,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert process.stdin is not None
    process.stdin.write(b"must not be read\n")
    process.stdin.flush()
    try:
        out, err = _wait(process)
    finally:
        process.kill()
        process.wait()
        process.stdin.close()
    assert process.returncode == 0, err
    assert out == b"Hello from the fake service.\n"
    assert user_content(service) == "Write a haiku."


def _wait(process: subprocess.Popen[bytes]) -> tuple[bytes, bytes]:
    """stdout and stderr once the process exits, with its stdin left open."""
    deadline = time.monotonic() + 20
    while process.poll() is None:
        assert time.monotonic() < deadline, "glm waited for stdin"
        time.sleep(0.05)
    assert process.stdout is not None and process.stderr is not None
    return process.stdout.read(), process.stderr.read()


# --- batch --------------------------------------------------------------------------------


def test_batch_lines_fill_the_template_with_their_params(
    glm_env: dict[str, str], service: FakeService, tmp_path: Path
) -> None:
    template("review", REVIEW)
    lines = [
        {"prompt": "a {b}", "params": {"lang": "go"}},
        {"prompt": "c", "params": {"lang": 3}},
        {"prompt": "d"},
        {"prompt": "e", "params": ["lang"]},
        {"prompt": "f", "params": {"lang": "rust"}, "system": "own"},
    ]
    source = tmp_path / "in.jsonl"
    source.write_bytes(b"".join(orjson.dumps(line) + b"\n" for line in lines))
    run = glm("batch", "-j", "1", "-T", "review", "-p", "lang=c", str(source))
    assert run.exit_code == 7, run.stderr
    records = [orjson.loads(line) for line in run.out.splitlines()]
    assert [r["error"] is None for r in records] == [True, True, True, False, True]
    assert "params" in records[3]["error"]["message"]
    bodies = [request_body(service, n) for n in range(len(service.requests))]
    assert [system_content(b) for b in bodies] == [
        "You review go code.",
        "You review 3 code.",
        "You review c code.",
        "own",
    ]
    assert bodies[0]["messages"][-1]["content"] == (
        "Review this go code; answer in {short} form:\n\na {b}"
    )
    assert all(b["max_tokens"] == 1500 for b in bodies)


def test_a_batch_line_missing_a_parameter_gets_an_error_record(
    glm_env: dict[str, str], service: FakeService, tmp_path: Path
) -> None:
    template("review", REVIEW)
    source = tmp_path / "in.jsonl"
    source.write_bytes(b'{"prompt": "x"}\n')
    run = glm("batch", "-T", "review", str(source))
    assert run.exit_code == 7, run.stderr
    (record,) = [orjson.loads(line) for line in run.out.splitlines()]
    assert "line 1" in record["error"]["message"]
    assert "{lang}" in record["error"]["message"]
    assert service.requests == []


# --- glm templates ------------------------------------------------------------------------


def test_templates_list_show_path(glm_env: dict[str, str], service: FakeService) -> None:
    assert glm("templates", "list").out == b""
    template("zeta", 'prompt = "z"\n')
    template("alpha", REVIEW)
    (folder() / "notes.txt").write_text("not a template")
    listed = glm("templates", "list")
    assert (listed.exit_code, listed.out) == (0, b"alpha\nzeta\n")
    shown = glm("templates", "show", "alpha")
    assert (shown.exit_code, shown.stdout) == (0, REVIEW)
    path = glm("templates", "path")
    assert (path.exit_code, path.stdout) == (0, f"{folder()}\n")


def test_templates_show_an_unknown_name_is_exit_2(
    glm_env: dict[str, str], service: FakeService
) -> None:
    assert_usage_error(glm("templates", "show", "nope"), service, "nope", "not found")
    assert_usage_error(glm("templates", "show"), service, "name")


def test_a_schema_file_is_found_beside_the_template(
    glm_env: dict[str, str], service: FakeService
) -> None:
    service.responder = lambda incoming: _reply('{"n": 1}')
    template("count", 'schema = "count.schema.json"\n')
    (folder() / "count.schema.json").write_text('{"type": "object", "required": ["m"]}')
    run = glm("json", "-T", "count", "sheep")
    assert run.exit_code == 6, run.stderr  # asked again, and still no "m"
    assert "schema" in run.stderr
    assert len(service.requests) == 2


def test_a_missing_schema_file_is_exit_2(glm_env: dict[str, str], service: FakeService) -> None:
    template("count", 'schema = "gone.json"\n')
    assert_usage_error(glm("json", "-T", "count", "x"), service, "gone.json", "schema")


def test_chat_and_raw_take_a_template(glm_env: dict[str, str], service: FakeService) -> None:
    template("t", 'system = "Be {tone}."\nprompt = "Say: {input}"\n')
    for command in ("chat", "raw"):
        service.reset()
        run = glm(command, "-T", "t", "-p", "tone=brief", "hi")
        assert run.exit_code == 0, (command, run.stderr)
        body = sent_body(service)
        assert system_content(body) == "Be brief."
        assert body["messages"][-1] == {"role": "user", "content": "Say: hi"}


def test_raw_body_takes_the_template_prompt_but_not_its_system(
    glm_env: dict[str, str], service: FakeService, tmp_path: Path
) -> None:
    template("t", 'system = "Be {tone}."\nprompt = "Say: {input}"\ntemperature = 0.5\n')
    body = tmp_path / "body.json"
    body.write_text('{"model": "m", "messages": [{"role": "user", "content": "a"}]}')
    run = glm("raw", "--body", str(body), "-T", "t", "b")
    assert run.exit_code == 0, run.stderr
    sent = sent_body(service)
    assert sent["messages"] == [
        {"role": "user", "content": "a"},
        {"role": "user", "content": "Say: b"},
    ]
    assert "temperature" not in sent
