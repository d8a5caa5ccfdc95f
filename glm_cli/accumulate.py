"""Events → one result: the whole answer, for commands that need it at the end."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from glm_cli.messages import Content, Done, Event, Reasoning, ToolCall, WebSearch


@dataclass
class Result:
    content: list[str] = field(default_factory=list)
    reasoning: list[str] = field(default_factory=list)
    tool_calls: list[ToolCall] = field(default_factory=list)
    web_search: list[dict[str, Any]] = field(default_factory=list)
    done: Done | None = None

    @property
    def text(self) -> str:
        return "".join(self.content)


def accumulate(event: Event, result: Result) -> None:
    """Fold one event into `result` (the same for streamed and whole responses)."""
    kind = type(event)
    if kind is Content:
        result.content.append(event.text)  # type: ignore[union-attr]
    elif kind is Reasoning:
        result.reasoning.append(event.text)  # type: ignore[union-attr]
    elif kind is ToolCall:
        result.tool_calls.append(event)  # type: ignore[arg-type]
    elif kind is WebSearch:
        result.web_search.extend(event.results)  # type: ignore[union-attr]
    elif kind is Done:
        result.done = event  # type: ignore[assignment]
