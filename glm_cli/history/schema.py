"""The store's one schema: numbered migrations, counted by `PRAGMA user_version`.

Every table of `glm.db` — the chat sessions (`store`), the log of exchanges
(`log`) and the cache (`cache`) — is made here, so one number says what a store
holds. Opening a store:

- a new store is made whole (WAL mode, every migration) in a private folder and
  hard-linked into place, so processes starting at once never see half a store;
- a store of an older version is brought up to date in place, in one
  `BEGIN IMMEDIATE` transaction (a crash leaves the old version, whole); the first
  release kept its version in a `schema_version` table, which becomes version 1;
- a store newer than this glm, a foreign SQLite file or a corrupt one is refused
  (exit 2) and never written: nothing is written before its version is read.

sqlite3 is imported here, and this module only when the store is used.
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from glm_cli.core.errors import GlmError, OutputError, UsageError
from glm_cli.files.safe import new_file, private_folder, refused

BUSY_TIMEOUT = 30.0
"""Seconds a writer waits for another's lock (20 processes at once never see `locked`)."""

CHAT_TABLES = """
    CREATE TABLE sessions (
        id INTEGER PRIMARY KEY,
        name TEXT NOT NULL UNIQUE,
        system TEXT,
        created TEXT NOT NULL,
        last_used TEXT NOT NULL
    );
    CREATE TABLE messages (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        session_id INTEGER NOT NULL REFERENCES sessions(id) ON DELETE CASCADE,
        role TEXT NOT NULL,
        body TEXT NOT NULL
    );
    CREATE INDEX messages_by_session ON messages(session_id, id)
"""

LOG_TABLES = """
    CREATE TABLE exchanges (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        time TEXT NOT NULL,
        command TEXT NOT NULL,
        provider TEXT,
        host TEXT,
        model TEXT,
        answered_model TEXT,
        body TEXT,
        prompt TEXT,
        answer TEXT,
        shown TEXT,
        reasoning TEXT,
        tool_calls TEXT,
        finish_reason TEXT,
        prompt_tokens INTEGER,
        completion_tokens INTEGER,
        reasoning_tokens INTEGER,
        cached_tokens INTEGER,
        total_tokens INTEGER,
        duration_s REAL,
        exit_status INTEGER NOT NULL,
        error TEXT,
        request_id TEXT,
        session TEXT,
        cached INTEGER NOT NULL DEFAULT 0
    );
    CREATE INDEX exchanges_by_time ON exchanges(time);
    CREATE TABLE cache (
        key TEXT PRIMARY KEY,
        time TEXT NOT NULL,
        events BLOB NOT NULL
    ) WITHOUT ROWID
"""

USAGE_COLUMNS = (
    "prompt_tokens",
    "completion_tokens",
    "reasoning_tokens",
    "cached_tokens",
    "total_tokens",
)
EXCHANGE_COLUMNS = (
    "command",
    "time",
    "exit_status",
    "provider",
    "host",
    "model",
    "answered_model",
    "body",
    "prompt",
    "answer",
    "shown",
    "reasoning",
    "tool_calls",
    "finish_reason",
    "duration_s",
    "error",
    "request_id",
    "session",
    "cached",
    *USAGE_COLUMNS,
)
"""The columns of `exchanges` a row is written with (all but its id), in order:
`log.Entry`'s fields, its usage spread out."""

FTS_TABLES = """
    CREATE VIRTUAL TABLE exchanges_fts USING fts5(
        prompt, answer, content='exchanges', content_rowid='id'
    );
    CREATE TRIGGER exchanges_fts_insert AFTER INSERT ON exchanges BEGIN
        INSERT INTO exchanges_fts(rowid, prompt, answer) VALUES (new.id, new.prompt, new.answer);
    END;
    CREATE TRIGGER exchanges_fts_delete AFTER DELETE ON exchanges BEGIN
        INSERT INTO exchanges_fts(exchanges_fts, rowid, prompt, answer)
            VALUES ('delete', old.id, old.prompt, old.answer);
    END
"""


def _statements(script: str) -> list[str]:
    """A script's statements; a trigger's body keeps its own semicolons."""
    out: list[str] = []
    current = ""
    for part in script.split(";"):
        current += part
        if sqlite3.complete_statement(current + ";"):
            if current.strip():
                out.append(current.strip())
            current = ""
        else:
            current += ";"
    return out


def _with_fts(db: sqlite3.Connection) -> None:
    """The full-text index, where this SQLite has FTS5 (else `glm logs -q` uses LIKE)."""
    try:
        db.execute("SAVEPOINT fts")
        for statement in _statements(FTS_TABLES):
            db.execute(statement)
        db.execute("RELEASE fts")
    except sqlite3.OperationalError as error:
        if "fts5" not in str(error):
            raise
        db.execute("ROLLBACK TO fts")
        db.execute("RELEASE fts")


