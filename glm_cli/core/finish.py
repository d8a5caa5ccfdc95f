"""What a finish reason means for the run (SPEC §1.3): the policy, apart from any output.

`length` warns (saying so when it came before any content: the model was still
thinking); content filtered (`sensitive`, `content_filter`) or refused
(`refusal`) is exit 6; `network_error` is exit 5; anything else passes.
"""

from __future__ import annotations

from glm_cli.core.errors import TransportError, UnusableAnswer
from glm_cli.core.log import Log
from glm_cli.core.messages import Done
from glm_cli.core.service_rules import CUT_OFF_THINKING


def check_finish(done: Done, log: Log, *, answered: bool = True) -> None:
    """`answered`: the answer had content or tool calls."""
    reason = done.finish_reason
    if reason == "length" and not answered:
        log.warn(CUT_OFF_THINKING)
    elif reason == "length":
        log.warn("the answer was cut off at the token limit (finish reason: length)")
    elif reason in ("sensitive", "content_filter"):
        raise UnusableAnswer(f"the answer was filtered as unsafe ({describe_filter(done)})")
    elif reason == "network_error":
        raise TransportError("the service reported a network error while generating")
    elif reason == "refusal":
        raise UnusableAnswer(
            f"the model refused: {done.refusal}"
            if done.refusal
            else "the model refused to answer (finish reason: refusal)"
        )


def describe_filter(done: Done) -> str:
    filters = done.content_filter or []
    if not filters:
        return f"finish reason: {done.finish_reason}"
    parts = [f"role {f.get('role', 'unknown')}, level {f.get('level', 'unknown')}" for f in filters]
    return "; ".join(parts)
