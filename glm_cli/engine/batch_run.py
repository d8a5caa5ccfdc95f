"""Running a batch: `jobs` threads over one `Client`, records written as they become final.

    runner = Runner(client, Gate(jobs), jobs, write=..., encode=...)
    outcome = runner.run(items)          # items: Send | Ready, in input order

The calling thread reads the items (so the input is streamed) into a bounded work
queue; each worker takes one, waits at the `Gate`, runs the exchange on the line's
own `Deadline`, and hands the record back. Records are written under one lock, in
input order through `core.batch_pace.Reorder` (or as they finish, `ordered=False`);
the reorder window holds at most `window` lines, and the reader waits while it is
full. A balance, cap or authentication failure stops the batch: nothing new is
sent, requests in flight finish and are recorded, and the lines left get no record.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import field
from queue import Queue
from typing import Any

from glm_cli.core.accumulate import Result
from glm_cli.core.batch_pace import Reorder
from glm_cli.core.deadline import Deadline
from glm_cli.core.errors import GlmError, ServiceError
from glm_cli.core.exit_codes import FINAL_QUOTA_CODES, ExitCode
from glm_cli.core.records import record
from glm_cli.engine.batch_gate import Gate
from glm_cli.engine.exchange import Client

RATE_CODES = frozenset({"1302", "1303"})

Fields = dict[str, Any]
Finish = Callable[[Result | None, GlmError | None, int, float], Fields]
"""Makes a line's record: (answer, error, attempts, elapsed seconds) → record fields."""


@record
class Send:
    """A line to send: its request body and how its record is made."""

    body: dict[str, Any]
    finish: Finish


@record
class Ready:
    """A line whose record is known without sending (a bad line)."""

    fields: Fields


@record
class Outcome:
    done: int = 0
    failed: int = 0
    tokens: int = 0
    unsent: int = 0
    """Lines read but not sent because the batch stopped (they have no record)."""
    stop: ServiceError | None = None
    """Why the batch stopped early, if it did."""
    counted: Callable[[Fields], int] = field(default=lambda fields: 0)


def stops_batch(error: GlmError) -> bool:
    """A spent balance or cap, or a refused key: no other line can succeed either."""
    if not isinstance(error, ServiceError):
        return False
    return (
        error.code in FINAL_QUOTA_CODES or error.status == 402 or error.exit_code == ExitCode.AUTH
    )


def rate_limited(error: ServiceError) -> bool:
    """A rate limit that slows the whole batch (not a spent balance, which stops it)."""
    return (error.status == 429 or error.code in RATE_CODES) and not stops_batch(error)


STORM_RESENDS = 10
"""How often a line whose retries all met a rate limit is sent again after the shared
pause, without spending its own --retries: a storm of some seconds loses no line,
and a rate limit that never lifts still ends."""


class _Stopped(Exception):
    """The batch stopped while a line waited to retry: the line gets no record."""


class Runner:
    def __init__(
        self,
        client: Client,
        gate: Gate,
        jobs: int,
        *,
        write: Callable[[bytes], None],
        encode: Callable[[Fields], bytes],
        max_time: float | None = None,
        ordered: bool = True,
        window: int | None = None,
        on_record: Callable[[Fields], None] | None = None,
        tokens: Callable[[Fields], int] = lambda fields: 0,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.client = client
        self.gate = gate
        self.jobs = jobs
        self.write = write
        self.encode = encode
        self.max_time = max_time
        self.ordered = ordered
        self.window = threading.BoundedSemaphore(window or 4 * jobs)
        self.on_record = on_record
        self.tokens = tokens
        self.sleep = sleep
        self.outcome = Outcome()
        self._queue: Queue[tuple[int, Send] | None] = Queue(maxsize=jobs)
        self._reorder: Reorder[Fields] = Reorder()
        self._lock = threading.Lock()
        self._fatal: BaseException | None = None

    def stopped(self) -> bool:
        return self.outcome.stop is not None or self._fatal is not None

    def run(self, items: Iterable[Send | Ready]) -> Outcome:
        """Send every item (unless stopped); raises what made writing fail."""
        workers = [
            threading.Thread(target=self._work, name=f"glm-batch-{n}", daemon=True)
            for n in range(self.jobs)
        ]
        for worker in workers:
            worker.start()
        try:
            for seq, item in enumerate(items):
                if not self._take_window():
                    break
                if isinstance(item, Ready):
                    self._deliver(seq, item.fields)
                else:
                    self._queue.put((seq, item))
        except BaseException:
            self._fatal = self._fatal or _Interrupted()
            self.gate.wake()
            raise
        for _ in workers:
            self._queue.put(None)
        for worker in workers:
            worker.join()
        if self._fatal is not None:
            raise self._fatal
        return self.outcome

    def _take_window(self) -> bool:
        while not self.window.acquire(timeout=0.5):
            if self.stopped():
                return False
        if self.stopped():
            self.window.release()
            return False
        return True

    def _work(self) -> None:
        while (item := self._queue.get()) is not None:
            seq, send = item
            try:
                fields = self._send(send)
            except BaseException as error:  # a bug: reported by the reader thread
                self._fatal = self._fatal or error
                fields = None
            self._deliver(seq, fields)

    def _send(self, send: Send) -> Fields | None:
        gate = self.gate
        if not gate.acquire(self.stopped):
            return None
        holding = True

        def pace(error: ServiceError, delay: float) -> None:
            nonlocal holding
            gate.release()
            holding = False
            if rate_limited(error):
                gate.slow_down(delay)
            else:
                self.sleep(delay)
            if not gate.acquire(self.stopped):
                raise _Stopped
            holding = True

        started = time.monotonic()
        deadline = Deadline(self.max_time)
        attempts = 0
        for resend in range(STORM_RESENDS + 1):
            exchange = self.client.exchange(send.body, deadline, pace=pace)
            failure: GlmError | None = None
            try:
                with exchange:
                    for _ in exchange:
                        pass
            except _Stopped:
                return None
            except GlmError as error:
                failure = error
            finally:
                attempts += exchange.attempts
                if holding:
                    gate.release(succeeded=failure is None)
                    holding = False
            storm = isinstance(failure, ServiceError) and rate_limited(failure)
            if not storm or resend == STORM_RESENDS:
                break
            assert isinstance(failure, ServiceError)
            gate.slow_down(failure.retry_after or 1.0)  # then wait it out with the others
            if not gate.acquire(self.stopped):
                return None
            holding = True
        if failure is not None and stops_batch(failure):
            assert isinstance(failure, ServiceError)
            with self._lock:
                if self.outcome.stop is None:
                    self.outcome.stop = failure
            gate.wake()
            return None
        elapsed = time.monotonic() - started
        return send.finish(exchange.result, failure, attempts, elapsed)

    def _deliver(self, seq: int, fields: Fields | None) -> None:
        with self._lock:
            ready = self._reorder.add(seq, fields) if self.ordered else [fields]
            for item in ready:
                self.window.release()
                if item is None:
                    self.outcome.unsent += 1
                    continue
                if self._fatal is not None:
                    continue
                try:
                    self.write(self.encode(item))
                except GlmError as error:
                    self._fatal = error
                    self.gate.wake()
                    continue
                outcome = self.outcome
                if item["error"] is None:
                    outcome.done += 1
                else:
                    outcome.failed += 1
                outcome.tokens += self.tokens(item)
                if self.on_record is not None:
                    self.on_record(item)


class _Interrupted(Exception):
    """The reader was interrupted (a signal): the workers stop taking lines."""
