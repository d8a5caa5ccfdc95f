"""SPEC §1.4, the interactive loop of `glm chat`, driven through a pseudo-terminal: turns,
slash commands, multi-line input, Ctrl-C while an answer streams and while typing,
Ctrl-D, and a session continued and saved from the loop.

glm runs as a real process whose controlling terminal is the pseudo-terminal, so
Ctrl-C is a `\\x03` typed on it, turned into SIGINT by the terminal driver. Nothing
sleeps: every step waits for the output it needs (or, for a Ctrl-C at the prompt,
for glm to be waiting for input), with a deadline; no answer is paced by time.
"""

from __future__ import annotations

import fcntl
import json
import os
import pty
import select
import signal
import stat
import struct
import sys
import termios
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.fake_service import FakeService, Reply
from tests.helpers import WAIT, request_body, run_in_process, stored_messages

PROMPT = "glm> "
PIECES = [f"p{i:03d} " for i in range(300)]


class Terminal:
    """`glm chat ARGS` on a pseudo-terminal; `expect` waits for text after the last match."""

    def __init__(self, args: list[str], env: dict[str, str]) -> None:
        environment = {**env, "TERM": "dumb", "INPUTRC": os.devnull}
        pid, fd = pty.fork()
        if pid == 0:  # the child: only exec, nothing else runs here
            try:
                os.execve(
                    sys.executable, [sys.executable, "-m", "glm_cli", "chat", *args], environment
                )
            finally:
                os._exit(127)
        self.pid, self.fd = pid, fd
        fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 200, 0, 0))
        self.output = ""
        self.mark = 0
        self.status: int | None = None

    def _read(self, timeout: float) -> bool:
        ready, _, _ = select.select([self.fd], [], [], max(timeout, 0))
        if not ready:
            return True
        try:
            chunk = os.read(self.fd, 65536)
        except OSError:  # EIO: the child closed the terminal
            chunk = b""
        self.output += chunk.decode("utf-8", "replace").replace("\r", "")
        return bool(chunk)

    def expect(self, text: str) -> None:
        deadline = time.monotonic() + WAIT
        while (found := self.output.find(text, self.mark)) < 0:
            remaining = deadline - time.monotonic()
            alive = remaining > 0 and self._read(remaining)
            assert alive or text in self.output[self.mark :], (
                f"{text!r} did not appear; after the last match: {self.output[self.mark :]!r}"
            )
        self.mark = found + len(text)

    def send(self, text: str) -> None:
        os.write(self.fd, text.encode())

    def idle(self) -> None:
        """Wait until glm is blocked reading the terminal. CPython's readline loop only
        notices a SIGINT while it waits in select(): a Ctrl-C that arrives while it is
        still handling the last key (after its echo was drawn) is seen at the next key.
        /proc/PID/wchan names where glm sleeps ("0" while it runs, or where the kernel
        does not say); without it there is nothing to wait on."""
        wchan = Path(f"/proc/{self.pid}/wchan")
        deadline = time.monotonic() + WAIT
        seen = set()
        while time.monotonic() < deadline:
            try:
                where = wchan.read_text()
            except OSError:
                return
            if "poll" in where or "select" in where:
                return
            seen.add(where)
            time.sleep(0.005)  # polling the condition, not waiting for a time
        assert seen <= {"", "0"}, f"glm never waited for input: it was in {seen}"

    def wait(self) -> int:
        """Read to the end, then the exit status."""
        deadline = time.monotonic() + WAIT
        while self._read(deadline - time.monotonic()):
            assert time.monotonic() < deadline, f"glm did not exit: {self.output[-500:]!r}"
        _, status = os.waitpid(self.pid, 0)
        self.status = os.waitstatus_to_exitcode(status)
        return self.status

    def close(self) -> None:
        if self.status is None:
            try:
                os.kill(self.pid, signal.SIGKILL)
                os.waitpid(self.pid, 0)
            except OSError:
                pass
        os.close(self.fd)


