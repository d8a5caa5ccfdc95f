"""SPEC §1.1, the prompt: `build_prompt`/`system_prompt` as units, then through the CLI.

The end-to-end tests assert the exact `messages` the fake service received; a usage
error must exit 2 with one `glm: error:` line and send nothing.
"""

from __future__ import annotations

import io
import os
import re
import subprocess
from pathlib import Path

import pytest

from glm_cli.cli.prompt import StdinSource, build_prompt, system_prompt
from glm_cli.core.errors import UsageError
from glm_cli.output.terminal import Env
from tests.fake_service import FakeService, Reply
from tests.helpers import assert_one_error, assert_usage_error, invoke, run_glm

# --- unit tests: build_prompt ---------------------------------------------------------


class FakeStdin:
    """A stdin for `build_prompt` that counts how often it was read."""

    def __init__(self, data: bytes, *, terminal: bool = False, available: bool = True) -> None:
        self.data = data
        self.reads = 0
        self.source = StdinSource(read=self._read, is_terminal=terminal, available=available)

    def _read(self) -> bytes:
        self.reads += 1
        return self.data


def forbidden_stdin(*, terminal: bool = False) -> StdinSource:
    """A stdin that fails the test if it is read at all."""

    def read() -> bytes:
        raise AssertionError("stdin must not be read")

    return StdinSource(read=read, is_terminal=terminal)


def no_stdin() -> StdinSource:
    """A terminal stdin that is never read (nothing piped in)."""
    return forbidden_stdin(terminal=True)


def write(path: Path, data: bytes) -> str:
    path.write_bytes(data)
    return str(path)


def byte_offset_named(message: str, offset: int) -> bool:
    return re.search(rf"(?<![0-9]){offset}(?![0-9])", message) is not None


@pytest.mark.parametrize(
    ("words", "expected"),
    [
        (["hello"], "hello"),
        (["explain", "rm", "-rf"], "explain rm -rf"),
        (["two  spaces", "kept"], "two  spaces kept"),
        (["@notes.txt", "literal"], "@notes.txt literal"),
    ],
)
def test_words_are_joined_with_single_spaces(words: list[str], expected: str) -> None:
    assert build_prompt(words, [], no_stdin()) == expected


def test_stdin_is_appended_after_a_blank_line_without_trailing_newlines() -> None:
    stdin = FakeStdin(b"body\n\n")
    assert build_prompt(["summarise:"], [], stdin.source) == "summarise:\n\nbody"
    assert stdin.reads == 1


def test_stdin_alone_is_the_prompt() -> None:
    assert build_prompt([], [], FakeStdin(b"just stdin\n").source) == "just stdin"


def test_stdin_keeps_leading_whitespace_and_inner_blank_lines() -> None:
    stdin = FakeStdin(b"  indented\n\n\nlast line  \n")
    assert build_prompt(["q"], [], stdin.source) == "q\n\n  indented\n\n\nlast line  "


@pytest.mark.parametrize("data", [b"", b"\n", b"  \n\t\n", b"\r\n\r\n"])
def test_whitespace_only_stdin_is_ignored(data: bytes) -> None:
    assert build_prompt(["hi"], [], FakeStdin(data).source) == "hi"


def test_prompt_files_go_between_arguments_and_stdin(tmp_path: Path) -> None:
    first = write(tmp_path / "a.txt", b"first file\n")
    second = write(tmp_path / "b.txt", b"second file\n\n")
    stdin = FakeStdin(b"from stdin\n")
    prompt = build_prompt(["question"], [first, second], stdin.source)
    assert prompt == "question\n\nfirst file\n\nsecond file\n\nfrom stdin"


def test_prompt_file_alone_is_the_prompt(tmp_path: Path) -> None:
    path = write(tmp_path / "p.txt", "ünïcode text\n".encode())
    assert build_prompt([], [path], no_stdin()) == "ünïcode text"


