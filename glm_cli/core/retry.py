"""Retry policy (SPEC §3): constants and pure functions; the clock is passed in."""

from __future__ import annotations

import math
from datetime import UTC

from glm_cli.core.records import record

INITIAL_DELAY = 0.5
MAX_DELAY = 8.0
MAX_RETRY_AFTER = 60.0
DEFAULT_RETRIES = 2


@record
class RetryPolicy:
    retries: int = DEFAULT_RETRIES

    @property
    def attempts(self) -> int:
        return self.retries + 1


def backoff_delay(retry_number: int, rand: float | None = None) -> float:
    """Seconds to wait before retry number `retry_number` (1 for the first retry).

    0.5 s doubling, capped at 8 s, less up to a quarter of it as jitter so that
    many clients retrying at once spread out.
    """
    base = min(INITIAL_DELAY * (2 ** (retry_number - 1)), MAX_DELAY)
    if rand is None:
        import random

        rand = random.random()
    jitter: float = rand
    return float(base * (1 - 0.25 * jitter))


def parse_retry_after(value: str | None, now: float) -> float | None:
    """`Retry-After` as seconds to wait: delta-seconds or an HTTP date, capped at 60 s.

    `now` is the current Unix time. Returns None for a missing or unreadable value.
    """
    if value is None:
        return None
    text = value.strip()
    if not text:
        return None
    seconds: float | None
    try:
        seconds = float(text)
    except ValueError:
        seconds = _seconds_until_date(text, now)
    if seconds is None or math.isnan(seconds):
        return None
    return min(max(seconds, 0.0), MAX_RETRY_AFTER)


def _seconds_until_date(text: str, now: float) -> float | None:
    from email.utils import parsedate_to_datetime

    try:
        when = parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:  # asctime dates carry no zone: they are UTC (RFC 9110)
        when = when.replace(tzinfo=UTC)
    return max(0.0, when.timestamp() - now)


def next_delay(retry_number: int, retry_after: float | None) -> float:
    """The service's `Retry-After` when it gave one, else the backoff."""
    if retry_after is not None:
        return retry_after
    return backoff_delay(retry_number)
