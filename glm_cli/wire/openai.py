"""The OpenAI-compatible protocol: `/v1/chat/completions` (EvoLink, Cloudsway).

Per streamed chunk the work is one `orjson.loads` and a few dict lookups; tool
calls arrive as deltas by `index` (sometimes without an `id`, sometimes in the
same chunk as `finish_reason`) and are assembled until the stream closes.
"""

from __future__ import annotations

from typing import Any

import orjson

from glm_cli.core import jsontext
from glm_cli.core.errors import TransportError, UsageError
from glm_cli.core.messages import (
    ChatRequest,
    Content,
    Done,
    Event,
    Message,
    Reasoning,
    RequestParams,
    ToolCall,
    Usage,
    WebSearch,
)
from glm_cli.wire.common import (
    dict_items,
    done_from_body,
    exact_json,
    first_choice,
    in_stream_error,
    load_json_object,
    malformed_chunk,
    optional_int,
    optional_text,
    required_text,
    truncated_stream,
    unexpected_body,
)
from glm_cli.wire.protocol import Encoded, StreamDecoder, WireProtocol
from glm_cli.wire.sse import SSEvent


def parse_usage(usage: object) -> Usage:
    if not isinstance(usage, dict):
        return Usage()
    prompt_details = usage.get("prompt_tokens_details") or {}
    completion_details = usage.get("completion_tokens_details") or {}
    return Usage(
        prompt_tokens=optional_int(usage.get("prompt_tokens")),
        completion_tokens=optional_int(usage.get("completion_tokens")),
        reasoning_tokens=optional_int(completion_details.get("reasoning_tokens"))
        if isinstance(completion_details, dict)
        else None,
        cached_tokens=optional_int(prompt_details.get("cached_tokens"))
        if isinstance(prompt_details, dict)
        else None,
        total_tokens=optional_int(usage.get("total_tokens")),
    )


def _arguments_text(arguments: object) -> str:
    """Tool arguments as the text the model wrote (some services send an object)."""
    if arguments is None:
        return ""
    if isinstance(arguments, str):
        return arguments
    return jsontext.dumps(arguments)


def _has_object_arguments(calls: list[Any]) -> bool:
    """Whether a call's arguments came as an object (re-encoded, so parsed exactly)."""
    for call in calls:
        if isinstance(call, dict):
            source = call.get("function") or call.get("mcp") or {}
            if isinstance(source, dict) and not isinstance(source.get("arguments"), str | None):
                return True
    return False


def is_mcp_call(call: dict[str, Any]) -> bool:
    return call.get("type") == "mcp" or (
        not call.get("function") and isinstance(call.get("mcp"), dict)
    )


def tool_call_from_object(call: dict[str, Any]) -> ToolCall:
    """A complete tool call from a response: a function call or an MCP call."""
    if is_mcp_call(call):
        mcp = call.get("mcp") or {}
        return ToolCall(
            id=optional_text(mcp.get("id")) or optional_text(call.get("id")),
            name=optional_text(mcp.get("name")),
            arguments=_arguments_text(mcp.get("arguments")),
            kind="mcp",
            detail=mcp,
        )
    function = call.get("function") or {}
    return ToolCall(
        id=optional_text(call.get("id")),
        name=optional_text(function.get("name")),
        arguments=_arguments_text(function.get("arguments")),
    )