def test_dash_is_replaced_in_place_and_stdin_not_appended() -> None:
    stdin = FakeStdin(b"two words\n\n")
    assert build_prompt(["before", "-", "after"], [], stdin.source) == "before two words after"
    assert stdin.reads == 1


def test_dash_keeps_stdin_as_one_word_with_its_newlines_inside() -> None:
    stdin = FakeStdin(b"line one\nline two\n")
    assert build_prompt(["x", "-"], [], stdin.source) == "x line one\nline two"


def test_dash_with_prompt_file_puts_the_file_after_the_arguments(tmp_path: Path) -> None:
    path = write(tmp_path / "f.txt", b"file text\n")
    stdin = FakeStdin(b"piped\n")
    assert build_prompt(["-", "end"], [path], stdin.source) == "piped end\n\nfile text"


def test_dash_reads_stdin_even_on_a_terminal() -> None:
    stdin = FakeStdin(b"typed at the terminal\n", terminal=True)
    assert build_prompt(["-"], [], stdin.source) == "typed at the terminal"
    assert stdin.reads == 1


def test_terminal_stdin_is_not_read_without_dash() -> None:
    assert build_prompt(["only", "args"], [], forbidden_stdin(terminal=True)) == "only args"


def test_no_stdin_never_reads_piped_stdin() -> None:
    prompt = build_prompt(["q"], [], forbidden_stdin(terminal=False), use_stdin=False)
    assert prompt == "q"


def test_dash_with_no_stdin_is_a_usage_error() -> None:
    with pytest.raises(UsageError) as caught:
        build_prompt(["-"], [], forbidden_stdin(), use_stdin=False)
    assert "-" in caught.value.message
    assert caught.value.exit_code == 2


def test_dash_with_stdin_taken_is_a_usage_error() -> None:
    with pytest.raises(UsageError) as caught:
        build_prompt(["-"], [], forbidden_stdin(), stdin_taken=True)
    assert caught.value.exit_code == 2


def test_stdin_taken_is_not_read_again() -> None:
    assert build_prompt(["q"], [], forbidden_stdin(), stdin_taken=True) == "q"


@pytest.mark.parametrize(
    ("words", "stdin"),
    [
        ([], no_stdin()),
        (["   "], no_stdin()),
        (["", " "], no_stdin()),
        ([], FakeStdin(b" \n\n").source),
        (["\t"], FakeStdin(b"\n").source),
    ],
)
def test_empty_prompt_is_a_usage_error(words: list[str], stdin: StdinSource) -> None:
    with pytest.raises(UsageError) as caught:
        build_prompt(words, [], stdin)
    assert "empty" in caught.value.message.lower()


def test_empty_prompt_file_and_empty_stdin_is_a_usage_error(tmp_path: Path) -> None:
    path = write(tmp_path / "empty.txt", b"\n  \n")
    with pytest.raises(UsageError):
        build_prompt([], [path], FakeStdin(b"").source)


def test_invalid_utf8_stdin_names_stdin_and_the_byte_offset() -> None:
    with pytest.raises(UsageError) as caught:
        build_prompt(["q"], [], FakeStdin(b"abc\xffdef").source)
    message = caught.value.message
    assert "stdin" in message
    assert byte_offset_named(message, 3), message


def test_invalid_utf8_stdin_through_dash_names_stdin_and_the_byte_offset() -> None:
    with pytest.raises(UsageError) as caught:
        build_prompt(["-"], [], FakeStdin(b"\xc3\x28").source)
    assert "stdin" in caught.value.message
    assert byte_offset_named(caught.value.message, 0), caught.value.message


def test_invalid_utf8_prompt_file_names_the_file_and_the_byte_offset(tmp_path: Path) -> None:
    path = write(tmp_path / "latin1.txt", "caf\u00e9 ok".encode("latin-1") + b"\n")
    with pytest.raises(UsageError) as caught:
        build_prompt(["q"], [path], no_stdin())
    message = caught.value.message
    assert "latin1.txt" in message
    assert byte_offset_named(message, 3), message


