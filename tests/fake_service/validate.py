"""Strict request validation for both protocols, as the service documents state.

``check_request`` decides whether the service answers at all: method, path, key,
Content-Type, a JSON body, then the protocol's fields. ``validate_openai`` follows
api/000, api/001 and api/003 with SPEC §5's tool objects; ``validate_anthropic`` follows
api/002. An unknown field, at the top level or inside a message or tool, is refused, so
a request the real service might silently misread fails the test that sent it. Each
``ValidationError`` message starts with the path of the offending field
(``messages[1].role: ...``).

Most objects are checked by ``_spec``: a table from each allowed field to its check.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable, Collection, Iterable, Mapping
from typing import Any, NamedTuple
from urllib.parse import urlsplit

from .steps import error_body, openai_error

_NAME = re.compile(r"[A-Za-z0-9_-]{1,64}")
_CLOUDSWAY = re.compile(r"/v1/ai/[^/]+/chat/completions")
_EFFORTS = ("max", "xhigh", "high", "medium", "low", "minimal", "none")
_WEB_SEARCH_OPTIONS = (  # SPEC §5, beside enable and search_result
    "search_engine count search_query search_prompt search_intent require_search"
    " search_domain_filter search_recency_filter content_size result_sequence"
)


class ValidationError(ValueError):
    """A request the real service would refuse; the message names the field."""


Check = Callable[[Any, str], object]


def _at(where: str, key: str | int) -> str:
    if isinstance(key, int):
        return f"{where}[{key}]"
    return f"{where}.{key}" if where else key


def _bounds(size: int, low: int, high: int | None) -> str | None:
    """What the bounds are, when ``size`` breaks them."""
    if size < low or (high is not None and size > high):
        return f"{low}-{high}" if high is not None else f"at least {low}"
    return None


def _object(value: Any, where: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise ValidationError(f"{where or 'request body'}: must be a JSON object")
    return value


def _spec(
    value: Any, where: str, checks: Mapping[str, Check], required: Iterable[str] = ()
) -> dict[str, Any]:
    """An object whose fields are all in ``checks``, each passing its check."""
    obj = _object(value, where)
    for key in required:
        if key not in obj:
            raise ValidationError(f"{_at(where, key)}: is required")
    for key, item in obj.items():
        if key not in checks:
            raise ValidationError(f"{_at(where, key)}: unknown field")
        checks[key](item, _at(where, key))
    return obj


def _anything(value: Any, where: str) -> None:
    """Any value: for fields whose shape the documents leave open."""


def _string(value: Any, where: str, low: int = 1, high: int | None = None) -> str:
    if not isinstance(value, str):
        raise ValidationError(f"{where}: must be a string")
    if bounds := _bounds(len(value), low, high):
        raise ValidationError(f"{where}: must be {bounds} characters long, got {len(value)}")
    return value


def _text(value: Any, where: str) -> str:
    return _string(value, where, low=0)


def _bool(value: Any, where: str) -> bool:
    if not isinstance(value, bool):
        raise ValidationError(f"{where}: must be true or false")
    return value


def _integer(value: Any, where: str, low: int, high: int | None = None) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValidationError(f"{where}: must be an integer")
    if value < low or (high is not None and value > high):
        bounds = f"between {low} and {high}" if high is not None else f">= {low}"
        raise ValidationError(f"{where}: must be {bounds}, got {value}")
    return value


def _number(value: Any, where: str, low: float, high: float, two_decimals: bool) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise ValidationError(f"{where}: must be a number")
    if not low <= value <= high:
        raise ValidationError(f"{where}: must be between {low} and {high}, got {value!r}")
    if two_decimals and round(value, 2) != value:
        raise ValidationError(f"{where}: at most two decimals allowed, got {value!r}")
    return float(value)


def _choice(value: Any, where: str, options: Collection[str]) -> str:
    if not isinstance(value, str) or value not in options:
        raise ValidationError(f"{where}: must be one of {', '.join(options)}, got {value!r}")
    return value


def _one_of(*options: str) -> Check:
    return lambda value, where: _choice(value, where, options)


def _list(value: Any, where: str, low: int = 0, high: int | None = None) -> list[Any]:
    if not isinstance(value, list):
        raise ValidationError(f"{where}: must be a list")
    if bounds := _bounds(len(value), low, high):
        raise ValidationError(f"{where}: must hold {bounds} items, got {len(value)}")
    return value


def _strings(value: Any, where: str, low: int = 0, high: int | None = None) -> None:
    for i, item in enumerate(_list(value, where, low, high)):
        _string(item, _at(where, i))


def _tool_names(names: Iterable[tuple[str, Any]]) -> None:
    """Each tool name matches ``[A-Za-z0-9_-]{1,64}`` and no two are the same."""
    seen: set[str] = set()
    for where, name in names:
        if not _NAME.fullmatch(_string(name, where)):
            raise ValidationError(f"{where}: must match [A-Za-z0-9_-]{{1,64}}, got {name!r}")
        if name in seen:
            raise ValidationError(f"{where}: duplicate tool name {name!r}")
        seen.add(name)


# --- OpenAI protocol ---------------------------------------------------------------


def _function_call(value: Any, where: str) -> None:
    _spec(value, where, {"name": _string, "arguments": _text}, ["name"])


def _openai_tool_calls(value: Any, where: str) -> None:
    for i, call in enumerate(_list(value, where, low=1)):
        at = _at(where, i)
        kind = _choice(_object(call, at).get("type"), _at(at, "type"), ("function", "mcp"))
        body = _function_call if kind == "function" else _object
        _spec(call, at, {"id": _string, "type": _anything, kind: body}, ["id", kind])


_OPENAI_MESSAGE_FIELDS: dict[str, dict[str, Check]] = {
    "system": {"role": _anything, "content": _text},
    "user": {"role": _anything, "content": _text},
    "assistant": {
        "role": _anything,
        "content": lambda v, w: v is None or _text(v, w),
        "reasoning_content": _text,
        "tool_calls": _openai_tool_calls,
    },
    "tool": {"role": _anything, "content": _text, "tool_call_id": _string},
}


def _openai_messages(value: Any, where: str) -> None:
    messages = _list(value, where, low=1)
    for i, message in enumerate(messages):
        at = _at(where, i)
        role = _choice(_object(message, at).get("role"), _at(at, "role"), _OPENAI_MESSAGE_FIELDS)
        has_calls = "tool_calls" in message
        required = ([] if has_calls else ["content"]) + (["tool_call_id"] if role == "tool" else [])
        _spec(message, at, _OPENAI_MESSAGE_FIELDS[role], required)
        if message.get("content") is None and not has_calls:
            raise ValidationError(f"{_at(at, 'content')}: may be null only beside tool_calls")
    if all(message["role"] in ("system", "assistant") for message in messages):
        raise ValidationError(f"{where}: must not consist solely of system/assistant messages")
    _openai_tool_answers(messages, where)


def _openai_tool_answers(messages: list[dict[str, Any]], where: str) -> None:
    """Each function call of an assistant message is answered by a ``tool`` message
    right after it, and each ``tool`` message answers one of those calls."""
    pending: dict[str, str] = {}
    for i, message in enumerate(messages):
        at = _at(where, i)
        if message["role"] == "tool":
            call_id = message["tool_call_id"]
            if call_id not in pending:
                raise ValidationError(
                    f"{_at(at, 'tool_call_id')}: answers no tool call of the assistant "
                    f"message before it, got {call_id!r}"
                )
            del pending[call_id]
            continue
        _unanswered(pending, "tool message")
        calls = message.get("tool_calls") or [] if message["role"] == "assistant" else []
        pending = {
            call["id"]: _at(_at(at, "tool_calls"), j)
            for j, call in enumerate(calls)
            if call.get("type") == "function"
        }
    _unanswered(pending, "tool message")


def _unanswered(pending: dict[str, str], answer: str) -> None:
    for call_id, at in pending.items():
        raise ValidationError(f"{at}: tool call {call_id!r} has no {answer} answering it")


# each tool type's fields, and those it requires
_OPENAI_TOOLS: dict[str, tuple[dict[str, Check], list[str]]] = {
    "function": ({"name": _anything, "description": _text, "parameters": _object}, ["name"]),
    "web_search": (
        dict.fromkeys(_WEB_SEARCH_OPTIONS.split(), _anything)
        | {"enable": _bool, "search_result": _bool},
        ["enable"],
    ),
    "retrieval": ({"knowledge_id": _string, "prompt_template": _string}, ["knowledge_id"]),
    "mcp": (
        {
            "server_label": _string,
            "server_url": _string,
            "transport_type": _one_of("sse", "streamable-http"),
            "allowed_tools": _strings,
            "headers": lambda v, w: [_text(item, _at(w, k)) for k, item in _object(v, w).items()],
        },
        ["server_label"],
    ),
}


def _openai_tools(value: Any, where: str) -> None:
    names = []
    for i, tool in enumerate(_list(value, where, low=1, high=128)):
        at = _at(where, i)
        kind = _choice(_object(tool, at).get("type"), _at(at, "type"), _OPENAI_TOOLS)
        spec = _spec(tool, at, {"type": _anything, kind: _anything}, [kind])[kind]
        _spec(spec, _at(at, kind), *_OPENAI_TOOLS[kind])
        if kind == "function":
            names.append((_at(at, "function.name"), spec["name"]))
    _tool_names(names)


_OPENAI_FIELDS: dict[str, Check] = {
    "model": _string,
    "messages": _openai_messages,
    "stream": _bool,
    "thinking": lambda v, w: _spec(v, w, {"type": _one_of("enabled", "disabled")}, ["type"]),
    "reasoning_effort": _one_of(*_EFFORTS),
    "do_sample": _bool,
    "temperature": lambda v, w: _number(v, w, 0, 1, two_decimals=True),
    "top_p": lambda v, w: _number(v, w, 0.01, 1, two_decimals=True),
    "max_tokens": lambda v, w: _integer(v, w, 1, 131072),
    "tools": _openai_tools,
    "tool_choice": _one_of("auto"),
    "stop": lambda v, w: _strings(v, w, low=1, high=4),
    "response_format": lambda v, w: _spec(v, w, {"type": _one_of("json_object", "text")}, ["type"]),
    "request_id": lambda v, w: _string(v, w, 6, 64),
    "user_id": lambda v, w: _string(v, w, 6, 128),
}


def validate_openai(body: Any) -> None:
    """Raise ``ValidationError`` unless ``body`` is a valid chat-completions request."""
    _spec(body, "", _OPENAI_FIELDS, ["model", "messages"])


# --- Anthropic protocol -------------------------------------------------------------

# the fields each content block type must have; other fields and types pass
_BLOCK_FIELDS: dict[str, dict[str, Check]] = {
    "text": {"text": _text},
    "thinking": {"thinking": _text},
    "tool_use": {"id": _string, "name": _string, "input": _object},
    "tool_result": {"tool_use_id": _string},
}


def _content(value: Any, where: str) -> None:
    """A string, or a non-empty list of typed content blocks."""
    if isinstance(value, str):
        return
    for i, block in enumerate(_list(value, where, low=1)):
        at = _at(where, i)
        kind = _string(_object(block, at).get("type"), _at(at, "type"))
        for key, check in _BLOCK_FIELDS.get(kind, {}).items():
            if key not in block:
                raise ValidationError(f"{_at(at, key)}: is required in a {kind} block")
            check(block[key], _at(at, key))
        if kind == "tool_result" and "content" in block:
            _content(block["content"], _at(at, "content"))


def _anthropic_messages(value: Any, where: str) -> None:
    previous = "assistant"
    for i, message in enumerate(_list(value, where, low=1)):
        at = _at(where, i)
        checks = {"role": _one_of("user", "assistant"), "content": _content}
        role = _spec(message, at, checks, ["role", "content"])["role"]
        if role == previous:
            expected = "user" if i == 0 else "alternating user/assistant"
            raise ValidationError(f"{_at(at, 'role')}: must be {expected}, got {role!r}")
        previous = role
    _anthropic_tool_answers(value, where)


def _anthropic_tool_answers(messages: list[dict[str, Any]], where: str) -> None:
    """Each tool_use block is answered by a tool_result block in the next (user)
    message, and each tool_result answers a tool_use of the message before it."""
    pending: dict[str, str] = {}
    for i, message in enumerate(messages):
        at = _at(_at(where, i), "content")
        blocks = message["content"] if isinstance(message["content"], list) else []
        if message["role"] == "assistant":
            _unanswered(pending, "tool_result block")
            pending = {
                block["id"]: _at(at, j)
                for j, block in enumerate(blocks)
                if block["type"] == "tool_use"
            }
            continue
        for j, block in enumerate(blocks):
            if block["type"] == "tool_result":
                if block["tool_use_id"] not in pending:
                    raise ValidationError(
                        f"{_at(_at(at, j), 'tool_use_id')}: answers no tool_use block of the "
                        f"message before it, got {block['tool_use_id']!r}"
                    )
                del pending[block["tool_use_id"]]
        _unanswered(pending, "tool_result block")
        pending = {}
    _unanswered(pending, "tool_result block")


def _system(value: Any, where: str) -> None:
    checks = {"type": _one_of("text"), "text": _text, "cache_control": _object}
    if not isinstance(value, str):
        for i, block in enumerate(_list(value, where)):
            _spec(block, _at(where, i), checks, ["type", "text"])


def _input_schema(value: Any, where: str) -> None:
    _choice(_object(value, where).get("type"), _at(where, "type"), ("object",))


def _anthropic_tools(value: Any, where: str) -> None:
    checks = {"name": _anything, "description": _text, "input_schema": _input_schema}
    names = []
    for i, tool in enumerate(_list(value, where)):
        at = _at(where, i)
        names.append((_at(at, "name"), _spec(tool, at, checks, ["name", "input_schema"])["name"]))
    _tool_names(names)


def _positive(value: Any, where: str) -> int:
    return _integer(value, where, 1)


def _anthropic_thinking(value: Any, where: str) -> None:
    checks = {"type": _one_of("enabled", "disabled"), "budget_tokens": _positive}
    _spec(value, where, checks, ["type"])


def _tool_choice(value: Any, where: str) -> None:
    checks = {
        "type": _one_of("auto", "any", "tool", "none"),
        "name": _string,
        "disable_parallel_tool_use": _bool,
    }
    if _spec(value, where, checks, ["type"])["type"] == "tool" and "name" not in value:
        raise ValidationError(f"{_at(where, 'name')}: is required when type is tool")


_ANTHROPIC_FIELDS: dict[str, Check] = {
    "model": _string,
    "messages": _anthropic_messages,
    "max_tokens": _positive,
    "system": _system,
    "temperature": lambda v, w: _number(v, w, 0, 1, two_decimals=False),
    "top_p": lambda v, w: _number(v, w, 0, 1, two_decimals=False),
    "top_k": lambda v, w: _integer(v, w, 0),
    "stop_sequences": _strings,
    "stream": _bool,
    "thinking": _anthropic_thinking,
    "tools": _anthropic_tools,
    "tool_choice": _tool_choice,
    "metadata": lambda v, w: _spec(v, w, {"user_id": _string}),
}


def validate_anthropic(body: Any) -> None:
    """Raise ``ValidationError`` unless ``body`` is a valid Messages request."""
    _spec(body, "", _ANTHROPIC_FIELDS, ["model", "messages", "max_tokens"])


# --- The whole request ----------------------------------------------------------------


class Refusal(NamedTuple):
    """The response to a request the service refuses."""

    status: int
    body: dict[str, Any]
    headers: dict[str, str]


def route(path: str) -> str | None:
    """The protocol served at ``path`` ("openai" or "anthropic"), or None."""
    path = urlsplit(path).path
    if path == "/v1/messages":
        return "anthropic"
    if path == "/v1/chat/completions" or _CLOUDSWAY.fullmatch(path):
        return "openai"
    return None


def _strict_loads(body: bytes) -> Any:
    def refuse(name: str) -> Any:
        raise ValueError(f"{name} is not JSON")

    return json.loads(body.decode("utf-8"), parse_constant=refuse)


def check_request(
    method: str, path: str, headers: Mapping[str, str], body: bytes, seq: int
) -> Refusal | None:
    """Why the service refuses this request (405, 404, 401, 400, in that order), or None."""
    protocol = route(path)
    if method != "POST":
        message = f"method {method} not allowed; use POST"
        return Refusal(405, openai_error("405", message), {"Allow": "POST"})
    if protocol is None:
        return Refusal(404, openai_error("404", f"no such endpoint: {path}"), {})
    request_id = f"req_fake_{seq:06d}"
    scheme, _, token = headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        message = "Authorization header missing or empty: expected 'Bearer <API key>'"
        return Refusal(401, error_body(protocol, 401, message, "1001", request_id), {})
    content_type = headers.get("Content-Type", "")
    try:
        if content_type.split(";")[0].strip().lower() != "application/json":
            raise ValidationError(f"Content-Type: must be application/json, got {content_type!r}")
        try:
            parsed = _strict_loads(body)
        except ValueError as error:
            raise ValidationError(f"request body: not valid UTF-8 JSON ({error})") from error
        (validate_anthropic if protocol == "anthropic" else validate_openai)(parsed)
    except ValidationError as error:
        return Refusal(400, error_body(protocol, 400, str(error), "1214", request_id), {})
    return None