class OpenAIProtocol(WireProtocol):
    name = "openai"

    def encode(self, request: ChatRequest) -> Encoded:
        messages: list[Message] = []
        if request.system is not None:
            messages.append({"role": "system", "content": request.system})
        messages.extend(request.messages)
        encoded = self.encode_params(request.params)
        body: dict[str, Any] = {
            "model": request.model,
            "messages": messages,
            "stream": request.stream,
        }
        body.update(encoded.body)
        if request.stream and request.params.stream_usage:
            body["stream_options"] = {"include_usage": True}
        return Encoded(body, encoded.warnings)

    def encode_params(self, params: RequestParams) -> Encoded:
        if params.top_k is not None:
            raise UsageError(
                f"--top-k {params.top_k}: exists only on the anthropic protocol "
                "(use --protocol anthropic or --provider evolink-anthropic)"
            )
        body: dict[str, Any] = {}
        if params.think is not None:
            body["thinking"] = {"type": "enabled" if params.think else "disabled"}
        if params.effort is not None:
            body["reasoning_effort"] = params.effort
        if params.greedy:
            body["do_sample"] = False
        if params.temperature is not None:
            body["temperature"] = params.temperature
        if params.top_p is not None:
            body["top_p"] = params.top_p
        if params.max_tokens is not None:
            body["max_tokens"] = params.max_tokens
        if params.stop:
            body["stop"] = list(params.stop)
        if params.tools:
            body["tools"] = list(params.tools)
        if params.json_mode:
            body["response_format"] = {"type": "json_object"}
        if params.request_id is not None:
            body["request_id"] = params.request_id
        if params.user_id is not None:
            body["user_id"] = params.user_id
        warnings = []
        if len(params.stop) > 1:
            warnings.append(f"{len(params.stop)} stop sequences sent; the service honours only one")
        return Encoded(body, warnings)

    def set_system(self, body: dict[str, Any], system: str) -> None:
        messages = body.get("messages")
        if not isinstance(messages, list):
            messages = body["messages"] = []
        if messages and isinstance(messages[0], dict) and messages[0].get("role") == "system":
            messages[0] = {"role": "system", "content": system}
        else:
            messages.insert(0, {"role": "system", "content": system})

    def add_user_message(self, body: dict[str, Any], message: Message) -> None:
        messages = body.get("messages")
        if not isinstance(messages, list):
            messages = body["messages"] = []
        messages.append(message)

    def decode(self, body: bytes) -> list[Event]:
        data = load_json_object(body, "the response body")
        try:
            return self._decode(data, body)
        except (
            AttributeError,
            TypeError,
            KeyError,
            IndexError,
            ValueError,
            RecursionError,
        ) as error:
            raise unexpected_body(body) from error

    def _decode(self, data: dict[str, Any], body: bytes) -> list[Event]:
        if "error" in data and "choices" not in data:
            raise in_stream_error(data["error"], optional_text(data.get("request_id")))
        choices = data.get("choices")
        if not isinstance(choices, list):
            raise TransportError("the response body has no choices")
        choice = first_choice(choices)
        if choice is None:
            raise TransportError(
                "the response body has " + ("no choice 0" if choices else "no choices")
            )
        message = choice.get("message") or {}
        calls = message.get("tool_calls") or []
        if _has_object_arguments(calls):
            exact = exact_json(body)["choices"][choices.index(choice)]
            calls = exact["message"]["tool_calls"]
        events: list[Event] = []
        results = dict_items(data.get("web_search"))
        if results:
            events.append(WebSearch(results))
        reasoning = message.get("reasoning_content")
        if isinstance(reasoning, str) and reasoning:
            events.append(Reasoning(reasoning))
        content = message.get("content")
        if isinstance(content, str) and content:
            events.append(Content(content))
        for call in calls:
            if isinstance(call, dict):
                events.append(tool_call_from_object(call))
        refusal = optional_text(message.get("refusal"))
        events.append(
            done_from_body(
                data,
                finish_reason="refusal" if refusal else optional_text(choice.get("finish_reason")),
                refusal=refusal or None,
                usage=parse_usage(data.get("usage")),
                content_filter=_filters(data.get("content_filter")),
            )
        )
        return events

    def stream_decoder(self) -> OpenAIStreamDecoder:
        return OpenAIStreamDecoder()


def _filters(value: object) -> list[dict[str, Any]] | None:
    """Content filters, or None when the service gave none."""
    return dict_items(value) if isinstance(value, list) else None


_OCCASIONAL_KEYS = frozenset({"error", "request_id", "web_search", "usage", "content_filter"})


class _ToolCallParts:
    __slots__ = ("arguments", "detail", "id", "kind", "name")

    def __init__(self) -> None:
        self.id: str | None = None
        self.name: str | None = None
        self.kind = "function"
        self.arguments: list[str] = []
        self.detail: dict[str, Any] | None = None