def test_missing_prompt_file_is_a_usage_error(tmp_path: Path) -> None:
    with pytest.raises(UsageError) as caught:
        build_prompt(["q"], [str(tmp_path / "nope.txt")], no_stdin())
    assert "nope.txt" in caught.value.message


# --- unit tests: system_prompt ----------------------------------------------------------


def test_system_none_is_none() -> None:
    assert system_prompt(None) is None


def test_system_text_is_literal() -> None:
    assert system_prompt("Be terse.") == "Be terse."


def test_system_at_path_reads_the_file(tmp_path: Path) -> None:
    path = write(tmp_path / "sys.txt", "You answer in Français.".encode())
    assert system_prompt("@" + path) == "You answer in Français."


def test_system_double_at_is_a_literal_at() -> None:
    assert system_prompt("@@handle is my name") == "@handle is my name"


def test_system_at_missing_file_is_a_usage_error(tmp_path: Path) -> None:
    with pytest.raises(UsageError) as caught:
        system_prompt("@" + str(tmp_path / "missing.txt"))
    assert "missing.txt" in caught.value.message


def test_system_at_invalid_utf8_file_names_the_file_and_offset(tmp_path: Path) -> None:
    path = write(tmp_path / "bad-sys.txt", b"ok\x80")
    with pytest.raises(UsageError) as caught:
        system_prompt("@" + path)
    assert "bad-sys.txt" in caught.value.message
    assert byte_offset_named(caught.value.message, 2), caught.value.message


# --- end to end, in process ----------------------------------------------------------


def user_content(service: FakeService) -> str:
    assert len(service.requests) == 1, service.requests
    messages = service.requests[0].json["messages"]
    users = [m for m in messages if m["role"] == "user"]
    assert len(users) == 1, messages
    content = users[0]["content"]
    assert isinstance(content, str)
    return content


@pytest.mark.parametrize(
    ("args", "stdin", "expected"),
    [
        (["ask", "summarise:"], b"body\n\n", "summarise:\n\nbody"),
        (["ask"], b"only stdin\n", "only stdin"),
        (["ask", "hi", "there"], b"", "hi there"),
        (["ask", "hi"], b" \n\t\n", "hi"),
        (["ask", "a", "-", "c"], b"b b\n", "a b b c"),
        (["ask", "--no-stdin", "q"], b"never read", "q"),
        (["ask", "-n", "q"], b"never read", "q"),
        (["ask", "--", "explain", "rm", "-rf"], b"", "explain rm -rf"),
        (["ask", "@file", "is", "literal"], b"", "@file is literal"),
    ],
)
def test_cli_sends_the_assembled_prompt(
    glm_env: dict[str, str], service: FakeService, args: list[str], stdin: bytes, expected: str
) -> None:
    result = invoke(args, input=stdin)
    assert result.exit_code == 0, result.stderr
    assert user_content(service) == expected


def test_cli_prompt_files_between_arguments_and_stdin(
    glm_env: dict[str, str], service: FakeService, tmp_path: Path
) -> None:
    one = write(tmp_path / "one.md", b"# One\n")
    two = write(tmp_path / "two.md", b"two\n\n")
    result = invoke(["ask", "--prompt-file", one, "--prompt-file", two, "review"], input=b"diff\n")
    assert result.exit_code == 0, result.stderr
    assert user_content(service) == "review\n\n# One\n\ntwo\n\ndiff"


def test_cli_system_prompt_from_file(
    glm_env: dict[str, str], service: FakeService, tmp_path: Path
) -> None:
    path = write(tmp_path / "system.txt", b"Answer briefly.")
    result = invoke(["ask", "--system", "@" + path, "q"], input=b"")
    assert result.exit_code == 0, result.stderr
    messages = service.requests[0].json["messages"]
    assert messages == [
        {"role": "system", "content": "Answer briefly."},
        {"role": "user", "content": "q"},
    ]


