"""What the service documents say that users trip on (`api/`): the rules, as pure functions.

- Reasoning tokens count toward `max_tokens`, and the documents advise at least
  `THINKING_FLOOR` (1024): `low_max_tokens` says so when thinking is on.
- `reasoning_effort` levels the service does not have are mapped (xhigh → max,
  low/medium → high, none/minimal → no thinking; max when nothing is said):
  `effort_note` says, for `--verbose`, what is sent and what the service applies.
- GLM-5.2's output ceiling (131072) is GLM-5.2's: other models served by the same
  gateways (GLM-4.6 128K, GLM-4.5 96K) have their own, which the service checks, so
  `max_tokens_ceiling` is None for them.
- `messages` must hold at least one message and not only system or assistant
  messages: `messages_problem` says what is wrong before a 400 is paid for.
"""

from __future__ import annotations

import re
from typing import Any

from glm_cli.core.efforts import NO_THINKING_EFFORTS

THINKING_FLOOR = 1024
"""The `max_tokens` the documents advise at least, since reasoning counts toward it."""
GLM_5_2_MAX_TOKENS = 131072
"""GLM-5.2's output ceiling (128K)."""
DEFAULT_EFFORT = "max"
"""The service's effort when none is sent: the deepest, and the most expensive."""
_APPLIED = {"xhigh": "max", "medium": "high", "low": "high"}
"""Levels the service maps to one it has."""
_GLM_5_2 = re.compile(r"(?:^|[-_ ])glm[-_ ]?5\.2(?:$|[-_ ])")


def is_glm_5_2(model: str) -> bool:
    """`glm-5.2` in any case, alone or as a part between `-`/`_` of a longer name
    (`glm-5.2-0617`, Cloudsway's `MaaS_GLM_5.2_20260617`); not `glm-5.20`, `glm-4.6`."""
    return _GLM_5_2.search(model.lower()) is not None


def max_tokens_ceiling(model: str) -> int | None:
    """The most `max_tokens` glm lets through for `model`; None: the service decides."""
    return GLM_5_2_MAX_TOKENS if is_glm_5_2(model) else None


def thinking_on(effort: str | None, think: bool | None) -> bool:
    """Whether the model thinks: on unless turned off (`--no-think`, effort none/minimal)."""
    return think is not False and effort not in NO_THINKING_EFFORTS


def applied_effort(effort: str | None) -> str:
    """The level the service applies for `effort` sent (None: nothing sent) with thinking on."""
    if effort is None:
        return DEFAULT_EFFORT
    return _APPLIED.get(effort, effort)


def effort_note(effort: str | None, think: bool | None, protocol: str) -> str:
    """The `--verbose` line about the effort: what is sent, and what the service applies."""
    if not thinking_on(effort, think):
        sent = ["thinking disabled"] if think is False or protocol == "anthropic" else []
        if effort is not None and protocol != "anthropic":
            sent.append(f"reasoning_effort {effort}")
        return f"effort: none, thinking off (sent as {' and '.join(sent)})"
    if protocol == "anthropic":
        return "effort: thinking on; the anthropic protocol has no effort levels" + (
            f" (--effort {effort} is not sent)" if effort is not None else ""
        )
    if effort is None:
        return f"effort: {DEFAULT_EFFORT} (the service's default; reasoning_effort not sent)"
    applied = applied_effort(effort)
    if applied != effort:
        return (
            f"effort: {effort} (sent as reasoning_effort {effort}; the service applies {applied})"
        )
    return f"effort: {effort} (sent as reasoning_effort {effort})"


def low_max_tokens(
    max_tokens: int | None, effort: str | None, think: bool | None, source: str = "--max-tokens"
) -> str | None:
    """The warning for a `max_tokens` below the advised floor with thinking on, or None."""
    if max_tokens is None or max_tokens >= THINKING_FLOOR or not thinking_on(effort, think):
        return None
    return (
        f"{source} {max_tokens} is below {THINKING_FLOOR}, which the service documents advise "
        "with thinking on: reasoning counts toward it and may leave no room for the answer "
        "(a larger --max-tokens, or --no-think)"
    )


CUT_OFF_THINKING = (
    "the answer was cut off at the token limit while the model was still thinking, before "
    "any content (finish reason: length); give a larger --max-tokens, or --no-think"
)


def messages_problem(messages: Any) -> str | None:
    """Why the service would refuse `messages`, or None: it must hold at least one
    message and not only system or assistant messages. What is not a list of objects
    with a role is left for the service to judge."""
    if not isinstance(messages, list):
        return None
    if not messages:
        return "messages is empty: the service needs at least one message"
    roles = [m.get("role") if isinstance(m, dict) else None for m in messages]
    if all(role in ("system", "assistant") for role in roles):
        return (
            "messages holds only system and assistant messages: the service needs a user "
            "(or tool) message to answer"
        )
    return None
