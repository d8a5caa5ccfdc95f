"""Responders for many requests at once (``service.responder = ...``): latency, a 429
storm, a balance that runs out on the Nth request. Each answers with the prompt it got
(``answer to PROMPT``), so a test can tell which line a record belongs to."""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable

from .steps import Incoming, Reply, Status, Step, error_body

Responder = Callable[[Incoming], Step]


def prompt_of(incoming: Incoming) -> str:
    messages = incoming.body.get("messages") or [{}]
    content = messages[-1].get("content", "")
    if isinstance(content, list):
        return "".join(part.get("text", "") for part in content if isinstance(part, dict))
    return str(content)


def answer(incoming: Incoming, delay: float = 0.0) -> Reply:
    return Reply(content=f"answer to {prompt_of(incoming)}", reasoning=None, delay=delay)


def latency(seconds: float | tuple[float, float] = 0.0, seed: int = 0) -> Responder:
    """Every request answered after `seconds` (a (low, high) pair: uniformly at random)."""
    chooser = random.Random(seed)
    lock = threading.Lock()

    def respond(incoming: Incoming) -> Step:
        if isinstance(seconds, tuple):
            with lock:
                delay = chooser.uniform(*seconds)
        else:
            delay = seconds
        return answer(incoming, delay)

    return respond


def storm(seconds: float, retry_after: str = "1", delay: float = 0.0) -> Responder:
    """Every request is a 429 with `Retry-After` for `seconds` after the first one, then
    answered normally. `storm.hits` counts the 429s sent."""
    lock = threading.Lock()
    start: list[float] = []
    hits = [0]

    def respond(incoming: Incoming) -> Step:
        now = time.monotonic()
        with lock:
            if not start:
                start.append(now)
            if now - start[0] < seconds:
                hits[0] += 1
                return Status(429, headers={"Retry-After": retry_after})
        return answer(incoming, delay)

    respond.hits = hits  # type: ignore[attr-defined]  # read by the tests
    return respond


def fails_on(
    nth: int, code: str = "1113", status: int = 429, delay: float = 0.0, protocol: str = "openai"
) -> Responder:
    """Requests from the `nth` on (1-based, in arrival order) fail with `code`: a balance
    that runs out and stays out. `responder.failing = False` ends it (a top-up)."""
    lock = threading.Lock()
    count = [0]
    state = {"failing": True}

    def respond(incoming: Incoming) -> Step:
        with lock:
            count[0] += 1
            n = count[0]
        if n >= nth and state["failing"]:
            body = error_body(protocol, status, message="Insufficient balance", code=code)
            return Status(status, body=body)
        return answer(incoming, delay)

    respond.state = state  # type: ignore[attr-defined]  # read by the tests
    return respond
