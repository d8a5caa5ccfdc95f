"""Conversations: the history that sessions (SQLite), files (JSONL) and the loop share.

A conversation is a system prompt and a list of OpenAI-style messages (`role`,
`content`, and the tool fields). `History` is what a keeper of one can do — load
it, append one whole exchange at once, empty it — so `glm chat` has one code path
for the exchange whatever keeps the conversation.

What is stored is what was said; what is *sent* is prepared by `for_request`
(earlier reasoning dropped, a window of `--max-history` messages that starts at a
user message, unanswered tool calls left out), so a history written by hand or
cut by `--max-history` is still a valid request on both protocols.
"""

from __future__ import annotations

from dataclasses import field
from typing import Any, Protocol

import orjson

from glm_cli.core import jsontext
from glm_cli.core.messages import Message, ToolCall
from glm_cli.core.records import record
from glm_cli.core.tool_calls import tool_call_json

ROLES = ("system", "user", "assistant", "tool")


class Keep:
    """The type of `KEEP`: "leave the stored system prompt as it is"."""

    def __repr__(self) -> str:
        return "KEEP"


KEEP = Keep()

SystemChange = str | None | Keep
"""A new system prompt (None: no system prompt), or KEEP."""


@record
class Conversation:
    system: str | None = None
    messages: list[Message] = field(default_factory=list)


class History(Protocol):
    """Where a conversation is kept. Every method is one atomic change or read."""

    label: str
    """How messages name it: `session 'default'`, `file talk.jsonl`."""

    def load(self) -> Conversation: ...

    def append(self, messages: list[Message], system: SystemChange = KEEP) -> None:
        """Add a whole exchange (and a changed system prompt) at once, or nothing."""

    def reset(self, system: str | None = None) -> None:
        """Empty the conversation; `system` is the system prompt it keeps, if any."""

    def close(self) -> None: ...


class MemoryHistory:
    """The interactive loop's fresh conversation when nothing names one to keep."""

    label = "this conversation"

    def __init__(self) -> None:
        self._conversation = Conversation()

    def load(self) -> Conversation:
        return Conversation(self._conversation.system, list(self._conversation.messages))

    def append(self, messages: list[Message], system: SystemChange = KEEP) -> None:
        if not isinstance(system, Keep):
            self._conversation.system = system
        self._conversation.messages.extend(messages)

    def reset(self, system: str | None = None) -> None:
        self._conversation = Conversation(system)

    def close(self) -> None:
        return None


# --- messages: checking, encoding ---------------------------------------------------


def check_message(value: object) -> Message:
    """A message read from a file or the store; raises ValueError saying what is wrong.

    Whatever passes can be sent on either protocol and written out again: every
    field glm reads has its type checked, and the message nests at most
    `jsontext.MAX_DEPTH` levels.
    """
    if not isinstance(value, dict):
        raise ValueError("a message must be a JSON object")
    jsontext.check_depth(value)
    role = value.get("role")
    if not isinstance(role, str) or role not in ROLES:
        raise ValueError(f'"role" must be one of {", ".join(ROLES)}, got {role!r}')
    content = value.get("content")
    calls = value.get("tool_calls")
    if calls is not None:
        if role != "assistant":
            raise ValueError('only an assistant message may have "tool_calls"')
        if not isinstance(calls, list):
            raise ValueError('"tool_calls" must be a list of objects')
        for number, call in enumerate(calls, 1):
            _check_call(call, f"tool call {number}")
    if not isinstance(content, str) and not (content is None and calls):
        raise ValueError('"content" must be a string (null only beside "tool_calls")')
    if role == "tool" and not isinstance(value.get("tool_call_id"), str):
        raise ValueError('a tool message needs a "tool_call_id" string')
    return value


def _check_call(call: object, where: str) -> None:
    """One stored tool call: `{"id", "type", "function": {"name", "arguments"}}` (an
    MCP call keeps its details under `"mcp"`)."""
    if not isinstance(call, dict):
        raise ValueError(f"{where}: must be a JSON object")
    for key in ("id", "type"):
        if key in call and not isinstance(call[key], str):
            raise ValueError(f'{where}: "{key}" must be a string')
    kind = call.get("type") or "function"
    detail = call.get(kind)
    if kind != "function":
        if detail is not None and not isinstance(detail, dict):
            raise ValueError(f'{where}: "{kind}" must be a JSON object')
        return
    if not isinstance(detail, dict):
        raise ValueError(f'{where}: "function" must be a JSON object with a name')
    if not isinstance(detail.get("name"), str):
        raise ValueError(f'{where}: "function.name" must be a string')
    if "arguments" in detail and not isinstance(detail["arguments"], str):
        raise ValueError(f'{where}: "function.arguments" must be a string of JSON')


