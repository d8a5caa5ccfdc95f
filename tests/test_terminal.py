"""Issue 6, on a terminal only: the spinner while waiting, `--markdown`, and colour.

The spinner is drawn on stderr when it is a terminal (and not with --quiet or
TERM=dumb), erased before anything else is written, and never drawn on a pipe.
The pseudo-terminal tests hold the fake service in a `Stall` until the spinner has
been seen, then release it (`service.reset()`): no test waits on a clock.
"""

from __future__ import annotations

import contextlib
import io
import os
import pty
import re
import select
import subprocess
import sys
import threading
from collections.abc import Iterator
from typing import Any

import pytest

from glm_cli.output import spinner as spinner_module
from glm_cli.output.spinner import ERASE, Spinner
from glm_cli.output.terminal import Console, Env
from tests.fake_service import FakeService, Reply, Stall, Status
from tests.helpers import glm_command, invoke, run_glm

ANSWER = "Hello from the fake service."
WAIT = 10.0
MARKDOWN = "# Title\n\nSome **bold** text.\n\n- one\n- two\n"


# ---------------------------------------------------------------------------
# The Spinner itself
# ---------------------------------------------------------------------------


class TtyBuffer(io.BytesIO):
    """A stderr that records writes and says when the first spinner frame arrived."""

    def __init__(self) -> None:
        super().__init__()
        self.drawn = threading.Event()
        self.on_frame: Any = None

    def write(self, data: Any) -> int:
        written = super().write(data)
        if b"thinking" in bytes(data) and not self.drawn.is_set():
            self.drawn.set()
            if self.on_frame is not None:
                self.on_frame()
        return written

    def isatty(self) -> bool:
        return True


def test_spinner_draws_elapsed_seconds_and_erases_itself() -> None:
    now = [100.0]
    out = TtyBuffer()
    spinner = Spinner(out, delay=0, clock=lambda: now[0]).start()
    now[0] = 112.4
    assert out.drawn.wait(WAIT)
    spinner.stop()
    data = out.getvalue()
    assert "thinking… ".encode() in data
    assert data.endswith(ERASE)
    assert spinner._thread is not None and not spinner._thread.is_alive()
    frames = [f for f in data.split(b"\r") if f]
    assert frames[-1] == ERASE[1:]  # the clear-line code after the last CR
    assert re.search(rb"thinking\xe2\x80\xa6 (0|12)s", data)


def test_spinner_frame_shows_whole_seconds() -> None:
    now = [10.0]
    spinner = Spinner(io.BytesIO(), clock=lambda: now[0])
    spinner._started_at = 10.0
    now[0] = 22.9
    assert spinner.frame(0).decode().endswith("thinking… 12s\x1b[K")


def test_spinner_stopped_before_its_delay_writes_nothing() -> None:
    out = TtyBuffer()
    spinner = Spinner(out, delay=60).start()
    spinner.stop()
    assert spinner._thread is not None and not spinner._thread.is_alive()
    assert out.getvalue() == b""


def test_spinner_never_writes_after_stop() -> None:
    out = TtyBuffer()
    spinner = Spinner(out, delay=0).start()
    assert out.drawn.wait(WAIT)
    spinner.stop()
    length = len(out.getvalue())
    assert spinner._thread is not None and not spinner._thread.is_alive()
    spinner.stop()  # twice is harmless
    assert len(out.getvalue()) == length


def test_plain_spinner_erases_with_spaces_and_no_escape_codes() -> None:
    out = TtyBuffer()
    spinner = Spinner(out, delay=0, plain=True).start()
    assert out.drawn.wait(WAIT)
    spinner.stop()
    data = out.getvalue()
    assert b"\x1b" not in data
    assert re.search(rb"\r +\r$", data)


def _env(stderr: Any, *, tty: bool = True, **environ: str) -> Env:
    return Env(
        stdin=None,
        stdout=io.BytesIO(),
        stderr=stderr,
        stdin_isatty=False,
        stdout_isatty=False,
        stderr_isatty=tty,
        environ=environ,
    )


