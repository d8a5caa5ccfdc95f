"""Renderers: neutral events in, the answer out (through the `Sink`, stdout's one writer).

`TextRenderer` writes the answer's text and, at the end, one JSON line per tool
call; `NdjsonRenderer` writes one JSON line per event; `WireRenderer` the
service's own bytes (`glm raw`). `feed` takes one batch of events (one network
read) and flushes once. A `Restart` (a retried attempt) makes a renderer forget
what it held of the failed attempt; a retry is allowed only while `may_retry()`
— this renderer has not written to stdout. `reporting()` wraps a command's run so
that a failure also ends the output in its format (NDJSON's `error` line). At
`Done` the finish-reason policy of `core.finish` applies.

On a terminal, control characters from the service are shown escaped (SPEC
§3.2): text as `\\x1b`, JSON lines with DEL and C1 as `\\u009b` (the same JSON).
In a pipe or a file the answer's bytes pass unchanged.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from typing import Any, Protocol

import orjson

from glm_cli.core.accumulate import Result
from glm_cli.core.errors import GlmError, StdoutClosed
from glm_cli.core.finish import check_finish
from glm_cli.core.messages import (
    Content,
    Done,
    Event,
    Payload,
    Reasoning,
    Restart,
    ToolCall,
    WebSearch,
)
from glm_cli.core.redact import Redactor
from glm_cli.core.tool_calls import tool_call_json
from glm_cli.output.sink import Sink
from glm_cli.output.terminal import Console, escape_bytes, escape_controls, escape_json_bytes
from glm_cli.output.terminal import one_line as on_one_line
from glm_cli.wire.sse import one_line


def usage_line(done: Done) -> str:
    usage = done.usage.as_dict()
    return "usage: " + " ".join(
        f"{key}={'-' if value is None else value}" for key, value in usage.items()
    )


class Answer(Protocol):
    """What a renderer shows: batches of events as they arrive, then `result`, the one
    snapshot of them (an `engine` Exchange or Turn)."""

    @property
    def result(self) -> Result: ...

    def __iter__(self) -> Iterator[list[Event]]: ...


class Renderer:
    """Shared behaviour: the retry gate, usage and sources on stderr, failure reports.

    A renderer shows events as they arrive and, at the end, reads what it prints
    after the answer (tool calls, sources, usage, the finish reason) from the
    answer's snapshot: it keeps no copy of the answer of its own.
    """

    def __init__(
        self, sink: Sink, console: Console, *, show_usage: bool = False, sources: bool = False
    ) -> None:
        self.sink = sink
        self.console = console
        self.show_usage = show_usage
        self.sources = sources
        self.answer: Answer | None = None
        self.terminal = console.env.stdout_isatty
        """stdout is a terminal: control characters from the service are shown escaped."""
        self._start = sink.written
        self._on: dict[type, Callable[[Any], None]] = {
            Content: self.content,
            Reasoning: self.reasoning,
            ToolCall: self.tool_call,
            WebSearch: self.web_search,
            Done: self.finish,
            Restart: self.restart,
            Payload: self.payload,
        }
        """Which method takes each kind of event."""

    def may_retry(self) -> bool:
        """Whether a failed attempt may be retried: nothing of this answer was written."""
        return self.sink.written == self._start

    def end_line(self) -> None:
        """End this answer's unfinished last line (its text did not end with a newline)."""
        if self.sink.written > self._start and not self.sink.ends_with_newline:
            self.sink.write(b"\n")

    def show(self, answer: Answer) -> None:
        """Every batch of `answer` as it arrives, then the end of the answer."""
        self.answer = answer
        for batch in answer:
            self.feed(batch)
        self.end(answer.result)

    def end(self, result: Result) -> None:
        """After the last event: what follows the answer, then the finish-reason policy."""
        self.sink.flush()
        self.after_answer(result)
        answered = not result.content.empty() or bool(result.tool_calls)
        check_finish(result.done or Done(None), self.console, answered=answered)

    def feed(self, batch: list[Event]) -> None:
        for event in batch:
            self.handle(event)
        self.sink.flush()

    def handle(self, event: Event) -> None:
        self._on[type(event)](event)

    # What each kind of event does; a renderer overrides those it shows.

    def content(self, event: Content) -> None:
        """The answer's text."""

    def reasoning(self, event: Reasoning) -> None:
        """Reasoning: never stdout in text mode."""

    def tool_call(self, event: ToolCall) -> None:
        """A tool call the model asked for."""

    def web_search(self, event: WebSearch) -> None:
        """Web-search results (shown at the end with --sources, from the snapshot)."""

    def finish(self, done: Done) -> None:
        """The answer's last event (what follows it is `end`'s)."""

    def payload(self, event: Payload) -> None:
        """The wire's own bytes: only `glm raw` shows them."""

    def restart(self, event: Restart) -> None:
        """A retried attempt begins (the snapshot starts afresh): reasoning shown of the
        failed one ends its line."""
        self.console.end_partial_line()

    @contextmanager
    def reporting(self) -> Iterator[None]:
        """Run the body; a GlmError also ends the output in this renderer's format."""
        try:
            yield
        except StdoutClosed:
            raise
        except GlmError as error:
            with suppress(GlmError):  # the first failure is the one reported
                self.failed(error)
            raise

    def json_line(self, data: bytes) -> None:
        """One JSON line; on a terminal, C1 controls and DEL (which JSON leaves raw) as
        `\\u009b`, so the line stays valid JSON."""
        if self.terminal:
            data = escape_json_bytes(data)
        self.sink.put(data + b"\n")

    def after_answer(self, result: Result) -> None:
        if self.sources and result.web_search:
            for number, found in enumerate(result.web_search, 1):
                title = on_one_line(str(found.get("title") or "(untitled)"))
                link = on_one_line(str(found.get("link") or ""))
                self.console.line(f"[{number}] {title} {link}".rstrip())
        if self.show_usage:
            self.console.line(usage_line(result.done or Done(None)))

    def failed(self, error: GlmError) -> None:
        """Called with the error that ends the run, before it is reported."""


