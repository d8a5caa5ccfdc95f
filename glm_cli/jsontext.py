"""JSON answers as text: checked, unwrapped from a fence, and re-laid-out without
changing a single value (big integers and long decimals stay as the model wrote them)."""

from __future__ import annotations

import json
import re
from typing import Any

_FENCE = re.compile(r"\A\s*```[ \t]*(?:json|JSON)?[ \t]*\r?\n(.*?)\r?\n?```\s*\Z", re.DOTALL)
_TOKEN = re.compile(r'"(?:[^"\\]|\\.)*"|[ \t\r\n]+|[{}\[\],:]|[^{}\[\],:"\s]+', re.DOTALL)


def unfence(text: str) -> str:
    """The inside of an answer that is exactly one ``` or ```json fenced block."""
    match = _FENCE.match(text)
    return match.group(1) if match else text


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


def parse(text: str) -> Any:
    """Parse strictly (no NaN or Infinity); numbers keep their exact value."""
    from decimal import Decimal

    return json.loads(text, parse_float=Decimal, parse_constant=_reject_constant)


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
        return "{" + ",".join(
            json.dumps(str(key), ensure_ascii=False) + ":" + dumps(item)
            for key, item in value.items()
        ) + "}"
    if isinstance(value, list):
        return "[" + ",".join(dumps(item) for item in value) + "]"
    if isinstance(value, Decimal):
        return str(value)
    return json.dumps(value, ensure_ascii=False)
