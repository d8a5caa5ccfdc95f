"""The Anthropic-compatible protocol: EvoLink's `/v1/messages` (SPEC §2.1).

Differences from the OpenAI protocol that show in the encoder: `system` is top
level, `max_tokens` is required (8192 unless set), `--stop` becomes
`stop_sequences`, effort levels other than none/minimal and `--greedy` and
`--request-id` have no field (a warning, nothing sent). In the decoders: content
blocks (thinking, text, tool_use), and GLM's quirk that a hit stop sequence
comes back as `end_turn` with no `stop_sequence` — both are finish reason `stop`.
"""

from __future__ import annotations

from typing import Any

import orjson

from glm_cli.core import jsontext
from glm_cli.core.efforts import NO_THINKING_EFFORTS
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
)
from glm_cli.wire.common import (
    done_from_body,
    exact_json,
    in_stream_error,
    load_json_object,
    malformed_chunk,
    optional_int,
    optional_text,
    refusal_details,
    required_text,
    truncated_stream,
    unexpected_body,
)
from glm_cli.wire.protocol import Encoded, StreamDecoder, WireProtocol
from glm_cli.wire.sse import SSEvent

DEFAULT_MAX_TOKENS = 8192
JSON_INSTRUCTION = "Reply with a single valid JSON value only: no prose, no code fence."
STOP_REASONS = {
    "end_turn": "stop",
    "stop_sequence": "stop",
    "max_tokens": "length",
    "tool_use": "tool_calls",
}


def parse_usage(usage: object, into: Usage | None = None) -> Usage:
    result = into or Usage()
    if not isinstance(usage, dict):
        return result
    for field, key in (("prompt_tokens", "input_tokens"), ("completion_tokens", "output_tokens")):
        value = optional_int(usage.get(key))
        if value is not None:
            setattr(result, field, value)
    cached = optional_int(usage.get("cache_read_input_tokens"))
    if cached is not None:
        result.cached_tokens = cached
    if result.prompt_tokens is not None and result.completion_tokens is not None:
        result.total_tokens = result.prompt_tokens + result.completion_tokens
    return result


def _blocks(content: object) -> list[dict[str, Any]]:
    if isinstance(content, list):
        return list(content)
    return [{"type": "text", "text": content if isinstance(content, str) else ""}]


def to_anthropic_messages(messages: list[Message]) -> list[dict[str, Any]]:
    """OpenAI-style history as alternating user/assistant messages with content blocks."""
    converted: list[dict[str, Any]] = []
    for message in messages:
        role = message.get("role")
        content: Any
        if role == "system":
            continue
        if role == "tool":
            role, content = (
                "user",
                [
                    {
                        "type": "tool_result",
                        "tool_use_id": message.get("tool_call_id"),
                        "content": message.get("content") or "",
                    }
                ],
            )
        elif role == "assistant" and message.get("tool_calls"):
            content = _blocks(message.get("content")) if message.get("content") else []
            if message.get("reasoning_content"):  # kept within a tool-calling exchange
                content.insert(
                    0,
                    {
                        "type": "thinking",
                        "thinking": message["reasoning_content"],
                        "signature": "",
                    },
                )
            for call in message["tool_calls"]:
                function = call.get("function")
                function = function if isinstance(function, dict) else {}
                try:
                    arguments = jsontext.loads(function.get("arguments") or "{}")
                except ValueError:  # not JSON text, or nested too deeply
                    arguments = {}
                content.append(
                    {
                        "type": "tool_use",
                        "id": call.get("id"),
                        "name": function.get("name"),
                        "input": arguments if isinstance(arguments, dict) else {},
                    }
                )
        else:
            content = message.get("content") or ""
        if converted and converted[-1]["role"] == role:
            previous = converted[-1]
            previous["content"] = _blocks(previous["content"]) + _blocks(content)
        else:
            converted.append({"role": role, "content": content})
    return converted


