"""Server-sent events, decoded in two stages that know nothing about JSON.

`LineSplitter` turns arbitrary byte chunks into lines, with CR, LF and CRLF line
endings even when a CRLF is split across two chunks. `SSEDecoder` follows the
WHATWG event-stream rules: `data` lines are joined with "\\n", comments (lines
starting with ":") are skipped, an empty line dispatches the event, and `id` and
`retry` are kept; one BOM at the very start is skipped. Payloads stay bytes, so
`orjson.loads` and the raw writer take them without a decode/encode round trip.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from typing import NamedTuple

_LINE_BREAK = re.compile(rb"\r\n|\r|\n")
_BOM = b"\xef\xbb\xbf"


class SSEvent(NamedTuple):
    event: str
    data: bytes
    id: str | None = None


class LineSplitter:
    __slots__ = ("_parts", "_skip_lf")

    def __init__(self) -> None:
        self._parts: list[bytes] = []
        self._skip_lf = False

    def feed(self, chunk: bytes) -> list[bytes]:
        """The complete lines in `chunk` (without their endings); the rest is kept."""
        if not chunk:
            return []
        if self._skip_lf:
            self._skip_lf = False
            if chunk[0] == 0x0A:
                chunk = chunk[1:]
                if not chunk:
                    return []
        if b"\r" not in chunk:
            if b"\n" not in chunk:
                self._parts.append(chunk)
                return []
            if self._parts:
                self._parts.append(chunk)
                chunk = b"".join(self._parts)
                self._parts.clear()
            lines = chunk.split(b"\n")
        else:
            if self._parts:
                self._parts.append(chunk)
                chunk = b"".join(self._parts)
                self._parts.clear()
            lines = _LINE_BREAK.split(chunk)
            self._skip_lf = chunk[-1] == 0x0D
        rest = lines.pop()
        if rest:
            self._parts.append(rest)
        return lines

    def pending(self) -> bool:
        """Whether a line was started but never ended (the stream was cut mid-line)."""
        return bool(self._parts)


class SSEDecoder:
    __slots__ = ("_data", "_event", "_last_id", "retry")

    def __init__(self) -> None:
        self._data: list[bytes] = []
        self._event = ""
        self._last_id: str | None = None
        self.retry: int | None = None

    def line(self, line: bytes) -> SSEvent | None:
        """Take one line; return the event it completes, if any."""
        if not line:
            return self._dispatch()
        if line[0] == 0x3A:  # ":" starts a comment
            return None
        name, colon, value = line.partition(b":")
        if colon and value[:1] == b" ":
            value = value[1:]
        if name == b"data":
            self._data.append(value)
        elif name == b"event":
            self._event = value.decode("utf-8", "replace")
        elif name == b"id":
            if b"\0" not in value:
                self._last_id = value.decode("utf-8", "replace")
        elif name == b"retry" and value.isdigit():
            self.retry = int(value)
        return None

    def lines(self, lines: list[bytes]) -> list[SSEvent]:
        """Take a batch of lines; the events they complete, in order.

        The common lines (`data:` and the blank line ending an event) are handled
        inline: this loop runs once per line of every stream.
        """
        events: list[SSEvent] = []
        data = self._data
        for line in lines:
            if not line:
                if data:
                    payload = data[0] if len(data) == 1 else b"\n".join(data)
                    events.append(SSEvent(self._event or "message", payload, self._last_id))
                    data = self._data = []
                self._event = ""
            elif line.startswith(b"data: "):
                data.append(line[6:])
            else:
                event = self.line(line)
                data = self._data
                if event is not None:
                    events.append(event)
        return events

    def _dispatch(self) -> SSEvent | None:
        data, event = self._data, self._event
        self._event = ""
        if not data:
            return None
        self._data = []
        payload = data[0] if len(data) == 1 else b"\n".join(data)
        return SSEvent(event or "message", payload, self._last_id)

    def flush(self) -> SSEvent | None:
        """At the end of the stream: an event whose lines all ended, but no blank line."""
        return self._dispatch()


BATCH_BYTES = 8192
"""A network read larger than this is decoded in parts of this size, so that a big
read (64 KiB) never holds all its lines and events in memory at once (measured: peak
RSS growth over a 50,000-chunk stream 0.88 MiB at 16 KiB, 0.64 MiB at 8 KiB)."""


def event_batches(chunks: Iterable[bytes]) -> Iterator[list[SSEvent]]:
    """Decode a byte stream into events, a list per chunk read (a loop over these
    lists costs less per event than a generator of single events).

    A final event whose last line ended but that lacks the closing blank line is
    still delivered; a line cut off mid-way is not (the stream was truncated).
    """
    splitter = LineSplitter()
    decoder = SSEDecoder()
    for chunk in without_bom(chunks):
        if len(chunk) <= BATCH_BYTES:
            batch = decoder.lines(splitter.feed(chunk))
            if batch:
                yield batch
            continue
        view = memoryview(chunk)
        for start in range(0, len(chunk), BATCH_BYTES):
            batch = decoder.lines(splitter.feed(bytes(view[start : start + BATCH_BYTES])))
            if batch:
                yield batch
    if not splitter.pending():
        event = decoder.flush()
        if event is not None:
            yield [event]


def without_bom(chunks: Iterable[bytes]) -> Iterator[bytes]:
    """The stream without one UTF-8 BOM at its very start (the standard ignores it;
    kept, it would make the first line's field name unknown and lose that event)."""
    iterator = iter(chunks)
    head = b""
    for chunk in iterator:
        head += chunk
        if len(head) >= len(_BOM) or not _BOM.startswith(head):
            break
    if head.startswith(_BOM):
        head = head[len(_BOM) :]
    if head:
        yield head
    yield from iterator


def one_line(data: bytes) -> bytes:
    """A payload on one line: the line breaks of a multi-line `data:` event (joined with
    "\\n") become spaces. In JSON a line break can only be whitespace between tokens,
    so the value and every other byte stay as sent."""
    return data.replace(b"\n", b" ") if b"\n" in data else data


def iter_events(chunks: Iterable[bytes]) -> Iterator[SSEvent]:
    """Decode a byte stream into events, one at a time (see `event_batches`)."""
    for batch in event_batches(chunks):
        yield from batch
