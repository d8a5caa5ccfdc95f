"""The log of exchanges (SPEC §7.1): one row per exchange, written once, at its end.

    recorder = Recorder(path, warn)          # any number of threads may share it
    recorder.add(entry)                      # queued; written in small groups
    recorder.close()                         # the rest written

`Recorder` is the one writer: rows wait in memory until `GROUP` of them are queued
or `EVERY` seconds passed since the last write, then go in one short
`BEGIN IMMEDIATE` transaction (so a batch at `-j 64` neither takes a transaction
per line nor holds one for the whole run). A failure to write is a warning, said
once, never an exit status: the answer was already given.

The reading side (`select`, `usage`, `remove`, `prune`) serves `glm logs`.
"""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from glm_cli.core.errors import GlmError
from glm_cli.core.records import record
from glm_cli.history import schema

GROUP = 32
"""Rows written in one transaction at most."""
EVERY = 1.0
"""Seconds a queued row waits at most for others to join it."""

USAGE_COLUMNS = (
    "prompt_tokens",
    "completion_tokens",
    "reasoning_tokens",
    "cached_tokens",
    "total_tokens",
)


@dataclass
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


COLUMNS = [name for name in Entry.__dataclass_fields__ if name != "usage"] + list(USAGE_COLUMNS)
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


# --- reading -----------------------------------------------------------------------


@record
class Filters:
    session: str | None = None
    model: str | None = None
    command: str | None = None
    failed: bool = False
    since: str | None = None
    until: str | None = None
    id_gt: int | None = None


def _where(filters: Filters, prefix: str = "") -> tuple[str, list[Any]]:
    clauses: list[str] = []
    values: list[Any] = []
    p = prefix
    if filters.session is not None:
        clauses.append(f"{p}session = ?")
        values.append(filters.session)
    if filters.model is not None:
        clauses.append(f"({p}model = ? OR {p}answered_model = ?)")
        values += [filters.model, filters.model]
    if filters.command is not None:
        clauses.append(f"{p}command = ?")
        values.append(filters.command)
    if filters.failed:
        clauses.append(f"{p}exit_status != 0")
    if filters.since is not None:
        clauses.append(f"{p}time >= ?")
        values.append(filters.since)
    if filters.until is not None:
        clauses.append(f"{p}time <= ?")
        values.append(filters.until)
    if filters.id_gt is not None:
        clauses.append(f"{p}id > ?")
        values.append(filters.id_gt)
    return (" AND ".join(clauses) or "1"), values


ROW_COLUMNS = ["id", *COLUMNS]


def _rows(cursor: sqlite3.Cursor) -> list[dict[str, Any]]:
    names = [column[0] for column in cursor.description]
    return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]


def has_fts(db: sqlite3.Connection) -> bool:
    row = db.execute("SELECT 1 FROM sqlite_master WHERE name = 'exchanges_fts'").fetchone()
    return row is not None


def _fts_query(text: str) -> str:
    """The user's words as FTS5 phrases (all must match): no FTS5 syntax is interpreted."""
    return " ".join('"' + word.replace('"', '""') + '"' for word in text.split())


def _like(word: str) -> str:
    return "%" + word.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


