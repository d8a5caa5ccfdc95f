"""Output that cannot be written (SPEC §3, §3.1, §3.2), with glm as a real process.

- A closed pipe (EPIPE) ends every command quietly by SIGPIPE: Popen sees -13.
- Any other failed write (`/dev/full`) is exit 1 with one line naming what and why,
  and `glm chat` stores no exchange nobody saw.
- Descriptors 0, 1, 2 closed at start are held on /dev/null at once; a closed
  stdout is exit 1 before anything is sent, a closed stdin is no stdin, a closed
  stderr only silences messages.
- On a terminal an error line after an unfinished answer line starts a line.
- `glm help [COMMAND]` is the help of `glm [COMMAND] --help`.
"""

from __future__ import annotations

import os
import pty
import select
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.fake_service import FakeService, Reply, Status
from tests.helpers import WAIT, assert_one_error, glm_command, run_glm

FULL = b"glm: error: cannot write to stdout: No space left on device\n"

NO_REQUEST = [
    ["--version"],
    ["--help"],
    ["help"],
    ["help", "ask"],
    ["ask", "--help"],
    ["config", "show"],
    ["config", "path"],
    ["ask", "--dry-run", "hi"],
    ["chat", "--list"],
    ["chat", "--show", "kept"],
    ["chat", "--show", "kept", "--ndjson"],
]
WITH_REQUEST = [
    ["ask", "hi"],
    ["ask", "--no-stream", "hi"],
    ["ask", "--ndjson", "hi"],
    ["raw", "hi"],
    ["raw", "--stream", "hi"],
    ["json", "hi"],
    ["chat", "--session", "new", "hi"],
]


@pytest.fixture
def kept_session(glm_env: dict[str, str], service: FakeService) -> Iterator[None]:
    """A stored session named `kept`, and an answer that is also valid JSON."""
    assert run_glm(["chat", "--session", "kept", "hi"], glm_env).returncode == 0
    service.reset()
    service.script(*(Reply(content='{"answer": 42}') for _ in range(3)))
    yield


def sessions(env: dict[str, str]) -> list[str]:
    listed = run_glm(["chat", "--list"], env)
    assert listed.returncode == 0, listed.stderr
    return [line.split("\t")[0] for line in listed.stdout.decode().splitlines()]


# --- a closed pipe: death by SIGPIPE, in silence ----------------------------------------------


@pytest.mark.parametrize("args", NO_REQUEST + WITH_REQUEST, ids=" ".join)
@pytest.mark.usefixtures("kept_session")
def test_a_closed_pipe_ends_every_command_by_sigpipe(
    glm_env: dict[str, str], args: list[str]
) -> None:
    read, write = os.pipe()
    os.close(read)  # the reader is gone before glm writes anything
    try:
        done = subprocess.run(
            glm_command(*args),
            env=glm_env,
            stdin=subprocess.DEVNULL,
            stdout=write,
            stderr=subprocess.PIPE,
            timeout=WAIT,
        )
    finally:
        os.close(write)
    assert done.returncode == -signal.SIGPIPE, done.stderr
    assert done.stderr == b""
    assert sessions(glm_env) == ["kept"]  # an exchange nobody saw is not stored


def test_a_shell_sees_141_for_a_closed_pipe(glm_env: dict[str, str]) -> None:
    read, write = os.pipe()
    os.close(read)
    try:
        done = subprocess.run(
            ["bash", "-c", '"$@"; echo "status $?" >&2', "bash", *glm_command("--help")],
            env=glm_env,
            stdin=subprocess.DEVNULL,
            stdout=write,
            stderr=subprocess.PIPE,
            timeout=WAIT,
        )
    finally:
        os.close(write)
    assert done.stderr == b"status 141\n"


# --- a full disk: exit 1, one line ------------------------------------------------------------


@pytest.mark.parametrize("args", NO_REQUEST + WITH_REQUEST, ids=" ".join)
@pytest.mark.usefixtures("kept_session")
def test_a_full_disk_is_exit_1_naming_stdout_and_why(
    glm_env: dict[str, str], args: list[str]
) -> None:
    with open("/dev/full", "wb") as full:
        done = subprocess.run(
            glm_command(*args),
            env=glm_env,
            stdin=subprocess.DEVNULL,
            stdout=full,
            stderr=subprocess.PIPE,
            timeout=WAIT,
        )
    assert done.returncode == 1, done.stderr
    assert done.stderr == FULL  # no "internal error", no "Exception ignored"
    assert sessions(glm_env) == ["kept"]


def test_an_ndjson_error_line_that_cannot_be_written_keeps_the_service_error(
    glm_env: dict[str, str], service: FakeService
) -> None:
    service.script(Status(400))
    with open("/dev/full", "wb") as full:
        done = subprocess.run(
            glm_command("ask", "--ndjson", "hi"),
            env=glm_env,
            stdin=subprocess.DEVNULL,
            stdout=full,
            stderr=subprocess.PIPE,
            timeout=WAIT,
        )
    assert done.returncode == 2  # the first failure is the one told
    assert_one_error(done.stderr, "HTTP 400")
    assert b"Exception ignored" not in done.stderr


