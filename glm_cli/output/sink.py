"""`Sink`: the one writer of stdout.

Bytes, UTF-8 whatever the locale. `put` adds to the buffer and `flush` sends it:
a renderer flushes once per batch of events, which is once per network read, so
a reader of the pipe sees each chunk as it arrives without a system call per
token. `write` is `put` and `flush` together, for everything that is not the
per-token path. A closed pipe becomes `StdoutClosed`.
"""

from __future__ import annotations

import errno
from collections.abc import Callable
from typing import IO

from glm_cli.core.errors import StdoutClosed


class Sink:
    __slots__ = ("_out", "ends_with_newline", "on_start", "written")

    def __init__(self, out: IO[bytes], on_start: Callable[[], None] | None = None) -> None:
        self._out = out
        self.written = 0
        """Bytes written so far: a renderer compares it to tell whether it wrote."""
        self.ends_with_newline = True
        self.on_start = on_start
        """Called once, before the first byte is written (it erases the spinner)."""

    @property
    def started(self) -> bool:
        return self.written > 0

    def put(self, data: bytes) -> None:
        """Buffer `data`; it reaches stdout at the next `flush`."""
        if not data:
            return
        if not self.written and self.on_start is not None:
            self.on_start()
        try:
            self._out.write(data)
        except OSError as error:
            raise _closed_or(error) from error
        self.written += len(data)
        self.ends_with_newline = data[-1] == 0x0A

    def flush(self) -> None:
        try:
            self._out.flush()
        except OSError as error:
            raise _closed_or(error) from error

    def write(self, data: bytes | str) -> None:
        """Write and flush at once."""
        self.put(data.encode("utf-8", "surrogatepass") if isinstance(data, str) else data)
        self.flush()

    write_bytes = write


def _closed_or(error: OSError) -> Exception:
    """A closed pipe (EPIPE) is `StdoutClosed`; any other write failure stays itself."""
    if isinstance(error, BrokenPipeError) or error.errno == errno.EPIPE:
        return StdoutClosed("stdout was closed")
    return error
