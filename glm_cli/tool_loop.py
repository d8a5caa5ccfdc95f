"""The tool loop: one exchange with the model, running the user's commands as tools.

`run_exchange(job, request, on_event)` is how `ask`, `json` and `chat` talk to the
model. Without `--tool-cmd` it is one request whose events go straight to
`on_event`. With it, each answer that asks for function tools which all have a
command is answered by running them, and the request goes again with the
assistant's message (tool calls and reasoning) and one `tool` message per call:

    request → [model asks for weather(city)] → run `./weather.sh`, stdin {"city": ...}
            → request + assistant + tool result → [model answers] → on_event(...)

A command is the user's `--tool-cmd` text split with shlex and run without a shell;
nothing the model writes ever becomes part of a command line. The call's arguments
go to its stdin as one line of JSON, its stdout is the result, its stderr passes
through to glm's. A command that fails, times out (`--tool-timeout`) or cannot start,
and a run the user does not confirm (`--tool-confirm`), give the model an error
result instead of ending glm. More than `--max-tool-rounds` rounds, or more than 32
calls in one round, is exit 6. A call
to a tool without a command ends the loop: the answer is handed on as it is, so its
tool calls are printed like any other.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import fields, replace
from typing import IO, Any

from glm_cli import jsontext
from glm_cli.accumulate import Result, accumulate
from glm_cli.commands.common import Job
from glm_cli.errors import UnusableAnswer
from glm_cli.messages import (
    ChatRequest,
    Content,
    Done,
    Event,
    Message,
    ToolCall,
    Usage,
)
from glm_cli.tool_process import execute
from glm_cli.tools import LoopSettings, loop_settings
from glm_cli.transport import deadline

EventHandler = Callable[[Event], None]

MAX_CALLS_PER_ROUND = 32
"""More tool calls in one answer is exit 6, with no process started (SPEC §3.2)."""


def run_exchange(
    job: Job,
    request: ChatRequest,
    on_event: EventHandler,
    *,
    body: dict[str, Any] | None = None,
) -> list[Message]:
    """Send `request` and hand the answer's events to `on_event`, running tools as asked.

    Returns the messages this exchange adds after `request.messages`, for a caller
    that keeps the conversation (`glm chat` stores them): for each round of tool
    runs, the assistant message (`content`, `reasoning_content`, `tool_calls`) and
    one `{"role": "tool", "tool_call_id", "content"}` per call; then the final
    assistant message (`content`, `reasoning_content` when there was reasoning, and
    `tool_calls` when the loop stopped at a tool without a command). Pass them
    through `for_next_turn` before sending them in a later exchange.

    `on_event` sees what a renderer should show. Without `--tool-cmd`: every event,
    as it arrives. With it: reasoning and web-search results as they arrive; the
    answer's text, tool calls and `Done` only for the final answer (text written
    beside tool calls that were run is not passed on), and `Done.usage` adds up all
    rounds. `body` is the first request's body when the caller already encoded it
    (its warnings are then said once). `--max-time` bounds the whole exchange.
    Raises UnusableAnswer (exit 6) when `--max-tool-rounds` is spent.
    """
    settings = loop_settings(job.flags, request.params.tools)
    with deadline(job.net.max_time):
        return _loop(job, request, on_event, settings, body)


def for_next_turn(messages: list[Message]) -> list[Message]:
    """Stored messages as a later exchange sends them (SPEC §1.4): no reasoning, and
    no tool calls left without a result (the service wants one for each)."""
    answered = {m.get("tool_call_id") for m in messages if m.get("role") == "tool"}
    out: list[Message] = []
    for message in messages:
        message = {k: v for k, v in message.items() if k != "reasoning_content"}
        calls = message.get("tool_calls")
        if calls is not None:
            kept = [call for call in calls if call.get("id") in answered]
            if kept:
                message["tool_calls"] = kept
            else:
                del message["tool_calls"]
                message["content"] = message.get("content") or ""
        out.append(message)
    return out


class _Round:
    """One request's events: collected, and passed on or held back."""

    def __init__(self, on_event: EventHandler, hold: bool) -> None:
        self.on_event = on_event
        self.hold = hold
        self.start()

    def start(self) -> None:
        """A new attempt begins (a retry): forget what a failed one sent."""
        self.result = Result()
        self.held: list[Event] = []

    def handle(self, event: Event) -> None:
        accumulate(event, self.result)
        if self.hold and type(event) in (Content, ToolCall, Done):
            self.held.append(event)
        else:
            self.on_event(event)

    @property
    def text(self) -> str:
        return self.result.text

    def release(self, usage: Usage) -> None:
        """Pass on what was held: this is the final answer."""
        for event in self.held:
            self.on_event(replace(event, usage=usage) if isinstance(event, Done) else event)

    def assistant(self, calls: list[ToolCall], ids: list[str]) -> Message:
        message: Message = {"role": "assistant", "content": self.text or None}
        reasoning = self.result.reasoning.value()
        if reasoning:
            message["reasoning_content"] = reasoning
        if calls:
            message["tool_calls"] = [
                {"id": id_, "type": "function",
                 "function": {"name": call.name or "", "arguments": call.arguments}}
                for call, id_ in zip(calls, ids, strict=True)
            ]
        elif message["content"] is None:
            message["content"] = ""
        return message


