"""Checks of request flags (SPEC §1.2): each returns the value to send or raises UsageError.

Values come as text from the command line or as TOML values from the config file;
`source` names where it came from (`--temperature`, `defaults.temperature` in a
file) so the message says which one to fix.
"""

from __future__ import annotations

import math
import re

from glm_cli.core.efforts import EFFORTS, NO_THINKING_EFFORTS
from glm_cli.core.errors import UsageError

__all__ = ["EFFORTS", "NO_THINKING_EFFORTS"]

MAX_TOKENS_LIMIT = 131072
MAX_STOPS = 4
MAX_TOOLS = 128
MAX_TOP_K = 2**63 - 1  # the largest whole number a JSON body carries to the service
MAX_SECONDS = 1e8  # about three years; the OS timers overflow past ~9e9 s

_DIGITS = re.compile(r"[0-9]+")
_NUMBER = re.compile(r"[+-]?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][+-]?[0-9]+)?")


def _fail(source: str, value: object, allowed: str) -> UsageError:
    return UsageError(f"{source} {value!r}: {allowed}")


def two_decimals(source: str, value: object, low: float, high: float) -> float:
    """A number in [low, high] that equals itself rounded to two decimals."""
    allowed = f"must be a number from {low:g} to {high:g} with at most two decimals"
    if isinstance(value, bool):
        raise _fail(source, value, allowed)
    if isinstance(value, int | float):
        number = float(value)
        if not math.isfinite(number) or round(number, 2) != number:
            raise _fail(source, value, allowed)
    elif isinstance(value, str) and _NUMBER.fullmatch(value.strip()):
        from decimal import ROUND_HALF_EVEN, Decimal, InvalidOperation

        try:
            exact = Decimal(value.strip())
            # quantize fails (InvalidOperation) on numbers too big for its precision
            two_places = exact.quantize(Decimal("0.01"), rounding=ROUND_HALF_EVEN)
        except InvalidOperation as error:
            raise _fail(source, value, allowed) from error
        if exact != two_places:
            raise _fail(source, value, allowed)
        number = float(exact)
    else:
        raise _fail(source, value, allowed)
    if not low <= number <= high:
        raise _fail(source, value, allowed)
    return number


def integer(source: str, value: object, low: int, high: int | None = None) -> int:
    """A whole number written as plain decimal digits, in [low, high]."""
    allowed = (
        f"must be a whole number from {low} to {high}"
        if high is not None
        else f"must be a whole number, at least {low}"
    )
    if isinstance(value, bool):
        raise _fail(source, value, allowed)
    if isinstance(value, int):
        number = value
    elif isinstance(value, str) and _DIGITS.fullmatch(value):
        try:
            number = int(value)
        except ValueError as error:  # more digits than int() converts (4300)
            raise _fail(source, value, allowed) from error
    else:
        raise _fail(source, value, allowed)
    if number < low or (high is not None and number > high):
        raise _fail(source, value, allowed)
    return number


def seconds(source: str, value: object) -> float:
    """A positive, finite number of seconds; beyond `MAX_SECONDS` (years) it is
    `MAX_SECONDS`, which is forever to a run but still fits the system's timers."""
    allowed = "must be a positive number of seconds"
    if isinstance(value, bool):
        raise _fail(source, value, allowed)
    if isinstance(value, int | float) or (
        isinstance(value, str) and _NUMBER.fullmatch(value.strip())
    ):
        # str.strip also strips \x1c-\x1f, which float() refuses: convert what was matched
        number = float(value.strip() if isinstance(value, str) else value)
    else:
        raise _fail(source, value, allowed)
    if not math.isfinite(number) or number <= 0:
        raise _fail(source, value, allowed)
    return min(number, MAX_SECONDS)


def choice(source: str, value: object, choices: tuple[str, ...]) -> str:
    if not isinstance(value, str) or value not in choices:
        raise _fail(source, value, f"must be one of {', '.join(choices)}")
    return value


def text_length(source: str, value: object, low: int, high: int) -> str:
    if not isinstance(value, str) or not low <= len(value) <= high:
        raise _fail(source, value, f"must be {low} to {high} characters long")
    return value


def non_empty(source: str, value: object) -> str:
    if not isinstance(value, str) or not value.strip():
        raise _fail(source, value, "must not be empty")
    return value


def stops(source: str, values: object) -> list[str]:
    if isinstance(values, str):
        values = [values]
    if not isinstance(values, list) or not all(isinstance(v, str) for v in values):
        raise _fail(source, values, "must be text (repeat the flag for more)")
    for value in values:
        if not value:
            raise _fail(source, value, "must not be empty")
    if len(values) > MAX_STOPS:
        raise UsageError(f"{source}: at most {MAX_STOPS} stop sequences, got {len(values)}")
    return list(values)


def boolean(source: str, value: object) -> bool:
    if not isinstance(value, bool):
        raise _fail(source, value, "must be true or false")
    return value


def think_and_effort(think: bool | None, effort: str | None) -> None:
    """`--think` with a no-thinking effort, or `--no-think` with a thinking one, contradict."""
    if think is None or effort is None:
        return
    if think and effort in NO_THINKING_EFFORTS:
        raise UsageError(
            f"--think contradicts --effort {effort!r}, which turns thinking off; drop one"
        )
    if not think and effort not in NO_THINKING_EFFORTS:
        raise UsageError(
            f"--no-think contradicts --effort {effort!r}, which needs thinking; "
            "use --effort none or drop one"
        )