@pytest.mark.parametrize(("value", "expected"), [("Be terse.", "Be terse."), ("@@me", "@me")])
def test_cli_system_prompt_text(
    glm_env: dict[str, str], service: FakeService, value: str, expected: str
) -> None:
    result = invoke(["ask", "-s", value, "q"], input=b"")
    assert result.exit_code == 0, result.stderr
    assert service.requests[0].json["messages"][0] == {"role": "system", "content": expected}


@pytest.mark.parametrize(
    ("args", "stdin"),
    [
        (["ask"], b""),
        (["ask"], b"  \n\n"),
        (["ask", " "], b"\n"),
        (["ask", "--no-stdin"], b"ignored because of --no-stdin"),
    ],
)
def test_cli_empty_prompt_is_a_usage_error(
    glm_env: dict[str, str], service: FakeService, args: list[str], stdin: bytes
) -> None:
    assert_usage_error(invoke(args, input=stdin), service, "prompt")


def test_cli_dash_with_no_stdin_is_a_usage_error(
    glm_env: dict[str, str], service: FakeService
) -> None:
    assert_usage_error(invoke(["ask", "--no-stdin", "-"], input=b"text"), service, "--no-stdin")


def test_cli_invalid_utf8_stdin_is_a_usage_error(
    glm_env: dict[str, str], service: FakeService
) -> None:
    line = assert_usage_error(invoke(["ask", "q"], input=b"12345\xfe"), service, "stdin")
    assert byte_offset_named(line, 5), line


def test_cli_invalid_utf8_prompt_file_is_a_usage_error(
    glm_env: dict[str, str], service: FakeService, tmp_path: Path
) -> None:
    path = write(tmp_path / "binary.bin", b"\x00\x01ok\xff")
    line = assert_usage_error(invoke(["ask", "--prompt-file", path, "q"], input=b""), service)
    assert "binary.bin" in line
    assert byte_offset_named(line, 4), line


def test_cli_missing_prompt_file_is_a_usage_error(
    glm_env: dict[str, str], service: FakeService, tmp_path: Path
) -> None:
    assert_usage_error(
        invoke(["ask", "--prompt-file", str(tmp_path / "gone.txt"), "q"], input=b""),
        service,
        "gone.txt",
    )


def test_cli_missing_system_file_is_a_usage_error(
    glm_env: dict[str, str], service: FakeService, tmp_path: Path
) -> None:
    assert_usage_error(
        invoke(["ask", "--system", "@" + str(tmp_path / "nosys.txt"), "q"], input=b""),
        service,
        "nosys.txt",
    )


def terminal_env(stdin: io.BytesIO) -> Env:
    return Env(
        stdin=stdin,
        stdout=io.BytesIO(),
        stderr=io.BytesIO(),
        stdin_isatty=True,
        stdout_isatty=False,
        stderr_isatty=False,
        environ=dict(os.environ),
    )


class ExplodingStdin(io.BytesIO):
    def read(self, size: int | None = -1) -> bytes:
        raise AssertionError("a terminal stdin must not be read without '-'")


def test_cli_dash_reads_a_terminal_stdin(glm_env: dict[str, str], service: FakeService) -> None:
    env = terminal_env(io.BytesIO(b"typed text\n"))
    result = invoke(["ask", "-"], obj=env)
    assert result.exit_code == 0, env.stderr.getvalue()  # type: ignore[attr-defined]
    assert user_content(service) == "typed text"


def test_cli_terminal_stdin_is_not_read_without_dash(
    glm_env: dict[str, str], service: FakeService
) -> None:
    env = terminal_env(ExplodingStdin())
    result = invoke(["ask", "q"], obj=env)
    assert result.exit_code == 0, env.stderr.getvalue()  # type: ignore[attr-defined]
    assert user_content(service) == "q"


