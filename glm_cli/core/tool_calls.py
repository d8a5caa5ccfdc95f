"""A tool call as glm prints and stores it: `{"id", "name", "arguments"}`."""

from __future__ import annotations

from typing import Any

import orjson

from glm_cli.core.messages import ToolCall


def parse_arguments(arguments: str) -> Any:
    """Tool-call arguments as JSON when they are valid JSON, else the raw text."""
    try:
        return orjson.loads(arguments)
    except orjson.JSONDecodeError:
        return arguments


def tool_call_object(call: ToolCall) -> dict[str, Any]:
    line: dict[str, Any] = {
        "id": call.id, "name": call.name, "arguments": parse_arguments(call.arguments),
    }
    if call.kind != "function":
        line["type"] = call.kind
        if call.detail is not None:
            line["mcp"] = call.detail
    return line
