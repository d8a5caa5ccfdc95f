"""Reading the log (SPEC §7.1): filters, search (FTS5, ranked, or LIKE), one row,
usage totals, and deletion (`rm`, `--prune`).

Apart from `history.log`, which writes: `glm logs` reads without defining (or
importing) what a row is written from.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

from glm_cli.core.records import record
from glm_cli.history import schema
from glm_cli.history.schema import EXCHANGE_COLUMNS, USAGE_COLUMNS


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


ROW_COLUMNS = ["id", *EXCHANGE_COLUMNS]


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
        table, count = f"exchanges WHERE cached = 0 AND {where}", "count(*) AS requests"
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