def test_cli_terminal_stdin_and_no_arguments_is_an_empty_prompt(
    glm_env: dict[str, str], service: FakeService
) -> None:
    env = terminal_env(ExplodingStdin())
    result = invoke(["ask"], obj=env)
    assert result.exit_code == 2
    assert_one_error(env.stderr.getvalue())  # type: ignore[attr-defined]
    assert service.requests == []


def test_cli_raw_body_dash_with_dash_prompt_is_a_usage_error(
    glm_env: dict[str, str], service: FakeService
) -> None:
    body = b'{"model": "glm-5.2", "messages": [{"role": "user", "content": "x"}]}'
    assert_usage_error(invoke(["raw", "--body", "-", "-"], input=body), service)


# --- end to end, as real processes -------------------------------------------------------


def run(
    glm_env: dict[str, str], args: list[str], input: bytes | None = None
) -> subprocess.CompletedProcess[bytes]:
    return run_glm(args, glm_env, input=input)


def test_process_piped_stdin_is_appended(glm_env: dict[str, str], service: FakeService) -> None:
    done = run(glm_env, ["ask", "translate:"], input="grüß dich\n\n".encode())
    assert done.returncode == 0, done.stderr
    assert done.stdout == b"Hello from the fake service.\n"
    assert user_content(service) == "translate:\n\ngrüß dich"


def test_process_dev_null_adds_nothing(glm_env: dict[str, str], service: FakeService) -> None:
    done = run(glm_env, ["ask", "alone"])  # run_glm gives /dev/null as stdin
    assert done.returncode == 0, done.stderr
    assert user_content(service) == "alone"


def test_process_dev_null_and_no_arguments_is_an_empty_prompt(
    glm_env: dict[str, str], service: FakeService
) -> None:
    done = run(glm_env, ["ask"])
    assert done.returncode == 2, done.stderr
    assert_one_error(done.stderr, "prompt")
    assert done.stdout == b""
    assert service.requests == []


def test_process_no_stdin_does_not_read_piped_stdin(
    glm_env: dict[str, str], service: FakeService
) -> None:
    done = run(glm_env, ["ask", "--no-stdin", "loop item"], input=b"rest of the loop input\n")
    assert done.returncode == 0, done.stderr
    assert user_content(service) == "loop item"


def test_process_invalid_utf8_stdin_names_stdin_and_offset(
    glm_env: dict[str, str], service: FakeService
) -> None:
    done = run(glm_env, ["ask", "q"], input=b"okay \xe2\x82")
    assert done.returncode == 2, done.stderr
    line = assert_one_error(done.stderr, "stdin")
    assert byte_offset_named(line, 5), line
    assert done.stdout == b""
    assert service.requests == []


def test_process_dash_reads_stdin(glm_env: dict[str, str], service: FakeService) -> None:
    done = run(glm_env, ["ask", "fix", "-", "please"], input=b"the bug\n")
    assert done.returncode == 0, done.stderr
    assert user_content(service) == "fix the bug please"


# --- --prompt-file - and --system @- (issue 10): stdin read once, by one reader -----------


def system_content(service: FakeService) -> str | None:
    body = service.requests[0].json
    systems = [m["content"] for m in body["messages"] if m["role"] == "system"]
    return body.get("system") or (systems[0] if systems else None)


def test_prompt_file_dash_takes_stdins_place_among_the_files(tmp_path: Path) -> None:
    path = write(tmp_path / "f.txt", b"file text\n")
    stdin = FakeStdin(b"piped\n", terminal=True)
    assert build_prompt(["q"], ["-", path], stdin.source) == "q\n\npiped\n\nfile text"
    assert stdin.reads == 1


def test_system_at_dash_reads_stdin_once() -> None:
    stdin = FakeStdin(b"Be terse.\n")
    assert system_prompt("@-", stdin.source) == "Be terse."
    assert system_prompt("@-", stdin.source) == "Be terse."
    assert stdin.reads == 1


