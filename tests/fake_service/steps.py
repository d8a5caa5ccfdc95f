"""What the fake service does with a request: the scripted steps, and the error bodies.

A step is one of ``Reply`` (an answer, rendered for the request's protocol and ``stream``
flag, with optional stream faults), ``Status`` (an HTTP error), ``RawResponse`` (exact
bytes), ``Drop`` (close the connection without a response) and ``Stall`` (wait, then
answer). The error bodies follow SPEC §5. The small rendering helpers at the end are
shared by ``openai_wire`` and ``anthropic_wire``.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import Any

DEFAULT_CONTENT = "Hello from the fake service."
DEFAULT_REASONING = "Let me think."
DEFAULT_MODEL = "glm-5.2"
KEY = "@@KEY@@"
"""Anywhere in a response (body, stream, header values) the server puts the request's
Bearer key here: a hostile server that echoes the key."""
NEWLINES = ("\n", "\r\n", "\r")


def default_usage() -> dict[str, int]:
    """The usage every ``Reply`` reports unless told otherwise (neutral key names)."""
    return {
        "prompt_tokens": 12,
        "completion_tokens": 34,
        "reasoning_tokens": 5,
        "cached_tokens": 2,
        "total_tokens": 46,
    }


@dataclass
class Reply:
    """An answer, rendered for the path's protocol and the request's ``stream`` flag.

    ``content``/``reasoning``: a list is the exact stream deltas; a string is split into
    ``chunk_size`` characters (0: words, keeping their spaces). ``reasoning=None`` sends
    none. ``tool_calls``: ``{"id", "name", "arguments": str}`` (or, OpenAI only,
    ``{"type": "mcp", "mcp": {...}}``). ``usage``: neutral names (``prompt_tokens``,
    ``completion_tokens``, ``reasoning_tokens``, ``cached_tokens``, ``total_tokens``);
    a name left out is not sent, ``None`` sends no usage. ``finish_reason`` is OpenAI's;
    Anthropic's stop_reason is mapped from it unless ``anthropic_stop_reason`` is given.
    ``request_id`` (OpenAI only) defaults to the request's own; ``web_search`` and
    ``content_filter`` are OpenAI only.

    Stream faults count SSE events written, from 0 (pings not counted): ``drop_after``
    closes the socket mid-body (with an RST instead of a FIN when ``drop_with_reset``),
    ``stall_after`` pauses ``stall_seconds`` (until ``reset()``/``stop()``),
    ``malformed_at`` replaces an event with ``{not json``,
    ``error_after`` sends an in-stream error (``error`` or a default) and ends. On a
    non-streaming answer ``drop_after``/``stall_after`` count body bytes instead.

    Hostile servers: ``bom`` starts the stream with a UTF-8 BOM; ``multiline_data``
    spreads each JSON payload over several ``data:`` lines; ``extra_choices`` (OpenAI)
    are the texts of choices 1, 2..., interleaved with choice 0 in a stream;
    ``refusal`` (OpenAI) is the message's ``refusal`` (a list: the stream's
    ``delta.refusal`` pieces); ``stop_details`` (Anthropic) goes beside the stop reason.
    ``KEY`` anywhere in the reply is replaced by the request's key.
    """

    content: str | list[str] = DEFAULT_CONTENT
    reasoning: str | list[str] | None = DEFAULT_REASONING
    tool_calls: list[dict[str, Any]] | None = None
    web_search: list[dict[str, Any]] | None = None
    content_filter: list[dict[str, Any]] | None = None
    finish_reason: str = "stop"
    usage: dict[str, int] | None = field(default_factory=default_usage)
    id: str | None = None
    model: str | None = None
    request_id: str | None = None
    stop_sequence: str | None = None
    headers: dict[str, str] = field(default_factory=dict)
    chunk_size: int = 0
    newline: str = "\n"
    chunk_delay: float = 0.0
    omit_done: bool = False
    truncate_before_finish: bool = False
    drop_after: int | None = None
    drop_with_reset: bool = False
    stall_after: int | None = None
    stall_seconds: float = 5.0
    malformed_at: int | None = None
    error_after: int | None = None
    error: dict[str, Any] | None = None
    ping: bool = False
    tool_call_without_id: bool = False
    finish_in_last_tool_chunk: bool = True
    anthropic_stop_reason: str | None = None
    status: int = 200
    bom: bool = False
    multiline_data: bool = False
    extra_choices: list[str] | None = None
    refusal: str | list[str] | None = None
    stop_details: dict[str, Any] | None = None
    delay: float = 0.0
    """Seconds the service takes before it answers (latency; cut short by ``reset()``)."""

    def __post_init__(self) -> None:
        if self.newline not in NEWLINES:
            raise ValueError(f"Reply.newline must be one of {NEWLINES!r}")
        if self.chunk_size < 0:
            raise ValueError("Reply.chunk_size must be >= 0")


@dataclass
class Status:
    """An HTTP error response; ``body=None`` is the protocol's default error body."""

    status: int
    body: bytes | dict[str, Any] | None = None
    headers: dict[str, str] = field(default_factory=dict)
    content_type: str = "application/json"
    delay: float = 0.0
    """Seconds before the error is sent."""


