"""A turn: one exchange with the model, or several when it asks to run the user's tools.

    request → [model asks for weather(city)] → run `./weather.sh`, stdin {"city": ...}
            → request + assistant + tool result → [model answers] → events

`Turn` is how `ask`, `json` and `chat` talk to the model, and it is a loop over
exchanges (`engine.exchange`). Without `--tool-cmd` a turn is one exchange whose
events pass through as they arrive. With it, an answer that asks for function
tools which all have a command is answered by running them (`tool_runner`), and
the request goes again with the assistant's message (tool calls and reasoning)
and one `tool` message per call. Reasoning, web-search results and restarts pass
through as they arrive; the answer's text, tool calls and `Done` only for the
final answer (text beside tool calls that were run is not passed on), with
`Done.usage` adding up all rounds. More than `--max-tool-rounds` rounds, or more
than `MAX_CALLS_PER_ROUND` calls in one round, is exit 6. A call to a tool
without a command ends the loop: the answer is handed on as it is, so its tool
calls are printed like any other.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import fields, replace
from typing import IO, Any

from glm_cli.core.accumulate import Result
from glm_cli.core.deadline import Deadline
from glm_cli.core.errors import UnusableAnswer
from glm_cli.core.messages import (
    ChatRequest,
    Content,
    Done,
    Event,
    Message,
    Restart,
    ToolCall,
    Usage,
)
from glm_cli.engine.exchange import Client, always
from glm_cli.engine.tool_runner import LoopSettings, run_call
from glm_cli.output.terminal import Console

MAX_CALLS_PER_ROUND = 32
"""More tool calls in one answer is exit 6, with no process started (SPEC §3.2)."""

HELD = (Content, ToolCall, Done)
"""What waits until a round is known to be the final answer."""


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


def _assistant(result: Result, calls: list[ToolCall], ids: list[str]) -> Message:
    text = result.text
    message: Message = {"role": "assistant", "content": text or None}
    reasoning = result.reasoning.value()
    if reasoning:
        message["reasoning_content"] = reasoning
    if calls:
        message["tool_calls"] = [
            {
                "id": id_,
                "type": "function",
                "function": {"name": call.name or "", "arguments": call.arguments},
            }
            for call, id_ in zip(calls, ids, strict=True)
        ]
    elif message["content"] is None:
        message["content"] = ""
    return message


assistant_message = _assistant
"""The assistant message of an answer (`glm chat` stores it; a cache hit rebuilds it)."""


def add_usage(total: Usage, usage: Usage) -> Usage:
    def plus(a: int | None, b: int | None) -> int | None:
        return None if a is None and b is None else (a or 0) + (b or 0)

    return Usage(
        **{
            item.name: plus(getattr(total, item.name), getattr(usage, item.name))
            for item in fields(Usage)
        }
    )


class Turn:
    """The events a renderer should show, as batches; then `added` and `result`.

    `added` is what this turn adds after `request.messages`, for a caller that keeps
    the conversation (`glm chat` stores it): for each round of tool runs, the
    assistant message (`content`, `reasoning_content`, `tool_calls`) and one
    `{"role": "tool", "tool_call_id", "content"}` per call; then the final assistant
    message. `body` is the first request's body when the caller already encoded it.
    """

    def __init__(
        self,
        client: Client,
        request: ChatRequest,
        deadline: Deadline,
        tools: LoopSettings,
        console: Console,
        stderr: IO[bytes],
        *,
        body: dict[str, Any] | None = None,
        may_retry: Callable[[], bool] = always,
    ) -> None:
        self.client = client
        self.request = request
        self.deadline = deadline
        self.tools = tools
        self.console = console
        self.stderr = stderr
        self.body = body
        self.may_retry = may_retry
        self._added: list[Message] = []
        self._final: tuple[Result, list[ToolCall], list[str]] | None = None
        """The final answer, made into its message only when asked for: `glm ask` never
        needs it, and joining a long answer's text costs memory."""
        self.result = Result()
        """The final round's answer; its `done.usage` adds up every round."""

    @property
    def added(self) -> list[Message]:
        if self._final is not None:
            self._added.append(_assistant(*self._final))
            self._final = None
        return self._added

    @property
    def ran_tools(self) -> bool:
        """Whether a round of tool runs happened (such a turn is never cached)."""
        return any(message.get("role") == "tool" for message in self._added)

    def __iter__(self) -> Iterator[list[Event]]:
        hold = bool(self.tools.commands)
        usage = Usage()
        rounds = 0
        searches: list[dict[str, Any]] = []
        """Web-search results of the rounds before this one (all are the turn's)."""
        body = self.body or self.client.protocol.encode(self.request).body
        while True:
            exchange = self.client.exchange(body, self.deadline, may_retry=self.may_retry)
            held: list[Event] = []
            with exchange:
                for batch in exchange:
                    if not hold:
                        yield batch
                        del batch  # not kept while the next one is read
                        continue
                    passed: list[Event] = []
                    for event in batch:
                        if isinstance(event, HELD):
                            held.append(event)
                        elif type(event) is Restart:
                            held = []
                            passed.append(event)
                        else:
                            passed.append(event)
                    if passed:
                        yield passed
            result = exchange.result
            done = result.done or Done(None)
            usage = add_usage(usage, done.usage)
            functions = [call for call in result.tool_calls if call.kind == "function"]
            ids = [call.id or f"call_glm_{rounds + 1}_{i + 1}" for i, call in enumerate(functions)]
            runnable = (
                hold
                and done.finish_reason == "tool_calls"
                and bool(functions)
                and all(call.name in self.tools.commands for call in functions)
            )
            if not runnable:
                result.web_search[:0] = searches
                if hold:
                    yield [replace(e, usage=usage) if isinstance(e, Done) else e for e in held]
                    if result.done is not None:
                        result.done = replace(result.done, usage=usage)
                self.result = result
                self._final = (result, functions, ids)
                return
            if len(functions) > MAX_CALLS_PER_ROUND:
                raise UnusableAnswer(
                    f"the model asked for {len(functions)} tool calls in one round; at most "
                    f"{MAX_CALLS_PER_ROUND} are run, so none was"
                )
            if rounds >= self.tools.max_rounds:
                raise UnusableAnswer(
                    f"the model still asks for tools after {rounds} rounds of tool runs "
                    f"(--max-tool-rounds {self.tools.max_rounds})"
                )
            rounds += 1
            searches += result.web_search
            if result.text.strip():
                self.console.note(f"text beside the tool calls, not printed: {result.text!r}")
            self._added.append(_assistant(result, functions, ids))
            for call, id_ in zip(functions, ids, strict=True):
                output = run_call(self.console, self.stderr, self.tools, call, id_, self.deadline)
                self.deadline.check()
                self._added.append({"role": "tool", "tool_call_id": id_, "content": output})
            self.console.start_spinner()  # waiting for the model again
            following = ChatRequest(
                self.request.model,
                [*self.request.messages, *self._added],
                self.request.system,
                self.request.stream,
                self.request.params,
            )
            body = self.client.protocol.encode(following).body