_ADD_NEW = """
        INSERT INTO usage_totals VALUES (
            substr(new.time, 1, 10), coalesce(new.answered_model, new.model, ''), new.command,
            1, coalesce(new.prompt_tokens, 0), coalesce(new.completion_tokens, 0),
            coalesce(new.reasoning_tokens, 0), coalesce(new.cached_tokens, 0),
            coalesce(new.total_tokens, 0))
        ON CONFLICT (day, model, command) DO UPDATE SET
            requests = requests + 1,
            prompt_tokens = prompt_tokens + excluded.prompt_tokens,
            completion_tokens = completion_tokens + excluded.completion_tokens,
            reasoning_tokens = reasoning_tokens + excluded.reasoning_tokens,
            cached_tokens = cached_tokens + excluded.cached_tokens,
            total_tokens = total_tokens + excluded.total_tokens;
"""
"""The new row's usage added to its group's totals."""
_SUBTRACT_OLD = """
        UPDATE usage_totals SET
            requests = requests - 1,
            prompt_tokens = prompt_tokens - coalesce(old.prompt_tokens, 0),
            completion_tokens = completion_tokens - coalesce(old.completion_tokens, 0),
            reasoning_tokens = reasoning_tokens - coalesce(old.reasoning_tokens, 0),
            cached_tokens = cached_tokens - coalesce(old.cached_tokens, 0),
            total_tokens = total_tokens - coalesce(old.total_tokens, 0)
        WHERE day = substr(old.time, 1, 10)
            AND model = coalesce(old.answered_model, old.model, '') AND command = old.command;
        DELETE FROM usage_totals WHERE requests = 0;
"""
"""The old row's usage taken from its group's totals (an emptied group goes)."""

USAGE_TOTALS = (
    """
    CREATE TABLE usage_totals (
        day TEXT NOT NULL,
        model TEXT NOT NULL,
        command TEXT NOT NULL,
        requests INTEGER NOT NULL,
        prompt_tokens INTEGER NOT NULL,
        completion_tokens INTEGER NOT NULL,
        reasoning_tokens INTEGER NOT NULL,
        cached_tokens INTEGER NOT NULL,
        total_tokens INTEGER NOT NULL,
        PRIMARY KEY (day, model, command)
    ) WITHOUT ROWID;
    INSERT INTO usage_totals
        SELECT substr(time, 1, 10), coalesce(answered_model, model, ''), command, count(*),
            coalesce(sum(prompt_tokens), 0), coalesce(sum(completion_tokens), 0),
            coalesce(sum(reasoning_tokens), 0), coalesce(sum(cached_tokens), 0),
            coalesce(sum(total_tokens), 0)
        FROM exchanges WHERE cached = 0 GROUP BY 1, 2, 3;
    CREATE TRIGGER usage_totals_insert AFTER INSERT ON exchanges WHEN new.cached = 0 BEGIN
"""
    + _ADD_NEW
    + """    END;
    CREATE TRIGGER usage_totals_delete AFTER DELETE ON exchanges WHEN old.cached = 0 BEGIN
"""
    + _SUBTRACT_OLD
    + """    END;
    CREATE TRIGGER usage_totals_update_old AFTER UPDATE ON exchanges WHEN old.cached = 0 BEGIN
"""
    + _SUBTRACT_OLD
    + """    END;
    CREATE TRIGGER usage_totals_update_new AFTER UPDATE ON exchanges WHEN new.cached = 0 BEGIN
"""
    + _ADD_NEW
    + """    END
"""
)
"""What the service was asked for, by day, model and command (cache hits, which cost
nothing, are not counted), kept by triggers as rows come, change and go:
`glm logs --usage` over the whole log reads these few rows, not every exchange
(a filtered report reads the rows it selects, through their indexes)."""

MIGRATIONS: dict[int, tuple[str, ...]] = {
    1: (CHAT_TABLES,),
    2: (LOG_TABLES, "fts"),
    3: (USAGE_TOTALS,),
}
"""Migration N takes a store from version N-1 to N; "fts" is the optional index."""
SCHEMA_VERSION = max(MIGRATIONS)


def _apply(db: sqlite3.Connection, number: int) -> None:
    for part in MIGRATIONS[number]:
        if part == "fts":
            _with_fts(db)
        else:
            for statement in _statements(part):
                db.execute(statement)


def _tables(db: sqlite3.Connection) -> set[str]:
    rows = db.execute("SELECT name FROM sqlite_master WHERE type = 'table'").fetchall()
    return {str(name) for (name,) in rows}


