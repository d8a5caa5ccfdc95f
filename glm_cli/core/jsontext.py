"""JSON answers as text: checked, unwrapped from a fence, and re-laid-out without
changing a single value (big integers and long decimals stay as the model wrote them)."""

from __future__ import annotations

import json
import re
from typing import Any

import orjson

from glm_cli.core import fences

_FENCE = re.compile(r"\A\s*```[ \t]*(?:json|JSON)?[ \t]*\r?\n(.*?)\r?\n?```\s*\Z", re.DOTALL)
_TOKEN = re.compile(r'"(?:[^"\\]|\\.)*"|[ \t\r\n]+|[{}\[\],:]|[^{}\[\],:"\s]+', re.DOTALL)


def unfence(text: str) -> str:
    """The inside of an answer that is exactly one ``` or ```json fenced block, or that
    has prose around exactly one such block (SPEC §8). A valid JSON text never holds a
    fence line (a string cannot hold a raw newline), so the text itself is never
    mistaken for prose."""
    match = _FENCE.match(text)
    if match:
        return match.group(1)
    found = fences.blocks(text)
    if len(found) == 1 and found[0].closed and found[0].language.lower() in ("", "json"):
        return found[0].code
    return text


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


MAX_DEPTH = 128
"""How deep JSON from a file or a tool call may nest. Whatever glm parses may be sent
or printed again, and orjson writes at most 255 levels: 128 leaves room for the
request around it."""


class TooDeep(ValueError):
    """JSON nested deeper than `MAX_DEPTH` (or than Python's parser recurses)."""

    def __init__(self, limit: int | None = MAX_DEPTH) -> None:
        levels = f"more than {limit} levels" if limit is not None else "too deep to parse"
        super().__init__(f"nested too deeply ({levels})")


def depth(value: Any) -> int:
    """How many arrays and objects deep `value` nests (0 for a string or number)."""
    deepest = 0
    pending = [(value, 1)]
    while pending:
        item, level = pending.pop()
        if isinstance(item, dict):
            children: Any = item.values()
        elif isinstance(item, list):
            children = item
        else:
            continue
        deepest = max(deepest, level)
        pending.extend((child, level + 1) for child in children)
    return deepest


def check_depth(value: Any, limit: int = MAX_DEPTH) -> Any:
    """`value` itself; raises TooDeep when it nests deeper than `limit`."""
    if depth(value) > limit:
        raise TooDeep(limit)
    return value


def parse(text: str, *, limit: int | None = MAX_DEPTH, exact: bool = True) -> Any:
    """Parse strictly (no NaN or Infinity); numbers keep their exact value.

    Raises ValueError for anything that is not JSON, TooDeep (a ValueError) past
    `limit` levels; `limit=None` accepts any depth Python's parser can take.
    `exact=False` gives floats instead of Decimals (for values sent on with orjson).
    """
    from decimal import Decimal

    try:
        value = json.loads(
            text, parse_float=Decimal if exact else None, parse_constant=_reject_constant
        )
    except RecursionError as error:
        raise TooDeep(limit) from error
    return value if limit is None else check_depth(value, limit)


def loads(data: bytes | str) -> Any:
    """Parse with orjson (fast; floats as floats), at most `MAX_DEPTH` levels deep.

    Raises ValueError (orjson.JSONDecodeError, TooDeep). Cheap enough for each chunk
    of a stream: the depth is walked only when the text holds more brackets than that.
    """
    value = orjson.loads(data)
    opens = (
        data.count("[") + data.count("{")
        if isinstance(data, str)
        else (data.count(b"[") + data.count(b"{"))
    )
    return check_depth(value) if opens > MAX_DEPTH else value


def check_nesting(data: bytes, value: Any) -> None:
    """`value`, parsed from `data` by orjson, nests at most `MAX_DEPTH` levels (TooDeep
    otherwise); walked only when `data` holds more brackets than that."""
    if data.count(b"[") + data.count(b"{") > MAX_DEPTH:
        check_depth(value)


def compact(text: str) -> str:
    """One line: whitespace between tokens removed, strings and numbers untouched."""
    return "".join(t for t in _TOKEN.findall(text) if not t[0].isspace())


def pretty(text: str, indent: str = "  ") -> str:
    tokens = [t for t in _TOKEN.findall(text) if not t[0].isspace()]
    out: list[str] = []
    depth = 0
    for position, token in enumerate(tokens):
        if token in "{[":
            out.append(token)
            following = tokens[position + 1] if position + 1 < len(tokens) else ""
            if following not in ("}", "]"):
                depth += 1
                out.append("\n" + indent * depth)
        elif token in "}]":
            previous = tokens[position - 1] if position else ""
            if previous not in ("{", "["):
                depth -= 1
                out.append("\n" + indent * depth)
            out.append(token)
        elif token == ",":
            out.append(",\n" + indent * depth)
        elif token == ":":
            out.append(": ")
        else:
            out.append(token)
    return "".join(out)


def dumps(value: Any) -> str:
    """Compact JSON of a value from `parse`: its Decimal numbers written with every digit
    they were read with (`json.dumps` refuses Decimal; a float would round them)."""
    from decimal import Decimal

    if isinstance(value, dict):
        return (
            "{"
            + ",".join(
                json.dumps(str(key), ensure_ascii=False) + ":" + dumps(item)
                for key, item in value.items()
            )
            + "}"
        )
    if isinstance(value, list):
        return "[" + ",".join(dumps(item) for item in value) + "]"
    if isinstance(value, Decimal):
        return str(value)
    return json.dumps(value, ensure_ascii=False)
