"""The gate every request of a batch passes: concurrency, `--rpm`, the shared slow-down.

One `Gate` per batch, shared by its workers. A request waits until (1) no slow-down
is in force (a 429 or a 1302/1303 pauses every worker for its `Retry-After` or the
backoff), (2) fewer requests are in flight than the current limit (`core.batch_pace.Aimd`),
(3) `--rpm` has a token. The clock is injected; waits are on one condition.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from glm_cli.core.batch_pace import Aimd, Bucket


class Gate:
    def __init__(
        self, jobs: int, rpm: float | None = None, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.aimd = Aimd(jobs)
        self.bucket = Bucket(rpm) if rpm else None
        self.clock = clock
        self.active = 0
        self.peak = 0
        self.slow_downs = 0
        self._paused_until = 0.0
        self._condition = threading.Condition()

    def acquire(self, stopped: Callable[[], bool]) -> bool:
        """Wait for a turn to send; False (and no turn) once `stopped()` says so."""
        with self._condition:
            while True:
                if stopped():
                    return False
                now = self.clock()
                if now < self._paused_until:
                    self._condition.wait(self._paused_until - now)
                    continue
                if self.active >= self.aimd.limit:
                    self._condition.wait()
                    continue
                if self.bucket is not None:
                    wait = self.bucket.take(now)
                    if wait > 0:
                        self._condition.wait(wait)
                        continue
                self.active += 1
                self.peak = max(self.peak, self.active)
                return True

    def release(self, succeeded: bool = False) -> None:
        with self._condition:
            self.active -= 1
            if succeeded:
                self.aimd.success()
            self._condition.notify_all()

    def slow_down(self, seconds: float) -> None:
        """A rate limit: every worker waits `seconds`, and the concurrency halves (once
        for all the rate limits that arrive while a pause is in force)."""
        with self._condition:
            now = self.clock()
            if now >= self._paused_until:
                self.aimd.slow_down()
                self.slow_downs += 1
            self._paused_until = max(self._paused_until, now + seconds)
            self._condition.notify_all()

    def wake(self) -> None:
        """Let every waiting worker look at `stopped()` again."""
        with self._condition:
            self._condition.notify_all()