@pytest.fixture
def terminal(glm_env: dict[str, str]) -> Iterator[Any]:
    opened: list[Terminal] = []

    def start(*args: str) -> Terminal:
        opened.append(Terminal(list(args), glm_env))
        return opened[-1]

    yield start
    for each in opened:
        each.close()


def test_a_two_turn_conversation_then_ctrl_d(
    glm_env: dict[str, str], service: FakeService, terminal: Any
) -> None:
    service.script(Reply(content="first answer"), Reply(content="second answer"))
    term = terminal()
    term.expect("a new conversation")
    term.expect(PROMPT)
    term.send("hello\r")
    term.expect("first answer\n")
    term.expect(PROMPT)
    term.send("two lines:\\\r")  # a line ending in \ continues
    term.expect("...> ")
    term.send("the second\r")
    term.expect("second answer\n")
    term.expect(PROMPT)
    term.send("\x04")
    assert term.wait() == 0
    assert request_body(service, -1)["messages"] == [
        {"role": "user", "content": "hello"},
        {"role": "assistant", "content": "first answer"},
        {"role": "user", "content": "two lines:\nthe second"},
    ]
    home = Path(glm_env["GLM_HOME"])
    assert stored_messages(home / "glm.db") == 0  # a fresh conversation is not stored
    history = home / "chat_history"
    assert "hello" in history.read_text()
    assert stat.S_IMODE(history.stat().st_mode) == 0o600


def test_slash_commands(
    glm_env: dict[str, str], service: FakeService, terminal: Any, tmp_path: Path
) -> None:
    term = terminal("--system", "Be brief.")
    term.expect(PROMPT)
    term.send("hello\r")
    term.expect("Hello from the fake service.\n")
    term.send("/reset\r")
    term.expect("empty now")
    term.send("/system\r")
    term.expect("Be brief.")
    term.send("/system Talk like a pirate.\r")
    term.expect(PROMPT)
    term.send("/effort low\r")
    term.expect(PROMPT)
    term.send("/think off\r")
    term.expect("glm: error: --no-think contradicts")
    term.send("/bogus\r")
    term.expect("unknown command /bogus")
    term.send("/help\r")
    term.expect("/save FILE")
    term.send("//etc is a path\r")
    term.expect("Hello from the fake service.\n")
    body = request_body(service, -1)
    assert body["messages"] == [
        {"role": "system", "content": "Talk like a pirate."},
        {"role": "user", "content": "/etc is a path"},
    ]
    assert body["reasoning_effort"] == "low"
    saved = tmp_path / "saved.jsonl"
    term.send(f"/save {saved}\r")
    term.expect("saved 2 messages")
    term.send("/exit\r")
    assert term.wait() == 0
    assert [json.loads(line) for line in saved.read_text().splitlines()] == [
        {"role": "system", "content": "Talk like a pirate."},
        {"role": "user", "content": "/etc is a path"},
        {"role": "assistant", "content": "Hello from the fake service."},
    ]


def test_ctrl_c_stops_the_answer_and_keeps_the_loop_and_history_clean(
    glm_env: dict[str, str], service: FakeService, terminal: Any
) -> None:
    # The answer stops after a few pieces and waits (no pacing by time: under load a
    # paced stream could end before the Ctrl-C arrives); the Ctrl-C comes mid-answer.
    service.script(
        Reply(content=PIECES, reasoning=None, stall_after=4, stall_seconds=60),
        Reply(content="calm answer"),
    )
    term = terminal()
    term.expect(PROMPT)
    term.send("tell a long story\r")
    term.expect("p002 ")  # the answer is streaming, and the service holds the rest
    term.send("\x03")
    term.expect("interrupted")
    term.expect(PROMPT)
    assert service.disconnected.wait(WAIT)  # the connection was closed at once
    assert "p004" not in term.output
    term.send("half a line")  # Ctrl-C while typing drops the line
    term.expect("half a line")
    term.idle()
    term.send("\x03")
    term.expect(PROMPT)
    term.send("short one\r")
    term.expect("calm answer\n")
    term.expect(PROMPT)
    assert request_body(service, -1)["messages"] == [{"role": "user", "content": "short one"}]
    term.send("\x04")
    assert term.wait() == 0
    assert "Traceback" not in term.output