def _add(total: Usage, usage: Usage) -> Usage:
    def plus(a: int | None, b: int | None) -> int | None:
        return None if a is None and b is None else (a or 0) + (b or 0)

    return Usage(**{
        item.name: plus(getattr(total, item.name), getattr(usage, item.name))
        for item in fields(Usage)
    })


def _loop(
    job: Job,
    request: ChatRequest,
    on_event: EventHandler,
    settings: LoopSettings,
    body: dict[str, Any] | None,
) -> list[Message]:
    hold = bool(settings.commands)
    added: list[Message] = []
    usage = Usage()
    rounds = 0
    if body is None:
        body = job.encode(request)
    while True:
        current = _Round(on_event, hold)
        job.exchange(body, current.handle, current.start)
        done = current.result.done or Done(None)
        usage = _add(usage, done.usage)
        functions = [call for call in current.result.tool_calls if call.kind == "function"]
        ids = [call.id or f"call_glm_{rounds + 1}_{i + 1}" for i, call in enumerate(functions)]
        runnable = (
            hold
            and done.finish_reason == "tool_calls"
            and bool(functions)
            and all(call.name in settings.commands for call in functions)
        )
        if not runnable:
            current.release(usage)
            added.append(current.assistant(functions, ids))
            return added
        if len(functions) > MAX_CALLS_PER_ROUND:
            raise UnusableAnswer(
                f"the model asked for {len(functions)} tool calls in one round; at most "
                f"{MAX_CALLS_PER_ROUND} are run, so none was"
            )
        if rounds >= settings.max_rounds:
            raise UnusableAnswer(
                f"the model still asks for tools after {rounds} rounds of tool runs "
                f"(--max-tool-rounds {settings.max_rounds})"
            )
        rounds += 1
        if current.text.strip():
            job.console.note(f"text beside the tool calls, not printed: {current.text!r}")
        added.append(current.assistant(functions, ids))
        for call, id_ in zip(functions, ids, strict=True):
            result = run_call(job, settings, call, id_)
            added.append({"role": "tool", "tool_call_id": id_, "content": result})
        following = ChatRequest(
            request.model, [*request.messages, *added], request.system, request.stream,
            request.params,
        )
        body = job.protocol.encode(following).body


# --- running one call -----------------------------------------------------------------


def run_call(job: Job, settings: LoopSettings, call: ToolCall, call_id: str) -> str:
    """Run the command of `call`'s tool; the text the model gets back (never raises for
    a failing command)."""
    import shlex

    name = call.name or ""
    argv = settings.commands[name]
    console = job.console
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
    console.end_partial_line()  # the command's stderr starts on a line of its own
    result, problem = execute(argv, (payload + "\n").encode(), settings.timeout, job.env.stderr)
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
