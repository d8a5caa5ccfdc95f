"""Conversations kept in JSONL files (`glm chat --file`): one OpenAI-style message a line.

Readers hold a shared `fcntl` lock while they read, writers an exclusive one. An
exchange is appended as whole lines in a single `write` to a file opened with
`O_APPEND`, so processes appending at once never lose or interleave messages; a
failed write (a full disk) cuts the file back to where it was (`safe_files.append`),
so only a crash mid-write can leave a torn last line (which the next reader reports).
A system prompt is a `system` line: the last one is in force, so changing it is an
append too. A malformed line is a usage error naming the line; the file is not
touched. New files are made with mode 0600, like the session store. The file is
opened `O_NOFOLLOW`: a symlink at its path is refused, never written through.
"""

from __future__ import annotations

import fcntl
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import orjson

from glm_cli.core.errors import OutputError, UsageError
from glm_cli.core.messages import Message
from glm_cli.files.safe import append, open_error, write_atomically, write_error
from glm_cli.history.conversation import (
    KEEP,
    Conversation,
    Keep,
    SystemChange,
    check_message,
    fold_system,
    jsonl,
    message_line,
)

FILE_MODE = 0o600
_EFFECTIVE = os.access in os.supports_effective_ids


def parse_lines(data: bytes, where: str) -> list[Message]:
    """Every message of a JSONL file; blank lines are skipped."""
    messages: list[Message] = []
    for number, line in enumerate(data.split(b"\n"), 1):
        if not line.strip():
            continue
        try:
            line.decode("utf-8")
        except UnicodeDecodeError as error:
            raise UsageError(
                f"{where}: line {number}: not valid UTF-8 (byte {error.start} of the line)"
            ) from error
        try:
            value = orjson.loads(line)
        except orjson.JSONDecodeError as error:
            raise UsageError(
                f"{where}: line {number}: not valid JSON ({error.msg}, column {error.colno})"
            ) from error
        try:
            messages.append(check_message(value))
        except ValueError as error:
            raise UsageError(f"{where}: line {number}: {error}") from error
    return messages


@contextmanager
def _locked(path: Path, flags: int, lock: int) -> Iterator[int]:
    try:
        fd = os.open(path, flags | os.O_CLOEXEC | os.O_NOFOLLOW, FILE_MODE)
    except OSError as error:
        raise open_error(f"--file {str(path)!r}", path, error) from error
    try:
        fcntl.flock(fd, lock)
        yield fd
    finally:
        os.close(fd)  # closing releases the lock


def _read_all(fd: int) -> bytes:
    parts = []
    while chunk := os.read(fd, 1 << 16):
        parts.append(chunk)
    return b"".join(parts)


class FileHistory:
    """A JSONL file as a `History`."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.label = f"file {str(path)!r}"
        self._where = f"--file {str(path)!r}"

    def check(self) -> None:
        """Fail before any request if the file could not be read and appended to: a
        symlink, a directory, a read-only file or folder (the same `open` as `append`)."""
        if os.path.lexists(self.path):
            with _locked(self.path, os.O_RDWR | os.O_APPEND, fcntl.LOCK_SH):
                return
        parent = self.path.parent
        if not parent.is_dir():
            raise UsageError(f"{self._where}: no such directory {str(parent)!r}")
        if not os.access(parent, os.W_OK | os.X_OK, effective_ids=_EFFECTIVE):
            raise OutputError(f"cannot write to {self.path}: cannot create a file in {parent}")

    def load(self) -> Conversation:
        try:
            with _locked(self.path, os.O_RDONLY, fcntl.LOCK_SH) as fd:
                data = _read_all(fd)
        except UsageError:
            if not self.path.exists():
                return Conversation()  # created by the first exchange
            raise
        return fold_system(parse_lines(data, self._where))

    def append(self, messages: list[Message], system: SystemChange = KEEP) -> None:
        lines = (
            []
            if isinstance(system, Keep)
            else [message_line({"role": "system", "content": system or ""})]
        )
        lines.extend(message_line(message) for message in messages)
        flags = os.O_RDWR | os.O_APPEND | os.O_CREAT  # read: to see the last byte
        with _locked(self.path, flags, fcntl.LOCK_EX) as fd:
            data = b"".join(lines)
            if not _ends_line(fd):
                data = b"\n" + data  # a last line written without its newline
            try:
                append(fd, data)
            except OSError as error:
                raise write_error(self.path, error) from error

    def reset(self, system: str | None = None) -> None:
        # Not O_TRUNC: truncating before the lock is held would cut a reader short.
        with _locked(self.path, os.O_WRONLY | os.O_CREAT, fcntl.LOCK_EX) as fd:
            try:
                os.ftruncate(fd, 0)
                if system is not None:
                    append(fd, message_line({"role": "system", "content": system}))
            except OSError as error:
                raise write_error(self.path, error) from error

    def close(self) -> None:
        return None


def _ends_line(fd: int) -> bool:
    size = os.fstat(fd).st_size
    return size == 0 or os.pread(fd, 1, size - 1) == b"\n"


def save(path: Path, conversation: Conversation) -> None:
    """Write a whole conversation as JSONL (`/save FILE`), replacing the file at once
    (a symlink at `path` is replaced, not written through)."""
    path = path.expanduser()
    try:
        write_atomically(path, jsonl(conversation), FILE_MODE)
    except OSError as error:
        raise write_error(path, error) from error
