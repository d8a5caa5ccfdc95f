"""Render a ``Reply`` as an OpenAI ``chat.completion`` body or as OpenAI SSE chunks.

The shapes follow api/000 and api/001 and SPEC §5: ``reasoning_content`` beside
``content``, tool-call deltas by ``index``, ``usage`` and ``content_filter`` on the final
chunk, ``web_search`` as a top-level field of the first chunk, then ``data: [DONE]``.
"""

from __future__ import annotations

import time
from typing import Any

from .steps import Incoming, Reply, SseEvent, pieces, response_model, to_json, whole

DEFAULT_STREAM_ERROR = {"code": "1234", "message": "Network error"}


def _envelope(reply: Reply, incoming: Incoming, kind: str) -> dict[str, Any]:
    out: dict[str, Any] = {
        "id": reply.id or f"chatcmpl-fake-{incoming.seq:06d}",
        "object": kind,
        "created": int(time.time()),
        "model": response_model(reply, incoming),
    }
    sent = incoming.body.get("request_id")
    request_id = reply.request_id or (sent if isinstance(sent, str) else None)
    if request_id is not None:
        out["request_id"] = request_id
    return out


def usage(numbers: dict[str, int]) -> dict[str, Any]:
    """Neutral usage numbers in OpenAI form; a number not given is left out."""
    out: dict[str, Any] = {
        key: numbers[key]
        for key in ("prompt_tokens", "completion_tokens", "total_tokens")
        if key in numbers
    }
    if "cached_tokens" in numbers:
        out["prompt_tokens_details"] = {"cached_tokens": numbers["cached_tokens"]}
    if "reasoning_tokens" in numbers:
        out["completion_tokens_details"] = {"reasoning_tokens": numbers["reasoning_tokens"]}
    return out


def _tool_call(call: dict[str, Any], index: int) -> dict[str, Any]:
    """A neutral tool call (``id``, ``name``, ``arguments``, or an MCP call given as
    ``{"type": "mcp", "mcp": {...}}``) in the response's ``tool_calls`` shape."""
    if call.get("type") == "mcp":
        out: dict[str, Any] = {"type": "mcp", "mcp": call["mcp"]}
        return {"id": call["id"], **out} if "id" in call else out
    function = {"name": call["name"], "arguments": call.get("arguments", "")}
    return {"id": call.get("id", f"call_{index}"), "type": "function", "function": function}


def _tool_deltas(reply: Reply) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """The streamed tool-call deltas, and the delta for the finish chunk (the last
    argument fragment when ``finish_in_last_tool_chunk``, else empty)."""
    deltas: list[dict[str, Any]] = []
    last_is_fragment = False
    for index, call in enumerate(reply.tool_calls or []):
        head = {"index": index, **_tool_call(call, index)}
        if reply.tool_call_without_id:
            head.pop("id", None)
        fragments = [] if "mcp" in head else pieces(call.get("arguments", ""), reply.chunk_size)
        if "function" in head:
            head["function"] = {**head["function"], "arguments": ""}
        deltas.append(head)
        deltas += [{"index": index, "function": {"arguments": part}} for part in fragments]
        last_is_fragment = bool(fragments)
    wrapped = [{"tool_calls": [delta]} for delta in deltas]
    if reply.finish_in_last_tool_chunk and last_is_fragment:
        return wrapped[:-1], wrapped[-1]
    return wrapped, {}


def body(reply: Reply, incoming: Incoming) -> dict[str, Any]:
    """The non-streaming ``chat.completion`` body."""
    message: dict[str, Any] = {"role": "assistant", "content": whole(reply.content)}
    if reply.reasoning is not None:
        message["reasoning_content"] = whole(reply.reasoning)
    if reply.tool_calls:
        message["tool_calls"] = [_tool_call(call, i) for i, call in enumerate(reply.tool_calls)]
    if reply.refusal is not None:
        message["refusal"] = whole(reply.refusal)
    out = _envelope(reply, incoming, "chat.completion")
    out["choices"] = [{"index": 0, "message": message, "finish_reason": reply.finish_reason}]
    for index, text in enumerate(reply.extra_choices or [], 1):
        other = {"role": "assistant", "content": text}
        out["choices"].append({"index": index, "message": other, "finish_reason": "stop"})
    if reply.usage is not None:
        out["usage"] = usage(reply.usage)
    if reply.web_search is not None:
        out["web_search"] = reply.web_search
    if reply.content_filter is not None:
        out["content_filter"] = reply.content_filter
    return out


def events(reply: Reply, incoming: Incoming) -> list[SseEvent]:
    """The stream: delta chunks, the finish chunk, ``[DONE]``."""
    size = reply.chunk_size
    deltas: list[dict[str, Any]] = []
    if reply.reasoning is not None:
        deltas += [{"reasoning_content": part} for part in pieces(reply.reasoning, size)]
    deltas += [{"content": part} for part in pieces(reply.content, size)]
    if reply.refusal is not None:
        deltas += [{"refusal": part} for part in pieces(reply.refusal, size)]
    tool_deltas, final_delta = _tool_deltas(reply)
    deltas += tool_deltas
    envelope = _envelope(reply, incoming, "chat.completion.chunk")
    chunks = [{**envelope, "choices": [{"index": 0, "delta": delta}]} for delta in deltas]
    chunks = _interleave_other_choices(reply, envelope, chunks)
    final_choice = {"index": 0, "delta": final_delta, "finish_reason": reply.finish_reason}
    final = {**envelope, "choices": [final_choice]}
    if reply.usage is not None:
        final["usage"] = usage(reply.usage)
    if reply.content_filter is not None:
        final["content_filter"] = reply.content_filter
    first = (chunks or [final])[0]
    first["choices"][0]["delta"] = {"role": "assistant", **first["choices"][0]["delta"]}
    if reply.web_search is not None:
        first["web_search"] = reply.web_search
    return [
        *(SseEvent(to_json(chunk)) for chunk in chunks),
        SseEvent(to_json(final), finish=True),
        SseEvent("[DONE]", terminal=True),
    ]


def _interleave_other_choices(
    reply: Reply, envelope: dict[str, Any], chunks: list[dict[str, Any]]
) -> list[dict[str, Any]]:
    """Choices 1, 2...: after each choice-0 chunk, one piece of each, then their finish."""
    others = [pieces(text, reply.chunk_size) for text in reply.extra_choices or []]
    if not others:
        return chunks
    out: list[dict[str, Any]] = []
    for position in range(max([len(chunks), *map(len, others)])):
        if position < len(chunks):
            out.append(chunks[position])
        for index, parts in enumerate(others, 1):
            if position < len(parts):
                delta = {"content": parts[position]}
                out.append({**envelope, "choices": [{"index": index, "delta": delta}]})
    for index in range(1, len(others) + 1):
        finish = {"index": index, "delta": {}, "finish_reason": "stop"}
        out.append({**envelope, "choices": [finish]})
    return out


def error_event(reply: Reply) -> SseEvent:
    return SseEvent(to_json({"error": reply.error or DEFAULT_STREAM_ERROR}))


def ping() -> SseEvent:
    return SseEvent(None, comment="keep-alive")
