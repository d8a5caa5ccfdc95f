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
- The schema — these tables, the log's and the cache's — is `history.schema`'s:
  numbered migrations under `PRAGMA user_version`; an older store is brought up to
  date on open, and a store from a newer glm is refused, not damaged.
"""

from __future__ import annotations

import sqlite3
from contextlib import AbstractContextManager
from datetime import UTC, datetime
from pathlib import Path

import orjson

from glm_cli.core.errors import GlmError, UsageError
from glm_cli.core.messages import Message
from glm_cli.core.records import record
from glm_cli.history import schema
from glm_cli.history.conversation import KEEP, Conversation, Keep, SystemChange, check_message

MAX_NAME = 200
WHAT = "chat store"


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
        connection = schema.connect(path, create_missing=create, what=WHAT)
        return None if connection is None else cls(path, connection)

    def _transaction(self, *, write: bool = True) -> AbstractContextManager[sqlite3.Connection]:
        return schema.transaction(self._db, self.path, write=write, what=WHAT)

    def check_writable(self) -> None:
        """A write, rolled back: fails now, before a request is paid for, where storing
        its answer would fail (`BEGIN IMMEDIATE` alone passes on a read-only file)."""
        try:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                self._db.execute("PRAGMA user_version = " + str(schema.SCHEMA_VERSION))
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

    def latest(self) -> str | None:
        """The session used last (`--continue`): the latest LAST_USED of `--list`; within
        one second, the one whose messages were written last, then the newest."""
        row = self._db.execute(
            "SELECT name FROM sessions ORDER BY last_used DESC,"
            " (SELECT max(id) FROM messages WHERE session_id = sessions.id) DESC, id DESC"
            " LIMIT 1"
        ).fetchone()
        return None if row is None else str(row[0])

    def exists(self, name: str) -> bool:
        row = self._db.execute("SELECT 1 FROM sessions WHERE name = ?", (name,)).fetchone()
        return row is not None

    def create(self, name: str, conversation: Conversation) -> bool:
        """A new session holding `conversation`, written whole in one transaction;
        False (and nothing written) if the name is taken."""
        now = utc_now()
        with self._transaction() as db:
            cursor = db.execute(
                "INSERT INTO sessions (name, system, created, last_used) VALUES (?, ?, ?, ?)"
                " ON CONFLICT (name) DO NOTHING",
                (name, conversation.system, now, now),
            )
            if cursor.rowcount != 1 or cursor.lastrowid is None:
                return False
            _insert(db, cursor.lastrowid, conversation.messages)
        return True

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
            _insert(db, session, messages)
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


def _insert(db: sqlite3.Connection, session: int, messages: list[Message]) -> None:
    db.executemany(
        "INSERT INTO messages (session_id, role, body) VALUES (?, ?, ?)",
        [(session, m.get("role"), orjson.dumps(m).decode()) for m in messages],
    )


def _decode(path: Path, body: str) -> Message:
    try:
        return check_message(orjson.loads(body))
    except ValueError as error:  # orjson.JSONDecodeError is a ValueError
        raise GlmError(f"the chat store {path} holds a damaged message ({error})") from error


def store_error(path: Path, error: sqlite3.Error) -> GlmError:
    return schema.store_error(path, error, WHAT)


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


class ForkHistory(SessionHistory):
    """`--fork SOURCE --session NAME`: NAME starts as a copy of SOURCE (its messages and
    system prompt); SOURCE is never written.

    NAME does not exist until the first change: until then what is loaded is SOURCE
    (read once), and the first append writes NAME whole — the copy and the exchange —
    in one transaction. A failed request therefore leaves no NAME behind, the same
    command can be run again, and the copy is exactly the history that was sent.
    """

    def __init__(self, path: Path, name: str, source: str) -> None:
        super().__init__(path, name)
        self.source = source
        self._copy: Conversation | None = None
        self._forked = False

    def check(self) -> None:
        """SOURCE exists, NAME does not, the store is writable: before any request.
        A missing store is not made (there is nothing to fork)."""
        if self._store is None:
            self._store = Store.open(self.path, create=False)
        if self._store is None or not self._store.exists(self.source):
            raise UsageError(
                f"--fork {self.source!r}: no such session (glm chat --list lists them)"
            )
        if self._store.exists(self.name):
            raise self._taken()
        self._store.check_writable()

    def _taken(self) -> UsageError:
        return UsageError(
            f"--session {self.name!r}: the session exists, and --fork makes a new one "
            "(choose another name, or glm chat --delete it first)"
        )

    def load(self) -> Conversation:
        if self._forked:
            return super().load()
        if self._copy is None:
            self._copy = self._open().load(self.source)
            if self._copy is None:
                raise UsageError(f"--fork {self.source!r}: no such session (deleted meanwhile)")
        return Conversation(self._copy.system, list(self._copy.messages))

    def append(self, messages: list[Message], system: SystemChange = KEEP) -> None:
        """The first append creates NAME, the copy and the exchange at once."""
        if self._forked:
            super().append(messages, system)
            return
        copy = self.load()
        self._create(
            Conversation(
                copy.system if isinstance(system, Keep) else system, copy.messages + messages
            )
        )

    def reset(self, system: str | None = None) -> None:
        if self._forked:
            super().reset(system)
        else:
            self._create(Conversation(system))

    def _create(self, conversation: Conversation) -> None:
        if not self._open().create(self.name, conversation):
            raise self._taken()
        self._forked = True
