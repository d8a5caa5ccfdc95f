"""The log of exchanges (SPEC §7.1): one row per exchange, written once, at its end.

    recorder = Recorder(path, warn)          # any number of threads may share it
    recorder.add(entry)                      # queued; written in small groups
    recorder.close()                         # the rest written

`Recorder` is the one writer: rows wait in memory until `GROUP` of them are queued
or `EVERY` seconds passed since the last write, then go in one short
`BEGIN IMMEDIATE` transaction (so a batch at `-j 64` neither takes a transaction
per line nor holds one for the whole run). A failure to write is a warning, said
once, never an exit status: the answer was already given.

The reading side (`select`, `usage`, `remove`, `prune`) is `history.search`.
"""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, field
from pathlib import Path
from typing import Any

from glm_cli.core.errors import GlmError
from glm_cli.core.records import record
from glm_cli.history import schema

GROUP = 32
"""Rows written in one transaction at most."""
EVERY = 1.0
"""Seconds a queued row waits at most for others to join it."""

USAGE_COLUMNS = schema.USAGE_COLUMNS


@record
class Entry:
    """One exchange as it is recorded (the key and auth headers are never here)."""

    command: str
    time: str
    exit_status: int = 0
    provider: str | None = None
    host: str | None = None
    model: str | None = None
    answered_model: str | None = None
    body: str | None = None
    """The request body sent, as JSON text."""
    prompt: str | None = None
    answer: str | None = None
    shown: str | None = None
    """The answer as stdout showed it (for `glm logs -r`), where it differs or is known."""
    reasoning: str | None = None
    tool_calls: str | None = None
    """JSON text: a list of {"id", "name", "arguments", "type"}."""
    finish_reason: str | None = None
    usage: dict[str, int | None] = field(default_factory=dict)
    duration_s: float | None = None
    error: str | None = None
    request_id: str | None = None
    session: str | None = None
    cached: bool = False


COLUMNS = schema.EXCHANGE_COLUMNS
_INSERT = f"INSERT INTO exchanges ({', '.join(COLUMNS)}) VALUES ({', '.join('?' for _ in COLUMNS)})"


def _values(entry: Entry) -> tuple[Any, ...]:
    data = asdict(entry)
    usage = data.pop("usage")
    data["cached"] = int(entry.cached)
    plain = [data[name] for name in COLUMNS if name not in USAGE_COLUMNS]
    return (*plain, *(usage.get(name) for name in USAGE_COLUMNS))


def insert(db: sqlite3.Connection, path: Path, entries: list[Entry]) -> None:
    """Write `entries` in one transaction."""
    with schema.transaction(db, path):
        db.executemany(_INSERT, [_values(entry) for entry in entries])


class Recorder:
    """Takes finished exchanges (from any thread) and writes them as log rows."""

    def __init__(
        self,
        path: Path,
        warn: Callable[[str], None],
        *,
        group: int = GROUP,
        every: float = EVERY,
    ) -> None:
        self.path = path
        self.warn = warn
        self.group = group
        self.every = every
        self._lock = threading.Lock()
        self._queued: list[Entry] = []
        self._last = time.monotonic()
        self._db: sqlite3.Connection | None = None
        self._failed = False

    def add(self, entry: Entry) -> None:
        """Queue one row; written now when the group is full or has waited long enough."""
        with self._lock:
            self._queued.append(entry)
            if len(self._queued) >= self.group or time.monotonic() - self._last >= self.every:
                self._write()

    def flush(self) -> None:
        with self._lock:
            self._write()

    def close(self) -> None:
        with self._lock:
            self._write()
            if self._db is not None:
                self._db.close()
                self._db = None

    def _write(self) -> None:
        rows, self._queued = self._queued, []
        self._last = time.monotonic()
        if not rows or self._failed:
            return
        try:
            if self._db is None:
                self._db = schema.connect(self.path, create_missing=True)
            assert self._db is not None
            insert(self._db, self.path, rows)
        except GlmError as error:
            self._failed = True
            self.warn(f"the exchange was not logged: {error.message}")
