"""Render a ``Reply`` as an Anthropic Message body or as Anthropic SSE events.

The shapes follow api/002 and SPEC §2.1: thinking, text and tool_use blocks in that
order; ``message_start`` carries the input tokens and ``message_delta`` the cumulative
output tokens; ``stop_sequence`` appears only when the reply names one (GLM reports a
hit stop sequence as a plain ``end_turn``). ``web_search`` and ``content_filter`` have
no place in this protocol and are not rendered.
"""

from __future__ import annotations

import json
from typing import Any

from .steps import Incoming, Reply, SseEvent, pieces, response_model, to_json, whole

STOP_REASONS = {"stop": "end_turn", "length": "max_tokens", "tool_calls": "tool_use"}
DEFAULT_STREAM_ERROR = {"type": "overloaded_error", "message": "Overloaded"}
SIGNATURE = ""  # the service may send an empty thinking signature (api/002)


def stop_reason(reply: Reply) -> str:
    if reply.anthropic_stop_reason is not None:
        return reply.anthropic_stop_reason
    return STOP_REASONS.get(reply.finish_reason, reply.finish_reason)


def usage(numbers: dict[str, int]) -> dict[str, int]:
    """Neutral usage numbers in Anthropic form; a number not given is left out."""
    names = {
        "prompt_tokens": "input_tokens",
        "completion_tokens": "output_tokens",
        "cached_tokens": "cache_read_input_tokens",
    }
    return {names[key]: value for key, value in numbers.items() if key in names}


def _message(reply: Reply, incoming: Incoming) -> dict[str, Any]:
    return {
        "id": reply.id or f"msg_fake_{incoming.seq:06d}",
        "type": "message",
        "role": "assistant",
        "model": response_model(reply, incoming),
    }


def _tool_id(call: dict[str, Any], index: int) -> str:
    return str(call.get("id", f"toolu_fake_{index}"))


def _tool_input(arguments: str) -> Any:
    try:
        return json.loads(arguments)
    except ValueError:
        return arguments


def body(reply: Reply, incoming: Incoming) -> dict[str, Any]:
    """The non-streaming Message body."""
    content: list[dict[str, Any]] = []
    if reply.reasoning:
        thinking = whole(reply.reasoning)
        content.append({"type": "thinking", "thinking": thinking, "signature": SIGNATURE})
    if reply.content:
        content.append({"type": "text", "text": whole(reply.content)})
    for index, call in enumerate(reply.tool_calls or []):
        content.append(
            {
                "type": "tool_use",
                "id": _tool_id(call, index),
                "name": call.get("name", ""),
                "input": _tool_input(call.get("arguments", "{}")),
            }
        )
    out = {**_message(reply, incoming), "content": content, "stop_reason": stop_reason(reply)}
    if reply.stop_details is not None:
        out["stop_details"] = reply.stop_details
    if reply.stop_sequence is not None:
        out["stop_sequence"] = reply.stop_sequence
    if reply.usage is not None:
        out["usage"] = usage(reply.usage)
    return out


def _event(
    kind: str, payload: dict[str, Any], finish: bool = False, terminal: bool = False
) -> SseEvent:
    data = to_json({"type": kind, **payload})
    return SseEvent(data, event=kind, finish=finish, terminal=terminal)


def _blocks(reply: Reply) -> list[tuple[dict[str, Any], list[dict[str, Any]]]]:
    """Each content block's ``content_block_start`` body and its deltas."""
    size = reply.chunk_size
    blocks: list[tuple[dict[str, Any], list[dict[str, Any]]]] = []
    if reply.reasoning:
        deltas = [{"type": "thinking_delta", "thinking": p} for p in pieces(reply.reasoning, size)]
        deltas.append({"type": "signature_delta", "signature": SIGNATURE})
        blocks.append(({"type": "thinking", "thinking": "", "signature": ""}, deltas))
    if reply.content:
        deltas = [{"type": "text_delta", "text": p} for p in pieces(reply.content, size)]
        blocks.append(({"type": "text", "text": ""}, deltas))
    for index, call in enumerate(reply.tool_calls or []):
        start = {"type": "tool_use", "id": _tool_id(call, index), "name": call.get("name", "")}
        fragments = pieces(call.get("arguments", ""), size)
        deltas = [{"type": "input_json_delta", "partial_json": p} for p in fragments]
        blocks.append(({**start, "input": {}}, deltas))
    return blocks


def events(reply: Reply, incoming: Incoming) -> list[SseEvent]:
    """message_start, each block's start/deltas/stop, message_delta, message_stop."""
    message: dict[str, Any] = {**_message(reply, incoming), "content": [], "stop_reason": None}
    final: dict[str, Any] = {"delta": {"stop_reason": stop_reason(reply)}}
    if reply.stop_sequence is not None:
        final["delta"]["stop_sequence"] = reply.stop_sequence
    if reply.stop_details is not None:
        final["delta"]["stop_details"] = reply.stop_details
    if reply.usage is not None:
        numbers = usage(reply.usage)
        output = numbers.pop("output_tokens", None)
        if output is not None:
            numbers["output_tokens"] = min(output, 1)
            final["usage"] = {"output_tokens": output}
        message["usage"] = numbers
    out = [_event("message_start", {"message": message})]
    for index, (start, deltas) in enumerate(_blocks(reply)):
        out.append(_event("content_block_start", {"index": index, "content_block": start}))
        out += [_event("content_block_delta", {"index": index, "delta": d}) for d in deltas]
        out.append(_event("content_block_stop", {"index": index}))
    out.append(_event("message_delta", final, finish=True))
    out.append(_event("message_stop", {}, terminal=True))
    return out


def error_event(reply: Reply) -> SseEvent:
    return _event("error", {"error": reply.error or DEFAULT_STREAM_ERROR})


def ping() -> SseEvent:
    return _event("ping", {})
