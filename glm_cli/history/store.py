"""Named chat sessions in the local store: SQLite at `$GLM_HOME/glm.db`, else
`$XDG_DATA_HOME/glm/glm.db`. Imported only when `glm chat` runs (sqlite3 costs start-up).

Why it is shaped so:
- A new store is made whole — WAL mode and schema — in a private folder (nothing
  planted can redirect SQLite's writes), then hard-linked into place. Processes
  starting at once therefore never see a half-made store, and never race to switch
  the journal mode (which needs a lock SQLite's busy handler does not always wait for).
- Mode 0600 (SQLite gives the `-wal` and `-shm` files the database's mode):
  conversations are private. The API key is never written here.
- `check_writable` runs before a request is sent: a read-only store fails before the
  answer is paid for, not after.
- Every change is one `BEGIN IMMEDIATE` transaction, so two processes appending at
  once both land whole and in order, and a crash leaves the last committed state.
- `schema_version` records the schema's version; `MIGRATIONS` brings an older
  store up to date on open, and a store from a newer glm is refused, not damaged.
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

import orjson

from glm_cli.core.errors import GlmError, OutputError, UsageError
from glm_cli.core.messages import Message
from glm_cli.core.records import record
from glm_cli.files.safe import new_file, private_folder, refused
from glm_cli.history.conversation import KEEP, Conversation, Keep, SystemChange, check_message
from glm_cli.settings.config import data_dir

STORE_NAME = "glm.db"
BUSY_TIMEOUT = 30.0
MAX_NAME = 200

MIGRATIONS: dict[int, str] = {
    1: """
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
        CREATE INDEX messages_by_session ON messages(session_id, id);
    """,
}
SCHEMA_VERSION = max(MIGRATIONS)


def store_path(env: Mapping[str, str]) -> Path:
    return data_dir(env) / STORE_NAME


def utc_now() -> str:
    """ISO 8601, UTC, whole seconds, with `Z`: 2026-11-21T22:58:00Z."""
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def check_name(source: str, name: object) -> str:
    """A session name: printable text (it is a column of `--list`), 1–200 characters."""
    if (
        not isinstance(name, str)
        or not name.strip()
        or len(name) > MAX_NAME
        or any(ord(c) < 32 or ord(c) == 127 for c in name)
    ):
        raise UsageError(
            f"{source} {name!r}: a session name must be 1 to {MAX_NAME} characters, "
            "without tabs, newlines or other control characters"
        )
    return name


@record
class SessionInfo:
    name: str
    messages: int
    last_used: str


class Store:
    """One connection to the store; every method is one transaction."""

    def __init__(self, path: Path, connection: sqlite3.Connection) -> None:
        self.path = path
        self._db = connection

    @classmethod
    def open(cls, path: Path, *, create: bool) -> Store | None:
        """The store at `path`; a missing one is made when `create`, else None."""
        try:
            if not path.exists():
                if not create:
                    return None
                _create(path)
            connection = sqlite3.connect(
                path.resolve().as_uri() + "?mode=rw",
                uri=True,
                timeout=BUSY_TIMEOUT,
                isolation_level=None,
            )
            store = cls(path, connection)
            try:
                store._prepare()
            except BaseException:
                connection.close()
                raise
            return store
        except sqlite3.Error as error:
            raise store_error(path, error) from error
        except OSError as error:
            reason = error.strerror or str(error)
            if not refused(error):  # not a place for a store: GLM_HOME is a file, say
                raise UsageError(f"the chat store {path}: {reason}") from error
            doing = "write" if create else "open"
            raise OutputError(f"cannot {doing} the chat store {path}: {reason}") from error

    def _prepare(self) -> None:
        self._db.execute("PRAGMA foreign_keys = ON")
        version = self._version()
        if version > SCHEMA_VERSION:
            raise UsageError(
                f"the chat store {self.path} has schema version {version}, newer than this "
                f"glm knows ({SCHEMA_VERSION}); upgrade glm"
            )
        if version < SCHEMA_VERSION:
            with self._transaction():
                _migrate(self._db, self._version())

    def _version(self) -> int:
        row = self._db.execute("SELECT version FROM schema_version").fetchone()
        return int(row[0]) if row else 0

    @contextmanager
    def _transaction(self, *, write: bool = True) -> Iterator[sqlite3.Connection]:
        """One transaction; a writing one takes the write lock at once (no upgrade
        deadlock between two writers), a reading one sees one snapshot."""
        try:
            self._db.execute("BEGIN IMMEDIATE" if write else "BEGIN")
            try:
                yield self._db
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")
        except sqlite3.Error as error:
            raise store_error(self.path, error) from error

    def check_writable(self) -> None:
        """A write, rolled back: fails now, before a request is paid for, where storing
        its answer would fail (`BEGIN IMMEDIATE` alone passes on a read-only file)."""
        try:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                self._db.execute("UPDATE schema_version SET version = version")
            finally:
                if self._db.in_transaction:
                    self._db.execute("ROLLBACK")
        except sqlite3.Error as error:
            raise store_error(self.path, error) from error

    def close(self) -> None:
        self._db.close()

    # --- sessions ----------------------------------------------------------------

    def sessions(self) -> list[SessionInfo]:
        rows = self._db.execute(
            "SELECT name, (SELECT count(*) FROM messages WHERE session_id = sessions.id),"
            " last_used FROM sessions ORDER BY name"
        ).fetchall()
        return [SessionInfo(name, count, last_used) for name, count, last_used in rows]

    def load(self, name: str) -> Conversation | None:
        """The session's conversation, or None if there is no such session."""
        with self._transaction(write=False) as db:
            row = db.execute("SELECT id, system FROM sessions WHERE name = ?", (name,)).fetchone()
            if row is None:
                return None
            bodies = db.execute(
                "SELECT body FROM messages WHERE session_id = ? ORDER BY id", (row[0],)
            ).fetchall()
        messages = [_decode(self.path, body) for (body,) in bodies]
        return Conversation(row[1], messages)

    def append(self, name: str, messages: list[Message], system: SystemChange = KEEP) -> None:
        now = utc_now()
        with self._transaction() as db:
            session = _session_id(db, name, now)
            if not isinstance(system, Keep):
                db.execute("UPDATE sessions SET system = ? WHERE id = ?", (system, session))
            db.executemany(
                "INSERT INTO messages (session_id, role, body) VALUES (?, ?, ?)",
                [(session, m.get("role"), orjson.dumps(m).decode()) for m in messages],
            )
            db.execute("UPDATE sessions SET last_used = ? WHERE id = ?", (now, session))

    def reset(self, name: str, system: str | None = None) -> None:
        """Empty a session (its system prompt becomes `system`); a missing one stays
        missing unless there is a system prompt to keep."""
        now = utc_now()
        with self._transaction() as db:
            row = db.execute("SELECT id FROM sessions WHERE name = ?", (name,)).fetchone()
            if row is None and system is None:
                return
            session = row[0] if row is not None else _session_id(db, name, now)
            db.execute("DELETE FROM messages WHERE session_id = ?", (session,))
            db.execute(
                "UPDATE sessions SET system = ?, last_used = ? WHERE id = ?",
                (system, now, session),
            )

    def delete(self, name: str) -> bool:
        with self._transaction() as db:
            row = db.execute("SELECT id FROM sessions WHERE name = ?", (name,)).fetchone()
            if row is None:
                return False
            db.execute("DELETE FROM messages WHERE session_id = ?", (row[0],))
            db.execute("DELETE FROM sessions WHERE id = ?", (row[0],))
            return True


