"""A tool call as glm prints and stores it: `{"id", "name", "arguments"}`, its arguments
spliced in as the model wrote them, so no number is ever rounded (SPEC §3.2)."""

from __future__ import annotations

from typing import Any

import orjson

from glm_cli.core import jsontext
from glm_cli.core.messages import ToolCall


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


def tool_call_json(
    call: ToolCall, *, prefix: dict[str, Any] | None = None, kind: bool = True
) -> tuple[bytes, bool]:
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
