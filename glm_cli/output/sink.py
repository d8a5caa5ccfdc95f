"""`Sink`: the one writer of stdout.

Bytes, UTF-8 whatever the locale. `put` adds to the buffer and `flush` sends it:
a renderer flushes once per batch of events, which is once per network read, so
a reader of the pipe sees each chunk as it arrives without a system call per
token. `write` is `put` and `flush` together, for everything that is not the
per-token path. A closed pipe becomes `StdoutClosed` (glm dies by SIGPIPE); any
other failed write (a full disk, a closed descriptor) an `OutputError`: exit 1.
With `--output FILE` the sink writes to FILE's temporary instead (`files.safe.
Replacement`), and a failed write names FILE.
"""

from __future__ import annotations

import io
import os
from collections.abc import Callable
from typing import IO

from glm_cli.core.errors import GlmError, OutputError, stdout_failure


class Sink:
    __slots__ = ("_file", "_out", "ends_with_newline", "on_start", "written")

    def __init__(
        self,
        out: IO[bytes],
        on_start: Callable[[], None] | None = None,
        *,
        file: str | None = None,
    ) -> None:
        self._out = out
        self._file = file
        """The `--output` file written through `out`, or None for stdout."""
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
        except (OSError, ValueError) as error:
            raise self._failed(error) from error
        self.written += len(data)
        self.ends_with_newline = data[-1] == 0x0A

    def flush(self) -> None:
        try:
            self._out.flush()
        except (OSError, ValueError) as error:
            raise self._failed(error) from error

    def _failed(self, error: OSError | ValueError) -> GlmError:
        """Once stdout failed nothing more can reach it: it is pointed at /dev/null, so
        what is still buffered cannot fail again (at exit, or under an error report)."""
        if self._file is not None:
            why = error.strerror if isinstance(error, OSError) and error.strerror else error
            return OutputError(f"cannot write to {self._file}: {why or 'it is closed'}")
        try:
            devnull = os.open(os.devnull, os.O_WRONLY)
            try:
                os.dup2(devnull, self._out.fileno())
            finally:
                os.close(devnull)
        except (OSError, ValueError, AttributeError, io.UnsupportedOperation):
            pass
        return stdout_failure(error)

    def write(self, data: bytes | str) -> None:
        """Write and flush at once."""
        self.put(data.encode("utf-8", "surrogatepass") if isinstance(data, str) else data)
        self.flush()

    write_bytes = write

    def end_line(self) -> None:
        """End the last line written if it is unfinished, so that a message after it on
        the same terminal starts a line (SPEC §3); a failure here is left to the
        message."""
        if self.written and not self.ends_with_newline:
            try:
                self.write(b"\n")
            except GlmError:
                return