def select(
    db: sqlite3.Connection,
    filters: Filters,
    *,
    limit: int | None,
    query: str | None = None,
    fts: bool = True,
) -> list[dict[str, Any]]:
    """Rows matching: with `query` best match first, else the newest `limit`, oldest first."""
    columns = ", ".join(f"e.{name}" for name in ROW_COLUMNS)
    where, values = _where(filters, "e.")
    bound = "" if limit is None else f" LIMIT {int(limit)}"
    if query is not None and not query.split():
        return []
    if query is not None and fts and has_fts(db) and where == "1":
        sql = (  # ranked inside the index first: only the best rows are read whole
            f"SELECT {columns} FROM (SELECT rowid AS hit, rank AS score FROM exchanges_fts"
            f" WHERE exchanges_fts MATCH ? ORDER BY rank, rowid DESC{bound})"
            f" JOIN exchanges AS e ON e.id = hit ORDER BY score, e.id DESC"
        )
        return _rows(db.execute(sql, [_fts_query(query)]))
    if query is not None and fts and has_fts(db):
        sql = (
            f"SELECT {columns} FROM exchanges_fts JOIN exchanges AS e ON e.id = exchanges_fts.rowid"
            f" WHERE exchanges_fts MATCH ? AND {where} ORDER BY exchanges_fts.rank, e.id DESC"
            + bound
        )
        return _rows(db.execute(sql, [_fts_query(query), *values]))
    if query is not None:
        words = query.split()
        likes = " AND ".join(
            "(e.prompt LIKE ? ESCAPE '\\' OR e.answer LIKE ? ESCAPE '\\')" for _ in words
        )
        score = " + ".join(
            "(e.prompt LIKE ? ESCAPE '\\') + (e.answer LIKE ? ESCAPE '\\')" for _ in words
        )
        patterns = [p for word in words for p in (_like(word), _like(word))]
        sql = (
            f"SELECT {columns} FROM exchanges AS e WHERE {likes} AND {where}"
            f" ORDER BY {score} DESC, e.id DESC" + bound
        )
        return _rows(db.execute(sql, [*patterns, *values, *patterns]))
    sql = f"SELECT {columns} FROM exchanges AS e WHERE {where} ORDER BY e.id DESC" + bound
    return list(reversed(_rows(db.execute(sql, values))))


def one(db: sqlite3.Connection, row_id: int) -> dict[str, Any] | None:
    columns = ", ".join(ROW_COLUMNS)
    rows = _rows(db.execute(f"SELECT {columns} FROM exchanges WHERE id = ?", (row_id,)))
    return rows[0] if rows else None


GROUPS = {
    "day": "substr(time, 1, 10)",
    "model": "coalesce(answered_model, model, '')",
    "command": "command",
}


def _totals_answer(filters: Filters) -> bool:
    """Whether the running totals (`usage_totals`) hold the answer: no filter but the
    command, a column they share."""
    return _where(filters) == _where(Filters(command=filters.command))


def usage(db: sqlite3.Connection, filters: Filters, by: list[str]) -> list[dict[str, Any]]:
    """Token sums and requests per group (`by`: names of `GROUPS`), in group order."""
    where, values = _where(filters)
    order = ", ".join(str(i + 1) for i in range(len(by)))
    sums = [f"coalesce(sum({name}), 0) AS {name}" for name in USAGE_COLUMNS]
    if _totals_answer(filters):
        keys = [f"{name} AS {name}" for name in by]
        table, count = f"usage_totals WHERE {where}", "coalesce(sum(requests), 0) AS requests"
    else:
        keys = [f"{GROUPS[name]} AS {name}" for name in by]
        table, count = f"exchanges WHERE {where}", "count(*) AS requests"
    sql = (
        f"SELECT {', '.join([*keys, *sums, count])} FROM {table} GROUP BY {order} ORDER BY {order}"
    )
    return _rows(db.execute(sql, values))


def remove(db: sqlite3.Connection, path: Path, ids: list[int]) -> list[int]:
    """Delete the rows `ids` in one transaction; the ids that were not there (then
    nothing is deleted)."""
    with schema.transaction(db, path):
        marks = ", ".join("?" for _ in ids)
        found = {r for (r,) in db.execute(f"SELECT id FROM exchanges WHERE id IN ({marks})", ids)}
        missing = [i for i in ids if i not in found]
        if not missing:
            db.execute(f"DELETE FROM exchanges WHERE id IN ({marks})", ids)
    return missing


def prune(db: sqlite3.Connection, path: Path, before: str) -> int:
    """Delete rows (and cache entries) older than `before`, then VACUUM; the rows deleted."""
    with schema.transaction(db, path):
        count = db.execute("DELETE FROM exchanges WHERE time < ?", (before,)).rowcount
        db.execute("DELETE FROM cache WHERE time < ?", (before,))
    try:
        db.execute("VACUUM")
    except sqlite3.Error as error:
        raise schema.store_error(path, error) from error
    return int(count)