class AnthropicProtocol(WireProtocol):
    name = "anthropic"

    def encode(self, request: ChatRequest) -> Encoded:
        encoded = self.encode_params(request.params)
        body: dict[str, Any] = {
            "model": request.model,
            "messages": to_anthropic_messages(request.messages),
            "max_tokens": request.params.max_tokens or DEFAULT_MAX_TOKENS,
            "stream": request.stream,
        }
        system = request.system
        if request.params.json_mode:
            system = f"{system}\n\n{JSON_INSTRUCTION}" if system else JSON_INSTRUCTION
        if system is not None:
            body["system"] = system
        body.update(encoded.body)
        return Encoded(body, encoded.warnings)

    def encode_params(self, params: RequestParams) -> Encoded:
        body: dict[str, Any] = {}
        warnings: list[str] = []
        if params.max_tokens is not None:
            body["max_tokens"] = params.max_tokens
        if params.temperature is not None:
            body["temperature"] = params.temperature
        if params.top_p is not None:
            body["top_p"] = params.top_p
        if params.top_k is not None:
            body["top_k"] = params.top_k
        if params.stop:
            body["stop_sequences"] = list(params.stop)
        if params.think is not None:
            body["thinking"] = {"type": "enabled" if params.think else "disabled"}
        if params.effort is not None:
            if params.effort in NO_THINKING_EFFORTS:
                body["thinking"] = {"type": "disabled"}
            else:
                warnings.append(
                    f"--effort {params.effort} is ignored on the anthropic protocol "
                    "(the service has no effort levels; thinking stays on)"
                )
        if params.greedy:
            warnings.append("--greedy has no field on the anthropic protocol; not sent")
        if params.request_id is not None:
            warnings.append("--request-id has no field on the anthropic protocol; not sent")
        if params.user_id is not None:
            body["metadata"] = {"user_id": params.user_id}
        if params.tools:
            body["tools"] = [self._tool(tool) for tool in params.tools]
        return Encoded(body, warnings)

    @staticmethod
    def _tool(tool: dict[str, Any]) -> dict[str, Any]:
        if tool.get("type") != "function":
            raise UsageError(
                f"{tool.get('type')} tools are an openai-protocol feature of the service; "
                "use --protocol openai"
            )
        function = tool.get("function") or {}
        converted = {
            "name": function.get("name"),
            "input_schema": function.get("parameters") or {"type": "object", "properties": {}},
        }
        if function.get("description"):
            converted["description"] = function["description"]
        return converted

    def set_system(self, body: dict[str, Any], system: str) -> None:
        body["system"] = system

    def add_user_message(self, body: dict[str, Any], message: Message) -> None:
        messages = body.get("messages")
        if not isinstance(messages, list):
            messages = body["messages"] = []
        if messages and isinstance(messages[-1], dict) and messages[-1].get("role") == "user":
            last = messages[-1]
            last["content"] = _blocks(last.get("content")) + _blocks(message["content"])
        else:
            messages.append({"role": "user", "content": message["content"]})

    def decode(self, body: bytes) -> list[Event]:
        data = load_json_object(body, "the response body")
        if data.get("type") == "error" or ("error" in data and "content" not in data):
            raise in_stream_error(data.get("error"), optional_text(data.get("request_id")))
        content = data.get("content")
        if not isinstance(content, list):
            raise TransportError("the response body has no content blocks")
        events: list[Event] = []
        exact: list[Any] | None = None
        for position, block in enumerate(content):
            if not isinstance(block, dict):
                continue
            kind = block.get("type")
            if kind == "thinking" and isinstance(block.get("thinking"), str) and block["thinking"]:
                events.append(Reasoning(block["thinking"]))
            elif kind == "text" and isinstance(block.get("text"), str) and block["text"]:
                events.append(Content(block["text"]))
            elif kind == "tool_use":
                if exact is None:  # the input is re-encoded: read its numbers exactly
                    exact = _exact_content(body)
                events.append(
                    ToolCall(
                        optional_text(block.get("id")),
                        optional_text(block.get("name")),
                        jsontext.dumps(exact[position].get("input", {})),
                    )
                )
        reason = optional_text(data.get("stop_reason"))
        events.append(
            done_from_body(
                data,
                finish_reason=STOP_REASONS.get(reason, reason) if reason else None,
                refusal=refusal_details(data.get("stop_details")) if reason == "refusal" else None,
                stop_sequence=optional_text(data.get("stop_sequence")),
                usage=parse_usage(data.get("usage")),
            )
        )
        return events

    def stream_decoder(self) -> AnthropicStreamDecoder:
        return AnthropicStreamDecoder()


def _exact_content(body: bytes) -> list[Any]:
    try:
        content = exact_json(body)["content"]
    except (ValueError, RecursionError, KeyError, TypeError) as error:
        raise unexpected_body(body) from error
    return content if isinstance(content, list) else []


class _ToolUse:
    __slots__ = ("fragments", "id", "initial", "name")

    def __init__(self, block: dict[str, Any], raw: bytes) -> None:
        self.id = optional_text(block.get("id"))
        self.name = optional_text(block.get("name"))
        self.initial = block.get("input")
        if self.initial:  # re-encoded at the end: read its numbers exactly
            try:
                self.initial = exact_json(raw)["content_block"]["input"]
            except (ValueError, RecursionError, KeyError, TypeError) as error:
                raise malformed_chunk(raw) from error
        self.fragments: list[str] = []

    def call(self) -> ToolCall:
        if self.fragments:
            arguments = "".join(self.fragments)
        else:
            arguments = jsontext.dumps(self.initial if self.initial is not None else {})
        return ToolCall(self.id, self.name, arguments)


