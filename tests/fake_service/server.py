"""The fake GLM service: a threaded HTTP/1.1 server speaking both protocols.

Every request is recorded, then (unless the next step is ``RawResponse``, ``Drop`` or
``Stall``, which bypass all checks) checked in this order: method (405), path (404),
``Authorization: Bearer`` (401), ``Content-Type`` and body (400). A refused request does
not consume the queued step. Streams use ``Transfer-Encoding: chunked``, so a stream cut
short by ``drop_after`` is an incomplete body to the client, not a clean end.
"""

from __future__ import annotations

import contextlib
import json
import select
import socket
import socketserver
import struct
import sys
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Protocol

from . import anthropic_wire, openai_wire
from .steps import (
    KEY,
    Drop,
    Incoming,
    RawResponse,
    Reply,
    SseEvent,
    Stall,
    Status,
    Step,
    error_body,
    reason_phrase,
)
from .validate import check_request, route

_POLL = 0.02  # seconds between checks for a closed client while waiting
_BLOCK = 1 << 18  # bytes per write of a generated RawResponse body


class Headers(Mapping[str, str]):
    """Request headers with case-insensitive lookup (keys kept in lower case)."""

    def __init__(self, items: Iterable[tuple[str, str]]) -> None:
        self._items: dict[str, str] = {}
        for name, value in items:
            key = name.lower()
            self._items[key] = f"{self._items[key]}, {value}" if key in self._items else value

    def __getitem__(self, name: str) -> str:
        return self._items[name.lower()]

    def __iter__(self) -> Iterator[str]:
        return iter(self._items)

    def __len__(self) -> int:
        return len(self._items)

    def __repr__(self) -> str:
        return f"Headers({self._items!r})"


@dataclass(frozen=True)
class RecordedRequest:
    """One request as received; ``json`` is the parsed body, or None if it is not JSON."""

    method: str
    path: str
    headers: Headers
    body: bytes
    json: Any
    arrived: float = 0.0
    """When the request had been read (``time.monotonic()``)."""
    answered: float = 0.0
    """When its response had been written (0 while it is in flight)."""


@dataclass
class _Generation:
    """Per-test state: ``reset()`` releases the old one's stalls and starts a new one."""

    release: threading.Event = field(default_factory=threading.Event)
    disconnected: threading.Event = field(default_factory=threading.Event)


class _Wire(Protocol):
    """What ``openai_wire`` and ``anthropic_wire`` each provide."""

    def body(self, reply: Reply, incoming: Incoming) -> dict[str, Any]: ...
    def events(self, reply: Reply, incoming: Incoming) -> list[SseEvent]: ...
    def error_event(self, reply: Reply) -> SseEvent: ...
    def ping(self) -> SseEvent: ...


_WIRES: dict[str, _Wire] = {"openai": openai_wire, "anthropic": anthropic_wire}


class _ClientGone(Exception):
    """The client closed the connection while the server was answering."""


def _read_body(handler: BaseHTTPRequestHandler) -> bytes:
    if "chunked" in handler.headers.get("Transfer-Encoding", "").lower():
        parts = []
        while size := int(handler.rfile.readline().split(b";")[0].strip() or b"0", 16):
            parts.append(handler.rfile.read(size))
            handler.rfile.readline()
        while handler.rfile.readline() not in (b"\r\n", b"\n", b""):
            pass
        return b"".join(parts)
    length = int(handler.headers.get("Content-Length") or 0)
    return handler.rfile.read(length) if length > 0 else b""


def _loads(body: bytes) -> Any:
    try:
        return json.loads(body)
    except ValueError:
        return None