# --- descriptors closed at start -----------------------------------------------------------------


def in_bash(env: dict[str, str], redirect: str, *args: str) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(
        ["bash", "-c", f'exec "$@" {redirect}', "bash", *glm_command(*args)],
        env=env,
        capture_output=True,
        timeout=WAIT,
        stdin=subprocess.DEVNULL,
    )


@pytest.mark.parametrize(
    "args",
    [["ask", "hi"], ["chat", "--session", "s", "hi"], ["--version"], ["help"]],
    ids=" ".join,
)
def test_a_stdout_closed_at_start_is_exit_1_before_anything_is_sent(
    glm_env: dict[str, str], service: FakeService, args: list[str]
) -> None:
    done = in_bash(glm_env, ">&-", *args)
    assert done.returncode == 1, done.stderr
    assert_one_error(done.stderr, "cannot write to stdout", "descriptor 1")
    assert service.requests == []
    assert not (Path(glm_env["GLM_HOME"]) / "glm.db").exists()


def test_a_stdin_closed_at_start_is_no_stdin(glm_env: dict[str, str], service: FakeService) -> None:
    done = in_bash(glm_env, "<&-", "ask", "hi")
    assert done.returncode == 0, done.stderr
    assert done.stdout == b"Hello from the fake service.\n"
    assert service.requests[0].json["messages"] == [{"role": "user", "content": "hi"}]
    no_prompt = in_bash(glm_env, "<&-", "ask")
    assert no_prompt.returncode == 2
    assert b"Traceback" not in no_prompt.stderr


def test_a_stderr_closed_at_start_only_silences_messages(
    glm_env: dict[str, str], service: FakeService, tmp_path: Path
) -> None:
    done = in_bash(glm_env, "2>&-", "chat", "--session", "s", "hi")
    assert done.returncode == 0
    assert done.stdout == b"Hello from the fake service.\n"
    assert sessions(glm_env) == ["s"]
    assert in_bash(glm_env, "2>&-", "ask", "--bogus").returncode == 2  # usage, not a crash
    service.script(Status(401))
    assert in_bash(glm_env, "2>&-", "ask", "hi").returncode == 3


def test_every_descriptor_closed_at_start(glm_env: dict[str, str], service: FakeService) -> None:
    done = in_bash(glm_env, "<&- >&- 2>&-", "ask", "hi")
    assert done.returncode == 1
    assert service.requests == []


# --- an error line on a terminal starts a line ---------------------------------------------------


def on_a_terminal(env: dict[str, str], *args: str) -> tuple[int, str]:
    """Run glm with one pseudo-terminal as both stdout and stderr: (status, what it showed)."""
    master, slave = pty.openpty()
    try:
        proc = subprocess.Popen(
            glm_command(*args),
            env={**env, "TERM": "dumb"},
            stdin=subprocess.DEVNULL,
            stdout=slave,
            stderr=slave,
        )
    finally:
        os.close(slave)
    shown = b""
    deadline = time.monotonic() + WAIT
    try:
        while True:  # until every writer closed the terminal (EIO)
            ready, _, _ = select.select([master], [], [], deadline - time.monotonic())
            assert ready, f"glm did not finish: {shown!r}"
            try:
                chunk = os.read(master, 65536)
            except OSError:
                break
            if not chunk:
                break
            shown += chunk
        status = proc.wait(WAIT)
    finally:
        os.close(master)
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    return status, shown.decode().replace("\r\n", "\n")


def test_an_error_after_an_unfinished_line_on_a_terminal_starts_a_line(
    glm_env: dict[str, str], service: FakeService
) -> None:
    service.script(
        Reply(content=["partial ", "answer"], reasoning=None, truncate_before_finish=True)
    )
    status, shown = on_a_terminal(glm_env, "ask", "hi")
    assert status == 5
    assert shown.startswith("partial answer\nglm: error: "), shown
    assert shown.count("\n") == 2, shown  # no blank line either


def test_an_error_after_a_finished_line_adds_no_blank_line(
    glm_env: dict[str, str], service: FakeService
) -> None:
    service.script(Reply(content=["whole line\n"], reasoning=None, truncate_before_finish=True))
    status, shown = on_a_terminal(glm_env, "ask", "hi")
    assert status == 5
    assert shown.startswith("whole line\nglm: error: "), shown


# --- glm help ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("words", "same_as"),
    [
        (["help"], ["--help"]),
        (["help", "ask"], ["ask", "--help"]),
        (["help", "config", "show"], ["config", "show", "--help"]),
    ],
    ids=" ".join,
)
def test_glm_help_is_the_help(
    glm_env: dict[str, str], words: list[str], same_as: list[str]
) -> None:
    done = run_glm(words, glm_env)
    assert done.returncode == 0, done.stderr
    assert done.stderr == b""
    assert done.stdout == run_glm(same_as, glm_env).stdout
    assert done.stdout.startswith(b"Usage: glm")


def test_glm_help_of_an_unknown_command_is_a_usage_error(glm_env: dict[str, str]) -> None:
    done = run_glm(["help", "bogus"], glm_env)
    assert done.returncode == 2
    assert_one_error(done.stderr, "bogus")
