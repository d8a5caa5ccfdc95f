"""A zero-latency OpenAI-style chat-completions server for the benchmarks.

POST /v1/chat/completions with ``"stream": true`` answers with Server-Sent
Events: a user prompt ``chunks N`` streams N chunks whose content is ``"x"``,
any other prompt streams 8; then a final chunk with ``finish_reason: "stop"``
and usage, then ``data: [DONE]``. Without ``stream`` it answers one short
``chat.completion``. Every response byte that does not depend on N is encoded
once, and the stream is written in batches of 1,000 chunks per write, so the
server is never the bottleneck.

Run ``python bench/server.py`` to serve until Ctrl-C; it prints its URL (the
service root, for ``GLM_BASE_URL``).
"""

from __future__ import annotations

import json
import re
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

PATH = "/v1/chat/completions"
DEFAULT_CHUNKS = 8
BATCH = 1_000
ANSWER = "Hello from the bench server."
_CHUNKS_PROMPT = re.compile(r"\s*chunks\s+(\d+)\s*")
ID, CREATED, MODEL = "chatcmpl-bench", 1777021417, "glm-5.2"


def _completion_object(kind: str, **fields: Any) -> dict[str, Any]:
    return {"id": ID, "object": kind, "created": CREATED, "model": MODEL, **fields}


def _event(obj: Any) -> bytes:
    return b"data: " + json.dumps(obj, separators=(",", ":")).encode() + b"\n\n"


def _frame(data: bytes) -> bytes:
    """One HTTP/1.1 chunked-transfer frame."""
    return b"%x\r\n%s\r\n" % (len(data), data)


def _usage(completion_tokens: int) -> dict[str, int]:
    return {
        "prompt_tokens": 3,
        "completion_tokens": completion_tokens,
        "total_tokens": 3 + completion_tokens,
    }


CHUNK = _event(
    _completion_object(
        "chat.completion.chunk",
        choices=[{"index": 0, "delta": {"content": "x"}, "finish_reason": None}],
    )
)
BATCH_FRAME = _frame(CHUNK * BATCH)
STREAM_HEAD = (
    b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nCache-Control: no-cache\r\n"
    b"Transfer-Encoding: chunked\r\n\r\n"
)
_COMPLETION = json.dumps(
    _completion_object(
        "chat.completion",
        choices=[
            {
                "index": 0,
                "message": {"role": "assistant", "content": ANSWER},
                "finish_reason": "stop",
            }
        ],
        usage=_usage(6),
    )
).encode()


def _json_response(status: str, body: bytes) -> bytes:
    head = f"HTTP/1.1 {status}\r\nContent-Type: application/json\r\n"
    return f"{head}Content-Length: {len(body)}\r\n\r\n".encode() + body


COMPLETION_RESPONSE = _json_response("200 OK", _COMPLETION)


def _error(status: str, code: str, message: str) -> bytes:
    return _json_response(
        status, json.dumps({"error": {"code": code, "message": message}}).encode()
    )


def stream_tail(n: int) -> bytes:
    """The finish chunk, ``[DONE]`` and the end of the chunked body."""
    final = _completion_object(
        "chat.completion.chunk",
        choices=[{"index": 0, "delta": {}, "finish_reason": "stop"}],
        usage=_usage(n),
    )
    return _frame(_event(final) + b"data: [DONE]\n\n") + b"0\r\n\r\n"


def chunk_count(body: dict[str, Any]) -> int:
    """N from the last user message ``chunks N``; DEFAULT_CHUNKS otherwise."""
    for message in reversed(body.get("messages") or []):
        if isinstance(message, dict) and message.get("role") == "user":
            content = message.get("content")
            match = _CHUNKS_PROMPT.fullmatch(content) if isinstance(content, str) else None
            return int(match.group(1)) if match else DEFAULT_CHUNKS
    return DEFAULT_CHUNKS


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True
    server: _Server

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length)
        if self.path != PATH:
            self.wfile.write(_error("404 Not Found", "404", f"no route {self.path}"))
            return
        if not (self.headers.get("Authorization") or "").startswith("Bearer "):
            self.wfile.write(_error("401 Unauthorized", "1000", "missing Bearer key"))
            return
        try:
            body = json.loads(raw)
        except ValueError:
            self.wfile.write(_error("400 Bad Request", "1214", "body is not JSON"))
            return
        stream = body.get("stream") is True
        self.server.record(stream)
        if not stream:
            self.wfile.write(COMPLETION_RESPONSE)
            return
        n = chunk_count(body)
        full, rest = divmod(n, BATCH)
        pending = STREAM_HEAD + (_frame(CHUNK * rest) if rest else b"")
        for _ in range(full):
            self.wfile.write(pending)
            pending = BATCH_FRAME
        self.wfile.write(pending + stream_tail(n))

    def log_message(self, format: str, *args: Any) -> None:
        """Silent: the benchmark's stderr stays clean."""


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self._lock = threading.Lock()
        self.requests = 0
        self.last_stream: bool | None = None

    def record(self, stream: bool) -> None:
        with self._lock:
            self.requests += 1
            self.last_stream = stream

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A client that hangs up early is the benchmark's to report, not ours."""
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)


class BenchServer:
    """The server on a free port of 127.0.0.1, served from a daemon thread."""

    def __init__(self) -> None:
        self._server = _Server()
        self._thread = threading.Thread(
            target=self._server.serve_forever, name="bench-server", daemon=True
        )
        self.url = f"http://127.0.0.1:{self._server.server_port}"

    @property
    def requests(self) -> int:
        """How many chat-completion requests were answered so far."""
        return self._server.requests

    @property
    def last_stream(self) -> bool | None:
        """The ``stream`` flag of the last request (None before any)."""
        return self._server.last_stream

    def start(self) -> BenchServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join()

    def __enter__(self) -> BenchServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def main() -> None:
    server = BenchServer().start()
    print(server.url, flush=True)
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        server.stop()


if __name__ == "__main__":
    main()