class _Exchange:
    """Writing one response, noticing a client that went away."""

    def __init__(self, handler: _Handler, generation: _Generation, key: str = "") -> None:
        self.handler = handler
        self.release = generation.release
        self.key = key.encode()

    def fill(self, data: bytes) -> bytes:
        """``KEY`` replaced by the request's key (a server that echoes it back)."""
        return data.replace(KEY.encode(), self.key) if KEY.encode() in data else data

    def head(
        self, status: int, content_type: str, headers: dict[str, str], length: int | None
    ) -> None:
        defaults = {"Content-Type": content_type} if content_type else {}
        if length is None:
            defaults |= {"Transfer-Encoding": "chunked", "Cache-Control": "no-cache"}
        else:
            defaults["Content-Length"] = str(length)
        given = {name.lower() for name in headers}
        handler = self.handler
        handler.send_response(status, reason_phrase(status))
        for name, value in defaults.items():
            if name.lower() not in given:
                handler.send_header(name, value)
        for name, value in headers.items():
            handler.send_header(name, value.replace(KEY, self.key.decode()))
        try:
            handler.end_headers()
        except ConnectionError as error:
            raise _ClientGone from error

    def write(self, data: bytes) -> None:
        try:
            self.handler.wfile.write(data)
        except ConnectionError as error:
            raise _ClientGone from error

    def send(self, status: int, body: bytes, content_type: str, headers: dict[str, str]) -> None:
        body = self.fill(body)
        self.head(status, content_type, headers, len(body))
        if self.handler.command != "HEAD":
            self.write(body)

    def chunk(self, data: bytes) -> None:
        data = self.fill(data)
        self.write(b"%x\r\n%s\r\n" % (len(data), data))

    def end_chunks(self) -> None:
        self.write(b"0\r\n\r\n")

    def pause(self, seconds: float) -> None:
        """Wait ``seconds``, less if released; raise ``_ClientGone`` if the client closes."""
        sock = self.handler.connection
        deadline = time.monotonic() + seconds
        while not self.release.is_set() and (remaining := deadline - time.monotonic()) > 0:
            if select.select([sock], [], [], min(remaining, _POLL))[0]:
                try:
                    closed = sock.recv(1, socket.MSG_PEEK) == b""
                except ConnectionError:
                    closed = True
                if closed:
                    raise _ClientGone
                self.release.wait(min(remaining, _POLL))

    def abort(self, reset: bool) -> None:
        """Close the connection at once: with an RST (``reset``) or a FIN."""
        handler = self.handler
        handler.close_connection = True
        if reset:
            handler.connection.setsockopt(
                socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0)
            )
            handler.server.resets.add(handler.connection)
        else:
            with contextlib.suppress(OSError):
                handler.connection.shutdown(socket.SHUT_RDWR)


