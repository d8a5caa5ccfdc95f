"""glm as a real process (SPEC §1 and §3): entry points, help, pipes, signals, terminals."""

from __future__ import annotations

import json
import os
import pty
import re
import select
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.fake_service import FakeService, Reply
from tests.helpers import SECRET, assert_one_error, glm_command, run_glm

GLM_SCRIPT = Path(sys.executable).with_name("glm")
ANSWER = "Hello from the fake service."
PIECES = [f"p{i:03d} " for i in range(400)]
WAIT = 10.0


def read_some(fd: int, timeout: float = WAIT) -> bytes:
    """Block until `fd` has something (or EOF), then read it; fail instead of hanging."""
    ready, _, _ = select.select([fd], [], [], timeout)
    assert ready, "nothing to read in time"
    return os.read(fd, 65536)


def read_to_eof(fd: int) -> bytes:
    data = b""
    while chunk := read_some(fd):
        data += chunk
    return data


def read_pty(master: int) -> bytes:
    """Everything written to a pseudo-terminal whose slave end is closed."""
    data = b""
    while True:
        ready, _, _ = select.select([master], [], [], WAIT)
        assert ready, "the pseudo-terminal stayed silent"
        try:
            chunk = os.read(master, 65536)
        except OSError:  # EIO: every slave end is closed
            break
        if not chunk:
            break
        data += chunk
    return data


@pytest.fixture
def slow_stream(service: FakeService) -> Iterator[FakeService]:
    service.script(Reply(content=PIECES, reasoning=None, chunk_delay=0.02))
    yield service


def no_noise(stderr: bytes) -> None:
    for word in (b"Traceback", b"Exception ignored", b"BrokenPipe", b"KeyboardInterrupt"):
        assert word not in stderr, stderr.decode(errors="replace")


# ---------------------------------------------------------------------------
# Entry points and help
# ---------------------------------------------------------------------------


def test_glm_version(glm_env: dict[str, str]) -> None:
    result = subprocess.run(
        [str(GLM_SCRIPT), "--version"], env=glm_env, capture_output=True, timeout=WAIT
    )
    assert result.returncode == 0
    assert re.fullmatch(rb"glm \d+\.\d+\.\d+\S*\n", result.stdout), result.stdout
    assert result.stderr == b""


def test_python_m_glm_cli_version(glm_env: dict[str, str]) -> None:
    result = run_glm(["--version"], glm_env)
    assert result.returncode == 0
    assert result.stdout.startswith(b"glm ")
    script = subprocess.run(
        [str(GLM_SCRIPT), "--version"], env=glm_env, capture_output=True, timeout=WAIT
    )
    assert result.stdout == script.stdout


def test_bare_glm_prints_help_on_stderr_and_exits_2(glm_env: dict[str, str]) -> None:
    result = run_glm([], glm_env)
    assert result.returncode == 2
    assert result.stdout == b""
    assert b"Usage" in result.stderr
    assert b"ask" in result.stderr


def test_glm_help_exits_0(glm_env: dict[str, str]) -> None:
    result = run_glm(["--help"], glm_env)
    assert result.returncode == 0
    assert b"Usage" in result.stdout
    for command in (b"ask", b"json", b"raw"):
        assert command in result.stdout


def test_ask_help_exits_0(glm_env: dict[str, str]) -> None:
    result = run_glm(["ask", "--help"], glm_env)
    assert result.returncode == 0
    assert b"Usage" in result.stdout
    for flag in (b"--timeout", b"--max-time", b"--retries", b"--show-thinking"):
        assert flag in result.stdout


_PROBE = """
import atexit, sys
sys.argv = ["glm", *{args!r}]
@atexit.register
def report():
    loaded = sorted(name for name in ("httpx", "orjson") if name in sys.modules)
    sys.stderr.write("LOADED=" + ",".join(loaded) + "\\n")
from glm_cli.__main__ import main
main()
"""


@pytest.mark.parametrize("args", [["--help"], ["--version"], ["ask", "--help"]])
def test_help_and_version_do_not_import_httpx_or_orjson(
    glm_env: dict[str, str], args: list[str]
) -> None:
    result = subprocess.run(
        [sys.executable, "-c", _PROBE.format(args=args)],
        env=glm_env,
        capture_output=True,
        timeout=WAIT,
    )
    assert result.returncode == 0, result.stderr
    assert b"LOADED=\n" in result.stderr, result.stderr


