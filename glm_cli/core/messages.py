"""The neutral model both protocols meet in: the request, and the stream of events.

A protocol module turns a `ChatRequest` into its own body and turns its own
responses (whole or streamed) into the events below. Renderers only ever see
these events, so every output mode works the same for every protocol.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from glm_cli.core.records import record

Message = dict[str, Any]
"""An OpenAI-style message: {"role", "content", and tool fields}."""


@record
class RequestParams:
    """Request fields the user can set; `None` means "not set: the service's default"."""

    effort: str | None = None
    think: bool | None = None
    temperature: float | None = None
    top_p: float | None = None
    top_k: int | None = None
    max_tokens: int | None = None
    greedy: bool = False
    stop: list[str] = field(default_factory=list)
    request_id: str | None = None
    user_id: str | None = None
    tools: list[dict[str, Any]] = field(default_factory=list)
    json_mode: bool = False
    stream_usage: bool = False
    """Ask for usage in a stream (`stream_options`, OpenAI protocol): the run shows usage
    and the provider accepts the field."""


@record
class ChatRequest:
    model: str
    messages: list[Message]
    system: str | None = None
    stream: bool = True
    params: RequestParams = field(default_factory=RequestParams)


@dataclass
class Usage:
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    reasoning_tokens: int | None = None
    cached_tokens: int | None = None
    total_tokens: int | None = None

    def as_dict(self) -> dict[str, int | None]:
        return {
            "prompt_tokens": self.prompt_tokens,
            "completion_tokens": self.completion_tokens,
            "reasoning_tokens": self.reasoning_tokens,
            "cached_tokens": self.cached_tokens,
            "total_tokens": self.total_tokens,
        }


class Reasoning:
    __slots__ = ("text",)

    def __init__(self, text: str) -> None:
        self.text = text


class Content:
    __slots__ = ("text",)

    def __init__(self, text: str) -> None:
        self.text = text


@dataclass
class ToolCall:
    id: str | None
    name: str | None
    arguments: str
    kind: str = "function"
    detail: dict[str, Any] | None = None
    """For MCP calls: the service's `mcp` object (server_label, output, error...)."""


@dataclass
class WebSearch:
    results: list[dict[str, Any]]


@dataclass
class Done:
    finish_reason: str | None
    stop_sequence: str | None = None
    usage: Usage = field(default_factory=Usage)
    id: str | None = None
    model: str | None = None
    request_id: str | None = None
    content_filter: list[dict[str, Any]] | None = None
    refusal: str | None = None
    """With finish reason `refusal`: the model's refusal text or the service's explanation."""


class Restart:
    """A failed attempt is being retried: the snapshot starts afresh, and a consumer
    forgets what the failed attempt sent. Only ever sent while nothing of the answer
    reached stdout."""

    __slots__ = ()


class Payload:
    """The wire's own bytes (`glm raw`): one SSE event's data, or a `whole` body."""

    __slots__ = ("data", "whole")

    def __init__(self, data: bytes, whole: bool = False) -> None:
        self.data = data
        self.whole = whole


Event = Content | Reasoning | ToolCall | WebSearch | Done | Restart | Payload
