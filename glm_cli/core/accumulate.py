"""Events → one result: the whole answer, for commands that need it at the end."""

from __future__ import annotations

from dataclasses import field
from typing import Any

from glm_cli.core.messages import Content, Done, Event, Reasoning, Restart, ToolCall, WebSearch
from glm_cli.core.records import record


class Text:
    """Text that arrives in pieces, kept compact: every `BLOCK` pieces are joined into
    one string, so a 200,000-delta answer holds some hundreds of strings instead of
    200,000 (each costs ~70 bytes beside its text, 14 MB for one-letter deltas)."""

    BLOCK = 256
    __slots__ = ("_blocks", "_pieces")

    def __init__(self) -> None:
        self._blocks: list[str] = []
        self._pieces: list[str] = []

    def add(self, piece: str) -> None:
        pieces = self._pieces
        pieces.append(piece)
        if len(pieces) >= self.BLOCK:
            self._blocks.append("".join(pieces))
            pieces.clear()

    def empty(self) -> bool:
        """No text at all, found without joining (which copies the whole answer)."""
        return not any(self._pieces) and not any(self._blocks)

    def value(self) -> str:
        if self._pieces:
            self._blocks.append("".join(self._pieces))
            self._pieces.clear()
        if len(self._blocks) > 1:
            self._blocks[:] = ["".join(self._blocks)]
        return self._blocks[0] if self._blocks else ""


@record
class Result:
    """Everything one answer said so far: the one snapshot that streamed events and
    the final result are both read from, so the two cannot disagree."""

    content: Text = field(default_factory=Text)
    reasoning: Text = field(default_factory=Text)
    tool_calls: list[ToolCall] = field(default_factory=list)
    web_search: list[dict[str, Any]] = field(default_factory=list)
    done: Done | None = None

    @property
    def text(self) -> str:
        return self.content.value()


def accumulate(event: Event, result: Result) -> Result:
    """Fold one event into `result` (the same for streamed and whole responses); a
    `Restart` starts a new snapshot, which is returned."""
    if type(event) is Content:
        result.content.add(event.text)
    elif type(event) is Reasoning:
        result.reasoning.add(event.text)
    elif type(event) is ToolCall:
        result.tool_calls.append(event)
    elif type(event) is WebSearch:
        result.web_search.extend(event.results)
    elif type(event) is Done:
        result.done = event
    elif type(event) is Restart:
        return Result()
    return result