def test_importtime_confirms_no_httpx_for_help(glm_env: dict[str, str]) -> None:
    result = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "glm_cli", "--help"],
        env=glm_env,
        capture_output=True,
        timeout=WAIT,
    )
    assert result.returncode == 0
    imported = {
        line.split("|")[-1].strip()
        for line in result.stderr.decode().splitlines()
        if line.startswith("import time:")
    }
    assert "glm_cli.cli.app" in imported
    assert not {"httpx", "orjson"} & imported


# ---------------------------------------------------------------------------
# Usage errors and `--`
# ---------------------------------------------------------------------------


def test_unknown_option_is_exit_2_with_one_line(
    glm_env: dict[str, str], service: FakeService
) -> None:
    result = run_glm(["ask", "--no-such-option", "hi"], glm_env)
    assert result.returncode == 2
    assert result.stdout == b""
    assert len(result.stderr.splitlines()) == 1
    assert_one_error(result.stderr, "--no-such-option")
    assert service.requests == []


def test_option_before_the_command_is_a_usage_error(
    glm_env: dict[str, str], service: FakeService
) -> None:
    result = run_glm(["--model", "x", "ask", "hi"], glm_env)
    assert result.returncode == 2
    assert_one_error(result.stderr)
    assert service.requests == []


def test_double_dash_ends_options_dry_run(glm_env: dict[str, str]) -> None:
    result = run_glm(["ask", "--dry-run", "--", "--not-an-option", "rm", "-rf"], glm_env)
    assert result.returncode == 0, result.stderr
    request = json.loads(result.stdout)
    assert request["body"]["messages"] == [{"role": "user", "content": "--not-an-option rm -rf"}]
    assert request["headers"]["Authorization"] == "Bearer ***"
    assert SECRET.encode() not in result.stdout + result.stderr


def test_double_dash_makes_an_option_name_the_prompt(
    glm_env: dict[str, str], service: FakeService
) -> None:
    result = run_glm(["ask", "--", "--dry-run"], glm_env)
    assert result.returncode == 0, result.stderr
    assert result.stdout == (ANSWER + "\n").encode()
    assert service.requests[0].json["messages"][-1]["content"] == "--dry-run"


# ---------------------------------------------------------------------------
# A closed stdout, SIGINT, SIGTERM
# ---------------------------------------------------------------------------


