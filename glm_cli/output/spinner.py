"""The spinner drawn on a terminal's stderr while glm waits for the first token.

`Console.start_spinner` decides whether to draw one at all (stderr a terminal, not
`--quiet`, not `TERM=dumb`); this module only draws. A small daemon thread redraws
`⠋ thinking… 12s` every tenth of a second; `stop` erases the line (CR + clear line)
and returns only once the thread can no longer write: every write happens under
the lock, after checking that the spinner is still running. With `plain` (NO_COLOR)
no escape code is written at all: the line is erased by overwriting it with spaces.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import IO

FRAMES = "⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏"
INTERVAL = 0.1
"""Seconds between frames."""
DELAY = 0.2
"""Seconds before the first frame: a fast answer shows no spinner at all."""
ERASE = b"\r\x1b[2K"


class Spinner:
    def __init__(
        self,
        out: IO[bytes],
        label: str = "thinking…",
        *,
        delay: float | None = None,
        clock: Callable[[], float] = time.monotonic,
        plain: bool = False,
    ) -> None:
        self.out = out
        self.label = label
        self.plain = plain
        self._width = 0
        self.delay = DELAY if delay is None else delay
        self._clock = clock
        self._lock = threading.Lock()
        self._stopped = threading.Event()
        self._running = False
        self._drawn = False
        self._thread: threading.Thread | None = None

    def start(self) -> Spinner:
        self._started_at = self._clock()
        self._running = True
        self._thread = threading.Thread(target=self._run, name="glm-spinner", daemon=True)
        self._thread.start()
        return self

    def frame(self, number: int) -> bytes:
        elapsed = int(self._clock() - self._started_at)
        text = f"{FRAMES[number % len(FRAMES)]} {self.label} {elapsed}s"
        line = "\r" + (text.ljust(self._width) if self.plain else text + "\x1b[K")
        self._width = max(self._width, len(text))
        return line.encode("utf-8")

    def erase(self) -> bytes:
        if self.plain:
            return b"\r" + b" " * self._width + b"\r"
        return ERASE

    def _run(self) -> None:
        if self._stopped.wait(self.delay):
            return
        number = 0
        while True:
            with self._lock:
                if not self._running:
                    return
                self._emit(self.frame(number))
                self._drawn = True
            number += 1
            if self._stopped.wait(INTERVAL):
                return

    def _emit(self, data: bytes) -> None:
        try:
            self.out.write(data)
            self.out.flush()
        except (OSError, ValueError):
            self._running = False

    def stop(self) -> None:
        """Erase the spinner (if it was drawn); nothing is written after this returns."""
        with self._lock:
            if not self._running:
                return
            self._running = False
            self._stopped.set()
            if self._drawn:
                self._emit(self.erase())
        thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout=1.0)
