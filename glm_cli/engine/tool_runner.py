"""Running the user's commands as tools (`--tool-cmd NAME=COMMAND`), one call at a time.

A command is the user's `--tool-cmd` text split with shlex and run without a shell;
nothing the model writes ever becomes part of a command line. The call's arguments
go to its stdin as one line of JSON, its stdout is the result, its stderr passes
through to glm's. A command that fails, times out (`--tool-timeout`) or cannot start,
and a run the user does not confirm (`--tool-confirm`), give the model an error
result instead of ending glm.
"""

from __future__ import annotations

from dataclasses import field
from typing import IO

from glm_cli.core import jsontext
from glm_cli.core.deadline import Deadline
from glm_cli.core.messages import ToolCall
from glm_cli.core.records import record
from glm_cli.engine.tool_process import execute
from glm_cli.output.terminal import Console

DEFAULT_MAX_ROUNDS = 8
DEFAULT_TIMEOUT = 60.0


@record
class LoopSettings:
    """How the tool loop runs: which function tool runs which command, and its limits."""

    commands: dict[str, list[str]] = field(default_factory=dict)
    """Tool name → argv (split with shlex; never run through a shell)."""
    max_rounds: int = DEFAULT_MAX_ROUNDS
    timeout: float = DEFAULT_TIMEOUT
    confirm: bool = False


def run_call(
    console: Console,
    stderr: IO[bytes],
    settings: LoopSettings,
    call: ToolCall,
    call_id: str,
    deadline: Deadline,
) -> str:
    """Run the command of `call`'s tool; the text the model gets back (never raises for
    a failing command)."""
    import shlex

    name = call.name or ""
    argv = settings.commands[name]
    console.note(f"tool call {name} ({call_id}): {call.arguments or '{}'}")
    try:
        jsontext.parse(call.arguments.strip() or "{}")
    except ValueError as error:
        console.warn(f"tool {name}: the model's arguments are not valid JSON; not run")
        return f"error: the arguments are not valid JSON ({error}); the tool was not run"
    payload = jsontext.compact(call.arguments) if call.arguments.strip() else "{}"
    if settings.confirm:
        answer = confirm(f"glm: run {name}: {shlex.join(argv)} with {payload}? [y/N] ")
        if answer is None:
            console.warn(f"--tool-confirm: no terminal to ask on; {name} not run")
            return "error: not confirmed (glm had no terminal to ask the user); not run"
        if not answer:
            console.note(f"tool {name}: not confirmed")
            return "error: not confirmed: the user declined to run this tool"
    console.stop_spinner()  # the command's stderr goes straight to the terminal
    console.end_partial_line()  # and starts on a line of its own
    stdin = (payload + "\n").encode()
    result, problem = execute(argv, stdin, deadline.bound(settings.timeout), stderr)
    if problem is not None:
        console.warn(f"tool {name}: {problem}")
        result = f"error: {problem}" + (f"\n{result}" if result else "")
    console.note(f"tool {name}: {len(result.encode('utf-8', 'replace'))} bytes of result")
    return result


def open_terminal() -> IO[bytes] | None:
    """The controlling terminal, for asking the user; None when there is none."""
    try:
        return open("/dev/tty", "r+b", buffering=0)
    except OSError:
        return None


def confirm(question: str) -> bool | None:
    """Ask `question` on the terminal: True for y/yes, False otherwise, None with no
    terminal (stdin and stdout may be pipes: the terminal is asked directly)."""
    terminal = open_terminal()
    if terminal is None:
        return None
    with terminal:
        terminal.write(question.encode("utf-8", "replace"))
        answer = terminal.readline()
    return answer.strip().lower() in (b"y", b"yes")