class TextRenderer(Renderer):
    def __init__(
        self, sink: Sink, console: Console, *, show_thinking: bool = False, **kwargs: Any
    ) -> None:
        super().__init__(sink, console, **kwargs)
        self.show_thinking = show_thinking

    def feed(self, batch: list[Event]) -> None:
        """The per-token path: the text of a run of deltas is one `put`, the batch one
        flush. Reasoning breaks a run only when it is shown (it goes to stderr)."""
        texts: list[str] = []
        shown_reasoning = self.show_thinking
        for event in batch:
            if type(event) is Content:
                texts.append(event.text)
            elif type(event) is Reasoning and not shown_reasoning:
                continue
            else:
                if texts:
                    self._text(texts)
                    texts = []
                self.handle(event)
        if texts:
            self._text(texts)
        self.sink.flush()

    def _text(self, texts: list[str]) -> None:
        if self.show_thinking:
            self.console.end_partial_line()
        text = "".join(texts)
        if self.terminal:
            text = escape_controls(text)
        # orjson refuses lone surrogates, so a decoded text always encodes
        self.sink.put(text.encode())

    def content(self, event: Content) -> None:
        self._text([event.text])

    def reasoning(self, event: Reasoning) -> None:
        if self.show_thinking:
            self.console.thinking(event.text)

    def end(self, result: Result) -> None:
        """The answer's last line ended, then its tool calls as JSON lines."""
        self.console.end_partial_line()
        self.end_line()
        for call in result.tool_calls:
            line, is_json = tool_call_json(call)
            if not is_json and call.arguments.strip():
                self.console.warn(
                    f"tool call {call.name} ({call.id}): the arguments are not valid JSON; "
                    "printed as a string"
                )
            self.json_line(line)
        super().end(result)


class NdjsonRenderer(Renderer):
    def content(self, event: Content) -> None:
        self._line({"type": "content", "text": event.text})

    def reasoning(self, event: Reasoning) -> None:
        self._line({"type": "reasoning", "text": event.text})

    def tool_call(self, event: ToolCall) -> None:
        # an MCP call is told by its "mcp" object here
        line, _ = tool_call_json(event, prefix={"type": "tool_call"}, kind=False)
        self.json_line(line)

    def web_search(self, event: WebSearch) -> None:
        self._line({"type": "web_search", "results": event.results})

    def _line(self, obj: dict[str, Any]) -> None:
        self.json_line(orjson.dumps(obj))

    def finish(self, done: Done) -> None:
        self._line(done_object(done))

    def failed(self, error: GlmError) -> None:
        self._line(error_object(error))
        self.sink.flush()


class WireRenderer(Renderer):
    """`glm raw`: the service's own bytes — the body, or each SSE event's data on a
    line of its own (not the `[DONE]` marker; a multi-line event joined onto one
    line) — and an HTTP error's body too, always with the key masked. The neutral
    events still apply the finish-reason rules."""

    def __init__(self, sink: Sink, console: Console, redact: Redactor) -> None:
        super().__init__(sink, console)
        self.redact = redact

    def shown(self, data: bytes) -> bytes:
        data = self.redact.bytes(data)
        return escape_bytes(data) if self.terminal else data

    def payload(self, event: Payload) -> None:
        data = event.data
        if event.whole:
            data = self.shown(data)
            self.sink.put(data if data.endswith(b"\n") else data + b"\n")
        elif data != b"[DONE]":  # the stream's end marker is not a payload
            self.sink.put(self.shown(one_line(data)) + b"\n")

    def failed(self, error: GlmError) -> None:
        body = getattr(error, "body", None)
        if isinstance(body, bytes):
            body = self.shown(body)
            self.sink.write(body if body.endswith(b"\n") else body + b"\n")


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
