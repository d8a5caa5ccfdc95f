"""`glm batch` input lines (SPEC §6): one JSONL line in, one line request (or why not) out.

Pure: bytes in, values out. A line is a JSON string (the prompt) or an object: `id`,
`prompt` or `messages`, `system`, `params` (what fills a template), and request
settings by their long flag names (`-` or `_`); or a line of the OpenAI Batch format
(`custom_id`, `method`, `url`, `body`), whose body is sent as it is. The settings'
values are checked later, with the command line's own checks
(`commands.batch_request`); here only the shape is.
"""

from __future__ import annotations

from dataclasses import field
from typing import Any

import orjson

from glm_cli.core import jsontext
from glm_cli.core.records import record
from glm_cli.core.service_rules import messages_problem

SETTINGS = frozenset(
    {
        "effort",
        "think",
        "temperature",
        "top_p",
        "top_k",
        "max_tokens",
        "greedy",
        "stop",
        "model",
        "json",
        "schema",
        "request_id",
        "user_id",
    }
)
"""Request settings a line may set, by their flag names with `_`."""
LINE_KEYS = frozenset({"id", "prompt", "messages", "system", "params"}) | SETTINGS
OPENAI_KEYS = frozenset({"custom_id", "method", "url", "body"})
OPENAI_URLS = ("/v1/chat/completions", "/chat/completions")

LineId = str | int


@record
class Line:
    """A line to send. `index` is its 0-based line number in the input."""

    index: int
    id: LineId
    prompt: str | None = None
    messages: list[dict[str, Any]] | None = None
    system: str | None = None
    settings: dict[str, Any] = field(default_factory=dict)
    params: dict[str, str] = field(default_factory=dict)
    """What fills the template's placeholders for this line (`-T`, SPEC §9)."""
    body: dict[str, Any] | None = None
    """An OpenAI Batch line's request body, as given."""


@record
class BadLine:
    """A line that gets an error record and sends nothing."""

    index: int
    id: LineId
    message: str


def id_key(value: LineId) -> bytes:
    """An id as a set key: `1` and `"1"` are different ids, as in the JSON."""
    return orjson.dumps(value)


def parse_line(raw: bytes, index: int) -> Line | BadLine | None:
    """One input line (without or with its newline); None for a blank line."""
    number = index + 1
    text = raw.strip()
    if not text:
        return None
    where = f"line {number}"
    try:
        value = jsontext.loads(text)
    except ValueError as error:  # not UTF-8, not JSON, nested too deeply
        return BadLine(index, number, f"{where}: not valid JSON ({error})")
    if isinstance(value, str):
        if not value.strip():
            return BadLine(index, number, f"{where}: the prompt is empty")
        return Line(index, number, prompt=value)
    if not isinstance(value, dict):
        return BadLine(index, number, f"{where}: must be a JSON string or object")
    if "custom_id" in value or "body" in value:
        return _openai_line(value, index, where)
    return _glm_line(value, index, where)


def _line_id(value: Any, default: int) -> LineId | None:
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, str | int):
        return None
    if isinstance(value, str) and not value:
        return None
    return value


def _openai_line(value: dict[str, Any], index: int, where: str) -> Line | BadLine:
    line_id = _line_id(value.get("custom_id"), index + 1)
    shown_id: LineId = index + 1 if line_id is None else line_id
    if line_id is None or "custom_id" not in value:
        return BadLine(index, shown_id, f"{where}: custom_id must be a non-empty string")
    unknown = sorted(set(value) - OPENAI_KEYS)
    if unknown:
        return BadLine(index, shown_id, f"{where}: unknown keys {', '.join(unknown)}")
    if value.get("method", "POST") != "POST":
        return BadLine(index, shown_id, f"{where}: method must be POST")
    if value.get("url", OPENAI_URLS[0]) not in OPENAI_URLS:
        return BadLine(index, shown_id, f"{where}: url must be {OPENAI_URLS[0]}")
    body = value.get("body")
    if not isinstance(body, dict):
        return BadLine(index, shown_id, f"{where}: body must be a JSON object")
    return Line(index, line_id, body=body)


def _glm_line(value: dict[str, Any], index: int, where: str) -> Line | BadLine:
    line_id = _line_id(value.get("id"), index + 1)
    if line_id is None:
        return BadLine(index, index + 1, f"{where}: id must be a non-empty string or an integer")
    given = {key.replace("-", "_"): item for key, item in value.items()}
    if len(given) != len(value):
        return BadLine(index, line_id, f"{where}: a key is given twice (with - and _)")
    unknown = sorted(key for key in value if key.replace("-", "_") not in LINE_KEYS)
    if unknown:
        return BadLine(index, line_id, f"{where}: unknown keys {', '.join(unknown)}")
    prompt, messages, system = given.get("prompt"), given.get("messages"), given.get("system")
    if (prompt is None) == (messages is None):
        return BadLine(index, line_id, f"{where}: give either prompt or messages")
    if prompt is not None and (not isinstance(prompt, str) or not prompt.strip()):
        return BadLine(index, line_id, f"{where}: prompt must be non-empty text")
    if messages is not None and not _messages(messages):
        return BadLine(
            index, line_id, f"{where}: messages must be a list of objects with role and content"
        )
    problem = messages_problem(messages)
    if problem is not None:
        return BadLine(index, line_id, f"{where}: {problem}")
    if system is not None and not isinstance(system, str):
        return BadLine(index, line_id, f"{where}: system must be text")
    params = _params(given.get("params", {}))
    if params is None:
        return BadLine(
            index, line_id, f"{where}: params must be an object of strings, numbers or booleans"
        )
    settings = {key: item for key, item in given.items() if key in SETTINGS}
    return Line(
        index,
        line_id,
        prompt=prompt,
        messages=messages,
        system=system,
        settings=settings,
        params=params,
    )


def _params(value: Any) -> dict[str, str] | None:
    """A line's `params`, each value as its text (`true`, `3`, `0.5`); None if unfit."""
    if not isinstance(value, dict):
        return None
    params: dict[str, str] = {}
    for key, item in value.items():
        if isinstance(item, bool):
            params[key] = "true" if item else "false"
        elif isinstance(item, str | int | float):
            params[key] = str(item)
        else:
            return None
    return params


def _messages(value: Any) -> bool:
    return (
        isinstance(value, list)
        and bool(value)
        and all(isinstance(m, dict) and isinstance(m.get("role"), str) for m in value)
    )


class SeenIds:
    """Which ids the input has given so far, to refuse a repeated one.

    Lines without an id (most, in a large file) cost one bit each: their id is their
    line number, so only explicit ids are kept whole.
    """

    __slots__ = ("_defaults", "_explicit")

    def __init__(self) -> None:
        self._explicit: set[bytes] = set()
        self._defaults = bytearray()

    def add(self, line_id: LineId, index: int) -> bool:
        """Record the id of line `index`; False if an earlier line had it."""
        explicit = line_id != index + 1 or type(line_id) is not int
        if explicit:
            key = id_key(line_id)
            if key in self._explicit or self._default_had(line_id):
                return False
            self._explicit.add(key)
            return True
        if id_key(line_id) in self._explicit:
            return False
        byte = index >> 3
        if byte >= len(self._defaults):
            self._defaults.extend(bytes(byte + 1 - len(self._defaults)))
        self._defaults[byte] |= 1 << (index & 7)
        return True

    def _default_had(self, line_id: LineId) -> bool:
        if type(line_id) is not int or line_id < 1:
            return False
        index = line_id - 1
        byte = index >> 3
        return byte < len(self._defaults) and bool(self._defaults[byte] & (1 << (index & 7)))