class OpenAIStreamDecoder(StreamDecoder):
    def __init__(self) -> None:
        self.finished = False
        self.done = False
        self._first = True
        self._finish_reason: str | None = None
        self._usage = Usage()
        self._id: str | None = None
        self._model: str | None = None
        self._request_id: str | None = None
        self._filters: list[dict[str, Any]] | None = None
        self._tools: dict[int, _ToolCallParts] = {}
        self._refusal: list[str] = []

    def feed(self, event: SSEvent) -> list[Event]:
        """One chunk. The common case (a delta holding only text) takes the fewest steps:
        this runs once per streamed token. Only what glm may write out again (tool
        calls, web search, filters) is checked for nesting too deep to write."""
        data = event.data
        try:
            chunk = orjson.loads(data)
        except orjson.JSONDecodeError as error:
            if data == b"[DONE]":
                self.done = True
                return []
            raise malformed_chunk(data) from error
        if type(chunk) is not dict:
            raise malformed_chunk(data)
        events: list[Event] = []
        if self._first:
            self._first = False
            self._id = optional_text(chunk.get("id"))
            self._model = optional_text(chunk.get("model"))
        # A chunk of the wrong shape (a list where an object belongs, a number where
        # text belongs) surfaces as one of these lookup errors: a malformed chunk.
        try:
            if not _OCCASIONAL_KEYS.isdisjoint(chunk):
                jsontext.check_nesting(data, chunk)
                self._occasional_fields(chunk, events)
            choices = chunk.get("choices")
            if choices:
                choice = choices[0]
                if len(choices) > 1 or choice.get("index"):
                    choice = first_choice(choices)  # only choice 0 is read
                    if choice is None:
                        return events
                delta = choice.get("delta")
                if delta:
                    text = delta.get("content")
                    # text alone, or beside the role that many services repeat each chunk
                    if (
                        text
                        and type(text) is str
                        and (len(delta) == 1 or (len(delta) == 2 and "role" in delta))
                    ):
                        events.append(Content(text))
                    else:
                        jsontext.check_nesting(data, chunk)
                        self._delta(delta, text, events)
                reason = choice.get("finish_reason")
                if reason:
                    self._finish_reason = required_text(reason)
                    self.finished = True
        except (AttributeError, TypeError, KeyError, IndexError, ValueError) as error:
            raise malformed_chunk(data) from error  # ValueError: nested too deeply
        return events

    def _delta(self, delta: dict[str, Any], content: object, events: list[Event]) -> None:
        text = delta.get("reasoning_content")
        if text:
            events.append(Reasoning(required_text(text)))
        if content:
            events.append(Content(required_text(content)))
        refusal = delta.get("refusal")
        if refusal:
            self._refusal.append(required_text(refusal))
        calls = delta.get("tool_calls")
        if calls:
            self._add_tool_deltas(calls)

    def _occasional_fields(self, chunk: dict[str, Any], events: list[Event]) -> None:
        """Fields most chunks lack: an error, ids, web search, usage, content filter."""
        if "error" in chunk:
            raise in_stream_error(chunk["error"], self._request_id)
        if self._request_id is None and "request_id" in chunk:
            self._request_id = optional_text(chunk["request_id"])
        results = dict_items(chunk.get("web_search"))
        if results:
            events.append(WebSearch(results))
        usage = chunk.get("usage")
        if usage:
            self._usage = parse_usage(usage)
        filters = chunk.get("content_filter")
        if filters:
            self._filters = _filters(filters)

    def _add_tool_deltas(self, calls: list[dict[str, Any]]) -> None:
        for position, call in enumerate(calls):
            index = call.get("index")
            if not isinstance(index, int):
                index = position
            parts = self._tools.get(index)
            if parts is None:
                parts = self._tools[index] = _ToolCallParts()
            if call.get("id"):
                parts.id = required_text(call["id"])
            if is_mcp_call(call):
                complete = tool_call_from_object(call)
                parts.kind, parts.detail = "mcp", complete.detail
                parts.name = complete.name or parts.name
                parts.id = parts.id or complete.id
                if complete.arguments:
                    parts.arguments.append(complete.arguments)
                continue
            function = call.get("function") or {}
            if function.get("name"):
                parts.name = required_text(function["name"])
            fragment = function.get("arguments")
            if isinstance(fragment, str):
                parts.arguments.append(fragment)

    def close(self) -> list[Event]:
        if not self.finished:
            raise truncated_stream()
        events: list[Event] = [
            ToolCall(p.id, p.name, "".join(p.arguments), p.kind, p.detail)
            for _, p in sorted(self._tools.items())
        ]
        refusal = "".join(self._refusal)
        events.append(
            Done(
                finish_reason="refusal" if refusal else self._finish_reason,
                refusal=refusal or None,
                usage=self._usage,
                id=self._id,
                model=self._model,
                request_id=self._request_id,
                content_filter=self._filters,
            )
        )
        return events