def test_closed_stdout_ends_quietly_by_sigpipe(
    glm_env: dict[str, str], slow_stream: FakeService
) -> None:
    proc = subprocess.Popen(
        glm_command("ask", "hi"),
        env=glm_env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        assert proc.stdout is not None and proc.stderr is not None
        first = read_some(proc.stdout.fileno())
        assert first.startswith(b"p")
        proc.stdout.close()
        code = proc.wait(WAIT)
        stderr = proc.stderr.read()
    finally:
        proc.kill()
        proc.wait()
    assert code == -signal.SIGPIPE  # died by the signal: a shell reports 141
    no_noise(stderr)
    assert stderr == b""
    assert slow_stream.disconnected.wait(5)


def test_sigint_mid_stream_dies_by_sigint_with_output_flushed(
    glm_env: dict[str, str], slow_stream: FakeService
) -> None:
    proc = subprocess.Popen(
        glm_command("ask", "hi"),
        env=glm_env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        assert proc.stdout is not None and proc.stderr is not None
        out = read_some(proc.stdout.fileno())
        proc.send_signal(signal.SIGINT)
        out += read_to_eof(proc.stdout.fileno())
        code = proc.wait(WAIT)
        stderr = proc.stderr.read()
    finally:
        proc.kill()
        proc.wait()
    assert code == -signal.SIGINT  # a shell reports 130
    no_noise(stderr)
    text = out.decode()
    # whole pieces only, in order, from the first: what was received was written
    assert re.fullmatch(r"(p\d{3} )+\n?", text), text
    assert "".join(PIECES).startswith(text.rstrip("\n"))
    assert len(text) < len("".join(PIECES))  # it really was interrupted
    assert slow_stream.disconnected.wait(5)


def test_sigterm_mid_stream_dies_by_sigterm_without_traceback(
    glm_env: dict[str, str], slow_stream: FakeService
) -> None:
    proc = subprocess.Popen(
        glm_command("ask", "hi"),
        env=glm_env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        assert proc.stdout is not None and proc.stderr is not None
        out = read_some(proc.stdout.fileno())
        proc.send_signal(signal.SIGTERM)
        out += read_to_eof(proc.stdout.fileno())
        code = proc.wait(WAIT)
        stderr = proc.stderr.read()
    finally:
        proc.kill()
        proc.wait()
    assert code == -signal.SIGTERM  # a shell reports 143
    no_noise(stderr)
    assert "".join(PIECES).startswith(out.decode().rstrip("\n"))
    assert slow_stream.disconnected.wait(5)


# ---------------------------------------------------------------------------
# Terminals
# ---------------------------------------------------------------------------


def run_with_tty_stderr(env: dict[str, str], args: list[str]) -> tuple[int, bytes, bytes]:
    master, slave = pty.openpty()
    try:
        proc = subprocess.Popen(
            glm_command(*args),
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=slave,
        )
        os.close(slave)
        slave = -1
        assert proc.stdout is not None
        stdout = read_to_eof(proc.stdout.fileno())
        terminal = read_pty(master)
        code = proc.wait(WAIT)
    finally:
        if slave >= 0:
            os.close(slave)
        os.close(master)
    return code, stdout, terminal


def test_show_thinking_is_dim_on_a_terminal(glm_env: dict[str, str], service: FakeService) -> None:
    service.script(Reply(reasoning=["Let me ", "think."]))
    code, stdout, terminal = run_with_tty_stderr(
        {**glm_env, "TERM": "xterm"}, ["ask", "--show-thinking", "hi"]
    )
    assert code == 0, terminal
    assert stdout == (ANSWER + "\n").encode()
    assert b"\x1b[2m" in terminal
    assert b"think." in terminal
    assert b"\x1b[2mLet me " in terminal or b"\x1b[2mLet me think." in terminal


def test_no_color_keeps_thinking_plain_on_a_terminal(
    glm_env: dict[str, str], service: FakeService
) -> None:
    service.script(Reply(reasoning=["Let me ", "think."]))
    code, stdout, terminal = run_with_tty_stderr(
        {**glm_env, "TERM": "xterm", "NO_COLOR": "1"}, ["ask", "--show-thinking", "hi"]
    )
    assert code == 0, terminal
    assert stdout == (ANSWER + "\n").encode()
    assert b"Let me think." in terminal
    assert b"\x1b[" not in terminal


def test_show_thinking_is_plain_when_stderr_is_a_pipe(
    glm_env: dict[str, str], service: FakeService
) -> None:
    service.script(Reply(reasoning=["Let me ", "think."]))
    result = run_glm(["ask", "--show-thinking", "hi"], {**glm_env, "TERM": "xterm"})
    assert result.returncode == 0
    assert b"Let me think." in result.stderr
    assert b"\x1b" not in result.stderr + result.stdout
    assert result.stdout == (ANSWER + "\n").encode()


def run_with_tty_stdin(env: dict[str, str], args: list[str]) -> subprocess.CompletedProcess[bytes]:
    master, slave = pty.openpty()
    try:
        return subprocess.run(
            glm_command(*args), env=env, stdin=slave, capture_output=True, timeout=WAIT
        )
    finally:
        os.close(slave)
        os.close(master)


def test_terminal_stdin_is_not_read_for_an_empty_prompt(
    glm_env: dict[str, str], service: FakeService
) -> None:
    result = run_with_tty_stdin(glm_env, ["ask"])
    assert result.returncode == 2
    assert_one_error(result.stderr, "empty prompt")
    assert service.requests == []


def test_terminal_stdin_is_not_read_when_a_prompt_is_given(
    glm_env: dict[str, str], service: FakeService
) -> None:
    result = run_with_tty_stdin(glm_env, ["ask", "hi"])
    assert result.returncode == 0, result.stderr
    assert result.stdout == (ANSWER + "\n").encode()
    assert service.requests[0].json["messages"][-1]["content"] == "hi"
