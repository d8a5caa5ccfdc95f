"""`--max-time` as a value: one point on a monotonic clock that a whole run shares.

Every request, retry wait and tool run of one run is bounded by the same
`Deadline`; two exchanges in two threads each carry their own. The transport
checks it between reads and caps every timeout by what is left, so no signal
or global flag is involved.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from glm_cli.core.errors import TransportError


class MaxTimeReached(TransportError):
    """The run's `--max-time` ran out (exit 5, never retried)."""


class Deadline:
    __slots__ = ("_clock", "_end", "seconds")

    def __init__(self, seconds: float | None, clock: Callable[[], float] = time.monotonic) -> None:
        self.seconds = seconds
        self._clock = clock
        self._end = None if seconds is None else clock() + seconds

    def remaining(self) -> float | None:
        """Seconds left (never below 0), or None when there is no limit."""
        if self._end is None:
            return None
        return max(0.0, self._end - self._clock())

    def expired(self) -> bool:
        return self._end is not None and self._clock() >= self._end

    def bound(self, seconds: float) -> float:
        """`seconds`, or less when the deadline comes first."""
        left = self.remaining()
        return seconds if left is None else min(seconds, left)

    def check(self) -> None:
        """Raise `MaxTimeReached` once the time is up."""
        if self.expired():
            raise self.reached()

    def reached(self) -> MaxTimeReached:
        return MaxTimeReached(f"--max-time {self.seconds:g}s reached")


NO_DEADLINE = Deadline(None)
"""A deadline that never comes (it holds no state that changes)."""