def _send_raw(exchange: _Exchange, step: RawResponse) -> None:
    if step.body_size is None:
        exchange.send(step.status, step.body, step.content_type, step.headers)
        return
    exchange.head(step.status, step.content_type, step.headers, step.body_size)
    exchange.write(step.body[: step.body_size])
    block = step.fill * (_BLOCK // len(step.fill) + 1)
    remaining = step.body_size - min(len(step.body), step.body_size) - len(step.tail)
    while remaining > 0:
        exchange.write(block[: min(remaining, _BLOCK)])
        remaining -= _BLOCK
    exchange.write(step.tail)


def _send_complete(exchange: _Exchange, reply: Reply, data: bytes) -> None:
    """A non-streaming answer; ``stall_after``/``drop_after`` count body bytes."""
    data = exchange.fill(data)
    exchange.head(reply.status, "application/json", reply.headers, len(data))
    end = len(data) if reply.drop_after is None else min(reply.drop_after, len(data))
    split = end if reply.stall_after is None else min(reply.stall_after, end)
    exchange.write(data[:split])
    if reply.stall_after is not None and reply.stall_after <= end:
        exchange.pause(reply.stall_seconds)
    exchange.write(data[split:end])
    if reply.drop_after is not None:
        exchange.abort(reset=reply.drop_with_reset)


def _send_stream(exchange: _Exchange, reply: Reply, wire: _Wire, incoming: Incoming) -> None:
    """The SSE stream with its faults; a stream cut short on purpose (``omit_done``,
    ``truncate_before_finish``, ``error_after``) ends its body cleanly, then the
    connection is closed, as by a server that stops there."""
    events = wire.events(reply, incoming)
    if reply.truncate_before_finish:
        events = events[: next(i for i, event in enumerate(events) if event.finish)]
    elif reply.omit_done:
        events = [event for event in events if not event.terminal]
    if reply.multiline_data:
        events = [_spread(event) for event in events]
    exchange.head(reply.status, "text/event-stream", reply.headers, None)
    for i in range(len(events) + 1):
        if i and reply.chunk_delay:
            exchange.pause(reply.chunk_delay)
        if i == reply.drop_after:
            exchange.abort(reset=reply.drop_with_reset)
            return
        if i == reply.stall_after:
            exchange.pause(reply.stall_seconds)
        if i == reply.error_after:
            exchange.chunk(wire.error_event(reply).encode(reply.newline))
            break
        if i == len(events):
            break
        event = events[i]
        if i == reply.malformed_at:
            event = SseEvent("{not json", event=event.event)
        data = event.encode(reply.newline)
        exchange.chunk(b"\xef\xbb\xbf" + data if reply.bom and i == 0 else data)
        if reply.ping and i < len(events) - 1:
            exchange.chunk(wire.ping().encode(reply.newline))
    exchange.end_chunks()
    if reply.omit_done or reply.truncate_before_finish or reply.error_after is not None:
        exchange.handler.close_connection = True


def _spread(event: SseEvent) -> SseEvent:
    """A JSON payload laid out over several lines (so several ``data:`` lines)."""
    try:
        value = json.loads(event.data or "")
    except ValueError:
        return event
    return replace(event, data=json.dumps(value, indent=1, ensure_ascii=False))


def _perform(exchange: _Exchange, step: Step, protocol: str, incoming: Incoming) -> None:
    if isinstance(step, Drop):
        exchange.abort(reset=True)
        return
    if isinstance(step, Stall):
        exchange.pause(step.seconds)
        step = Reply()
    if isinstance(step, Reply | Status) and step.delay:
        exchange.pause(step.delay)
    if isinstance(step, RawResponse):
        _send_raw(exchange, step)
    elif isinstance(step, Status):
        body = step.body
        if body is None:
            body = error_body(protocol, step.status, request_id=f"req_fake_{incoming.seq:06d}")
        data = body if isinstance(body, bytes) else json.dumps(body).encode()
        exchange.send(step.status, data, step.content_type, step.headers)
    elif incoming.stream:
        _send_stream(exchange, step, _WIRES[protocol], incoming)
    else:
        data = json.dumps(_WIRES[protocol].body(step, incoming), ensure_ascii=False).encode()
        _send_complete(exchange, step, data)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server

    def _dispatch(self) -> None:
        self.server.service._handle(self)

    do_POST = do_GET = do_PUT = do_PATCH = do_DELETE = do_OPTIONS = do_HEAD = _dispatch

    def log_message(self, *args: Any) -> None:
        """Silent: pytest shows what matters."""


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False  # idle keep-alive connections must not hold up stop()
    request_queue_size = 128

    def __init__(self, service: FakeService, port: int = 0) -> None:
        self.service = service
        self.resets: set[socket.socket] = set()
        super().__init__(("127.0.0.1", port), _Handler)

    def get_request(self) -> tuple[socket.socket, Any]:
        """Each connection without Nagle's delay: a response's head and body are separate
        writes, and the second would wait for the client's delayed ACK (~40 ms)."""
        connection, address = super().get_request()
        connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return connection, address

    def server_bind(self) -> None:
        """Bind without HTTPServer's reverse DNS look-up of the host, which can be slow."""
        socketserver.TCPServer.server_bind(self)
        self.server_name, self.server_port = "127.0.0.1", self.server_address[1]

    def handle_error(self, request: Any, client_address: Any) -> None:
        """Stay quiet when a client resets its connection (tests capture stderr)."""
        if not isinstance(sys.exception(), ConnectionError):
            super().handle_error(request, client_address)

    def shutdown_request(self, request: Any) -> None:
        """Close a connection marked for reset without the FIN a shutdown would send."""
        if request in self.resets:
            self.resets.discard(request)
            self.close_request(request)
        else:
            super().shutdown_request(request)


class FakeService:
    """The fake GLM service on 127.0.0.1 (`port` 0: any free one); it listens from
    construction on."""

    def __init__(self, port: int = 0) -> None:
        self._lock = threading.Lock()
        self._arrived = threading.Condition(self._lock)
        self._script: deque[Step] = deque()
        self._requests: list[RecordedRequest] = []
        self._generation = _Generation()
        self._seq = 0
        self._in_flight = 0
        self.peak_in_flight = 0
        """The most requests the service was answering at once (since the last reset)."""
        self._thread: threading.Thread | None = None
        self.responder: Callable[[Incoming], Step] | None = None
        """When the script is empty: the step for each request, chosen from it (the
        default answers every request alike)."""
        self._server = _Server(self, port)
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"

    def start(self) -> FakeService:
        if self._thread is None:
            self._thread = threading.Thread(
                target=self._server.serve_forever, args=(0.05,), name="fake-glm", daemon=True
            )
            self._thread.start()
        return self

    def stop(self) -> None:
        self._generation.release.set()
        if self._thread is not None:
            self._server.shutdown()
            self._thread.join()
            self._thread = None
        self._server.server_close()

    def script(self, *steps: Step) -> None:
        """Queue steps; each request (any path) consumes the next one, in order."""
        with self._lock:
            self._script.extend(steps)

    def reset(self) -> None:
        """Forget the script, the responder and the recorded requests; end any stall in
        progress."""
        with self._lock:
            self.responder = None
            self._script.clear()
            self._requests.clear()
            self.peak_in_flight = 0
            self._generation.release.set()
            self._generation = _Generation()

    @property
    def requests(self) -> list[RecordedRequest]:
        with self._lock:
            return list(self._requests)

    @property
    def pending(self) -> int:
        """How many scripted steps no request has consumed yet."""
        with self._lock:
            return len(self._script)

    def wait_for_requests(self, count: int, timeout: float = 10.0) -> bool:
        """Block until ``count`` requests have arrived (since the last reset), or time out."""
        with self._arrived:
            return self._arrived.wait_for(lambda: len(self._requests) >= count, timeout)

    @property
    def disconnected(self) -> threading.Event:
        return self._generation.disconnected

    def _handle(self, handler: _Handler) -> None:
        generation = self._generation
        try:
            body = _read_body(handler)
        except ValueError:
            handler.close_connection = True
            handler.send_error(400, "Malformed request framing")
            return
        method, path, parsed = handler.command, handler.path, _loads(body)
        headers = Headers(handler.headers.items())
        with self._lock:
            self._seq += 1
            seq = self._seq
            position = len(self._requests)
            self._requests.append(
                RecordedRequest(method, path, headers, body, parsed, time.monotonic())
            )
            self._in_flight += 1
            self.peak_in_flight = max(self.peak_in_flight, self._in_flight)
            self._arrived.notify_all()
            step = self._script[0] if self._script else None
            bypass = isinstance(step, RawResponse | Drop | Stall)
            refusal = None if bypass else check_request(method, path, headers, body, seq)
            if refusal is None and step is not None:
                self._script.popleft()
        bearer = headers.get("authorization", "")
        key = bearer[7:] if bearer.startswith("Bearer ") else ""
        exchange = _Exchange(handler, generation, key)
        try:
            if refusal is not None:
                data = json.dumps(refusal.body).encode()
                exchange.send(refusal.status, data, "application/json", refusal.headers)
            else:
                incoming = Incoming(parsed if isinstance(parsed, dict) else {}, seq)
                if step is None:
                    step = self.responder(incoming) if self.responder else Reply()
                _perform(exchange, step, route(path) or "openai", incoming)
        except _ClientGone:
            generation.disconnected.set()
            handler.close_connection = True
        finally:
            with self._lock:
                self._in_flight -= 1
                if generation is self._generation and position < len(self._requests):
                    done = self._requests[position]
                    self._requests[position] = replace(done, answered=time.monotonic())
