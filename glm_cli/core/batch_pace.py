"""`glm batch` pacing and ordering (SPEC §6), pure: the clock is an argument.

- `Bucket`: `--rpm`, requests spread evenly, a burst of at most 2.
- `Aimd`: how many requests may be in flight: halved by a rate limit, regained one
  step per window of successes (a window is as many successes as the current limit).
- `Reorder`: finished records, released in input order (`None`: a line with no record).
"""

from __future__ import annotations

from typing import Generic, TypeVar

T = TypeVar("T")

BURST = 2


class Bucket:
    """A token bucket of `per_minute` tokens a minute holding at most `burst`."""

    __slots__ = ("_last", "_tokens", "burst", "interval")

    def __init__(self, per_minute: float, burst: int = BURST) -> None:
        self.interval = 60.0 / per_minute
        self.burst = burst
        self._tokens = float(burst)
        self._last: float | None = None

    def take(self, now: float) -> float:
        """Take a token at `now` and return 0, or return how long until one is there."""
        if self._last is not None:
            self._tokens = min(self.burst, self._tokens + (now - self._last) / self.interval)
        self._last = now
        if self._tokens >= 1.0:
            self._tokens -= 1.0
            return 0.0
        return (1.0 - self._tokens) * self.interval


class Aimd:
    """Additive increase, multiplicative decrease of the concurrency, 1 to `most`."""

    __slots__ = ("_successes", "limit", "most")

    def __init__(self, most: int) -> None:
        self.most = most
        self.limit = most
        self._successes = 0

    def success(self) -> None:
        if self.limit >= self.most:
            return
        self._successes += 1
        if self._successes >= self.limit:
            self.limit += 1
            self._successes = 0

    def slow_down(self) -> None:
        self.limit = max(1, self.limit // 2)
        self._successes = 0


class Reorder(Generic[T]):
    """Items numbered 0, 1, 2... arriving in any order, released in order."""

    __slots__ = ("_next", "_waiting")

    def __init__(self) -> None:
        self._next = 0
        self._waiting: dict[int, T | None] = {}

    def add(self, seq: int, item: T | None) -> list[T | None]:
        """Everything now ready, in order (`None` items included, to count them)."""
        if seq != self._next:
            self._waiting[seq] = item
            return []
        ready = [item]
        self._next += 1
        waiting = self._waiting
        while self._next in waiting:
            ready.append(waiting.pop(self._next))
            self._next += 1
        return ready

    def __len__(self) -> int:
        return len(self._waiting)
