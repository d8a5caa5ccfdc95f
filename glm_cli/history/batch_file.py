"""A batch's `--output FILE` (SPEC §6): the records of earlier runs, and the appends.

`ResultsFile.open(path, retry_failed)` takes an exclusive lock on the file (a second
batch on the same file is a usage error), reads which ids it already records, cuts
off a torn last line (a crash mid-write: the line has no newline), and with
`retry_failed` rewrites it without its error records (through a temporary file in
the same folder and a rename). Each record is then appended whole, in one write
(`files.safe.append`: all or nothing). New files are mode 0600, opened `O_NOFOLLOW`.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
from collections.abc import Iterator
from pathlib import Path

from glm_cli.core.batch_records import read_record
from glm_cli.core.errors import UsageError
from glm_cli.files.safe import PRIVATE, Temporary, append, open_error, write_error

_READ = 1 << 16


class ResultsFile:
    def __init__(self, path: Path, fd: int, done: set[bytes], torn: bool, redo: int) -> None:
        self.path = path
        self.fd = fd
        self.done = done
        """Ids already recorded (with `retry_failed`, only the successful ones)."""
        self.torn = torn
        """A torn last line was cut off."""
        self.redo = redo
        """Error records removed to be redone (`retry_failed`)."""

    @classmethod
    def open(cls, path: Path, retry_failed: bool) -> ResultsFile:
        flags = os.O_RDWR | os.O_CREAT | os.O_APPEND | os.O_NOFOLLOW | os.O_CLOEXEC
        try:
            fd = os.open(path, flags, PRIVATE)
        except OSError as error:
            raise open_error(f"--output {str(path)!r}", path, error) from error
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError as error:
                raise UsageError(
                    f"--output {str(path)!r}: another glm batch is writing it"
                ) from error
            done, failed, good_end, size = _scan(fd)
            torn = good_end < size
            if torn:
                os.ftruncate(fd, good_end)
            redo = 0
            if retry_failed and failed:
                redo = _rewrite_without(path, fd, failed)
                os.close(fd)
                fd = os.open(path, flags, PRIVATE)
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            elif not retry_failed:
                done |= failed
        except OSError as error:
            os.close(fd)
            raise write_error(path, error) from error
        except BaseException:
            os.close(fd)
            raise
        return cls(path, fd, done, torn, redo)

    def write(self, data: bytes) -> None:
        try:
            append(self.fd, data)
        except OSError as error:
            raise write_error(self.path, error) from error

    def close(self) -> None:
        with contextlib.suppress(OSError):
            os.close(self.fd)


def _lines(fd: int) -> Iterator[tuple[int, bytes]]:
    """Each whole line with its offset, streamed (a torn last line is left out)."""
    os.lseek(fd, 0, os.SEEK_SET)
    offset, rest = 0, b""
    while chunk := os.read(fd, _READ):
        rest += chunk
        start = 0
        while (end := rest.find(b"\n", start)) >= 0:
            yield offset + start, rest[start : end + 1]
            start = end + 1
        offset += start
        rest = rest[start:]


def _scan(fd: int) -> tuple[set[bytes], set[bytes], int, int]:
    """(ids recorded, ids with an error record, end of the last whole line, size)."""
    done: set[bytes] = set()
    failed: set[bytes] = set()
    size = os.fstat(fd).st_size
    end = 0
    for offset, line in _lines(fd):
        end = offset + len(line)
        found = read_record(line)
        if found is None:
            continue
        key, is_error = found
        (failed if is_error else done).add(key)
    return done, failed, end, size


def _rewrite_without(path: Path, fd: int, failed: set[bytes]) -> int:
    """Replace the file with its lines less the error records; how many went."""
    temporary = Temporary(path, os.fstat(fd).st_mode & 0o777)
    removed = 0
    try:
        for _, line in _lines(fd):
            found = read_record(line)
            if found is not None and found[1]:
                removed += 1
                continue
            temporary.file.write(line)
    except BaseException:
        temporary.discard()
        raise
    temporary.commit()
    return removed