def message_line(message: Message) -> bytes:
    """One JSONL line (with its newline): `role` and `content` first, then the rest."""
    ordered = {"role": message.get("role"), "content": message.get("content")}
    ordered.update((k, v) for k, v in message.items() if k not in ordered)
    return orjson.dumps(ordered) + b"\n"


def jsonl(conversation: Conversation) -> bytes:
    """The conversation in the `--file` format: the system prompt first, if any."""
    lines = (
        [message_line({"role": "system", "content": conversation.system})]
        if (conversation.system is not None)
        else []
    )
    lines.extend(message_line(message) for message in conversation.messages)
    return b"".join(lines)


def fold_system(messages: list[Message]) -> Conversation:
    """Messages as read from a file: the last system message is the system prompt in
    force (an empty one clears it); the others are the conversation."""
    conversation = Conversation()
    for message in messages:
        if message.get("role") == "system":
            content = message.get("content")
            conversation.system = content if isinstance(content, str) and content else None
        else:
            conversation.messages.append(message)
    return conversation


def user_message(text: str) -> Message:
    return {"role": "user", "content": text}


def kept(message: Message) -> Message:
    """A message as it is stored: without its reasoning, which is never sent back."""
    return {key: value for key, value in message.items() if key != "reasoning_content"}


# --- what is sent ---------------------------------------------------------------------


def window(messages: list[Message], max_history: int | None) -> list[Message]:
    """The last `max_history` messages, starting at a user message.

    Both protocols want a history that opens with the user (the Anthropic one
    insists), and a window that opens mid-exchange would carry an answer, or a tool
    result, without its question.
    """
    if max_history is not None:
        messages = messages[len(messages) - max_history :] if max_history else []
    start = next((i for i, m in enumerate(messages) if m.get("role") == "user"), len(messages))
    return messages[start:]


def for_request(messages: list[Message], max_history: int | None = None) -> list[Message]:
    """The stored history as it is sent before a new user message.

    Reasoning from earlier turns is not sent back (the service clears it anyway);
    fields other than the OpenAI ones are left out; a tool call goes only with its
    result, and a result only with its call, so the request stays valid; an empty
    answer carries nothing and is left out.
    """
    recent = window(messages, max_history)
    answered = {m.get("tool_call_id") for m in recent if m.get("role") == "tool"}
    called: set[Any] = set()
    sent: list[Message] = []
    for message in recent:
        role = message.get("role")
        content = message.get("content")
        if role == "user":
            sent.append({"role": "user", "content": content})
        elif role == "assistant":
            calls = [c for c in message.get("tool_calls") or [] if c.get("id") in answered]
            called.update(c.get("id") for c in calls)
            if calls:
                sent.append({"role": "assistant", "content": content or None, "tool_calls": calls})
            elif content:
                sent.append({"role": "assistant", "content": content})
        elif role == "tool" and message.get("tool_call_id") in called:
            sent.append(
                {
                    "role": "tool",
                    "content": content or "",
                    "tool_call_id": message.get("tool_call_id"),
                }
            )
    return sent


# --- a transcript for people ------------------------------------------------------------


def transcript(conversation: Conversation) -> str:
    """`glm chat --show`: each message under a `[role]` header, a blank line between."""
    blocks: list[str] = []
    if conversation.system is not None:
        blocks.append(f"[system]\n{conversation.system}")
    for message in conversation.messages:
        role = str(message.get("role"))
        header = f"[tool {message.get('tool_call_id')}]" if role == "tool" else f"[{role}]"
        lines = [header]
        content = message.get("content")
        if content:
            lines.append(str(content).rstrip("\n"))
        for call in message.get("tool_calls") or []:
            lines.append(tool_call_json(_call_line(call))[0].decode())
        blocks.append("\n".join(lines))
    return "\n\n".join(blocks) + "\n" if blocks else ""


def _call_line(call: dict[str, Any]) -> ToolCall:
    """A stored tool call, to print as `glm ask` prints one: `{"id", "name", "arguments"}`."""
    kind = call.get("type") or "function"
    detail = call.get(kind) if kind != "function" else None
    source = call.get("function") or detail or {}
    arguments = source.get("arguments")
    return ToolCall(
        id=call.get("id"),
        name=source.get("name"),
        arguments=arguments
        if isinstance(arguments, str)
        else ""
        if arguments is None
        else orjson.dumps(arguments).decode(),
        kind=str(kind),
        detail=detail if isinstance(detail, dict) else None,
    )