@pytest.mark.parametrize(
    ("tty", "quiet", "environ"),
    [(False, False, {}), (True, True, {}), (True, False, {"TERM": "dumb"})],
    ids=["not-a-terminal", "quiet", "term-dumb"],
)
def test_console_draws_no_spinner(tty: bool, quiet: bool, environ: dict[str, str]) -> None:
    console = Console(_env(TtyBuffer(), tty=tty, **environ), quiet=quiet)
    console.start_spinner()
    assert console.spinner is None


def test_console_line_erases_the_spinner_first(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(spinner_module, "DELAY", 0)
    err = TtyBuffer()
    console = Console(_env(err, TERM="xterm"))
    console.start_spinner()
    assert err.drawn.wait(WAIT)
    console.warn("careful")
    data = err.getvalue()
    assert data.endswith(ERASE + b"glm: warning: careful\n")
    assert data.count(b"careful") == 1


# ---------------------------------------------------------------------------
# In process: a terminal stderr (an Env), the service held until the spinner shows
# ---------------------------------------------------------------------------


@pytest.fixture
def fast_spinner(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(spinner_module, "DELAY", 0)


def _run(args: list[str], err: Any, *, stdout_tty: bool = False, **environ: str) -> Any:
    out = io.BytesIO()
    env = Env(
        stdin=io.BytesIO(),
        stdout=out,
        stderr=err,
        stdin_isatty=False,
        stdout_isatty=stdout_tty,
        stderr_isatty=True,
        environ={**os.environ, "TERM": "xterm", **environ},
    )
    result = invoke(args, obj=env)
    return result.exit_code, out.getvalue()


@pytest.mark.parametrize("stream", ["--stream", "--no-stream"])
def test_spinner_while_waiting_then_erased_before_the_answer(
    glm_env: dict[str, str], service: FakeService, fast_spinner: None, stream: str
) -> None:
    service.script(Stall(seconds=WAIT))
    err = TtyBuffer()
    err.on_frame = service.reset  # the answer comes once the spinner is drawn
    code, out = _run(["ask", stream, "hi"], err)
    assert code == 0
    assert out == (ANSWER + "\n").encode()
    data = err.getvalue()
    assert "thinking…".encode() in data
    assert data.endswith(ERASE), data


def test_spinner_is_erased_before_an_error_line(
    glm_env: dict[str, str], service: FakeService, fast_spinner: None
) -> None:
    # the stream's headers come at once, its error event a moment later; the
    # spinner (no delay here) is drawn as soon as the request is sent
    service.script(Reply(stall_after=0, stall_seconds=0.3, error_after=0))
    err = TtyBuffer()
    code, out = _run(["ask", "--retries", "0", "hi"], err)
    assert code != 0 and out == b""
    data = err.getvalue()
    spinner_part, erase, rest = data.rpartition(ERASE)
    assert erase and b"thinking" in spinner_part
    assert rest.startswith(b"glm: error: ") and rest.count(b"\n") == 1, rest


def test_show_thinking_erases_the_spinner_and_prints_reasoning(
    glm_env: dict[str, str], service: FakeService, fast_spinner: None
) -> None:
    service.script(Stall(seconds=WAIT))
    err = TtyBuffer()
    err.on_frame = service.reset
    code, _ = _run(["ask", "--show-thinking", "hi"], err)
    assert code == 0
    data = err.getvalue()
    before, _, after = data.partition(ERASE)
    assert b"thinking" in before
    assert b"Let me think." in re.sub(rb"\x1b\[[0-9;]*m", b"", after)
    assert b"\xe2\xa0" not in after  # no spinner frame after the erase


def test_no_spinner_with_quiet(
    glm_env: dict[str, str], service: FakeService, monkeypatch: pytest.MonkeyPatch
) -> None:
    started: list[Any] = []
    monkeypatch.setattr(Spinner, "start", lambda self: started.append(self) or self)
    service.script(Reply())
    code, out = _run(["ask", "-q", "hi"], TtyBuffer())
    assert code == 0 and out == (ANSWER + "\n").encode()
    assert started == []


# ---------------------------------------------------------------------------
# A real pseudo-terminal
# ---------------------------------------------------------------------------


def _read_until(master: int, needle: bytes) -> bytes:
    data = b""
    while needle not in data:
        ready, _, _ = select.select([master], [], [], WAIT)
        assert ready, f"no {needle!r} on the terminal: {data!r}"
        data += os.read(master, 65536)
    return data


def _read_to_end(master: int) -> bytes:
    data = b""
    while True:
        ready, _, _ = select.select([master], [], [], WAIT)
        assert ready, "the terminal stayed silent"
        try:
            chunk = os.read(master, 65536)
        except OSError:  # EIO: the slave end is closed
            return data
        if not chunk:
            return data
        data += chunk


@pytest.fixture
def terminal() -> Iterator[tuple[int, int]]:
    master, slave = pty.openpty()
    yield master, slave
    for fd in (master, slave):
        with contextlib.suppress(OSError):
            os.close(fd)


@pytest.mark.parametrize("stream", ["--stream", "--no-stream"])
def test_spinner_on_a_real_terminal_is_fully_erased(
    glm_env: dict[str, str], service: FakeService, terminal: tuple[int, int], stream: str
) -> None:
    master, slave = terminal
    service.script(Stall(seconds=WAIT))
    proc = subprocess.Popen(
        glm_command("ask", stream, "hi"),
        env={**glm_env, "TERM": "xterm"},
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=slave,
    )
    try:
        seen = _read_until(master, "thinking… ".encode())
        service.reset()  # end the stall: the answer comes
        assert proc.stdout is not None
        out = proc.stdout.read()
        code = proc.wait(WAIT)
        os.close(slave)
        screen = seen + _read_to_end(master)
    finally:
        proc.kill()
        proc.wait()
    assert code == 0
    assert out == (ANSWER + "\n").encode()
    assert screen.endswith(ERASE), screen[-80:]
    assert re.search(rb"thinking\xe2\x80\xa6 \d+s", screen)


def test_spinner_and_answer_on_the_same_terminal(
    glm_env: dict[str, str], service: FakeService, terminal: tuple[int, int]
) -> None:
    master, slave = terminal
    service.script(Stall(seconds=WAIT))
    proc = subprocess.Popen(
        glm_command("ask", "hi"),
        env={**glm_env, "TERM": "xterm"},
        stdin=subprocess.DEVNULL,
        stdout=slave,
        stderr=slave,
    )
    try:
        seen = _read_until(master, "thinking… ".encode())
        service.reset()
        code = proc.wait(WAIT)
        os.close(slave)
        screen = seen + _read_to_end(master)
    finally:
        proc.kill()
        proc.wait()
    assert code == 0
    spinner_part, erase, answer = screen.rpartition(ERASE)
    assert erase and b"thinking" in spinner_part
    assert answer.replace(b"\r\n", b"\n") == (ANSWER + "\n").encode()


# ---------------------------------------------------------------------------
# Pipes: never an escape byte on stdout or stderr
# ---------------------------------------------------------------------------


PIPE_CASES = [
    (["ask", "hi"], Reply(), 0),
    (["ask", "--no-stream", "hi"], Reply(), 0),
    (
        ["ask", "--show-thinking", "--usage", "--sources", "hi"],
        Reply(web_search=[{"title": "T", "link": "https://example.com"}]),
        0,
    ),
    (["ask", "--ndjson", "hi"], Reply(), 0),
    (["ask", "--markdown", "hi"], Reply(content=MARKDOWN), 0),
    (["ask", "--verbose", "hi"], Reply(), 0),
    (["json", "hi"], Reply(content='{"a": 1}'), 0),
    (["raw", "hi"], Reply(), 0),
    (["raw", "--no-stream", "hi"], Reply(), 0),
    (["ask", "hi"], Reply(finish_reason="length"), 0),
    (["ask", "--retries", "0", "hi"], Status(500), 5),
    (["ask", "hi"], Status(401), 3),
    (["json", "hi"], Reply(content="not json"), 6),
    (["ask", "--effort", "loud", "hi"], None, 2),
]


@pytest.mark.parametrize(
    ("args", "step", "code"), PIPE_CASES, ids=[" ".join(c[0]) for c in PIPE_CASES]
)
def test_no_escape_byte_reaches_a_pipe(
    glm_env: dict[str, str],
    service: FakeService,
    monkeypatch: pytest.MonkeyPatch,
    args: list[str],
    step: Any,
    code: int,
) -> None:
    """In process with stdout and stderr not terminals (TERM says colour is possible):
    the spinner is never even started, and no byte is an ESC."""
    started: list[Any] = []
    monkeypatch.setattr(Spinner, "start", lambda self: started.append(self) or self)
    if step is not None:
        service.script(step)
    out, err = io.BytesIO(), io.BytesIO()
    env = Env(
        stdin=io.BytesIO(),
        stdout=out,
        stderr=err,
        stdin_isatty=False,
        stdout_isatty=False,
        stderr_isatty=False,
        environ={**os.environ, "TERM": "xterm-256color"},
    )
    result = invoke(args, obj=env)
    assert result.exit_code == code, err.getvalue()
    assert b"\x1b" not in out.getvalue()
    assert b"\x1b" not in err.getvalue()
    assert started == []


@pytest.mark.parametrize(
    ("args", "step", "code"),
    [
        (["ask", "--show-thinking", "hi"], Stall(seconds=0.35), 0),
        (["ask", "--retries", "0", "hi"], Status(500), 5),
    ],
    ids=["slow-answer", "error"],
)
def test_no_escape_byte_through_real_pipes(
    glm_env: dict[str, str], service: FakeService, args: list[str], step: Any, code: int
) -> None:
    """A real process on pipes, with a wait longer than the spinner's delay."""
    service.script(step)
    result = run_glm(args, {**glm_env, "TERM": "xterm-256color"})
    assert result.returncode == code, result.stderr
    assert b"\x1b" not in result.stdout + result.stderr
    assert "thinking…".encode() not in result.stderr


# ---------------------------------------------------------------------------
# --markdown, NO_COLOR and TERM=dumb
# ---------------------------------------------------------------------------


def _markdown_run(args: list[str], *, stdout_tty: bool, **environ: str) -> tuple[int, bytes]:
    out, err = io.BytesIO(), io.BytesIO()
    env = Env(
        stdin=io.BytesIO(),
        stdout=out,
        stderr=err,
        stdin_isatty=False,
        stdout_isatty=stdout_tty,
        stderr_isatty=False,
        environ={**os.environ, "TERM": "xterm-256color", **environ},
    )
    result = invoke(args, obj=env)
    assert err.getvalue() == b"", err.getvalue()
    return result.exit_code, out.getvalue()


def test_markdown_on_a_pipe_is_exactly_the_plain_text(
    glm_env: dict[str, str], service: FakeService
) -> None:
    service.script(Reply(content=MARKDOWN), Reply(content=MARKDOWN))
    plain = _markdown_run(["ask", "hi"], stdout_tty=False)
    marked = _markdown_run(["ask", "--markdown", "hi"], stdout_tty=False)
    assert plain == marked == (0, MARKDOWN.encode())


def test_markdown_is_rendered_on_a_terminal(glm_env: dict[str, str], service: FakeService) -> None:
    service.script(Reply(content=MARKDOWN))
    code, out = _markdown_run(["ask", "--markdown", "hi"], stdout_tty=True)
    assert code == 0
    text = re.sub(rb"\x1b\[[0-9;]*m", b"", out).decode()
    assert "# Title" not in text and "Title" in text
    assert "**bold**" not in text and "bold" in text
    assert b"\x1b[" in out  # styled
    assert out.endswith(b"\n")


@pytest.mark.parametrize("environ", [{"NO_COLOR": "1"}, {"TERM": "dumb"}])
def test_markdown_without_colour(
    glm_env: dict[str, str], service: FakeService, environ: dict[str, str]
) -> None:
    service.script(Reply(content=MARKDOWN))
    code, out = _markdown_run(["ask", "--markdown", "hi"], stdout_tty=True, **environ)
    assert code == 0
    assert b"\x1b" not in out
    assert b"**bold**" not in out and b"bold" in out


def test_markdown_keeps_tool_calls_as_json_lines(
    glm_env: dict[str, str], service: FakeService
) -> None:
    service.script(
        Reply(
            content="Calling.",
            tool_calls=[{"id": "c1", "name": "f", "arguments": '{"x": 1}'}],
            finish_reason="tool_calls",
        )
    )
    code, out = _markdown_run(["ask", "--markdown", "hi"], stdout_tty=True, NO_COLOR="1")
    assert code == 0
    assert out.decode().splitlines()[-1] == '{"id":"c1","name":"f","arguments":{"x":1}}'


def test_markdown_from_the_config_defaults(
    glm_env: dict[str, str], service: FakeService, tmp_path: Any
) -> None:
    config = tmp_path / "config.toml"
    config.write_text("[defaults]\nmarkdown = true\n")
    service.script(Reply(content=MARKDOWN))
    code, out = _markdown_run(["ask", "--config", str(config), "hi"], stdout_tty=True, NO_COLOR="1")
    assert code == 0
    assert b"# Title" not in out and b"Title" in out


def test_rich_is_not_imported_unless_rendering(
    glm_env: dict[str, str], service: FakeService
) -> None:
    service.script(Reply(content=MARKDOWN))
    code = (
        "import sys, runpy\n"
        "sys.argv = ['glm', 'ask', '--markdown', 'hi']\n"
        "try:\n"
        "    runpy.run_module('glm_cli', run_name='__main__')\n"
        "except SystemExit:\n"
        "    pass\n"
        "sys.stderr.write('RICH=%s\\n' % any(m == 'rich' or m.startswith('rich.') "
        "for m in sys.modules))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code],
        env=glm_env,
        capture_output=True,
        stdin=subprocess.DEVNULL,
        timeout=WAIT,
    )
    assert result.stdout == MARKDOWN.encode()
    assert b"RICH=False" in result.stderr, result.stderr


@pytest.mark.parametrize("environ", [{"NO_COLOR": "1"}, {"TERM": "dumb"}])
def test_show_thinking_has_no_colour(
    glm_env: dict[str, str], service: FakeService, environ: dict[str, str]
) -> None:
    service.script(Reply())
    err = io.BytesIO()
    code, _ = _run(["ask", "--show-thinking", "hi"], err, **environ)
    assert code == 0
    assert b"Let me think." in err.getvalue()
    assert b"\x1b" not in err.getvalue()


# --- SPEC §3.2: escaping what the service sends ------------------------------------------


def test_escape_controls_keeps_newline_and_tab_and_escapes_the_rest() -> None:
    from glm_cli.output.terminal import escape_controls

    assert escape_controls("a\tb\nc") == "a\tb\nc"
    assert escape_controls("\x1b[2J\r\x07\x7f\x9b") == "\\x1b[2J\\x0d\\x07\\x7f\\x9b"


def test_escape_json_bytes_keeps_the_json_value() -> None:
    import json

    from glm_cli.output.terminal import escape_bytes, escape_json_bytes

    line = json.dumps({"t": "a\x9bb\x7f"}, ensure_ascii=False).encode()
    shown = escape_json_bytes(line)
    assert b"\xc2\x9b" not in shown and b"\x7f" not in shown
    assert json.loads(shown) == json.loads(line)
    assert escape_bytes(b"x\x1b]0;t\x07\n") == b"x\\x1b]0;t\\x07\n"


def test_console_lines_are_escaped_only_on_a_terminal() -> None:
    for tty, expected in ((True, b"t \\x1b[2K\n"), (False, b"t \x1b[2K\n")):
        err = io.BytesIO()
        env = Env(None, io.BytesIO(), err, False, False, tty, {"NO_COLOR": "1"})
        Console(env).line("t \x1b[2K")
        assert err.getvalue() == expected