class AnthropicStreamDecoder(StreamDecoder):
    def __init__(self) -> None:
        self.finished = False
        self.done = False
        self._stop_reason: str | None = None
        self._stop_sequence: str | None = None
        self._usage = Usage()
        self._id: str | None = None
        self._model: str | None = None
        self._request_id: str | None = None
        self._tools: dict[int, _ToolUse] = {}
        self._refusal: str | None = None

    def feed(self, event: SSEvent) -> list[Event]:
        try:
            data = orjson.loads(event.data)
            if type(data) is dict and data.get("type") != "content_block_delta":
                jsontext.check_nesting(event.data, data)  # a delta carries only text
        except ValueError as error:  # not JSON, or nested too deeply to write out again
            raise malformed_chunk(event.data) from error
        if not isinstance(data, dict):
            raise malformed_chunk(event.data)
        # An event of the wrong shape (a list where an object belongs, a number where
        # text belongs) surfaces as one of these lookup errors: a malformed chunk.
        try:
            return self._event(data, event.event, event.data)
        except (AttributeError, TypeError, KeyError, IndexError) as error:
            raise malformed_chunk(event.data) from error

    def _event(self, data: dict[str, Any], name: str, raw: bytes) -> list[Event]:
        kind = data.get("type") or name
        if kind == "content_block_delta":
            delta = data.get("delta") or {}
            delta_kind = delta.get("type")
            if delta_kind == "text_delta":
                return [Content(required_text(delta["text"]))] if delta.get("text") else []
            if delta_kind == "thinking_delta":
                thinking = delta.get("thinking")
                return [Reasoning(required_text(thinking))] if thinking else []
            if delta_kind == "input_json_delta":
                tool = self._tools.get(data.get("index", -1))
                if tool is not None and isinstance(delta.get("partial_json"), str):
                    tool.fragments.append(delta["partial_json"])
            return []
        if kind == "content_block_start":
            return self._block_start(data, raw)
        if kind == "content_block_stop":
            tool = self._tools.pop(data.get("index", -1), None)
            return [tool.call()] if tool is not None else []
        if kind == "message_start":
            message = data.get("message") or {}
            self._id = optional_text(message.get("id"))
            self._model = optional_text(message.get("model"))
            self._request_id = optional_text(data.get("request_id")) or optional_text(
                message.get("request_id")
            )
            parse_usage(message.get("usage"), self._usage)
        elif kind == "message_delta":
            delta = data.get("delta") or {}
            reason = optional_text(delta.get("stop_reason"))
            if reason:
                self._stop_reason = reason
                self.finished = True
                if reason == "refusal":
                    details = delta.get("stop_details") or data.get("stop_details")
                    self._refusal = refusal_details(details)
            self._stop_sequence = optional_text(delta.get("stop_sequence")) or self._stop_sequence
            parse_usage(data.get("usage"), self._usage)
        elif kind == "message_stop":
            self.done = True
        elif kind == "error" or ("error" in data and data.get("type") is None):
            # an `error` event, or a bare `data: {"error": ...}` (SPEC §3)
            raise in_stream_error(data.get("error"), self._request_id)
        return []

    def _block_start(self, data: dict[str, Any], raw: bytes) -> list[Event]:
        block = data.get("content_block") or {}
        kind = block.get("type")
        if kind == "tool_use":
            index = data.get("index", -1)
            if type(index) is not int:  # the key the deltas and the end sort by
                raise TypeError(f"content block index {index!r}")
            self._tools[index] = _ToolUse(block, raw)
        elif kind == "text" and block.get("text"):
            return [Content(required_text(block["text"]))]
        elif kind == "thinking" and block.get("thinking"):
            return [Reasoning(required_text(block["thinking"]))]
        return []

    def close(self) -> list[Event]:
        if not self.finished:
            raise truncated_stream()
        events: list[Event] = [tool.call() for _, tool in sorted(self._tools.items())]
        reason = self._stop_reason
        events.append(
            Done(
                finish_reason=STOP_REASONS.get(reason, reason) if reason else None,
                refusal=self._refusal,
                stop_sequence=self._stop_sequence,
                usage=self._usage,
                id=self._id,
                model=self._model,
                request_id=self._request_id,
            )
        )
        return events