@dataclass
class RawResponse:
    """Exactly these bytes as the body, unvalidated. With ``body_size`` the body is
    ``body``, then ``fill`` repeated, then ``tail``, ``body_size`` bytes in all,
    generated as it is sent. An empty ``content_type`` sends no Content-Type header."""

    status: int = 200
    body: bytes = b""
    content_type: str = "application/json"
    headers: dict[str, str] = field(default_factory=dict)
    body_size: int | None = None
    fill: bytes = b"x"
    tail: bytes = b""

    def __post_init__(self) -> None:
        if self.body_size is not None and not self.fill:
            raise ValueError("RawResponse.fill must not be empty when body_size is given")
        if self.tail and (self.body_size or 0) < len(self.body) + len(self.tail):
            raise ValueError("RawResponse.tail needs a body_size that holds body and tail")


@dataclass
class Drop:
    """Read the request, then reset the connection without sending anything."""


@dataclass
class Stall:
    """Read the request, wait ``seconds`` (cut short by ``stop()``/``reset()``), then
    answer with the default ``Reply``."""

    seconds: float = 5.0


Step = Reply | Status | RawResponse | Drop | Stall

# status -> (business code, Anthropic error type, message) for default error bodies
_STATUS_ERRORS: dict[int, tuple[str, str, str]] = {
    400: ("1214", "invalid_request_error", "Invalid request parameters"),
    401: ("1001", "authentication_error", "Authentication failed: invalid API key"),
    403: ("1004", "permission_error", "Permission denied"),
    404: ("1211", "not_found_error", "Model not found"),
    413: ("1261", "request_too_large", "Prompt too long"),
    429: ("1302", "rate_limit_error", "Too many concurrent requests"),
    500: ("500", "api_error", "Internal server error"),
    503: ("1312", "overloaded_error", "Model overloaded, please try again later"),
    529: ("1312", "overloaded_error", "Model overloaded, please try again later"),
}


def reason_phrase(status: int) -> str:
    """The reason phrase for a status line (529 included)."""
    if status == 529:
        return "Overloaded"
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Unknown"


def openai_error(code: str, message: str, type: str | None = None) -> dict[str, Any]:
    """An OpenAI-protocol error body: ``{"error": {"code", "message"[, "type"]}}``."""
    error: dict[str, Any] = {"code": code, "message": message}
    if type is not None:
        error["type"] = type
    return {"error": error}


def anthropic_error(
    type: str, message: str, code: str | None = None, request_id: str | None = None
) -> dict[str, Any]:
    """An Anthropic-protocol error body: ``{"type": "error", "error": {...}, "request_id"}``."""
    error: dict[str, Any] = {"type": type, "message": message}
    if code is not None:
        error["code"] = code
    body: dict[str, Any] = {"type": "error", "error": error}
    if request_id is not None:
        body["request_id"] = request_id
    return body


def error_body(
    protocol: str,
    status: int,
    message: str | None = None,
    code: str | None = None,
    request_id: str | None = None,
) -> dict[str, Any]:
    """The protocol's error body for ``status``, with the usual code and message."""
    default = _STATUS_ERRORS.get(status, (str(status), "api_error", reason_phrase(status)))
    code = code or default[0]
    message = message or default[2]
    if protocol == "anthropic":
        return anthropic_error(default[1], message, code, request_id)
    return openai_error(code, message)


@dataclass(frozen=True)
class Incoming:
    """What the renderers need from a request: its JSON body (``{}`` if none) and its
    sequence number on the service."""

    body: dict[str, Any]
    seq: int

    @property
    def stream(self) -> bool:
        return self.body.get("stream") is True


@dataclass(frozen=True)
class SseEvent:
    """One server-sent event. ``finish`` marks the event carrying the finish/stop
    reason, ``terminal`` the ``[DONE]``/``message_stop`` that follows it."""

    data: str | None
    event: str | None = None
    comment: str | None = None
    finish: bool = False
    terminal: bool = False

    def encode(self, newline: str) -> bytes:
        lines = []
        if self.comment is not None:
            lines.append(f": {self.comment}")
        if self.event is not None:
            lines.append(f"event: {self.event}")
        if self.data is not None:
            lines.extend(f"data: {line}" for line in self.data.split("\n"))
        return (newline.join(lines) + newline * 2).encode()


_WORDS = re.compile(r"\s*\S+\s*|\s+")


def pieces(text: str | list[str], chunk_size: int) -> list[str]:
    """Stream deltas: a list as given; a string in ``chunk_size``-character pieces, or
    (0) in words that keep their spaces. Joining the pieces gives the text back."""
    if isinstance(text, list):
        return list(text)
    if chunk_size > 0:
        return [text[i : i + chunk_size] for i in range(0, len(text), chunk_size)]
    return _WORDS.findall(text)


def whole(text: str | list[str]) -> str:
    return text if isinstance(text, str) else "".join(text)


def response_model(reply: Reply, incoming: Incoming) -> str:
    model = incoming.body.get("model")
    return reply.model or (model if isinstance(model, str) and model else DEFAULT_MODEL)


def to_json(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))
