"""Renderers: the only code that writes to stdout.

`Sink` owns stdout (bytes, UTF-8 whatever the locale, flushed per write, a closed
pipe turned into `StdoutClosed`, any other failed write into `OutputError`). A
renderer takes neutral events: `TextRenderer` writes the answer's text,
`NdjsonRenderer` one JSON line per event. Both end with `finish`, which applies
the finish-reason rules of SPEC §1.3.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import IO, Any

import orjson

from glm_cli import jsontext
from glm_cli.errors import GlmError, TransportError, UnusableAnswer, stdout_failure
from glm_cli.messages import Content, Done, Event, Reasoning, ToolCall, WebSearch
from glm_cli.terminal import Console, escape_controls, escape_json_bytes, one_line


class Sink:
    __slots__ = ("_out", "ends_with_newline", "on_start", "started")

    def __init__(self, out: IO[bytes], on_start: Callable[[], None] | None = None) -> None:
        self._out = out
        self.started = False
        self.ends_with_newline = True
        self.on_start = on_start
        """Called once, before the first byte is written (it erases the spinner)."""

    def write(self, text: str) -> None:
        self.write_bytes(text.encode("utf-8", "surrogatepass"))

    def write_bytes(self, data: bytes) -> None:
        """Write and flush at once: a reader of the pipe sees each chunk as it comes."""
        if not data:
            return
        if not self.started and self.on_start is not None:
            self.on_start()
        try:
            self._out.write(data)
            self._out.flush()
        except (OSError, ValueError) as error:
            raise _closed_or(error) from error
        self.started = True
        self.ends_with_newline = data[-1] == 0x0A

    def end_line(self) -> None:
        """End the answer's unfinished last line, so a message after it on the same
        terminal starts a line (SPEC §3); a failure here is left to the message."""
        if self.started and not self.ends_with_newline:
            try:
                self.write("\n")
            except GlmError:
                return


def _closed_or(error: OSError | ValueError) -> GlmError:
    """A closed pipe (EPIPE) is `StdoutClosed` (glm dies by SIGPIPE); any other failure
    (disk full, a closed descriptor) is an `OutputError`: exit 1 naming why."""
    return stdout_failure(error)


def arguments_json(arguments: str) -> str | None:
    """The arguments' JSON text on one line, every token as the model wrote it; None
    when they are not valid JSON. Checked with a parser that keeps numbers exact, and
    never re-encoded: a parse and dump would round `12345678901234567890123`."""
    if not arguments.strip():
        return None
    try:
        jsontext.parse(arguments)
    except (ValueError, RecursionError):
        return None
    return jsontext.compact(arguments)


def tool_call_json(call: ToolCall, *, prefix: dict[str, Any] | None = None,
                   kind: bool = True) -> tuple[bytes, bool]:
    """A tool call as one JSON object (no newline), and whether its arguments were JSON.

    `{**prefix, "id", "name", "arguments"}`, then for an MCP call `"type"` (when `kind`)
    and `"mcp"`. The arguments are spliced in as text: valid JSON as the model wrote
    it (compacted), anything else as a JSON string.
    """
    head = orjson.dumps({**(prefix or {}), "id": call.id, "name": call.name})
    text = arguments_json(call.arguments)
    arguments = orjson.dumps(call.arguments) if text is None else text.encode()
    tail: dict[str, Any] = {}
    if call.kind != "function":
        if kind:
            tail["type"] = call.kind
        if call.detail is not None:
            tail["mcp"] = call.detail
    end = b"," + orjson.dumps(tail)[1:] if tail else b"}"
    return head[:-1] + b',"arguments":' + arguments + end, text is not None


def check_finish(done: Done, console: Console) -> None:
    """Finish reasons: `length` warns; content filtered or refused is exit 6;
    `network_error` exit 5."""
    reason = done.finish_reason
    if reason == "length":
        console.warn("the answer was cut off at the token limit (finish reason: length)")
    elif reason in ("sensitive", "content_filter"):
        raise UnusableAnswer(f"the answer was filtered as unsafe ({describe_filter(done)})")
    elif reason == "network_error":
        raise TransportError("the service reported a network error while generating")
    elif reason == "refusal":
        raise UnusableAnswer(
            f"the model refused: {done.refusal}" if done.refusal
            else "the model refused to answer (finish reason: refusal)"
        )


def describe_filter(done: Done) -> str:
    filters = done.content_filter or []
    if not filters:
        return f"finish reason: {done.finish_reason}"
    parts = [f"role {f.get('role', 'unknown')}, level {f.get('level', 'unknown')}" for f in filters]
    return "; ".join(parts)


def usage_line(done: Done) -> str:
    usage = done.usage.as_dict()
    return "usage: " + " ".join(
        f"{key}={'-' if value is None else value}" for key, value in usage.items()
    )


class Renderer:
    """Shared behaviour: what is held until the answer ends, usage and sources on stderr.

    What a renderer shows only at the end (tool calls, web-search results, Markdown
    text) is kept in `held`, the one piece of state per attempt: the exchange marks
    it when a request is sent (`checkpoint`) and, as each attempt's response starts,
    `rewind`s to that mark, so a retried attempt never shows what a failed one sent.
    """

    def __init__(
        self, sink: Sink, console: Console, *, show_usage: bool = False, sources: bool = False
    ) -> None:
        self.sink = sink
        self.console = console
        self.show_usage = show_usage
        self.sources = sources
        self.held: list[Event] = []
        self.done: Done | None = None
        self.terminal = console.env.stdout_isatty
        """stdout is a terminal: control characters from the service are shown escaped."""

    def handle(self, event: Event) -> None:
        raise NotImplementedError

    def checkpoint(self) -> int:
        return len(self.held)

    def rewind(self, mark: int) -> None:
        """A new attempt starts: forget what was held since `mark`."""
        del self.held[mark:]
        self.done = None
        self.console.end_partial_line()

    def held_of(self, kind: type[Any]) -> list[Any]:
        return [event for event in self.held if type(event) is kind]

    def json_line(self, data: bytes) -> None:
        """One JSON line; on a terminal, C1 controls and DEL (which JSON leaves raw) as
        `\\u009b`, so the line stays valid JSON."""
        if self.terminal:
            data = escape_json_bytes(data)
        self.sink.write_bytes(data + b"\n")

    def after_answer(self, done: Done) -> None:
        results = [r for event in self.held_of(WebSearch) for r in event.results]
        if self.sources and results:
            for number, result in enumerate(results, 1):
                title = one_line(str(result.get("title") or "(untitled)"))
                link = one_line(str(result.get("link") or ""))
                self.console.line(f"[{number}] {title} {link}".rstrip())
        if self.show_usage:
            self.console.line(usage_line(done))

    def failed(self, error: GlmError) -> None:
        """Called with the error that ends the run, before it is reported."""


class TextRenderer(Renderer):
    def __init__(
        self, sink: Sink, console: Console, *, show_thinking: bool = False, **kwargs: Any
    ) -> None:
        super().__init__(sink, console, **kwargs)
        self.show_thinking = show_thinking
        self._write_bytes = sink.write_bytes

    def handle(self, event: Event) -> None:
        kind = type(event)
        if kind is Content:
            if self.show_thinking:
                self.console.end_partial_line()
            text = event.text  # type: ignore[union-attr]
            if self.terminal:
                text = escape_controls(text)
            # orjson refuses lone surrogates, so a decoded text always encodes
            self._write_bytes(text.encode())
        elif kind is Reasoning:
            if self.show_thinking:
                self.console.thinking(event.text)  # type: ignore[union-attr]
        elif kind is ToolCall or kind is WebSearch:
            self.held.append(event)
        elif kind is Done:
            self._finish(event)  # type: ignore[arg-type]

    def _finish(self, done: Done) -> None:
        self.done = done
        self.console.end_partial_line()
        if self.sink.started and not self.sink.ends_with_newline:
            self.sink.write("\n")
        for call in self.held_of(ToolCall):
            line, is_json = tool_call_json(call)
            if not is_json and call.arguments.strip():
                self.console.warn(
                    f"tool call {call.name} ({call.id}): the arguments are not valid JSON; "
                    "printed as a string"
                )
            self.json_line(line)
        self.after_answer(done)
        check_finish(done, self.console)


class NdjsonRenderer(Renderer):
    def handle(self, event: Event) -> None:
        kind = type(event)
        if kind is Content:
            self._line({"type": "content", "text": event.text})  # type: ignore[union-attr]
        elif kind is Reasoning:
            self._line({"type": "reasoning", "text": event.text})  # type: ignore[union-attr]
        elif kind is ToolCall:
            # an MCP call is told by its "mcp" object here
            line, _ = tool_call_json(event, prefix={"type": "tool_call"}, kind=False)  # type: ignore[arg-type]
            self.json_line(line)
        elif kind is WebSearch:
            self.held.append(event)
            self._line({"type": "web_search", "results": event.results})  # type: ignore[union-attr]
        elif kind is Done:
            self._finish(event)  # type: ignore[arg-type]

    def _line(self, obj: dict[str, Any]) -> None:
        self.json_line(orjson.dumps(obj))

    def _finish(self, done: Done) -> None:
        self.done = done
        self._line(done_object(done))
        self.after_answer(done)
        check_finish(done, self.console)

    def failed(self, error: GlmError) -> None:
        self._line(error_object(error))


def done_object(done: Done) -> dict[str, Any]:
    return {
        "type": "done",
        "finish_reason": done.finish_reason,
        "stop_sequence": done.stop_sequence,
        "usage": done.usage.as_dict(),
        "id": done.id,
        "model": done.model,
        "request_id": done.request_id,
    }


def error_object(error: GlmError) -> dict[str, Any]:
    return {
        "type": "error",
        "exit_code": int(error.exit_code),
        "message": error.line(),
        "status": getattr(error, "status", None),
        "code": getattr(error, "code", None),
    }