@pytest.mark.parametrize(
    ("words", "files", "taken", "fragments"),
    [
        (["-"], ["-"], False, ("'-'", "--prompt-file -")),
        ([], ["-", "-"], False, ("--prompt-file -", "only once")),
        (["-"], [], "--system @-", ("'-'", "--system @-")),
        ([], ["-"], "--body -", ("--prompt-file -", "--body -")),
    ],
)
def test_two_readers_of_stdin_are_a_usage_error(
    words: list[str], files: list[str], taken: str | bool, fragments: tuple[str, ...]
) -> None:
    with pytest.raises(UsageError) as caught:
        build_prompt(words, files, forbidden_stdin(), stdin_taken=taken)
    for fragment in fragments:
        assert fragment in caught.value.message


@pytest.mark.parametrize("command", ["ask", "json", "chat"])
def test_cli_prompt_file_dash_reads_stdin(
    glm_env: dict[str, str], service: FakeService, command: str
) -> None:
    if command == "json":
        service.script(Reply(content="{}"))
    result = invoke([command, "--prompt-file", "-", "json please"], input=b"from stdin\n")
    assert result.exit_code == 0, result.stderr
    assert user_content(service) == "json please\n\nfrom stdin"


@pytest.mark.parametrize("command", ["ask", "json", "chat", "raw"])
def test_cli_system_at_dash_reads_the_system_prompt_from_stdin(
    glm_env: dict[str, str], service: FakeService, command: str
) -> None:
    if command == "json":
        service.script(Reply(content="{}"))
    result = invoke([command, "--system", "@-", "a json question"], input=b"Be terse.\n")
    assert result.exit_code == 0, result.stderr
    assert user_content(service) == "a json question"  # stdin is not appended as well
    assert (system_content(service) or "").startswith("Be terse.")


def test_cli_system_at_dash_from_the_config_reads_stdin(
    glm_env: dict[str, str], service: FakeService, tmp_path: Path
) -> None:
    config = tmp_path / "config.toml"
    config.write_text('[defaults]\nsystem = "@-"\n')
    result = invoke(["ask", "--config", str(config), "q"], input=b"From stdin.\n")
    assert result.exit_code == 0, result.stderr
    assert system_content(service) == "From stdin."
    assert user_content(service) == "q"


@pytest.mark.parametrize(
    ("args", "fragments"),
    [
        (["ask", "-", "--prompt-file", "-"], ("'-'", "--prompt-file -")),
        (["ask", "--system", "@-", "-"], ("'-'", "--system @-")),
        (["ask", "--system", "@-", "--prompt-file", "-", "q"], ("--system @-",)),
        (["ask", "--no-stdin", "--prompt-file", "-", "q"], ("--prompt-file -", "--no-stdin")),
        (["ask", "--no-stdin", "--system", "@-", "q"], ("--system @-", "--no-stdin")),
        (["raw", "--body", "-", "--system", "@-"], ("--body -", "--system @-")),
        (["raw", "--body", "-", "--prompt-file", "-"], ("--body -", "--prompt-file -")),
    ],
)
def test_cli_two_readers_of_stdin_are_a_usage_error(
    glm_env: dict[str, str], service: FakeService, args: list[str], fragments: tuple[str, ...]
) -> None:
    body = b'{"model": "glm-5.2", "messages": [{"role": "user", "content": "x"}]}'
    assert_usage_error(invoke(args, input=body), service, *fragments)


def test_process_system_at_dash_reads_a_pipe(glm_env: dict[str, str], service: FakeService) -> None:
    done = run(glm_env, ["ask", "--system", "@-", "q"], input=b"Piped system.\n")
    assert done.returncode == 0, done.stderr
    assert system_content(service) == "Piped system."
    assert user_content(service) == "q"
