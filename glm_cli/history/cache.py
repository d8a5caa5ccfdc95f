"""The cache of complete exchanges (SPEC §7.2): the neutral events of an answer, by key.

    key = cache_key("openai", url, body)
    cache = Cache(path)                                 # threads may share it
    events = cache.lookup(key, ttl=3600.0)              # list[Event] | None
    cache.store(key, events)

The key is a SHA-256 of the protocol, the endpoint URL, whether the wire's own
bytes are kept (`glm raw`) and the request body in canonical form: keys sorted,
numbers by value (`1`, `1.0` and `1e0` are one number), `request_id` left out. An
entry is the list of events exactly as the renderers saw them (each streamed
delta its own event, the wire payloads of `glm raw` in order), so a hit replays
the same stdout in every mode. The caller decides what is stored: only complete,
successful exchanges.
"""

from __future__ import annotations

import hashlib
import sqlite3
import threading
from dataclasses import asdict
from pathlib import Path
from typing import Any

import orjson

from glm_cli.core import times
from glm_cli.core.messages import (
    Content,
    Done,
    Event,
    Payload,
    Reasoning,
    Restart,
    ToolCall,
    Usage,
    WebSearch,
)
from glm_cli.history import schema

IGNORED = frozenset({"request_id"})
"""Body fields that do not change the answer asked for."""


def _number(value: Any) -> str | None:
    """A number's canonical spelling, or None for a value that is no number. decimal
    is imported only for a float or a Decimal: rare in a body, and slow to import."""
    if isinstance(value, int):
        return str(value)
    from decimal import Decimal, InvalidOperation

    if not isinstance(value, float | Decimal):
        return None
    try:
        number = Decimal(str(value)) if isinstance(value, float) else value
    except InvalidOperation:  # nan, inf: orjson would not have sent them
        return str(value)
    if not number.is_finite():
        return str(number)
    if number == 0:
        return "0"
    return (
        format(number.normalize(), "f")
        if number == number.to_integral()
        else str(number.normalize())
    )


def canonical(value: Any) -> str:
    """`value` as one text whatever its key order and number spelling."""
    if value is None or isinstance(value, bool | str):
        return orjson.dumps(value).decode()
    if isinstance(value, dict):
        items = sorted((str(k), v) for k, v in value.items())
        return "{" + ",".join(orjson.dumps(k).decode() + ":" + canonical(v) for k, v in items) + "}"
    if isinstance(value, list | tuple):
        return "[" + ",".join(canonical(item) for item in value) + "]"
    number = _number(value)
    return orjson.dumps(value).decode() if number is None else "#" + number


def cache_key(protocol: str, url: str, body: dict[str, Any], *, wire: bool = False) -> str:
    kept = {k: v for k, v in body.items() if k not in IGNORED}
    text = canonical([protocol, url, "wire" if wire else "events", kept])
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()


# --- events as bytes ----------------------------------------------------------------


def _event(event: Event) -> list[Any]:
    if type(event) is Content:
        return ["c", event.text]
    if type(event) is Reasoning:
        return ["r", event.text]
    if isinstance(event, ToolCall):
        return ["t", event.id, event.name, event.arguments, event.kind, event.detail]
    if isinstance(event, WebSearch):
        return ["w", event.results]
    if isinstance(event, Done):
        data = asdict(event)
        return ["d", data]
    if type(event) is Payload:
        import base64

        return ["p", base64.b64encode(event.data).decode(), event.whole]
    raise ValueError(f"not a cacheable event: {event!r}")


def encode_events(events: list[Event]) -> bytes:
    """The events of a finished answer (a `Restart` forgets what came before it)."""
    kept: list[list[Any]] = []
    for event in events:
        if type(event) is Restart:
            kept = []
        else:
            kept.append(_event(event))
    return orjson.dumps(kept)


def decode_events(data: bytes) -> list[Event]:
    out: list[Event] = []
    for item in orjson.loads(data):
        kind = item[0]
        if kind == "c":
            out.append(Content(item[1]))
        elif kind == "r":
            out.append(Reasoning(item[1]))
        elif kind == "t":
            out.append(ToolCall(item[1], item[2], item[3], item[4], item[5]))
        elif kind == "w":
            out.append(WebSearch(item[1]))
        elif kind == "d":
            fields = dict(item[1])
            fields["usage"] = Usage(**fields.get("usage") or {})
            out.append(Done(**fields))
        elif kind == "p":
            import base64

            out.append(Payload(base64.b64decode(item[1]), bool(item[2])))
        else:
            raise ValueError(f"unknown cached event {kind!r}")
    return out


# --- the table ----------------------------------------------------------------------


class Cache:
    """The cache table of the store at `path`, opened on first use; one lock for threads."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()
        self._db: sqlite3.Connection | None = None

    def _open(self, create: bool) -> sqlite3.Connection | None:
        if self._db is None:
            self._db = schema.connect(self.path, create_missing=create)
        return self._db

    def lookup(self, key: str, ttl: float | None = None) -> list[Event] | None:
        """The events stored under `key` (no older than `ttl` seconds), or None.
        A missing store is a miss, and is not created."""
        with self._lock:
            db = self._open(create=False)
            if db is None:
                return None
            try:
                row = db.execute("SELECT time, events FROM cache WHERE key = ?", (key,)).fetchone()
            except sqlite3.Error as error:
                raise schema.store_error(self.path, error) from error
        if row is None:
            return None
        if ttl is not None:
            oldest = times.ago(ttl)
            if str(row[0]) < oldest:
                return None
        try:
            return decode_events(bytes(row[1]))
        except (ValueError, TypeError, IndexError, KeyError):
            return None  # a damaged entry is a miss (and is replaced)

    def store(self, key: str, events: list[Event]) -> None:
        """Keep (or replace) the entry for `key`: one short transaction."""
        data = encode_events(events)
        with self._lock:
            db = self._open(create=True)
            assert db is not None
            with schema.transaction(db, self.path):
                db.execute(
                    "INSERT OR REPLACE INTO cache (key, time, events) VALUES (?, ?, ?)",
                    (key, times.now(), data),
                )

    def close(self) -> None:
        with self._lock:
            if self._db is not None:
                self._db.close()
                self._db = None