def _session_id(db: sqlite3.Connection, name: str, now: str) -> int:
    db.execute(
        "INSERT INTO sessions (name, created, last_used) VALUES (?, ?, ?)"
        " ON CONFLICT (name) DO NOTHING",
        (name, now, now),
    )
    row = db.execute("SELECT id FROM sessions WHERE name = ?", (name,)).fetchone()
    return int(row[0])


def _decode(path: Path, body: str) -> Message:
    try:
        return check_message(orjson.loads(body))
    except ValueError as error:  # orjson.JSONDecodeError is a ValueError
        raise GlmError(f"the chat store {path} holds a damaged message ({error})") from error


def _migrate(db: sqlite3.Connection, version: int) -> None:
    """Apply every migration above `version` (inside the caller's transaction)."""
    db.execute("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)")
    for number in sorted(n for n in MIGRATIONS if n > version):
        for statement in MIGRATIONS[number].split(";"):
            if statement.strip():
                db.execute(statement)
    db.execute("DELETE FROM schema_version")
    db.execute("INSERT INTO schema_version (version) VALUES (?)", (SCHEMA_VERSION,))


def _create(path: Path) -> None:
    """Make a complete store in a private folder, then link it into place."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    with private_folder(path) as folder:
        temporary = folder / path.name
        new_file(temporary)  # SQLite gives the -wal and -shm files its mode
        connection = sqlite3.connect(temporary, isolation_level=None)
        try:
            connection.execute("PRAGMA journal_mode = WAL")
            connection.execute("BEGIN IMMEDIATE")
            _migrate(connection, 0)
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


def store_error(path: Path, error: sqlite3.Error) -> GlmError:
    """A broken store is the user's file to fix (exit 2); one that cannot be written
    (read-only: the file, its folder or its `-wal`) or is busy is a failure (1)."""
    if isinstance(error, sqlite3.DatabaseError) and not isinstance(error, sqlite3.OperationalError):
        return UsageError(f"the chat store {path} is not usable ({error})")
    if "no such table" in str(error):
        return UsageError(f"{path} is not a glm chat store ({error})")
    name = getattr(error, "sqlite_errorname", "")
    if name.startswith(("SQLITE_READONLY", "SQLITE_CANTOPEN", "SQLITE_PERM")):
        return OutputError(f"cannot write the chat store {path}: {error}")
    return GlmError(f"the chat store {path}: {error}")


class SessionHistory:
    """A named session as a `History` (the store is opened on first use)."""

    def __init__(self, path: Path, name: str) -> None:
        self.path = path
        self.name = name
        self.label = f"session {name!r}"
        self._store: Store | None = None

    def _open(self) -> Store:
        if self._store is None:
            self._store = Store.open(self.path, create=True)
            assert self._store is not None
        return self._store

    def check(self) -> None:
        """Fail before any request if an exchange could not be stored (SPEC §3.2)."""
        self._open().check_writable()

    def load(self) -> Conversation:
        return self._open().load(self.name) or Conversation()

    def append(self, messages: list[Message], system: SystemChange = KEEP) -> None:
        self._open().append(self.name, messages, system)

    def reset(self, system: str | None = None) -> None:
        self._open().reset(self.name, system)

    def close(self) -> None:
        if self._store is not None:
            self._store.close()
            self._store = None
