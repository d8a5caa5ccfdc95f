"""Helpers both protocols share: JSON bodies, error objects, tool-call arguments."""

from __future__ import annotations

from typing import Any

import orjson

from glm_cli.core import jsontext
from glm_cli.core.errors import ServiceError, TransportError
from glm_cli.core.messages import Done

_REASONS = {
    400: "Bad Request",
    401: "Unauthorized",
    402: "Payment Required",
    403: "Forbidden",
    404: "Not Found",
    405: "Method Not Allowed",
    408: "Request Timeout",
    409: "Conflict",
    413: "Payload Too Large",
    422: "Unprocessable Entity",
    429: "Too Many Requests",
    500: "Internal Server Error",
    502: "Bad Gateway",
    503: "Service Unavailable",
    504: "Gateway Timeout",
    529: "Overloaded",
}


def optional_int(value: object) -> int | None:
    """A count the service may leave out: an integer (not a bool), else None."""
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def optional_text(value: object) -> str | None:
    return value if isinstance(value, str) else None


def required_text(value: object) -> str:
    """A field that must be text when present; anything else is a malformed answer
    (the decoders turn the TypeError into their protocol error)."""
    if not isinstance(value, str):
        raise TypeError(f"expected text, got {type(value).__name__}")
    return value


def dict_items(value: object) -> list[dict[str, Any]]:
    """The objects of a list (web-search results, content filters); others left out."""
    if isinstance(value, list):
        return [item for item in value if isinstance(item, dict)]
    return []


def load_json_object(body: bytes, what: str) -> dict[str, Any]:
    """A 2xx body that must be a JSON object; anything else is a service failure (exit 5)."""
    try:
        data = jsontext.loads(body)
    except ValueError as error:  # not JSON, or nested too deeply to write out again
        raise TransportError(f"{what} is not valid JSON ({_excerpt(body)})") from error
    if not isinstance(data, dict):
        raise TransportError(f"{what} is not a JSON object ({_excerpt(body)})")
    return data


def _excerpt(body: bytes) -> str:
    if not body.strip():
        return "empty body"
    text = body[:60].decode("utf-8", "replace")
    text = " ".join(text.split())
    return f"starts with {text!r}" if len(body) > 60 else repr(text)


def _as_code(value: object) -> str | None:
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, int | str):
        return str(value)
    return None


def first_choice(choices: list[Any]) -> dict[str, Any] | None:
    """Choice 0 (glm never asks for `n`): the one whose `index` is 0 or missing."""
    for choice in choices:
        if isinstance(choice, dict) and not choice.get("index"):
            return choice
    return None


def refusal_details(details: object) -> str | None:
    """Anthropic's `stop_details` of a refusal as one text: explanation and category."""
    if not isinstance(details, dict):
        return None
    explanation = optional_text(details.get("explanation"))
    category = optional_text(details.get("category"))
    if category:
        return f"{explanation} (category: {category})" if explanation else f"category: {category}"
    return explanation or None


def exact_json(body: bytes) -> Any:
    """A body parsed again with numbers kept exact (only for values glm re-encodes)."""
    from glm_cli.core import jsontext

    return jsontext.parse(body.decode("utf-8", "replace"))


def error_from_object(error: object, status: int | None, request_id: str | None) -> ServiceError:
    """An error object (`{"code", "message", "type"}` or a bare string) as a ServiceError."""
    if isinstance(error, dict):
        message = error.get("message")
        code = _as_code(error.get("code"))
        kind = error.get("type")
        text = message if isinstance(message, str) and message else "unknown error"
        return ServiceError(
            text.strip(),
            status=status,
            code=code,
            kind=kind if isinstance(kind, str) else None,
            request_id=request_id,
        )
    text = error if isinstance(error, str) and error else "unknown error"
    return ServiceError(text, status=status, request_id=request_id)


def error_from_http_body(status: int, body: bytes) -> ServiceError:
    """Parse `{"error": {...}, "request_id"}` (both protocols); fall back to the status."""
    try:
        data = orjson.loads(body) if body.strip() else None
    except orjson.JSONDecodeError:
        data = None
    if isinstance(data, dict) and "error" in data:
        request_id = data.get("request_id")
        return error_from_object(
            data["error"], status, request_id if isinstance(request_id, str) else None
        )
    if isinstance(data, dict) and isinstance(data.get("message"), str):
        return ServiceError(data["message"], status=status, code=_as_code(data.get("code")))
    reason = _REASONS.get(status, "error")
    detail = "" if not body.strip() else f" (the body is not a JSON error: {_excerpt(body)})"
    return ServiceError(f"{reason}{detail}", status=status)


def in_stream_error(error: object, request_id: str | None) -> ServiceError:
    """An error sent inside a stream, classified like an HTTP error of its kind."""
    return error_from_object(error, None, request_id)


def malformed_chunk(data: bytes) -> TransportError:
    return TransportError(f"malformed chunk in the stream ({_excerpt(data)})")


def unexpected_body(body: bytes) -> TransportError:
    """A 2xx body that is JSON but not of the response's shape (exit 5)."""
    return TransportError(f"the response body is not the expected answer ({_excerpt(body)})")


def truncated_stream() -> TransportError:
    return TransportError(
        "the stream ended before the answer was complete (no finish reason)", retryable=True
    )


def done_from_body(data: dict[str, Any], **fields: Any) -> Done:
    """The `Done` of a whole response body: `fields` (finish reason, usage...) and the
    ids every body carries at its top level."""
    return Done(
        id=optional_text(data.get("id")),
        model=optional_text(data.get("model")),
        request_id=optional_text(data.get("request_id")),
        **fields,
    )