@pytest.mark.parametrize("opening", [["--session", "notes"], ["-c"]], ids=["session", "continue"])
def test_the_loop_continues_and_saves_a_session(
    glm_env: dict[str, str], service: FakeService, terminal: Any, opening: list[str]
) -> None:
    """`-c` opens the session used last: `notes`, not `older`."""
    assert run_in_process(["chat", "--session", "older", "one"]).exit_code == 0
    assert run_in_process(["chat", "--session", "notes", "hi"]).exit_code == 0
    term = terminal(*opening)
    term.expect("session 'notes', 2 messages")
    term.expect(PROMPT)
    term.send("more\r")
    term.expect("Hello from the fake service.\n")
    term.expect(PROMPT)
    term.send("\x04")
    assert term.wait() == 0
    assert request_body(service, -1)["messages"] == [
        {"role": "user", "content": "hi"},
        {"role": "assistant", "content": "Hello from the fake service."},
        {"role": "user", "content": "more"},
    ]
    shown = run_in_process(["chat", "--show", "notes", "--ndjson"]).stdout.splitlines()
    assert [json.loads(line)["content"] for line in shown][2:] == [
        "more",
        "Hello from the fake service.",
    ]


def test_a_fork_on_a_terminal_without_a_prompt_only_copies(
    glm_env: dict[str, str], service: FakeService, terminal: Any
) -> None:
    assert run_in_process(["chat", "--session", "notes", "hi"]).exit_code == 0
    term = terminal("--fork", "notes", "--session", "copy")
    assert term.wait() == 0
    assert PROMPT not in term.output
    shown = run_in_process(["chat", "--show", "copy", "--ndjson"]).stdout.splitlines()
    assert [json.loads(line)["content"] for line in shown] == ["hi", "Hello from the fake service."]
    assert len(service.requests) == 1


def test_an_error_after_an_unfinished_line_starts_a_line_and_the_loop_goes_on(
    glm_env: dict[str, str], service: FakeService, terminal: Any
) -> None:
    service.script(
        Reply(content=["partial ", "answer"], reasoning=None, truncate_before_finish=True),
        Reply(content="second"),
    )
    term = terminal()
    term.expect(PROMPT)
    term.send("hi\r")
    term.expect("partial answer\nglm: error: ")
    term.expect(PROMPT)
    term.send("again\r")
    term.expect("second\n")
    term.expect(PROMPT)
    term.send("\x04")
    assert term.wait() == 0


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGHUP], ids=["SIGTERM", "SIGHUP"])
def test_sigterm_and_sighup_end_the_loop_by_the_signal(
    glm_env: dict[str, str], service: FakeService, terminal: Any, signum: int
) -> None:
    service.script(Reply(content=PIECES, reasoning=None, stall_after=4, stall_seconds=60))
    term = terminal()
    term.expect(PROMPT)
    term.send("tell a long story\r")
    term.expect("p002 ")
    os.kill(term.pid, signum)
    assert term.wait() == -signum  # not kept in the loop, not exit(128 + signum)
    assert service.disconnected.wait(WAIT)
    assert "Traceback" not in term.output


def test_the_service_documents_advice_is_said_once_not_every_turn(
    glm_env: dict[str, str], service: FakeService, terminal: Any
) -> None:
    service.script(Reply(content="first answer"), Reply(content="second answer"))
    term = terminal("--max-tokens", "500", "--verbose")
    term.expect(PROMPT)
    term.send("hello\r")
    term.expect("first answer\n")
    term.expect(PROMPT)
    term.send("again\r")
    term.expect("second answer\n")
    term.expect(PROMPT)
    term.send("/effort high\r")
    term.expect(PROMPT)
    term.send("third\r")
    term.expect(PROMPT)
    term.send("\x04")
    assert term.wait() == 0
    assert term.output.count("--max-tokens 500 is below 1024") == 1
    assert term.output.count("glm: effort: max") == 1
    assert term.output.count("glm: effort: high") == 1  # changed: said again