def version_of(db: sqlite3.Connection, path: Path) -> int:
    """The store's schema version; raises UsageError for a file that is not a glm store."""
    version = int(db.execute("PRAGMA user_version").fetchone()[0])
    if version:
        return version
    tables = _tables(db)
    if "schema_version" in tables:  # the first release's store
        row = db.execute("SELECT version FROM schema_version").fetchone()
        legacy = int(row[0]) if row else 0
        if legacy > 1:
            return SCHEMA_VERSION + legacy  # newer than known either way
        return 1 if legacy == 1 else 0
    raise UsageError(f"{path} is not a glm store (a foreign SQLite database); left as it is")


def migrate(db: sqlite3.Connection, version: int) -> None:
    """Apply every migration above `version`, inside the caller's transaction."""
    if "schema_version" in _tables(db):
        db.execute("DROP TABLE schema_version")
    for number in sorted(n for n in MIGRATIONS if n > version):
        _apply(db, number)
    db.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")


def create(path: Path) -> None:
    """Make a complete store in a private folder, then link it into place."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    with private_folder(path) as folder:
        temporary = folder / path.name
        new_file(temporary)  # SQLite gives the -wal and -shm files its mode
        connection = sqlite3.connect(temporary, isolation_level=None)
        try:
            connection.execute("PRAGMA journal_mode = WAL")
            connection.execute("BEGIN IMMEDIATE")
            for number in sorted(MIGRATIONS):
                _apply(connection, number)
            connection.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
            connection.execute("COMMIT")
        finally:
            connection.close()
        try:
            os.link(temporary, path)  # never follows, never replaces, what is at `path`
        except FileExistsError:
            pass  # another process made it first: use theirs
        except OSError:  # no hard links here: fall back to a rename
            if not os.path.lexists(path):
                os.replace(temporary, path)


def connect(path: Path, *, create_missing: bool, what: str = "store") -> sqlite3.Connection | None:
    """An open, up-to-date connection to the store at `path`; None when it is missing
    and not `create_missing`. Raises a GlmError (exit 2 for a store to refuse)."""
    try:
        if not path.exists():
            if not create_missing:
                return None
            create(path)
        connection = sqlite3.connect(
            path.resolve().as_uri() + "?mode=rw",
            uri=True,
            timeout=BUSY_TIMEOUT,
            isolation_level=None,
            check_same_thread=False,
        )
        try:
            _prepare(connection, path)
        except BaseException:
            connection.close()
            raise
        return connection
    except sqlite3.Error as error:
        raise store_error(path, error, what) from error
    except OSError as error:
        reason = error.strerror or str(error)
        if not refused(error):  # not a place for a store: GLM_HOME is a file, say
            raise UsageError(f"the {what} {path}: {reason}") from error
        doing = "write" if create_missing else "open"
        raise OutputError(f"cannot {doing} the {what} {path}: {reason}") from error


def _prepare(db: sqlite3.Connection, path: Path) -> None:
    """Per connection: foreign keys on; commits not waiting for the disk
    (`synchronous = NORMAL`, SQLite's advice for WAL: a power cut may lose the last
    commits, never the store's integrity), then the version check."""
    db.execute("PRAGMA foreign_keys = ON")
    db.execute("PRAGMA synchronous = NORMAL")
    version = version_of(db, path)
    if version > SCHEMA_VERSION:
        raise UsageError(
            f"the store {path} has schema version {version}, newer than this glm knows "
            f"({SCHEMA_VERSION}); upgrade glm (the store is left as it is)"
        )
    if version < SCHEMA_VERSION:
        with transaction(db, path):
            current = version_of(db, path)  # another process may have migrated it
            if current < SCHEMA_VERSION:
                migrate(db, current)


@contextmanager
def transaction(
    db: sqlite3.Connection, path: Path, *, write: bool = True, what: str = "store"
) -> Iterator[sqlite3.Connection]:
    """One transaction; a writing one takes the write lock at once (no upgrade
    deadlock between two writers), a reading one sees one snapshot."""
    try:
        db.execute("BEGIN IMMEDIATE" if write else "BEGIN")
        try:
            yield db
        except BaseException:
            if db.in_transaction:
                db.execute("ROLLBACK")
            raise
        db.execute("COMMIT")
    except sqlite3.Error as error:
        raise store_error(path, error, what) from error


def store_error(path: Path, error: sqlite3.Error, what: str = "store") -> GlmError:
    """A broken store is the user's file to fix (exit 2); one that cannot be written
    (read-only: the file, its folder or its `-wal`) or is busy is a failure (1)."""
    if isinstance(error, sqlite3.DatabaseError) and not isinstance(error, sqlite3.OperationalError):
        return UsageError(f"the {what} {path} is not usable ({error}); left as it is")
    if "no such table" in str(error):
        return UsageError(f"{path} is not a glm store ({error})")
    name = getattr(error, "sqlite_errorname", "")
    if name.startswith(("SQLITE_READONLY", "SQLITE_CANTOPEN", "SQLITE_PERM")):
        return OutputError(f"cannot write the {what} {path}: {error}")
    return GlmError(f"the {what} {path}: {error}")
